"""Dockings (对接): every move allowed and forbidden per party, the request rules (own open need, matchable
solution, no duplicate, cap), notifications, feedback, track record, and the web pages for both sides,
including that no provider page shows an enterprise's contact details before the docking is accepted."""

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from matchmaker.plumbing.db import engine
from matchmaker.services import api_keys, dockings, matching, providers, whitelist
from matchmaker.services.dockings import TRANSITIONS, MoveDetails, Party
from matchmaker.services.errors import ServiceError
from models import (
    Docking,
    DockingEvent,
    DockingStatus,
    Enterprise,
    MatchFeedback,
    MatchResult,
    Need,
    NeedStatus,
    Notification,
    OutboxMail,
    Provider,
    ProviderStatus,
    PushRecord,
    Role,
    Solution,
    SolutionStatus,
    User,
)
from models.schemas import SolutionWrite
from tests.api.support import make_admin
from tests.conftest import credit_code, csrf_token, enterprise_form, login, post, provider_form, register

D = DockingStatus
E, P = Party.enterprise, Party.provider
NOW = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)  # 12:00 in Beijing

# The rule book as the issue states it, written out independently of the service's table.
SPEC = {
    (D.requested, D.accepted): {P},
    (D.requested, D.declined): {P},
    (D.accepted, D.negotiating): {E, P},
    (D.negotiating, D.contracted): {E},
    (D.contracted, D.completed): {E},
    (D.requested, D.cancelled): {E},
    (D.accepted, D.cancelled): {E, P},
    (D.negotiating, D.cancelled): {E, P},
}
VALID = {
    D.accepted: MoveDetails(note="欢迎联系"),
    D.declined: MoveDetails(note="档期已满"),
    D.negotiating: MoveDetails(),
    D.contracted: MoveDetails(amount="12.5", contract_date=date(2026, 4, 30)),
    D.completed: MoveDetails(satisfaction=4, note="按期交付，效果良好"),
    D.cancelled: MoveDetails(note="预算调整"),
}
# how to reach each status from requested: (target, party) steps
PATHS = {
    D.requested: [],
    D.accepted: [(D.accepted, P)],
    D.declined: [(D.declined, P)],
    D.negotiating: [(D.accepted, P), (D.negotiating, E)],
    D.contracted: [(D.accepted, P), (D.negotiating, E), (D.contracted, E)],
    D.completed: [(D.accepted, P), (D.negotiating, E), (D.contracted, E), (D.completed, E)],
    D.cancelled: [(D.cancelled, E)],
}
CONTACT = ("王厂长", "13800138000", "factory1@example.com", "坪山大道1号")  # enterprise_form(1)


def solution_data(title: str) -> SolutionWrite:
    return SolutionWrite(
        title=title,
        summary=f"{title}简介",
        description=f"{title}：设备联网、数据采集与看板展示的完整方案。",
        domain="data_collection",
        industries=["furniture"],
        sizes=["small", "medium"],
        modules=["数采网关", "看板"],
        tags=["设备联网"],
    )


def add_user(db: Session, email: str, role: Role, name: str) -> User:
    user = User(email=email, password_hash="-", role=role, display_name=name)
    db.add(user)
    db.commit()
    return user


def add_enterprise(db: Session, serial: int) -> Enterprise:
    user = add_user(db, f"factory{serial}@example.com", Role.enterprise, "王厂长")
    enterprise = Enterprise(
        user_id=user.id,
        name=f"测试家具厂{serial}",
        credit_code=credit_code(serial),
        industry="furniture",
        employees=120,
        revenue=3500,
        size_class="small",
        street="坪山街道",
        address="坪山大道1号",
        contact_name="王厂长",
        phone="13800138000",
        email=f"factory{serial}@example.com",
    )
    db.add(enterprise)
    db.commit()
    return enterprise


def add_provider(db: Session, serial: int, status: ProviderStatus = ProviderStatus.approved) -> Provider:
    user = add_user(db, f"vendor{serial}@example.com", Role.provider, "李经理")
    provider = Provider(
        user_id=user.id,
        name=f"测试数字科技{serial}",
        credit_code=credit_code(serial),
        contact_name="李经理",
        phone="13900139000",
        email=f"vendor{serial}@example.com",
        domains=["data_collection", "software"],
        status=status,
    )
    db.add(provider)
    db.commit()
    return provider


def add_need(db: Session, enterprise: Enterprise, ranked: list[Solution]) -> Need:
    """An open need with a stored ranking of `ranked`, as publishing would leave it."""
    need = Need(
        enterprise_id=enterprise.id,
        title="封边机设备联网",
        description="开料机和封边机都是单机，想做设备联网，看到开机率和产量。",
        industry="furniture",
        size_class="small",
        domains=["data_collection"],
        tags=["设备联网"],
    )
    db.add(need)
    db.flush()
    for rank, solution in enumerate(ranked, 1):
        db.add(MatchResult(need_id=need.id, solution_id=solution.id, rank=rank, score=0.9 - rank / 100))
    db.commit()
    return need


