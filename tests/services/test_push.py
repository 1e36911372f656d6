"""Precise push (精准推送): who is told about a need or a solution, within which caps, and what a
provider may see of a pushed need (never the enterprise's identity or contact details)."""

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlmodel import Session, select

from matchmaker.services import accounts, enterprises, matching, providers, push, whitelist
from matchmaker.services.push import NEED_TO_PROVIDER, SOLUTION_TO_ENTERPRISE, PushCaps, push_solution
from models import (
    Enterprise,
    MatchResult,
    Need,
    NeedStatus,
    Notification,
    OutboxMail,
    Provider,
    ProviderStatus,
    PushRecord,
    Solution,
    SolutionStatus,
    User,
)
from models.schemas import EnterpriseRegistration, NeedCreate, ProviderRegistration, SolutionWrite
from tests.conftest import enterprise_form, login, post, provider_form, register
from tests.matching.test_need_matching import IOT

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CAPS = PushCaps(threshold=0.45, per_provider_day=5, per_enterprise_day=5, per_need=3)

IOT_NEED = NeedCreate(
    title="开料机封边机联网",
    description="我们是家具厂，开料机和封边机都是单机，想做设备联网，在手机上看到每台机器的开机率和产量。",
    industry="furniture",
    domains=["data_collection"],
    tags=["设备联网"],
)
MES_NEED = NeedCreate(
    title="汽配批次追溯",
    description="汽车零部件厂，主机厂要求质量追溯，每个批次追到原材料和工序，想上 MES 生产管理系统。",
    industry="auto_parts",
    domains=["software"],
    tags=["MES"],
)


# --- arranging -----------------------------------------------------------------------------


def make_enterprise(db: Session, serial: int, industry: str = "furniture") -> Enterprise:
    form = enterprise_form(serial, industry=industry)
    user = accounts.register_enterprise(db, EnterpriseRegistration.model_validate(form))
    return db.exec(select(Enterprise).where(Enterprise.user_id == user.id)).one()


def make_provider(db: Session, serial: int, domains=("data_collection", "software", "security")) -> Provider:
    """A provider with a login, approved (the whitelist review itself is tested elsewhere)."""
    form = provider_form(serial, domains=list(domains))
    user = accounts.register_provider(db, ProviderRegistration.model_validate(form))
    provider = db.exec(select(Provider).where(Provider.user_id == user.id)).one()
    provider.status = ProviderStatus.approved
    db.add(provider)
    db.commit()
    return provider


def make_need(db: Session, enterprise: Enterprise, data: NeedCreate = IOT_NEED, **changes) -> Need:
    """A saved need, not yet ranked or pushed (the tests below do that step by step)."""
    need = enterprises.new_need(db, enterprise.id, data.model_copy(update=changes))
    db.add(need)
    db.commit()
    return need


def push_need(db: Session, need: Need, results, now: datetime, caps: PushCaps) -> list[PushRecord]:
    """`push.push_need`, committed, as a publish commits it."""
    pushed = push.push_need(db, need, results, now, caps)
    db.commit()
    return pushed


def make_solution(db: Session, provider: Provider, data: SolutionWrite = IOT, **changes) -> Solution:
    return providers.create_solution(db, provider.id, data.model_copy(update=changes), publish=True)


def result(need: Need, solution: Solution, rank: int, score: float) -> MatchResult:
    """A ranked match as `matching.match_need` returns it."""
    return MatchResult(
        need_id=need.id,
        solution_id=solution.id,
        rank=rank,
        score=score,
        parts={"semantic": round(score * 0.6, 4), "industry": round(score * 0.4, 4)},
        explanation={
            "industry": "行业匹配：家具",
            "size": "规模匹配：小型企业",
            "tags": ["设备联网"],
            "points": [{"point": "开料机和封边机联网", "module": "设备数据采集网关", "covered": True}],
        },
    )


def records(db: Session, kind: str = NEED_TO_PROVIDER) -> list[PushRecord]:
    return list(db.exec(select(PushRecord).where(PushRecord.kind == kind).order_by(PushRecord.id)))


def notes_of(db: Session, user_id: int) -> list[Notification]:
    return list(db.exec(select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)))


def mails_to(db: Session, address: str) -> list[OutboxMail]:
    return list(db.exec(select(OutboxMail).where(OutboxMail.to_address == address).order_by(OutboxMail.id)))


def email_of(db: Session, user_id: int) -> str:
    return db.get(User, user_id).email


