"""The whitelist lifecycle: application, review, warning and rectification, suspension, revocation,
renewal, expiry with its reminder, appeals, the daily sweep on a controllable clock, the review queue,
and the pages and routes that drive it."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlmodel import Session, select, text

from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import matching, providers, whitelist
from matchmaker.services.errors import ServiceError
from models import (
    Appeal,
    AuditLog,
    Need,
    Notification,
    OutboxMail,
    Provider,
    ProviderStatus,
    Role,
    SuccessCase,
    User,
    WhitelistEvent,
    upgrade_database,
)
from tests.conftest import PASSWORD, credit_code, csrf_token, drop_everything, login, post, pre_migration_schema
from tests.matching.test_need_matching import IOT, NEED_TEXT

TODAY = date(2027, 3, 1)
S = ProviderStatus

# The specification, written out independently of whitelist.TRANSITIONS:
# action -> (statuses it is allowed from, resulting status; None = unchanged)
ALLOWED = {
    "approve": ({"applied"}, "approved"),
    "reject": ({"applied"}, "rejected"),
    "warn": ({"approved"}, None),
    "clear_warning": ({"approved", "suspended", "expired"}, None),
    "suspend": ({"approved"}, "suspended"),
    "reinstate": ({"suspended"}, "approved"),
    "revoke": ({"approved", "suspended", "expired"}, "revoked"),
    "renew": ({"approved", "expired"}, "approved"),
}


def make_provider(db: Session, status: ProviderStatus = S.draft, serial: int = 600, **fields) -> Provider:
    """A provider with a complete record and a login of its own (so it can be notified)."""
    user = User(email=f"wl{serial}@example.com", password_hash="x", role=Role.provider, display_name="李经理")
    db.add(user)
    db.flush()
    values = {
        "user_id": user.id,
        "name": f"白名单测试科技{serial}",
        "credit_code": credit_code(serial),
        "contact_name": "李经理",
        "phone": "13900139000",
        "email": f"sales{serial}@example.com",
        "domains": ["data_collection", "software", "security"],
        "service_content": "设备联网与数据采集、MES 实施",
        "capabilities": "Modbus、OPC UA、MQTT；自研边缘网关",
        "qualifications": "ISO 9001；高新技术企业",
        "years_in_shenzhen": 6,
        "status": status,
    }
    provider = Provider.model_validate(values | fields)
    db.add(provider)
    db.flush()
    db.add(SuccessCase(provider_id=provider.id, title="某家具厂设备联网", industry="furniture", year=2025))
    db.commit()
    return provider


def count(db: Session, table, *conditions) -> int:
    return db.exec(select(func.count()).select_from(table).where(*conditions)).one()


def notices(db: Session, provider: Provider, kind: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == provider.user_id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.exec(query.order_by(Notification.id)))


def status_of(db: Session, provider: Provider) -> str:
    db.expire_all()
    return db.get(Provider, provider.id).status


# --- application --------------------------------------------------------------------------------


def test_an_incomplete_record_is_refused_naming_every_missing_part(db):
    provider = make_provider(
        db, service_content="", capabilities=" ", qualifications="", years_in_shenzhen=0, domains=[]
    )
    db.delete(db.exec(select(SuccessCase)).one())
    db.commit()
    with pytest.raises(ServiceError) as refused:
        whitelist.apply(db, provider.id, provider.user_id, "请审核")
    db.rollback()
    for label in ("服务领域", "服务内容", "技术能力", "资质认证", "在深圳经营年限", "至少一个成功案例"):
        assert label in refused.value.message
    assert "联系电话" not in refused.value.message
    assert status_of(db, provider) == "draft" and count(db, WhitelistEvent) == 0


def test_a_complete_record_is_applied_and_can_only_be_applied_once(db):
    provider = make_provider(db)
    whitelist.apply(db, provider.id, provider.user_id, "请审核")
    assert status_of(db, provider) == "applied"
    event = db.exec(select(WhitelistEvent)).one()
    assert (event.action, event.from_status, event.to_status, event.actor_id) == (
        "apply",
        "draft",
        "applied",
        provider.user_id,
    )
    with pytest.raises(ServiceError, match="当前状态不能提交入库申请"):
        whitelist.apply(db, provider.id, provider.user_id, "")


# --- every admin transition, allowed and forbidden ---------------------------------------------


@pytest.mark.parametrize("start", [s.value for s in ProviderStatus])
@pytest.mark.parametrize("action", list(ALLOWED))
def test_every_transition_is_allowed_or_forbidden_as_specified(db, start, action):
    provider = make_provider(
        db,
        S(start),
        approved_until=TODAY + timedelta(days=10),  # inside the renewal window
        rectify_by=TODAY + timedelta(days=5) if action == "clear_warning" else None,
    )
    sources, target = ALLOWED[action]
    call = lambda: whitelist.decide(  # noqa: E731
        db, provider.id, action, None, "按规定处理", today=TODAY, rectify_by=TODAY + timedelta(days=20)
    )
    if start in sources:
        call()
        assert status_of(db, provider) == (target or start)
        event = db.exec(select(WhitelistEvent)).one()
        assert (event.action, event.from_status, event.to_status, event.reason) == (
            action,
            start,
            target or start,
            "按规定处理",
        )
        entry = db.exec(select(AuditLog)).one()
        assert (entry.action, entry.target_id, entry.actor_id) == (f"whitelist.{action}", provider.id, None)
        assert len(notices(db, provider, "whitelist")) == 1
    else:
        with pytest.raises(ServiceError, match="当前状态下不能执行"):
            call()
        db.rollback()
        assert status_of(db, provider) == start
        assert count(db, WhitelistEvent) == count(db, AuditLog) == count(db, Notification) == 0


@pytest.mark.parametrize("action", list(ALLOWED))
@pytest.mark.parametrize("reason", ["", "   \n"])
def test_every_decision_needs_a_reason(db, action, reason):
    start = next(iter(ALLOWED[action][0]))
    provider = make_provider(db, S(start), rectify_by=TODAY + timedelta(days=5))
    with pytest.raises(ServiceError, match="请填写操作理由") as refused:
        whitelist.decide(db, provider.id, action, None, reason, today=TODAY, rectify_by=TODAY + timedelta(days=9))
    assert refused.value.field == "reason"
    db.rollback()
    assert status_of(db, provider) == start and count(db, AuditLog) == count(db, WhitelistEvent) == 0


def test_approval_runs_twelve_months_from_the_decision_and_tells_the_provider(db):
    provider = make_provider(db, S.applied)
    whitelist.decide(db, provider.id, "approve", None, "资料齐全", today=date(2028, 2, 29))
    db.expire_all()
    assert db.get(Provider, provider.id).approved_until == date(2029, 2, 28)
    [note] = notices(db, provider)
    assert note.title == "入库申请已通过" and "2029-02-28" in note.body and note.link == "/provider/"
    mail = db.exec(select(OutboxMail)).one()
    assert mail.to_address == f"wl{600}@example.com" and "入库申请已通过" in mail.subject


# --- warning, rectification, revocation ---------------------------------------------------------


def test_a_warning_needs_a_future_deadline_and_only_one_is_open_at_a_time(db):
    provider = make_provider(db, S.approved, approved_until=TODAY + timedelta(days=200))
    for deadline, message in ((None, "请填写整改期限"), (TODAY, "整改期限须晚于今天")):
        with pytest.raises(ServiceError, match=message) as refused:
            whitelist.decide(db, provider.id, "warn", None, "案例材料不实", today=TODAY, rectify_by=deadline)
        assert refused.value.field == "rectify_by"
        db.rollback()
    deadline = TODAY + timedelta(days=30)
    whitelist.decide(db, provider.id, "warn", None, "案例材料不实", today=TODAY, rectify_by=deadline)
    db.expire_all()
    assert db.get(Provider, provider.id).rectify_by == deadline
    assert db.exec(select(AuditLog)).one().detail["rectify_by"] == deadline.isoformat()
    [note] = notices(db, provider)
    assert note.title == "收到整改警告" and deadline.isoformat() in note.body
    assert "warn" not in whitelist.allowed_actions(db.get(Provider, provider.id), TODAY)
    with pytest.raises(ServiceError, match="已有未完成的整改要求"):
        whitelist.decide(db, provider.id, "warn", None, "再次警告", today=TODAY, rectify_by=deadline)
    db.rollback()

    whitelist.decide(db, provider.id, "clear_warning", None, "已补充真实合同", today=TODAY)
    db.expire_all()
    provider = db.get(Provider, provider.id)
    assert provider.rectify_by is None and provider.status == "approved"
    with pytest.raises(ServiceError, match="当前没有待整改的警告"):
        whitelist.decide(db, provider.id, "clear_warning", None, "再次确认", today=TODAY)


def test_an_overdue_warning_is_revoked_by_the_sweep_as_the_system(db):
    provider = make_provider(db, S.approved, approved_until=TODAY + timedelta(days=200))
    deadline = TODAY + timedelta(days=15)
    whitelist.decide(db, provider.id, "warn", None, "联系方式失效", today=TODAY, rectify_by=deadline)

    assert whitelist.sweep(db, deadline).revoked == []  # the deadline day itself is still in time
    assert status_of(db, provider) == "approved"
    assert whitelist.sweep(db, deadline + timedelta(days=1)).revoked == [provider.id]
    db.expire_all()
    provider = db.get(Provider, provider.id)
    assert provider.status == "revoked" and provider.rectify_by is None
    event = db.exec(select(WhitelistEvent).where(WhitelistEvent.action == "revoke")).one()
    assert event.actor_id is None and "逾期未整改" in event.reason
    entry = db.exec(select(AuditLog).where(AuditLog.action == "whitelist.revoke")).one()
    assert entry.actor_id is None
    assert notices(db, provider)[-1].title == "入库资格已撤销"
    assert whitelist.appealable_decision(db, provider).id == event.id  # the system's revocation is appealable
    assert whitelist.sweep(db, deadline + timedelta(days=2)).revoked == []


def test_a_rectified_warning_is_not_revoked(db):
    provider = make_provider(db, S.approved, approved_until=TODAY + timedelta(days=200))
    whitelist.decide(db, provider.id, "warn", None, "资质过期", today=TODAY, rectify_by=TODAY + timedelta(days=5))
    whitelist.decide(db, provider.id, "clear_warning", None, "已提交新证书", today=TODAY + timedelta(days=3))
    assert whitelist.sweep(db, TODAY + timedelta(days=30)).revoked == []
    assert status_of(db, provider) == "approved"


# --- renewal ------------------------------------------------------------------------------------


def test_renewal_opens_sixty_days_before_expiry_and_extends_from_the_later_date(db):
    expiry = date(2027, 6, 30)
    provider = make_provider(db, S.approved, approved_until=expiry)
    early = expiry - timedelta(days=61)
    assert "renew" not in whitelist.allowed_actions(provider, early)
    with pytest.raises(ServiceError, match="到期前60天内"):
        whitelist.decide(db, provider.id, "renew", None, "年度复核通过", today=early)
    db.rollback()
    whitelist.decide(db, provider.id, "renew", None, "年度复核通过", today=expiry - timedelta(days=60))
    db.expire_all()
    assert db.get(Provider, provider.id).approved_until == date(2028, 6, 30)
    assert notices(db, provider)[-1].title == "入库资格已续期"


def test_renewal_after_a_lapse_runs_from_today_but_a_revoked_provider_cannot_be_renewed(db):
    lapsed = make_provider(db, S.approved, serial=601, approved_until=date(2027, 1, 31))
    whitelist.sweep(db, date(2027, 2, 10))
    assert status_of(db, lapsed) == "expired"
    whitelist.decide(db, lapsed.id, "renew", None, "补充年度材料后续期", today=date(2027, 2, 10))
    db.expire_all()
    assert db.get(Provider, lapsed.id).status == "approved"
    assert db.get(Provider, lapsed.id).approved_until == date(2028, 2, 10)

    revoked = make_provider(db, S.revoked, serial=602, approved_until=date(2027, 1, 31))
    with pytest.raises(ServiceError, match="当前状态下不能执行“续期”"):
        whitelist.decide(db, revoked.id, "renew", None, "续期", today=date(2027, 2, 10))


def test_reinstating_after_the_term_ran_out_leaves_the_provider_expired(db):
    provider = make_provider(db, S.suspended, approved_until=TODAY - timedelta(days=1))
    whitelist.decide(db, provider.id, "reinstate", None, "暂停原因消除", today=TODAY)
    assert status_of(db, provider) == "expired"
    assert db.exec(select(WhitelistEvent)).one().to_status == "expired"


# --- reminder and expiry on the daily sweep -----------------------------------------------------


def test_the_reminder_goes_out_once_thirty_days_before_expiry(db):
    expiry = date(2027, 6, 30)
    provider = make_provider(db, S.approved, approved_until=expiry)
    sent_on = []
    for offset in range(45, -1, -1):  # the daily cron, twice a day for good measure
        day = expiry - timedelta(days=offset)
        for _ in range(2):
            if whitelist.sweep(db, day).reminded:
                sent_on.append(day)
    assert sent_on == [expiry - timedelta(days=30)]
    [reminder] = notices(db, provider, "reminder")
    assert reminder.title == f"入库资格将于 {expiry} 到期"
    assert count(db, OutboxMail, OutboxMail.subject.contains("到期")) == 1
    assert status_of(db, provider) == "approved"  # still listed on its last day
    db.expire_all()
    assert db.get(Provider, provider.id).expiry_reminded_for == expiry

    # a renewal brings a new expiry date, which gets its own single reminder
    whitelist.decide(db, provider.id, "renew", None, "年度复核通过", today=expiry - timedelta(days=1))
    new_expiry = date(2028, 6, 30)
    for offset in (31, 30, 29, 0):
        whitelist.sweep(db, new_expiry - timedelta(days=offset))
    assert len(notices(db, provider, "reminder")) == 2


def test_a_missed_cron_day_still_reminds_once(db):
    provider = make_provider(db, S.approved, approved_until=date(2027, 6, 30))
    assert whitelist.sweep(db, date(2027, 6, 5)).reminded == [provider.id]
    assert whitelist.sweep(db, date(2027, 6, 6)).reminded == []


def test_expiry_takes_the_solutions_out_of_matching_at_once(app, db):
    provider = make_provider(db, S.approved, approved_until=date(2027, 6, 30))
    solution = providers.create_solution(db, provider.id, IOT, publish=True)
    need = Need(enterprise_id=0, title="设备联网", description=NEED_TEXT, industry="furniture", size_class="small")
    profile = matching.need_profile(need)
    with app.app_context():
        assert [m.solution_id for m in search_index().match(engine(), profile)] == [solution.id]

    assert whitelist.sweep(db, date(2027, 6, 30)).expired == []
    report = whitelist.sweep(db, date(2027, 7, 1))
    assert report.expired == [provider.id]
    assert status_of(db, provider) == "expired"
    event = db.exec(select(WhitelistEvent).where(WhitelistEvent.action == "expire")).one()
    assert (event.from_status, event.to_status, event.actor_id) == ("approved", "expired", None)
    assert notices(db, provider, "whitelist")[-1].title == "入库资格已到期"
    with app.app_context():
        assert search_index().match(engine(), profile) == []

    whitelist.decide(db, provider.id, "renew", None, "补交材料后续期", today=date(2027, 7, 3))
    with app.app_context():
        assert [m.solution_id for m in search_index().match(engine(), profile)] == [solution.id]


def test_the_sweep_command_takes_a_date(app, db):
    provider = make_provider(db, S.approved, approved_until=date(2027, 6, 30))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["whitelist-sweep", "--today", "2027-06-01"])
    assert result.exit_code == 0, result.output
    assert "到期 0 家" in result.output and "发送到期提醒 1 家" in result.output
    result = runner.invoke(args=["whitelist-sweep", "--today", "2027-07-01"])
    assert "到期 1 家" in result.output and "发送到期提醒 0 家" in result.output
    assert status_of(db, provider) == "expired"
    assert runner.invoke(args=["whitelist-sweep", "--today", "2027-13-01"]).exit_code != 0


# --- appeals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "action"), [("applied", "reject"), ("approved", "suspend"), ("approved", "revoke")])
def test_a_decision_can_be_appealed_once_and_an_upheld_appeal_approves_for_twelve_months(db, start, action):
    provider = make_provider(db, S(start), approved_until=TODAY + timedelta(days=100))
    whitelist.decide(db, provider.id, action, None, "材料不符", today=TODAY)
    with pytest.raises(ServiceError, match="请填写申诉理由"):
        whitelist.file_appeal(db, provider.id, provider.user_id, "  ")
    appeal = whitelist.file_appeal(db, provider.id, provider.user_id, "材料已在附件中补齐")
    with pytest.raises(ServiceError, match="只能申诉一次"):
        whitelist.file_appeal(db, provider.id, provider.user_id, "再申诉")
    db.rollback()
    assert count(db, Appeal) == 1

    with pytest.raises(ServiceError, match="请填写操作理由"):
        whitelist.decide_appeal(db, appeal.id, True, None, "", today=TODAY)
    decided_on = TODAY + timedelta(days=7)
    whitelist.decide_appeal(db, appeal.id, True, None, "复核后材料属实", today=decided_on)
    db.expire_all()
    provider = db.get(Provider, provider.id)
    assert provider.status == "approved" and provider.approved_until == whitelist.one_year_after(decided_on)
    appeal = db.get(Appeal, appeal.id)
    assert (appeal.status, appeal.decision_reason) == ("upheld", "复核后材料属实") and appeal.decided_at
    entry = db.exec(select(AuditLog).where(AuditLog.action == "whitelist.appeal_upheld")).one()
    assert entry.detail["to_status"] == "approved" and entry.detail["appeal_id"] == appeal.id
    assert notices(db, provider)[-1].title == "申诉成立"
    with pytest.raises(ServiceError, match="已经处理"):
        whitelist.decide_appeal(db, appeal.id, False, None, "改判", today=decided_on)


def test_a_dismissed_appeal_leaves_the_status_and_cannot_be_repeated(db):
    provider = make_provider(db, S.approved)
    whitelist.decide(db, provider.id, "suspend", None, "投诉核查中", today=TODAY)
    appeal = whitelist.file_appeal(db, provider.id, provider.user_id, "投诉不实")
    whitelist.decide_appeal(db, appeal.id, False, None, "投诉经核实", today=TODAY)
    assert status_of(db, provider) == "suspended"
    assert notices(db, provider)[-1].title == "申诉未获支持"
    with pytest.raises(ServiceError, match="只能申诉一次"):
        whitelist.file_appeal(db, provider.id, provider.user_id, "再次申诉")


@pytest.mark.parametrize("status", ["draft", "applied", "approved", "expired"])
def test_only_rejections_suspensions_and_revocations_can_be_appealed(db, status):
    provider = make_provider(db, S(status), rectify_by=TODAY + timedelta(days=3) if status == "approved" else None)
    with pytest.raises(ServiceError, match="当前没有可以申诉的决定"):
        whitelist.file_appeal(db, provider.id, provider.user_id, "不服")
    db.rollback()
    assert count(db, Appeal) == 0


def test_an_appeal_overtaken_by_a_later_decision_can_only_be_dismissed(db):
    provider = make_provider(db, S.approved)
    whitelist.decide(db, provider.id, "suspend", None, "投诉核查中", today=TODAY)
    first = whitelist.file_appeal(db, provider.id, provider.user_id, "投诉不实")
    whitelist.decide(db, provider.id, "revoke", None, "核查属实", today=TODAY)
    with pytest.raises(ServiceError, match="只能驳回"):
        whitelist.decide_appeal(db, first.id, True, None, "成立", today=TODAY)
    db.rollback()
    whitelist.decide_appeal(db, first.id, False, None, "已被撤销决定取代", today=TODAY)
    second = whitelist.file_appeal(db, provider.id, provider.user_id, "对撤销决定申诉")  # a new decision
    assert second.whitelist_event_id != first.whitelist_event_id


def test_no_new_application_while_an_appeal_is_pending(db):
    provider = make_provider(db, S.applied)
    whitelist.decide(db, provider.id, "reject", None, "案例不足", today=TODAY)
    whitelist.file_appeal(db, provider.id, provider.user_id, "案例充足")
    with pytest.raises(ServiceError, match="申诉正在处理中"):
        whitelist.apply(db, provider.id, provider.user_id, "")


# --- the review queue ---------------------------------------------------------------------------


def test_the_queue_lists_waiting_providers_first_oldest_first_and_filters(db):
    approved = make_provider(db, S.approved, serial=610, approved_until=TODAY + timedelta(days=300))
    first = make_provider(db, S.draft, serial=611)
    appellant = make_provider(db, S.applied, serial=612)
    second = make_provider(db, S.draft, serial=613)
    expiring = make_provider(db, S.approved, serial=614, approved_until=date.today() + timedelta(days=20))
    whitelist.apply(db, first.id, first.user_id, "")
    whitelist.decide(db, appellant.id, "reject", None, "案例不足", today=TODAY)
    whitelist.file_appeal(db, appellant.id, appellant.user_id, "案例充足")
    whitelist.apply(db, second.id, second.user_id, "")

    items, total = whitelist.providers_page(db, None, 1, 3)
    assert total == 5 and [p.id for p in items] == [first.id, appellant.id, second.id]
    rest, _ = whitelist.providers_page(db, None, 2, 3)
    assert {p.id for p in rest} == {approved.id, expiring.id}
    assert [p.id for p in whitelist.providers_page(db, "appeal", 1, 10)[0]] == [appellant.id]
    assert [p.id for p in whitelist.providers_page(db, "applied", 1, 10)[0]] == [first.id, second.id]
    assert [p.id for p in whitelist.providers_page(db, "expiring", 1, 10)[0]] == [expiring.id]
    counts = whitelist.status_counts(db)
    assert (counts["applied"], counts["appeal"], counts["expiring"], counts["approved"]) == (2, 1, 1, 2)
    assert whitelist.waiting_for_admin(db, items) == {
        first.id: "待审核申请",
        appellant.id: "待处理申诉",
        second.id: "待审核申请",
    }


# --- pages and routes ---------------------------------------------------------------------------


def decide_on_page(client: FlaskClient, provider_id: int, data: dict):
    return post(client, f"/admin/providers/{provider_id}/decide", data, page=f"/admin/providers/{provider_id}")


def test_the_review_page_offers_only_the_actions_allowed_now(admin_client, db):
    provider = make_provider(db, S.approved, approved_until=date.today() + timedelta(days=200))
    page = admin_client.get(f"/admin/providers/{provider.id}").get_data(as_text=True)
    buttons = {label for label in whitelist.ACTION_LABELS.values() if f">{label}</button>" in page}
    assert buttons == {"警告", "暂停资格", "撤销资格"}  # renewal opens 60 days before expiry
    assert "整改期限" in page and "白名单测试科技600" in page and "某家具厂设备联网" in page

    response = decide_on_page(admin_client, provider.id, {"action": "warn", "reason": "案例不实"})
    assert response.status_code == 400 and "请填写整改期限" in response.get_data(as_text=True)
    deadline = date.today() + timedelta(days=30)
    data = {"action": "warn", "reason": "案例不实", "rectify_by": deadline.isoformat()}
    assert decide_on_page(admin_client, provider.id, data).status_code == 302
    page = admin_client.get(f"/admin/providers/{provider.id}").get_data(as_text=True)
    assert ">整改完成</button>" in page and ">警告</button>" not in page and deadline.isoformat() in page
    assert "管理员" in page  # the history names the admin who acted
    assert "整改中" in admin_client.get("/admin/providers?status=warned").get_data(as_text=True)


@contextmanager
def short_session(app: Flask) -> Iterator[Session]:
    """A session in its own, short app context: two logged-in clients in one test must not share
    an outer app context (and with it `g`, where Flask-Login keeps the current user)."""
    with app.app_context(), Session(engine(), expire_on_commit=False) as session:
        yield session


def test_a_rejected_provider_appeals_on_its_workbench_and_the_admin_upholds_it(app, provider_client):
    with short_session(app) as session:
        provider = session.exec(select(Provider)).one()
        provider.sqlmodel_update(
            {
                "service_content": "设备联网",
                "capabilities": "OPC UA",
                "qualifications": "ISO 9001",
                "years_in_shenzhen": 3,
            }
        )
        session.add(provider)
        session.add(SuccessCase(provider_id=provider.id, title="某家具厂设备联网", industry="furniture"))
        session.commit()
    assert post(provider_client, "/provider/apply", {"note": "请审核"}, page="/provider/").status_code == 302
    with short_session(app) as session:
        whitelist.decide(session, provider.id, "reject", None, "案例证明材料不足")

    page = provider_client.get("/provider/").get_data(as_text=True)
    assert "案例证明材料不足" in page and "提交申诉" in page and "对接服务中心" in page
    response = post(provider_client, "/provider/appeal", {"reason": ""}, page="/provider/")
    assert response.status_code == 400 and "请填写申诉理由" in response.get_data(as_text=True)
    filed = post(provider_client, "/provider/appeal", {"reason": "已补充合同扫描件"}, page="/provider/")
    assert filed.status_code == 302
    page = provider_client.get("/provider/").get_data(as_text=True)
    assert "待处理" in page and "提交申诉</button>" not in page
    again = post(provider_client, "/provider/appeal", {"reason": "再次申诉"}, page="/provider/", follow_redirects=True)
    assert "只能申诉一次" in again.get_data(as_text=True)

    admin = app.test_client()
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", "boss@example.com", "--name", "审核员甲", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert login(admin, "boss@example.com").status_code == 302
    listing = admin.get("/admin/appeals").get_data(as_text=True)
    assert "已补充合同扫描件" in listing and "驳回申请" in listing
    assert "待处理申诉" in admin.get("/admin/providers").get_data(as_text=True)
    with short_session(app) as session:
        appeal = session.exec(select(Appeal)).one()
    token = csrf_token(admin, f"/admin/providers/{provider.id}")
    field = f"appeal{appeal.id}"
    url = f"/admin/appeals/{appeal.id}/decide"
    blank = admin.post(url, data={f"{field}-csrf_token": token, f"{field}-action": "upheld", f"{field}-reason": ""})
    assert blank.status_code == 400 and "请填写操作理由" in blank.get_data(as_text=True)
    upheld = admin.post(
        url, data={f"{field}-csrf_token": token, f"{field}-action": "upheld", f"{field}-reason": "材料属实"}
    )
    assert upheld.status_code == 302
    with short_session(app) as session:
        assert session.get(Provider, provider.id).status == "approved"
        assert count(session, Appeal) == 1
    assert "申诉成立" in admin.get("/admin/audit").get_data(as_text=True)
    page = provider_client.get("/provider/").get_data(as_text=True)
    assert "已入库" in page and "审核员甲" not in page  # providers see the centre, not the clerk


POSTS = {"admin": ["/admin/appeals/1/decide"], "provider": ["/provider/appeal"]}


def test_new_routes_require_login(client):
    assert client.get("/admin/appeals").status_code == 302
    for urls in POSTS.values():
        for url in urls:
            response = client.post(url, data={"csrf_token": csrf_token(client)})
            assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["enterprise", "provider", "admin"])
def test_new_routes_role_matrix(request, role):
    client = request.getfixturevalue(f"{role}_client")
    assert client.get("/admin/appeals").status_code == (200 if role == "admin" else 403)
    token = csrf_token(client, "/")
    for owner, urls in POSTS.items():
        for url in urls:
            status = client.post(url, data={"csrf_token": token}).status_code
            if owner == role:
                assert status in {400, 404}  # allowed in, then refused for the empty form / unknown appeal
            else:
                assert status == 403


def test_an_unknown_appeal_is_a_404(admin_client):
    assert post(admin_client, "/admin/appeals/999/decide", {}, page="/admin/").status_code == 404


# --- PostgreSQL: a database made before `expired` existed -----------------------------------------


def test_upgrade_adds_the_new_status_to_the_enum_of_a_database_made_before_migrations(app, db):
    with app.app_context():
        bound = engine()
    if bound.dialect.name != "postgresql":
        pytest.skip("native enum types exist only on PostgreSQL")
    db.close()
    drop_everything(bound)
    pre_migration_schema(bound)  # tables but no alembic_version: this database predates migrations
    old = ", ".join(f"'{s.value}'" for s in ProviderStatus if s != S.expired)
    with bound.begin() as connection:  # the type as an older create_tables made it, before `expired`
        connection.execute(text("ALTER TYPE providerstatus RENAME TO providerstatus_new"))
        connection.execute(text(f"CREATE TYPE providerstatus AS ENUM ({old})"))
        connection.execute(
            text("ALTER TABLE provider ALTER COLUMN status TYPE providerstatus USING status::text::providerstatus")
        )
        connection.execute(text("DROP TYPE providerstatus_new"))
    upgrade_database(bound)
    with Session(bound) as session:
        make_provider(session, S.expired)
        assert session.exec(select(Provider.status)).one() == "expired"