@dataclass
class World:
    enterprise: Enterprise
    providers: list[Provider]
    solutions: list[Solution]
    need: Need

    @property
    def user(self) -> int:
        return self.enterprise.user_id


def make_world(db: Session, vendors: int = 1, first_serial: int = 500) -> World:
    enterprise = add_enterprise(db, 1)
    vendor_rows = [add_provider(db, first_serial + i) for i in range(vendors)]
    solutions = [
        providers.create_solution(db, p.id, solution_data(f"设备联网方案{i}"), publish=True)
        for i, p in enumerate(vendor_rows)
    ]
    return World(enterprise, vendor_rows, solutions, add_need(db, enterprise, solutions))


def ask(db: Session, w: World, index: int = 0, cap: int = 5, message: str = "请尽快联系") -> Docking:
    return dockings.request_docking(
        db, w.enterprise.id, w.user, w.need.id, w.solutions[index].id, message, cap, now=NOW
    )


def actor(w: World, party: Party, provider_id: int | None = None) -> tuple[int, int]:
    """(org id, user id) of the party; the provider is the docking's (the first one by default)."""
    if party == E:
        return w.enterprise.id, w.user
    provider = next(p for p in w.providers if provider_id in (None, p.id))
    return provider.id, provider.user_id


def do(db: Session, w: World, docking: Docking, target: DockingStatus, party: Party, details=None) -> Docking:
    org_id, user_id = actor(w, party, docking.provider_id)
    return dockings.move(db, docking.id, party, org_id, user_id, target, details or VALID[target], now=NOW)


def drive(db: Session, w: World, docking: Docking, status: DockingStatus) -> Docking:
    for target, party in PATHS[status]:
        docking = do(db, w, docking, target, party)
    assert docking.status == status
    return docking


def count(db: Session, table) -> int:
    return db.exec(select(func.count()).select_from(table)).one()


# --- the transition table ----------------------------------------------------------------------


def test_the_service_table_is_the_issue_s_rule_book():
    assert {key: set(parties) for key, parties in TRANSITIONS.items()} == SPEC


CASES = [
    pytest.param(source, target, party, id=f"{source.value}-{target.value}-{party.value}")
    for source, target, party in itertools.product(PATHS, VALID, (E, P))
]


@pytest.mark.parametrize(("source", "target", "party"), CASES)
def test_every_move_is_allowed_only_for_the_party_the_table_names(db, source, target, party):
    w = make_world(db)
    docking = drive(db, w, ask(db, w), source)
    events, notes, mails = count(db, DockingEvent), count(db, Notification), count(db, OutboxMail)
    if party in SPEC.get((source, target), set()):
        moved = do(db, w, docking, target, party)
        assert moved.status == target
        event = db.exec(select(DockingEvent).order_by(DockingEvent.id.desc())).first()
        _, user_id = actor(w, party)
        assert (event.from_status, event.to_status, event.actor_id) == (source, target, user_id)
        assert event.created_at.replace(tzinfo=UTC) == NOW
        other_user = w.providers[0].user_id if party == E else w.user
        note = db.exec(select(Notification).order_by(Notification.id.desc())).first()
        assert note.user_id == other_user and note.kind == "docking" and note.link == f"/dockings/{docking.id}"
        assert dockings.MOVE_LABELS[target] in note.title
        assert count(db, OutboxMail) == mails + 1
    else:
        with pytest.raises(ServiceError) as error:
            do(db, w, docking, target, party)
        db.rollback()
        assert re.search(r"[\u4e00-\u9fff]", error.value.message)
        db.expire_all()
        assert db.get(Docking, docking.id).status == source
        assert (count(db, DockingEvent), count(db, Notification), count(db, OutboxMail)) == (events, notes, mails)


def test_moves_of_a_docking_belonging_to_someone_else_are_refused_as_not_found(db):
    w = make_world(db, vendors=2)
    docking = ask(db, w)
    other_vendor = w.providers[1]
    with pytest.raises(ServiceError, match="对接记录不存在"):
        dockings.move(db, docking.id, P, other_vendor.id, other_vendor.user_id, D.accepted, VALID[D.accepted])
    db.rollback()
    stranger = add_enterprise(db, 2)
    with pytest.raises(ServiceError, match="对接记录不存在"):
        dockings.move(db, docking.id, E, stranger.id, stranger.user_id, D.cancelled, VALID[D.cancelled])
    db.rollback()
    with pytest.raises(ServiceError, match="对接记录不存在"):
        dockings.view(db, P, other_vendor.id, docking.id)
    assert db.get(Docking, docking.id).status == D.requested