def identity_of(enterprise: Enterprise) -> list[str]:
    """Everything that would tell a provider who the enterprise is or how to reach it."""
    return [
        enterprise.name,
        enterprise.contact_name,
        enterprise.phone,
        enterprise.email,
        enterprise.credit_code,
        enterprise.address,
    ]


# --- need -> providers ---------------------------------------------------------------------


def test_only_the_first_places_above_the_threshold_are_pushed(db):
    need = make_need(db, make_enterprise(db, 1))
    strong, weak, late = (make_provider(db, 500 + i) for i in range(3))
    sol = {p.id: make_solution(db, p, title=f"方案{p.id}") for p in (strong, weak, late)}
    results = [
        result(need, sol[strong.id], 1, 0.62),
        result(need, sol[weak.id], 2, 0.449),  # below the threshold
        *[result(need, make_solution(db, strong, title=f"填充{i}"), 3 + i, 0.5) for i in range(3)],
        result(need, sol[late.id], 6, 0.9),  # out of the first five places
    ]
    pushed = push_need(db, need, results, T0, CAPS)
    assert [(r.provider_id, r.solution_id, r.rank) for r in pushed] == [(strong.id, sol[strong.id].id, 1)]
    assert notes_of(db, weak.user_id) == [] and notes_of(db, late.user_id) == []
    [note] = notes_of(db, strong.user_id)
    assert note.kind == "need_pushed" and note.link == f"/inbox/pushed/{pushed[0].id}"
    assert len(mails_to(db, email_of(db, strong.user_id))) == 1
    assert pushed[0].created_at.replace(tzinfo=None) == T0.replace(tzinfo=None)


def test_the_provider_is_told_what_the_need_is_but_not_who_posted_it(db):
    enterprise = make_enterprise(db, 1)
    need = make_need(db, enterprise)
    provider = make_provider(db, 500)
    push_need(db, need, [result(need, make_solution(db, provider), 1, 0.7)], T0, CAPS)
    [note] = notes_of(db, provider.user_id)
    [mail] = mails_to(db, email_of(db, provider.user_id))
    for text in (note.title + note.body, mail.subject + mail.body):
        assert need.description in text and "家具" in text and "小型企业" in text and "70%" in text
        assert not [leak for leak in identity_of(enterprise) if leak and leak in text]


def test_one_push_per_provider_and_at_most_n_providers_per_need(db):
    need = make_need(db, make_enterprise(db, 1))
    vendors = [make_provider(db, 500 + i) for i in range(5)]
    first = vendors[0]
    results = [
        result(need, make_solution(db, first, title="联网方案一"), 1, 0.8),
        result(need, make_solution(db, first, title="联网方案二"), 2, 0.75),  # same provider: told once
        *[result(need, make_solution(db, v), 3 + i, 0.7 - i / 100) for i, v in enumerate(vendors[1:])],
    ]
    pushed = push_need(db, need, results, T0, CAPS)
    assert [r.provider_id for r in pushed] == [first.id, vendors[1].id, vendors[2].id]  # per_need = 3, best first
    assert len(notes_of(db, first.user_id)) == 1 and notes_of(db, vendors[3].user_id) == []


def test_a_provider_gets_at_most_k_needs_a_day_and_the_next_provider_takes_its_place(db):
    caps = PushCaps(threshold=0.45, per_provider_day=2, per_enterprise_day=5, per_need=1)
    enterprise = make_enterprise(db, 1)
    busy, other = make_provider(db, 500), make_provider(db, 501)
    busy_solution, other_solution = make_solution(db, busy), make_solution(db, other, title="另一家的联网方案")

    def publish(at: datetime) -> list[int]:
        need = make_need(db, enterprise, title=f"需求{at:%d%H%M}")
        ranked = [result(need, busy_solution, 1, 0.8), result(need, other_solution, 2, 0.7)]
        return [r.provider_id for r in push_need(db, need, ranked, at, caps)]

    assert publish(T0) == [busy.id]
    assert publish(T0 + timedelta(hours=1)) == [busy.id]
    assert publish(T0 + timedelta(hours=23, minutes=59)) == [other.id]  # busy is at its cap of 2
    assert publish(T0 + timedelta(hours=24, minutes=1)) == [busy.id]  # the first push left the 24 hours
    assert len(notes_of(db, busy.user_id)) == 3 and len(notes_of(db, other.user_id)) == 1