BAD_DETAILS = [
    (D.declined, P, MoveDetails(note="   "), "note", "请填写理由"),
    (D.cancelled, E, MoveDetails(), "note", "请填写理由"),
    (D.contracted, E, MoveDetails(contract_date=date(2026, 4, 1)), "amount", "请填写合同金额"),
    (D.contracted, E, MoveDetails(amount="0", contract_date=date(2026, 4, 1)), "amount", "大于 0"),
    (D.contracted, E, MoveDetails(amount="-3", contract_date=date(2026, 4, 1)), "amount", "大于 0"),
    (D.contracted, E, MoveDetails(amount="十万", contract_date=date(2026, 4, 1)), "amount", "须为数字"),
    (D.contracted, E, MoveDetails(amount="2000000", contract_date=date(2026, 4, 1)), "amount", "过大"),
    (D.contracted, E, MoveDetails(amount="10"), "contract_date", "请填写签约日期"),
    (D.contracted, E, MoveDetails(amount="10", contract_date=date(2026, 5, 2)), "contract_date", "不能晚于今天"),
    (D.completed, E, MoveDetails(note="好"), "satisfaction", "满意度"),
    (D.completed, E, MoveDetails(satisfaction=6, note="好"), "satisfaction", "满意度"),
    (D.completed, E, MoveDetails(satisfaction=0, note="好"), "satisfaction", "满意度"),
    (D.completed, E, MoveDetails(satisfaction=5, note=""), "note", "验收意见"),
]


@pytest.mark.parametrize(("target", "party", "details", "field", "message"), BAD_DETAILS)
def test_a_move_without_what_it_needs_is_refused_and_writes_nothing(db, target, party, details, field, message):
    w = make_world(db)
    source = next(s for s, t in SPEC if t == target and party in SPEC[(s, t)])
    docking = drive(db, w, ask(db, w), source)
    before = docking.model_dump()
    events = count(db, DockingEvent)
    with pytest.raises(ServiceError) as error:
        do(db, w, docking, target, party, details)
    db.rollback()
    assert error.value.field == field and message in error.value.message
    db.expire_all()
    after = db.get(Docking, docking.id).model_dump()
    assert {k: v for k, v in after.items() if "_at" not in k} == {k: v for k, v in before.items() if "_at" not in k}
    assert count(db, DockingEvent) == events


def test_contract_and_acceptance_are_recorded_on_the_docking_and_its_timeline(db):
    w = make_world(db)
    docking = drive(db, w, ask(db, w), D.negotiating)
    do(db, w, docking, D.contracted, E, MoveDetails(amount="18.456", contract_date=date(2026, 5, 1), note="分两期"))
    docking = do(db, w, docking, D.completed, E, MoveDetails(satisfaction=5, note="开机率提升明显"))
    assert (docking.contract_amount, docking.contract_date) == (18.46, date(2026, 5, 1))
    assert (docking.satisfaction, docking.acceptance_comment) == (5, "开机率提升明显")
    shown = dockings.view(db, E, w.enterprise.id, docking.id)
    assert [e.event.to_status for e in shown.timeline] == [
        "requested",
        "accepted",
        "negotiating",
        "contracted",
        "completed",
    ]
    assert shown.timeline[3].event.note == "合同金额 18.46 万元，签约日期 2026-05-01。分两期"
    assert shown.timeline[4].event.note == "满意度 5/5。开机率提升明显"
    assert [e.actor for e in shown.timeline[:2]] == ["企业 · 测试家具厂1", "服务商 · 测试数字科技500"]
    assert shown.moves == []


def test_a_provider_no_longer_listed_cannot_accept(db):
    w = make_world(db)
    docking = ask(db, w)
    whitelist.decide(db, w.providers[0].id, "suspend", None, "资质核查")
    with pytest.raises(ServiceError, match="不在服务商信息库中"):
        do(db, w, docking, D.accepted, P)
    db.rollback()
    assert db.get(Docking, docking.id).status == D.requested


# --- asking for a docking ----------------------------------------------------------------------


def test_a_request_writes_the_docking_its_first_event_and_tells_the_provider_without_contact_details(db):
    w = make_world(db)
    docking = ask(db, w, message="想了解报价")
    assert (docking.status, docking.enterprise_id, docking.provider_id) == (
        D.requested,
        w.enterprise.id,
        w.providers[0].id,
    )
    event = db.exec(select(DockingEvent).where(DockingEvent.docking_id == docking.id)).one()
    assert (event.from_status, event.to_status, event.actor_id, event.note) == ("", "requested", w.user, "想了解报价")
    note = db.exec(select(Notification)).one()
    mail = db.exec(select(OutboxMail)).one()
    assert note.user_id == w.providers[0].user_id and "想了解报价" in note.body and "测试家具厂1" in note.body
    assert mail.to_address == "vendor500@example.com"
    for text in (note.title, note.body, mail.subject, mail.body):
        assert not any(detail in text for detail in CONTACT)


def test_cap_per_need(db):
    w = make_world(db, vendors=3)
    ask(db, w, 0, cap=2)
    declined = ask(db, w, 1, cap=2)
    do(db, w, declined, D.declined, P)  # a declined docking still counts: it reached a provider
    with pytest.raises(ServiceError, match="最多向 2 家服务商申请对接"):
        ask(db, w, 2, cap=2)
    db.rollback()
    assert count(db, Docking) == 2
    assert ask(db, w, 2, cap=3).solution_id == w.solutions[2].id


def test_no_duplicate_request_for_the_same_solution_or_provider(db):
    w = make_world(db)
    second = providers.create_solution(db, w.providers[0].id, solution_data("第二个方案"), publish=True)
    db.add(MatchResult(need_id=w.need.id, solution_id=second.id, rank=2, score=0.5))
    db.commit()
    ask(db, w)
    with pytest.raises(ServiceError, match="已对该方案提交过对接申请"):
        ask(db, w)
    db.rollback()
    with pytest.raises(ServiceError, match="同一服务商只需申请一次"):
        dockings.request_docking(db, w.enterprise.id, w.user, w.need.id, second.id, "", 5)
    db.rollback()
    assert count(db, Docking) == 1 and count(db, Notification) == 1


@pytest.mark.parametrize("change", ["withdrawn", "suspended", "draft_provider", "missing"])
def test_only_currently_matchable_solutions_can_be_asked(db, change):
    w = make_world(db)
    solution_id = w.solutions[0].id
    if change == "withdrawn":
        providers.set_solution_status(db, w.providers[0].id, solution_id, SolutionStatus.withdrawn)
    elif change == "suspended":
        whitelist.decide(db, w.providers[0].id, "suspend", None, "资质核查")
    elif change == "draft_provider":
        w.providers[0].status = ProviderStatus.draft
        db.add(w.providers[0])
        db.commit()
    else:
        solution_id = 999_999
    with pytest.raises(ServiceError, match="该服务方案当前不可对接"):
        dockings.request_docking(db, w.enterprise.id, w.user, w.need.id, solution_id, "", 5)
    db.rollback()
    assert count(db, Docking) == 0


def test_only_solutions_ranked_or_pushed_for_the_need_can_be_asked(db):
    w = make_world(db, vendors=2)
    for row in db.exec(select(MatchResult).where(MatchResult.solution_id == w.solutions[1].id)):
        db.delete(row)
    db.commit()
    with pytest.raises(ServiceError, match="推荐结果中的服务方案"):
        ask(db, w, 1)
    db.rollback()
    db.add(
        PushRecord(
            kind="solution_to_enterprise",
            need_id=w.need.id,
            solution_id=w.solutions[1].id,
            provider_id=w.providers[1].id,
            enterprise_id=w.enterprise.id,
            score=0.6,
            rank=1,
        )
    )
    db.commit()
    assert ask(db, w, 1).provider_id == w.providers[1].id


def test_only_on_the_enterprise_s_own_open_need(db):
    w = make_world(db)
    stranger = add_enterprise(db, 2)
    with pytest.raises(ServiceError, match="需求不存在"):
        dockings.request_docking(db, stranger.id, stranger.user_id, w.need.id, w.solutions[0].id, "", 5)
    db.rollback()
    w.need.status = NeedStatus.closed
    db.add(w.need)
    db.commit()
    with pytest.raises(ServiceError, match="需求已关闭"):
        ask(db, w)
    db.rollback()
    w.need.status = NeedStatus.open
    db.add(w.need)
    db.commit()
    with pytest.raises(ServiceError, match="留言不能超过500字"):
        ask(db, w, message="长" * 501)
    db.rollback()
    assert count(db, Docking) == 0


# --- feedback and track record -----------------------------------------------------------------


def test_feedback_is_one_row_per_need_and_solution_and_can_change(db):
    w = make_world(db)
    args = (db, w.enterprise.id, w.user, w.need.id, w.solutions[0].id)
    dockings.set_feedback(*args, "useful")
    dockings.set_feedback(*args, "irrelevant")
    rows = db.exec(select(MatchFeedback)).all()
    assert [(r.need_id, r.solution_id, r.verdict, r.user_id) for r in rows] == [
        (w.need.id, w.solutions[0].id, "irrelevant", w.user)
    ]
    assert dockings.feedback_for(db, w.need.id) == {w.solutions[0].id: "irrelevant"}
    with pytest.raises(ServiceError, match="有用"):
        dockings.set_feedback(*args, "meh")
    db.rollback()
    stranger = add_enterprise(db, 2)
    with pytest.raises(ServiceError, match="需求不存在"):
        dockings.set_feedback(db, stranger.id, stranger.user_id, w.need.id, w.solutions[0].id, "useful")
    db.rollback()
    with pytest.raises(ServiceError, match="不在本需求的推荐结果中"):
        dockings.set_feedback(db, w.enterprise.id, w.user, w.need.id, 999_999, "useful")
    db.rollback()
    assert db.exec(select(MatchFeedback.verdict)).all() == ["irrelevant"]