def test_pushing_twice_changes_nothing(db):
    need = make_need(db, make_enterprise(db, 1))
    provider = make_provider(db, 500)
    ranked = [result(need, make_solution(db, provider), 1, 0.7)]
    assert len(push_need(db, need, ranked, T0, CAPS)) == 1
    assert push_need(db, need, ranked, T0 + timedelta(minutes=5), CAPS) == []
    # a re-match that ranks another solution of the same provider first does not tell it again
    again = [result(need, make_solution(db, provider, title="联网方案二"), 1, 0.8)]
    assert push_need(db, need, again, T0 + timedelta(hours=1), CAPS) == []
    assert len(records(db)) == 1 and len(notes_of(db, provider.user_id)) == 1
    assert len(mails_to(db, email_of(db, provider.user_id))) == 1


def test_closed_needs_unlisted_providers_and_withdrawn_solutions_are_not_pushed(db):
    enterprise = make_enterprise(db, 1)
    suspended, withdrawn, listed = make_provider(db, 500), make_provider(db, 501), make_provider(db, 502)
    solutions = {p.id: make_solution(db, p, title=f"方案{p.id}") for p in (suspended, withdrawn, listed)}
    whitelist.decide(db, suspended.id, "suspend", None, "资质过期，暂停")
    providers.set_solution_status(db, withdrawn.id, solutions[withdrawn.id].id, SolutionStatus.withdrawn)
    need = make_need(db, enterprise)
    ranked = [result(need, solutions[p.id], i, 0.8) for i, p in enumerate((suspended, withdrawn, listed), start=1)]
    closed = enterprises.set_need_status(
        db, enterprise.id, make_need(db, enterprise, title="已关闭的需求").id, NeedStatus.closed
    )
    assert push_need(db, closed, [result(closed, solutions[listed.id], 1, 0.9)], T0, CAPS) == []
    assert [r.provider_id for r in push_need(db, need, ranked, T0, CAPS)] == [listed.id]


# --- through the web -----------------------------------------------------------------------


def signed_in_provider(app: Flask, db: Session, serial: int) -> tuple[FlaskClient, Provider]:
    """A logged-in provider of its own (registered through the site, then approved)."""
    client = app.test_client()
    email = f"vendor{serial}@example.com"
    assert register(client, "provider", provider_form(serial)).status_code == 302
    assert login(client, email).status_code == 302
    provider = db.exec(select(Provider).join(User, User.id == Provider.user_id).where(User.email == email)).one()
    provider.status = ProviderStatus.approved
    db.add(provider)
    db.commit()
    return client, provider


def publish_need_on_the_site(client: FlaskClient, text: str, industry: str = "furniture"):
    return post(
        client, "/enterprise/needs/new", {"description": text, "industry": industry}, page="/enterprise/needs/new"
    )


def test_a_published_need_reaches_the_provider_without_the_enterprise_identity(app, enterprise_client, db):
    app.config["MATCHMAKER_PUSH_THRESHOLD"] = 0.0  # the test encoder's scores are not the real ones
    vendor_client, vendor = signed_in_provider(app, db, 600)
    make_solution(db, vendor)
    response = publish_need_on_the_site(enterprise_client, IOT_NEED.description)
    assert response.status_code == 302
    need_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    [record] = records(db)
    assert (record.need_id, record.provider_id) == (need_id, vendor.id)
    enterprise = db.exec(select(Enterprise)).one()

    inbox = vendor_client.get("/inbox/").get_data(as_text=True)
    assert "新需求推送" in inbox and "消息<strong>（1" in inbox
    listing = vendor_client.get("/inbox/pushed").get_data(as_text=True)
    detail = vendor_client.get(f"/inbox/pushed/{record.id}").get_data(as_text=True)
    for page in (inbox, listing, detail):
        assert IOT_NEED.description in page
        assert not [leak for leak in identity_of(enterprise) if leak and leak in page]
    for text in ("需求要点覆盖情况", "行业匹配", "得分构成", "匹配度", IOT.title):
        assert text in listing and text in detail
    assert "家具" in detail and "小型" in detail  # industry and size are fine to show

    # the notification's link leads to the pushed need, and opening it marks it read
    note = notes_of(db, vendor.user_id)[0]
    opened = post(vendor_client, f"/inbox/{note.id}/open", {}, page="/inbox/")
    assert opened.headers["Location"].endswith(f"/inbox/pushed/{record.id}")
    assert "消息<strong>" not in vendor_client.get("/inbox/").get_data(as_text=True)