def test_track_record_counts_accepted_deliveries_and_averages_satisfaction(db):
    w = make_world(db, vendors=2)
    first = drive(db, w, ask(db, w, 0), D.completed)  # satisfaction 4
    second_need = add_need(db, w.enterprise, w.solutions)
    again = dockings.request_docking(db, w.enterprise.id, w.user, second_need.id, w.solutions[0].id, "", 5)
    again = drive(db, w, again, D.contracted)
    do(db, w, again, D.completed, E, MoveDetails(satisfaction=5, note="很好"))
    third_need = add_need(db, w.enterprise, w.solutions)
    drive(
        db,
        w,
        dockings.request_docking(db, w.enterprise.id, w.user, third_need.id, w.solutions[0].id, "", 5),
        D.contracted,
    )
    assert first.provider_id == w.providers[0].id
    record = dockings.track_record(db, [w.providers[0].id, w.providers[1].id, w.providers[0].id])
    assert record == {w.providers[0].id: (2, 4.5), w.providers[1].id: (0, None)}
    assert dockings.track_record(db, []) == {}


# --- web: both sides -------------------------------------------------------------------------------


@pytest.fixture
def store(app) -> Iterator[Session]:
    """Like `db`, but without holding an app context open: with one pushed, every request of every test
    client would share it, and with it `g` and the logged-in user."""
    with app.app_context():
        bound = engine()
    with Session(bound, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def market(app, enterprise_client, store):
    """The logged-in enterprise (factory1) with a need ranked against three approved providers' solutions,
    and a logged-in client for each provider."""
    enterprise = store.exec(select(Enterprise)).one()
    vendors, clients = [], []
    for i in range(3):
        browser = app.test_client()
        assert register(browser, "provider", provider_form(500 + i)).status_code == 302
        assert login(browser, f"vendor{500 + i}@example.com").status_code == 302
        vendor = store.exec(select(Provider).where(Provider.credit_code == credit_code(500 + i))).one()
        vendor.status = ProviderStatus.approved
        store.add(vendor)
        store.commit()
        vendors.append(vendor)
        clients.append(browser)
    solutions = [
        providers.create_solution(store, v.id, solution_data(f"设备联网方案{i}"), publish=True)
        for i, v in enumerate(vendors)
    ]
    need = add_need(store, enterprise, solutions)
    return World(enterprise, vendors, solutions, need), clients


def request_url(w: World, index: int) -> str:
    return f"/dockings/needs/{w.need.id}/solutions/{w.solutions[index].id}/request"


def web_move(client, docking_id: int, target: str, **fields):
    page = f"/dockings/{docking_id}"
    return client.post(f"{page}/{target}", data={**fields, "csrf_token": csrf_token(client, page)})


def the_docking(store: Session, w: World, index: int = 0) -> Docking:
    store.expire_all()
    return store.exec(select(Docking).where(Docking.solution_id == w.solutions[index].id)).one()


def assert_no_contact(html: str) -> None:
    for detail in CONTACT:
        assert detail not in html


def test_enterprise_asks_from_the_need_page_and_sees_the_status(market, enterprise_client, store):
    w, _ = market
    need_page = f"/enterprise/needs/{w.need.id}"
    html = enterprise_client.get(need_page).get_data(as_text=True)
    assert html.count(">发送对接申请</button>") == 3 and "尚未申请对接" in html
    assert f'for="message-{w.solutions[0].id}"' in html
    assert "平台对接记录：暂无已验收的项目" in html

    response = post(enterprise_client, request_url(w, 0), {"message": "想了解报价"}, page=need_page)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#match-{w.solutions[0].id}")
    docking = the_docking(store, w)
    assert (docking.message, docking.status) == ("想了解报价", D.requested)
    html = enterprise_client.get(need_page).get_data(as_text=True)
    assert html.count(">发送对接申请</button>") == 2
    assert f'href="/dockings/{docking.id}"' in html and "待服务商答复" in html and "已申请 1 / 5 家服务商" in html

    again = post(enterprise_client, request_url(w, 0), {"message": ""}, page=need_page)
    assert "已对该方案提交过对接申请" in enterprise_client.get(again.headers["Location"]).get_data(as_text=True)
    assert count(store, Docking) == 1


def test_cap_reached_hides_the_request_forms_and_explains(app, market, enterprise_client, store):
    app.config["MATCHMAKER_DOCKING_CAP"] = 2
    w, _ = market
    need_page = f"/enterprise/needs/{w.need.id}"
    post(enterprise_client, request_url(w, 0), {}, page=need_page)
    post(enterprise_client, request_url(w, 1), {}, page=need_page)
    html = enterprise_client.get(need_page).get_data(as_text=True)
    assert ">发送对接申请</button>" not in html and "本需求已向 2 家服务商申请对接，达到上限" in html
    response = post(enterprise_client, request_url(w, 2), {}, page=need_page)
    assert "每个需求最多向 2 家服务商申请对接" in enterprise_client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert count(store, Docking) == 2


def test_feedback_buttons_store_and_show_the_verdict(market, enterprise_client, store):
    w, _ = market
    need_page = f"/enterprise/needs/{w.need.id}"
    url = f"/dockings/needs/{w.need.id}/solutions/{w.solutions[1].id}/feedback"
    assert post(enterprise_client, url, {"verdict": "useful"}, page=need_page).status_code == 302
    assert post(enterprise_client, url, {"verdict": "irrelevant"}, page=need_page).status_code == 302
    assert store.exec(select(MatchFeedback.verdict)).all() == ["irrelevant"]
    html = enterprise_client.get(need_page).get_data(as_text=True)
    assert "您已标记为“不相关”" in html
    assert re.search(r'value="irrelevant" class="chosen" aria-pressed="true"', html)
    bad = post(enterprise_client, url, {"verdict": "bogus"}, page=need_page)
    assert "评价只能是" in enterprise_client.get(bad.headers["Location"]).get_data(as_text=True)
    assert store.exec(select(MatchFeedback.verdict)).all() == ["irrelevant"]


def test_other_enterprises_needs_and_dockings_are_404(app, market, enterprise_client, store):
    w, vendor_clients = market
    post(enterprise_client, request_url(w, 0), {}, page=f"/enterprise/needs/{w.need.id}")
    docking = the_docking(store, w)
    other = app.test_client()
    assert register(other, "enterprise", enterprise_form(2)).status_code == 302
    login(other, "factory2@example.com")
    page = "/dockings/"
    assert post(other, request_url(w, 1), {}, page=page).status_code == 404
    assert (
        post(
            other,
            f"/dockings/needs/{w.need.id}/solutions/{w.solutions[1].id}/feedback",
            {"verdict": "useful"},
            page=page,
        ).status_code
        == 404
    )
    assert other.get(f"/dockings/{docking.id}").status_code == 404
    assert post(other, f"/dockings/{docking.id}/cancelled", {"note": "x"}, page=page).status_code == 404
    assert vendor_clients[1].get(f"/dockings/{docking.id}").status_code == 404
    assert post(vendor_clients[1], f"/dockings/{docking.id}/accepted", {}, page=page).status_code == 404
    assert the_docking(store, w).status == D.requested and count(store, Docking) == 1
    # a provider cannot ask for dockings at all
    assert post(vendor_clients[0], request_url(w, 0), {}, page=page).status_code == 403


def test_admins_and_visitors_have_no_docking_pages(app, admin_client):
    assert admin_client.get("/dockings/").status_code == 403
    visitor = app.test_client()
    response = visitor.get("/dockings/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_contact_details_reach_the_provider_only_from_acceptance(market, enterprise_client, store):
    w, vendor_clients = market
    vendor = vendor_clients[0]
    need_page = f"/enterprise/needs/{w.need.id}"
    post(enterprise_client, request_url(w, 0), {"message": "请联系"}, page=need_page)
    post(enterprise_client, request_url(w, 1), {}, page=need_page)
    docking = the_docking(store, w)
    declined_docking = the_docking(store, w, 1)

    def provider_pages(client, docking_id: int) -> list[str]:
        pages = [
            client.get("/dockings/").get_data(as_text=True),
            client.get("/dockings/?status=requested").get_data(as_text=True),
            client.get(f"/dockings/{docking_id}").get_data(as_text=True),
        ]
        failed = web_move(client, docking_id, "declined", note="")  # re-rendered detail with an error
        pages.append(failed.get_data(as_text=True))
        return pages

    for html in provider_pages(vendor, docking.id):
        assert "测试家具厂1" in html
        assert_no_contact(html)
    assert "企业联系方式将在贵单位接受对接申请后显示" in vendor.get(f"/dockings/{docking.id}").get_data(as_text=True)

    # declined: never shown
    assert web_move(vendor_clients[1], declined_docking.id, "declined", note="档期已满").status_code == 302
    for html in provider_pages(vendor_clients[1], declined_docking.id):
        assert_no_contact(html)

    assert web_move(vendor, docking.id, "accepted", note="收到").status_code == 302
    shown = vendor.get(f"/dockings/{docking.id}").get_data(as_text=True)
    for detail in CONTACT:
        assert detail in shown
    for status in ("negotiating",):
        assert web_move(vendor, docking.id, status).status_code == 302
        assert CONTACT[1] in vendor.get(f"/dockings/{docking.id}").get_data(as_text=True)
    assert web_move(vendor, docking.id, "cancelled", note="企业预算未落实").status_code == 302
    assert_no_contact(vendor.get(f"/dockings/{docking.id}").get_data(as_text=True))
    # notifications and emails to the provider never carried them
    for text in store.exec(select(Notification.body).where(Notification.user_id == w.providers[0].user_id)):
        assert_no_contact(text)


def provider_contact(serial: int) -> tuple[str, str, str]:
    return ("李经理", "13900139000", f"vendor{serial}@example.com")  # provider_form(serial)


def test_provider_contact_reaches_the_enterprise_only_from_acceptance(app, market, enterprise_client, store):
    """Both ways: the enterprise sees no provider contact before acceptance, nor after cancelling; a
    suspended provider loses the enterprise's contact it saw; the API never carries either; the pages
    that show contacts are not cached."""
    w, vendor_clients = market
    need_page = f"/enterprise/needs/{w.need.id}"
    for index in (0, 1):
        assert post(enterprise_client, request_url(w, index), {}, page=need_page).status_code == 302
    requested, to_cancel = the_docking(store, w), the_docking(store, w, 1)
    key = api_keys.issue(
        store, make_admin(store).id, Role.enterprise, "测试", "测试", enterprise_id=w.need.enterprise_id
    )

    def enterprise_sees(docking: Docking, serial: int) -> bool:
        page = enterprise_client.get(f"/dockings/{docking.id}")
        assert page.headers["Cache-Control"] == "no-store"
        api = app.test_client().get(f"/api/v1/dockings/{docking.id}", headers={"Authorization": f"Bearer {key.token}"})
        assert api.status_code == 200
        for detail in provider_contact(serial):
            assert detail not in api.get_data(as_text=True)
        html = page.get_data(as_text=True)
        shown = [detail in html for detail in provider_contact(serial)]
        assert len(set(shown)) == 1, html  # all or nothing
        return shown[0]

    assert not enterprise_sees(requested, 500)
    assert "服务商联系方式将在服务商接受对接申请后显示" in enterprise_client.get(f"/dockings/{requested.id}").get_data(
        as_text=True
    )
    assert web_move(enterprise_client, to_cancel.id, "cancelled", note="预算调整").status_code == 302
    assert not enterprise_sees(to_cancel, 501)

    vendor = vendor_clients[0]
    assert web_move(vendor, requested.id, "accepted").status_code == 302
    assert enterprise_sees(requested, 500)
    provider_page = vendor.get(f"/dockings/{requested.id}")
    assert CONTACT[1] in provider_page.get_data(as_text=True)
    assert provider_page.headers["Cache-Control"] == "no-store"

    whitelist.decide(store, w.providers[0].id, "suspend", make_admin(store).id, "资质存疑")
    assert_no_contact(vendor.get(f"/dockings/{requested.id}").get_data(as_text=True))
    assert enterprise_sees(requested, 500)  # the enterprise keeps the provider's: it did nothing wrong
    whitelist.decide(store, w.providers[0].id, "reinstate", make_admin(store).id, "已核实")
    assert CONTACT[1] in vendor.get(f"/dockings/{requested.id}").get_data(as_text=True)
    whitelist.decide(store, w.providers[0].id, "revoke", make_admin(store).id, "违规")
    assert_no_contact(vendor.get(f"/dockings/{requested.id}").get_data(as_text=True))


def test_full_journey_through_the_pages_with_errors_in_chinese(market, enterprise_client, store):
    w, vendor_clients = market
    vendor = vendor_clients[0]
    post(enterprise_client, request_url(w, 0), {"message": "请联系"}, page=f"/enterprise/needs/{w.need.id}")
    docking = the_docking(store, w)
    detail = f"/dockings/{docking.id}"

    html = vendor.get(detail).get_data(as_text=True)
    assert "接受对接" in html and "婉拒对接" in html and "登记签约" not in html
    assert "请填写理由" in web_move(vendor, docking.id, "declined", note=" ").get_data(as_text=True)
    wrong_party = web_move(enterprise_client, docking.id, "accepted")
    assert wrong_party.status_code == 200 and "“接受对接”只能由服务商操作" in wrong_party.get_data(as_text=True)
    assert the_docking(store, w).status == D.requested

    assert web_move(vendor, docking.id, "accepted", note="收到，明天联系").status_code == 302
    assert web_move(enterprise_client, docking.id, "negotiating").status_code == 302
    html = web_move(enterprise_client, docking.id, "contracted", amount="abc", contract_date="2026-01-05")
    assert html.status_code == 200 and "不是有效的小数" in html.get_data(as_text=True)
    html = web_move(enterprise_client, docking.id, "contracted", amount="0", contract_date="2026-01-05")
    assert "合同金额须大于 0" in html.get_data(as_text=True)
    assert the_docking(store, w).status == D.negotiating
    assert (
        web_move(enterprise_client, docking.id, "contracted", amount="25", contract_date="2026-01-05").status_code
        == 302
    )
    html = web_move(enterprise_client, docking.id, "completed", satisfaction="", note="很好").get_data(as_text=True)
    assert "请选择满意度" in html
    assert web_move(enterprise_client, docking.id, "completed", satisfaction="5", note="很好").status_code == 302

    done = the_docking(store, w)
    assert (done.status, done.contract_amount, done.satisfaction) == (D.completed, 25.0, 5)
    for client in (enterprise_client, vendor):
        html = client.get(detail).get_data(as_text=True)
        for text in (
            "提交对接申请",
            "接受对接",
            "进入洽谈",
            "登记签约",
            "验收交付",
            "合同金额 25.00 万元",
            "满意度 5/5",
        ):
            assert text in html
        assert "下一步" not in html
    card = enterprise_client.get(f"/enterprise/needs/{w.need.id}").get_data(as_text=True)
    assert "平台对接记录：已验收 1 个项目 · 平均满意度 5.0 / 5" in card
    titles = store.exec(select(Notification.title).where(Notification.user_id == w.providers[0].user_id)).all()
    assert len(titles) == 4  # request, negotiating, contracted, completed (the provider's own moves: none)


def test_lists_filter_by_status_and_paginate(app, market, enterprise_client, store):
    app.config["MATCHMAKER_PAGE_SIZE"] = 2
    w, vendor_clients = market
    for i in range(3):
        post(enterprise_client, request_url(w, i), {}, page=f"/enterprise/needs/{w.need.id}")
    web_move(vendor_clients[2], the_docking(store, w, 2).id, "accepted")
    first = enterprise_client.get("/dockings/").get_data(as_text=True)
    assert "第 1 / 2 页，共 3 条" in first and "设备联网方案2" in first  # most recently moved first
    second = enterprise_client.get("/dockings/?page=2").get_data(as_text=True)
    assert "设备联网方案0" in second and "设备联网方案2" not in second
    accepted = enterprise_client.get("/dockings/?status=accepted").get_data(as_text=True)
    assert "设备联网方案2" in accepted and "设备联网方案0" not in accepted
    assert "共 3 条" in enterprise_client.get("/dockings/?status=bogus").get_data(as_text=True)
    vendor_list = vendor_clients[0].get("/dockings/").get_data(as_text=True)
    assert "设备联网方案0" in vendor_list and "设备联网方案1" not in vendor_list
    nav = enterprise_client.get("/enterprise/").get_data(as_text=True)
    assert 'href="/dockings/">我的对接' in nav


def test_the_need_page_names_bands_in_words_and_withholds_weak_results(app, enterprise_client, market):
    """Scores 0.89 / 0.88 / 0.87: with the cut-offs moved, the first is 高度匹配, the second 较匹配, the
    third falls below 部分匹配 and is not recommended; the page promises a notification instead."""
    w, _ = market
    app.config |= {"MATCHMAKER_BAND_HIGH": 0.885, "MATCHMAKER_BAND_GOOD": 0.875, "MATCHMAKER_BAND_PARTIAL": 0.875}
    html = enterprise_client.get(f"/enterprise/needs/{w.need.id}").get_data(as_text=True)
    assert "高度匹配 89%" in html and "较匹配 88%" in html
    assert w.solutions[2].title not in html and "另有 1 个方案匹配度过低，不作推荐" in html
    assert "有更合适的方案发布时，平台会通过站内消息和邮件通知您" in html
    assert html.count('<details class="apply">') == 2  # the docking form sits behind 申请对接

    app.config["MATCHMAKER_BAND_PARTIAL"] = 0.5
    html = enterprise_client.get(f"/enterprise/needs/{w.need.id}").get_data(as_text=True)
    assert "部分匹配 87%" in html and "不作推荐" not in html and "通知您" not in html


def test_results_six_to_ten_wait_behind_more_and_weak_ones_are_counted():
    def shown(score: float) -> matching.ShownMatch:
        return matching.ShownMatch(MatchResult(need_id=1, solution_id=1, rank=1, score=score), None, None)

    scores = [0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.45, 0.4, 0.3, 0.2, 0.1]
    recs = matching.recommendations([shown(s) for s in scores], partial_cutoff=0.35)
    assert [m.result.score for m in recs.first] == scores[:5]
    assert [m.result.score for m in recs.more] == [0.5, 0.45, 0.4]
    assert recs.withheld == 3