def test_pushed_needs_are_ranked_by_score_and_private_to_their_provider(app, db):
    enterprise = make_enterprise(db, 1)
    client, vendor = signed_in_provider(app, db, 600)
    other_client, _ = signed_in_provider(app, db, 601)
    solution = make_solution(db, vendor)
    low, high = make_need(db, enterprise, title="低分需求"), make_need(db, enterprise, title="高分需求")
    push_need(db, low, [result(low, solution, 1, 0.5)], T0, CAPS)
    push_need(db, high, [result(high, solution, 1, 0.9)], T0, CAPS)
    listing = client.get("/inbox/pushed").get_data(as_text=True)
    assert listing.index("高分需求") < listing.index("低分需求")
    record = records(db)[0]
    assert other_client.get(f"/inbox/pushed/{record.id}").status_code == 404
    assert "低分需求" not in other_client.get("/inbox/pushed").get_data(as_text=True)


def test_enterprises_and_admins_have_no_pushed_needs_page(enterprise_client):
    assert enterprise_client.get("/inbox/pushed").status_code == 403
    assert enterprise_client.get("/inbox/pushed/1").status_code == 403


def test_a_failing_push_never_loses_the_publish(app, enterprise_client, db):
    app.config["MATCHMAKER_PUSH_THRESHOLD"] = 0.0
    app.config["MATCHMAKER_PUSH_PER_NEED"] = "drei"  # a broken setting makes every push raise
    _, vendor = signed_in_provider(app, db, 600)
    make_solution(db, vendor)
    response = publish_need_on_the_site(enterprise_client, IOT_NEED.description)
    assert response.status_code == 302
    assert db.exec(select(func.count()).select_from(Need)).one() == 1
    assert records(db) == []
    assert "需求已发布" in enterprise_client.get(response.headers["Location"]).get_data(as_text=True)


# --- solution -> enterprises ---------------------------------------------------------------


@pytest.fixture
def two_needs(db, db_engine, index):
    """A furniture need about machine connectivity and a car-parts need about MES, each with its
    stored ranking made when it was published (before the solutions below exist)."""
    furniture, auto = make_enterprise(db, 1), make_enterprise(db, 2, industry="auto_parts")
    needs = {"iot": make_need(db, furniture), "mes": make_need(db, auto, MES_NEED)}
    for need in needs.values():
        matching.match_need(db, db_engine, index, need)
    return needs


def test_a_published_solution_reaches_the_enterprise_whose_need_it_serves(app, db, two_needs):
    app.config["MATCHMAKER_PUSH_THRESHOLD"] = 0.0
    client, vendor = signed_in_provider(app, db, 600)
    form = {
        "title": IOT.title,
        "summary": IOT.summary,
        "description": IOT.description,
        "domain": IOT.domain,
        "industries": IOT.industries,
        "sizes": IOT.sizes,
        "modules": "\n".join(IOT.modules),
        "tags": IOT.tags,
        "deployment": "saas",
    }
    assert post(client, "/provider/solutions/new", form, page="/provider/solutions/new").status_code == 302
    solution = db.exec(select(Solution).where(Solution.provider_id == vendor.id)).one()
    [record] = records(db, SOLUTION_TO_ENTERPRISE)
    iot_need, mes_need = two_needs["iot"], two_needs["mes"]
    assert (record.need_id, record.solution_id, record.enterprise_id) == (
        iot_need.id,
        solution.id,
        iot_need.enterprise_id,
    )
    furniture_user = db.get(Enterprise, iot_need.enterprise_id).user_id
    [note] = notes_of(db, furniture_user)
    assert (
        note.kind == "solution_pushed" and IOT.title in note.title and note.link == f"/enterprise/needs/{iot_need.id}"
    )
    assert notes_of(db, db.get(Enterprise, mes_need.enterprise_id).user_id) == []
    # the need's stored ranking now shows the new solution behind the link
    assert solution.id in [m.solution.id for m in matching.stored_matches(db, iot_need.id)]

    # editing the published solution tells nobody again
    form["summary"] += "，支持微信报警"
    edit = post(client, f"/provider/solutions/{solution.id}/edit", form, page=f"/provider/solutions/{solution.id}/edit")
    assert edit.status_code == 302
    assert len(records(db, SOLUTION_TO_ENTERPRISE)) == 1 and len(notes_of(db, furniture_user)) == 1


def test_a_need_that_already_shows_the_solution_is_not_told(db, db_engine, index, two_needs):
    vendor = make_provider(db, 600)
    solution = make_solution(db, vendor)
    index.refresh(db_engine)
    need = make_need(db, db.get(Enterprise, two_needs["iot"].enterprise_id), title="第二个联网需求")
    matching.match_need(db, db_engine, index, need)  # published after the solution: it saw it
    caps = PushCaps(threshold=0.0, per_provider_day=5, per_enterprise_day=5, per_need=3)
    pushed = push_solution(db, db_engine, index, solution, T0, caps)
    assert [r.need_id for r in pushed] == [two_needs["iot"].id]


def test_solution_pushes_respect_the_threshold_and_the_enterprise_daily_cap(db, db_engine, index, two_needs):
    vendor = make_provider(db, 600)
    caps = PushCaps(threshold=0.0, per_provider_day=5, per_enterprise_day=1, per_need=3)

    def publish_and_push(title: str, at: datetime, with_caps: PushCaps = caps) -> list[int]:
        solution = make_solution(db, vendor, title=title)
        index.refresh(db_engine)
        return [r.need_id for r in push_solution(db, db_engine, index, solution, at, with_caps)]

    assert publish_and_push("设备联网方案甲", T0, PushCaps(threshold=1.01)) == []  # no score reaches it
    iot_need = two_needs["iot"].id
    assert publish_and_push("设备联网方案乙", T0) == [iot_need]
    assert publish_and_push("设备联网方案丙", T0 + timedelta(hours=23)) == []  # one a day for this enterprise
    assert publish_and_push("设备联网方案丁", T0 + timedelta(hours=25)) == [iot_need]


def test_solution_pushes_per_need_are_capped(db, db_engine, index, two_needs):
    vendor = make_provider(db, 600)
    caps = PushCaps(threshold=0.0, per_provider_day=5, per_enterprise_day=10, per_need=2)
    told = []
    for day in range(3):
        solution = make_solution(db, vendor, title=f"设备联网方案{day}")
        index.refresh(db_engine)
        told.append(len(push_solution(db, db_engine, index, solution, T0 + timedelta(days=day), caps)))
    assert told == [1, 1, 0]


def test_an_enterprise_hears_about_one_need_at_most_once_a_day(db, db_engine, index, two_needs):
    vendor = make_provider(db, 600)
    caps = PushCaps(threshold=0.0, per_provider_day=5, per_enterprise_day=10, per_need=5)
    told = []
    for title, at in (
        ("设备联网方案甲", T0),
        ("设备联网方案乙", T0 + timedelta(hours=2)),
        ("设备联网方案丙", T0 + timedelta(hours=25)),
    ):
        solution = make_solution(db, vendor, title=title)
        index.refresh(db_engine)
        told.append([r.need_id for r in push_solution(db, db_engine, index, solution, at, caps)])
    iot_need = two_needs["iot"].id
    assert told == [[iot_need], [], [iot_need]]
    user = db.get(Enterprise, two_needs["iot"].enterprise_id).user_id
    assert len(notes_of(db, user)) == 2


def test_unlisted_providers_and_closed_needs_push_nothing(db, db_engine, index, two_needs):
    vendor = make_provider(db, 600)
    solution = make_solution(db, vendor)
    index.refresh(db_engine)
    caps = PushCaps(threshold=0.0)
    need = two_needs["iot"]
    enterprises.set_need_status(db, need.enterprise_id, need.id, NeedStatus.closed)
    assert push_solution(db, db_engine, index, solution, T0, caps) == []
    enterprises.set_need_status(db, need.enterprise_id, need.id, NeedStatus.open)
    whitelist.decide(db, vendor.id, "suspend", None, "资质过期，暂停")
    assert push_solution(db, db_engine, index, db.get(Solution, solution.id), T0, caps) == []
    assert records(db, SOLUTION_TO_ENTERPRISE) == []


def test_a_provider_let_back_onto_the_whitelist_is_pushed_to_the_needs_it_serves(app, db, two_needs, admin_client):
    """Suspended while its solution was published; reinstating it pushes that solution at once."""
    app.config["MATCHMAKER_PUSH_THRESHOLD"] = 0.0
    vendor = make_provider(db, 601)
    solution = make_solution(db, vendor)
    whitelist.decide(db, vendor.id, "suspend", None, "资料核查期间暂停")
    assert records(db, SOLUTION_TO_ENTERPRISE) == []
    page = f"/admin/providers/{vendor.id}"
    response = post(admin_client, f"{page}/decide", {"action": "reinstate", "reason": "核查通过"}, page=page)
    assert response.status_code == 302
    [record] = records(db, SOLUTION_TO_ENTERPRISE)
    assert (record.solution_id, record.need_id) == (solution.id, two_needs["iot"].id)
