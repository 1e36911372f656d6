"""Object-level authorisation, tried as an attacker would.

Every URL rule that names an object (a need, docking, solution, success case, notification, pushed need,
provider, appeal, API key, taxonomy entry, …) has a row in `CASES`, and
`test_every_rule_naming_an_object_has_a_row` fails for a rule added later without one (also for an API
operation whose JSON body names an object by an `…_id` field). For each row, every logged-in party that
does not own the object (the other enterprise, the other provider, the other role, an admin; under
/api/v1 the keys of those parties) asks for it with GET and with POST (a valid CSRF token and the form
the owner's request passes), and gets 403 or 404 (405 for a method the address does not take) with a
Chinese message, and the database is exactly what it was. The owner's same request then succeeds, and
for a POST changes the database: the refusal was the ownership check, not a bad form.

Then: a provider taken off the whitelist (suspended, revoked, or expired by the daily sweep) has its
solutions, seen everywhere before, gone from every list, search, match, API response, the embedded
widget, the push and the docking request; and a provider that crawls every page and API answer it can
reach sees none of an enterprise's contact details before it accepts that enterprise's docking.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, SQLModel, select
from werkzeug.security import generate_password_hash

from matchmaker.api.registry import OPERATIONS
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import (
    accounts,
    api_keys,
    dockings,
    events,
    providers,
    publishing,
    push,
    ratings,
    retrofit_projects,
    whitelist,
)
from matchmaker.services.notifications import notify
from matchmaker.services.push import NEED_TO_PROVIDER, PushCaps
from models import (
    CapabilityTag,
    Docking,
    Enterprise,
    EventMeeting,
    EventRegistration,
    EventWrite,
    IdentityChange,
    MatchResult,
    Need,
    Notification,
    OutboxMail,
    Provider,
    ProviderRating,
    ProviderStatus,
    PushRecord,
    Role,
    Solution,
    User,
    utcnow,
)
from models.schemas import (
    AccountCreate,
    EnterpriseRegistration,
    NeedCreate,
    ProviderRegistration,
    SolutionWrite,
    SuccessCaseCreate,
)
from tests.conftest import PASSWORD, credit_code, csrf_token, login
from tests.matching.test_need_matching import IOT, MES, NEED_TEXT

ACTORS = ("ent_a", "ent_b", "prov_a", "prov_b", "admin")
CJK = re.compile(r"[\u4e00-\u9fff]")
PAGE_MESSAGES = {403: "无权访问", 404: "页面不存在", 405: "请求方式不允许"}
# Written by every request by design, whoever makes it: the API's call log and its key's last use,
# and failed logins. Everything else must stay exactly as it was after a refused request.
SKIPPED_TABLES = {"apicalllog", "loginfailure"}
VOLATILE_COLUMNS = {("apikey", "last_used_at")}
# Enterprise A's contact details: a provider sees them only once it accepted A's docking.
CONTACT = {"contact_name": "钱秘书", "phone": "13712345678", "email": "api11@example.com", "address": "坪山大道88号"}
HIDDEN = SolutionWrite(
    title="已暂停服务商的数采方案",
    summary="暂停期间不得出现在任何地方",
    description="设备联网与数据采集：开料机、封边机加装数采网关，看板展示开机率与产量。",
    domain="data_collection",
    industries=["furniture"],
    sizes=["small", "medium"],
    modules=["数采网关", "看板"],
    tags=["设备联网"],
)
EVENT = EventWrite(
    title="链上坪山·越权测试专场",
    event_date=date.today() + timedelta(days=30),
    venue="坪山会展中心",
    start_time="14:00",
    slot_minutes=20,
    slot_count=6,
    tables=4,
    registration_deadline=date.today() + timedelta(days=20),
    meeting_cap=3,
)
PROJECT = retrofit_projects.ProjectInput(
    name="",
    content="封边机联网与 MES 上线",
    total_investment=200,
    digital_investment=120,
    start_on=date(2027, 4, 1),
    end_on=date(2027, 12, 31),
    expected_result="稼动率提升",
    provider_ids=[],
)
PROJECT_FORM = {
    "name": "退回后补正的技改项目",
    "content": "封边机联网与 MES 上线，补充设备清单",
    "total_investment": "200",
    "digital_investment": "120",
    "start_on": "2027-04-01",
    "end_on": "2027-12-31",
    "expected_result": "稼动率提升",
    "target_maturity": "0",
}
SOLUTION_FORM = {
    "title": "封边机设备联网与产量看板（第二版）",
    "summary": "开料机、封边机联网",
    "domain": "data_collection",
    "description": "边缘网关接入开料机、封边机，运行状态与产量实时上云，自动统计稼动率。",
    "industries": ["furniture"],
    "sizes": ["small", "medium"],
    "modules": "设备状态监控\n稼动率分析",
    "tags": ["设备联网"],
    "deployment": "saas",
    "price_range": "5-20万元",
    "delivery_weeks": "4",
}


# --- the world: two of each party, an admin, and one object of every kind ----------------------------


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    """Ten accounts per test: hashed with one round of PBKDF2 instead of scrypt (logins check either)."""
    monkeypatch.setattr(
        accounts, "generate_password_hash", lambda password: generate_password_hash(password, "pbkdf2:sha256:1")
    )


@dataclass
class World:
    ids: dict[str, int]  # need, need_b, docking, iot, mes, hidden, case, note, push, provider_*, appeal, key, tag
    clients: dict[str, FlaskClient]  # logged-in browser per actor
    tokens: dict[str, str]  # API key per actor
    bound: sa.Engine = field(repr=False)


def _enterprise(db: Session, serial: int, **contact: str) -> Enterprise:
    user = accounts.register_enterprise(
        db,
        EnterpriseRegistration(
            name=f"越权测试企业{serial}",
            credit_code=credit_code(serial),
            industry="furniture",
            employees=120,
            revenue=3500,
            street="坪山街道",
            address=contact.get("address", ""),
            contact_name=contact.get("contact_name", "王厂长"),
            phone=contact.get("phone", "13800138000"),
            email=f"api{serial}@example.com",
            password=PASSWORD,
        ),
    )
    return db.exec(select(Enterprise).where(Enterprise.user_id == user.id)).one()


def _provider(db: Session, serial: int, domains: list[str]) -> Provider:
    user = accounts.register_provider(
        db,
        ProviderRegistration(
            name=f"越权测试数字科技{serial}",
            credit_code=credit_code(serial),
            contact_name="李经理",
            phone="13900139000",
            email=f"vendor{serial}@example.com",
            domains=domains,
            password=PASSWORD,
        ),
    )
    provider = db.exec(select(Provider).where(Provider.user_id == user.id)).one()
    provider.status = ProviderStatus.approved
    provider.approved_until = date.today() + timedelta(days=300)
    db.add(provider)
    db.commit()
    return provider


def _publish_need(app: Flask, db: Session, enterprise: Enterprise, offered: list[Solution]) -> Need:
    """A need ranked like the web form ranks it; `offered` solutions are in its ranking for certain."""
    data = NeedCreate(title="开料机封边机联网", description=NEED_TEXT, industry="furniture")
    with app.app_context():
        suggestion = search_index().suggest(engine(), NEED_TEXT)
        need = publishing.publish_need(db, engine(), search_index(), enterprise.id, data, suggestion).need
    ranked = set(db.exec(select(MatchResult.solution_id).where(MatchResult.need_id == need.id)))
    for rank, solution in enumerate((s for s in offered if s.id not in ranked), start=len(ranked) + 1):
        db.add(MatchResult(need_id=need.id, solution_id=solution.id, rank=rank, score=0.5))
    db.commit()
    return need


def _held_event(db: Session, admin: User, ids: dict[str, int]) -> None:
    """An event on its day, written as rows (no audit, no notifications): enterprise B met provider A
    ("held", no outcome yet), enterprise A met provider B and found it promising ("promising")."""
    event = events.create(db, admin.id, EVENT)
    event.status = "closed"
    now = utcnow()
    registrations = [
        EventRegistration(event_id=event.id, enterprise_id=ids["ent_a"], need_ids=[ids["need"]], slots=[0, 1]),
        EventRegistration(event_id=event.id, enterprise_id=ids["ent_b"], need_ids=[ids["need_b"]], slots=[0, 1]),
        EventRegistration(event_id=event.id, provider_id=ids["provider_a"], solution_ids=[ids["iot"]], slots=[0, 1]),
        EventRegistration(event_id=event.id, provider_id=ids["provider_b"], solution_ids=[ids["mes"]], slots=[0, 1]),
    ]
    for registration in registrations:
        registration.checked_in_at = now
    meetings = {
        "held": EventMeeting(
            need_id=ids["need_b"],
            solution_id=ids["iot"],
            enterprise_id=ids["ent_b"],
            provider_id=ids["provider_a"],
            slot=0,
            table_no=1,
        ),
        "promising": EventMeeting(
            need_id=ids["need"],
            solution_id=ids["mes"],
            enterprise_id=ids["ent_a"],
            provider_id=ids["provider_b"],
            slot=1,
            table_no=1,
            enterprise_outcome="interested",
        ),
    }
    for meeting in meetings.values():
        meeting.event_id, meeting.requested_by, meeting.status, meeting.attendance = (
            event.id,
            "enterprise",
            "accepted",
            "held",
        )
    db.add_all([event, *registrations, *meetings.values()])
    db.commit()
    ids |= {name: meeting.id for name, meeting in meetings.items()}
    ids["token"] = registrations[0].checkin_token
    ids["event_held"] = event.id


def _projects(db: Session, admin_id: int, ent_a: Enterprise, ent_b: Enterprise, provider: Provider) -> dict[str, int]:
    """Enterprise A's retrofit projects at the steps the routes act on; B's on public notice."""
    today = date.today()

    def project(enterprise: Enterprise, name: str, *steps: str) -> int:
        data = replace(PROJECT, name=name, provider_ids=[provider.id])
        made = retrofit_projects.submit(db, enterprise.id, enterprise.user_id, data)
        for step in steps:
            day = today + timedelta(days=60) if step == "select" else today
            scores = dict.fromkeys(retrofit_projects.CRITERIA, 20)
            retrofit_projects.decide(db, made.id, step, admin_id, "审查", day, scores=scores)
        return made.id

    ids = {
        "project": project(ent_a, "越权测试技改项目"),
        "project_returned": project(ent_a, "退回的技改项目", "return"),
        "project_selected": project(ent_a, "入选的技改项目", "accept", "score", "publicise", "select"),
        "project_refused": project(ent_a, "未入选的技改项目", "accept", "score", "not_select"),
        "project_appealed": project(ent_a, "申诉中的技改项目", "accept", "score", "not_select"),
        "project_notice": project(ent_a, "公示中的技改项目", "accept", "score", "publicise"),
    }
    retrofit_projects.file_appeal(db, ids["project_appealed"], ent_a.id, ent_a.user_id, "评分有误")
    return ids


def build(app: Flask, db: Session, docking: bool = True, meeting: bool = True, held: bool = False) -> World:
    admin = accounts.create_admin(
        db, AccountCreate(email="authz-admin@example.com", password=PASSWORD, display_name="越权测试管理员")
    )
    ent_a, ent_b = _enterprise(db, 11, **CONTACT), _enterprise(db, 12)
    prov_a = _provider(db, 500, ["data_collection", "security"])
    prov_b = _provider(db, 501, ["software"])
    prov_off = _provider(db, 502, ["data_collection"])
    iot = providers.create_solution(db, prov_a.id, IOT, publish=True)
    mes = providers.create_solution(db, prov_b.id, MES, publish=True)
    hidden = providers.create_solution(db, prov_off.id, HIDDEN, publish=True)
    whitelist.decide(db, prov_off.id, "suspend", admin.id, "资质复核期间暂停")
    appeal = whitelist.file_appeal(db, prov_off.id, prov_off.user_id, "资质材料已补齐，请求恢复")
    case = providers.add_case(db, prov_a.id, SuccessCaseCreate(title="某家具厂设备联网", industry="furniture"))
    db.add(
        IdentityChange(provider_id=prov_a.id, name="改名数字科技", credit_code=prov_a.credit_code, domains=["network"])
    )
    db.commit()

    need = _publish_need(app, db, ent_a, [iot, mes])
    need_b = _publish_need(app, db, ent_b, [iot])
    shown = db.exec(select(MatchResult).where(MatchResult.need_id == need.id, MatchResult.solution_id == iot.id)).one()
    assert shown.explanation, "the IoT solution must be ranked for the need by the engine itself"
    record = PushRecord(  # as push.push_need records it
        kind=NEED_TO_PROVIDER,
        need_id=need.id,
        solution_id=iot.id,
        provider_id=prov_a.id,
        enterprise_id=ent_a.id,
        score=shown.score,
        rank=shown.rank,
        explanation=dict(shown.explanation) | {"parts": dict(shown.parts)},
    )
    db.add(record)
    note = notify(db, ent_a.user_id, "docking", "对接进展", "服务商已查看您的需求", f"/enterprise/needs/{need.id}")
    mail = OutboxMail(to_address="gone@example.com", subject="对接进展", body="正文", status="failed", attempts=8)
    db.add(mail)
    db.commit()
    ids = {
        "ent_a": ent_a.id,
        "ent_b": ent_b.id,
        "need": need.id,
        "need_b": need_b.id,
        "iot": iot.id,
        "mes": mes.id,
        "hidden": hidden.id,
        "case": case.id,
        "note": note.id,
        "mail": mail.id,
        "push": record.id,
        "provider_a": prov_a.id,
        "provider_b": prov_b.id,
        "provider_off": prov_off.id,
        "appeal": appeal.id,
        "tag": db.exec(select(CapabilityTag.id).where(CapabilityTag.name == "等保测评")).one(),  # used by nothing
    }
    ids["user"] = ent_b.user_id  # an account an admin can disable or reset
    off = User(
        email="authz-off@example.com", password_hash="x", role=Role.enterprise, display_name="停用", is_active=False
    )
    db.add(off)
    db.commit()
    ids["user_off"] = off.id  # a disabled account: enabled by an admin
    # ratings: 2026Q1 published (prov_b appealed against its own), 2026Q2 computed
    tiers = ratings.parse_tiers(app.config["MATCHMAKER_TIERS"])
    ratings.rate(db, "2026Q1", tiers)
    ratings.publish(db, "2026Q1", admin.id, "公布")
    published = {r.provider_id: r.id for r in db.exec(select(ProviderRating).where(ProviderRating.period == "2026Q1"))}
    ids["rating_published"] = published[prov_a.id]
    ids["rating_appeal"] = ratings.file_appeal(db, published[prov_b.id], prov_b.id, prov_b.user_id, "不服").id
    ratings.rate(db, "2026Q2", tiers)
    ids["rating"] = db.exec(
        select(ProviderRating.id).where(ProviderRating.period == "2026Q2", ProviderRating.provider_id == prov_a.id)
    ).one()
    ids["event"] = events.create(db, admin.id, EVENT).id  # a draft: publishable
    ids["event_open"] = events.create(db, admin.id, EVENT).id
    events.publish(db, ids["event_open"], admin.id, "开放报名")  # published: closable
    ids["event_closed"] = events.create(db, admin.id, EVENT).id
    events.publish(db, ids["event_closed"], admin.id, "开放报名")
    events.close_registration(db, ids["event_closed"], admin.id, "报名截止")  # closed: to be scheduled
    if meeting:  # everyone registered; A asked provider A for a meeting on its need and the IoT solution
        open_id = ids["event_open"]
        events.register_enterprise(db, open_id, ent_a.id, ent_a.user_id, [need.id], [0, 1, 2])
        events.register_enterprise(db, open_id, ent_b.id, ent_b.user_id, [need_b.id], [0, 1])
        events.register_provider(db, open_id, prov_a.id, prov_a.user_id, [iot.id], [0, 1])
        events.register_provider(db, open_id, prov_b.id, prov_b.user_id, [mes.id], [1, 2])
        ids["registration"] = events.registration_of(db, open_id, enterprise_id=ent_a.id).id
        with app.app_context():
            ids["meeting"] = events.request_meeting(
                db, engine(), search_index(), open_id, "enterprise", ent_a.id, ent_a.user_id, need.id, iot.id, "想了解"
            ).id
    ids |= _projects(db, admin.id, ent_a, ent_b, prov_a)
    if docking:
        ids["docking"] = dockings.request_docking(db, ent_a.id, ent_a.user_id, need.id, iot.id, "请联系", 5).id
    if held:
        _held_event(db, admin, ids)

    owners = {
        "ent_a": {"role": Role.enterprise, "enterprise_id": ent_a.id},
        "ent_b": {"role": Role.enterprise, "enterprise_id": ent_b.id},
        "prov_a": {"role": Role.provider, "provider_id": prov_a.id},
        "prov_b": {"role": Role.provider, "provider_id": prov_b.id},
        "admin": {"role": Role.admin},
    }
    tokens = {}
    for actor, owner in owners.items():
        issued = api_keys.issue(db, admin.id, label=f"越权测试 {actor}", reason="测试签发", **owner)
        tokens[actor] = issued.token
        if actor == "ent_a":
            ids["key"] = issued.key.id
    emails = {
        "ent_a": "api11@example.com",
        "ent_b": "api12@example.com",
        "prov_a": "vendor500@example.com",
        "prov_b": "vendor501@example.com",
        "admin": admin.email,
    }
    clients = {}
    for actor, email in emails.items():
        clients[actor] = app.test_client()
        assert login(clients[actor], email).status_code == 302, actor
    with app.app_context():
        bound = engine()
    return World(ids, clients, tokens, bound)


def snapshot(bound: sa.Engine) -> dict[str, list[str]]:
    """Every row of every table (but the call and failure logs), in a stable order."""
    state = {}
    with bound.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in SKIPPED_TABLES:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS]
            state[table.name] = sorted(repr(tuple(row)) for row in connection.execute(sa.select(*columns)))
    return state


# --- the table -------------------------------------------------------------------------------------

ENTERPRISE_NEED = {"ent_b": 404, "prov_a": 403, "prov_b": 403, "admin": 403}
DOCKING = {"ent_b": 404, "prov_b": 404, "admin": 403}
PROVIDER_OWN = {"prov_b": 404, "ent_a": 403, "ent_b": 403, "admin": 403}
NOTIFICATION = {"ent_b": 404, "prov_a": 404, "prov_b": 404, "admin": 404}
PUSHED = {"prov_b": 404, "ent_a": 403, "ent_b": 403, "admin": 403}
ADMIN_ONLY = {"ent_a": 403, "ent_b": 403, "prov_a": 403, "prov_b": 403}
API_NEED = {"ent_b": 404, "prov_a": 403, "prov_b": 403, "admin": 403}
API_DOCKING = {"ent_b": 404, "prov_b": 404, "admin": 403}
EVERY_KEY = dict.fromkeys(ACTORS, 404)  # off the whitelist: as if it did not exist, for every key


@dataclass(frozen=True)
class Case:
    endpoint: str
    url: Callable[[dict], str]  # ids -> the address of the victim's object
    refused: dict[str, int]  # attacker -> status
    owner: str  # whose same request succeeds
    data: Callable[[dict], dict] = lambda ids: {}
    methods: tuple[str, ...] = ("GET", "POST")
    control_url: Callable[[dict], str] | None = None  # the owner's request, where it differs

    @property
    def api(self) -> bool:
        return self.endpoint.startswith("api.")

    def __str__(self) -> str:
        return self.endpoint


CASES = [
    # the enterprise's own needs
    Case("enterprise.need_detail", lambda i: f"/enterprise/needs/{i['need']}", ENTERPRISE_NEED, "ent_a"),
    Case("enterprise.rematch", lambda i: f"/enterprise/needs/{i['need']}/rematch", ENTERPRISE_NEED, "ent_a"),
    Case("enterprise.need_status", lambda i: f"/enterprise/needs/{i['need']}/status/closed", ENTERPRISE_NEED, "ent_a"),
    Case(
        "docking.request_docking",
        lambda i: f"/dockings/needs/{i['need']}/solutions/{i['mes']}/request",
        ENTERPRISE_NEED,
        "ent_a",
        data=lambda i: {"message": "想了解报价"},
    ),
    Case(
        "docking.feedback",
        lambda i: f"/dockings/needs/{i['need']}/solutions/{i['iot']}/feedback",
        ENTERPRISE_NEED,
        "ent_a",
        data=lambda i: {"verdict": "useful"},
    ),
    # dockings: both parties own them
    Case("docking.detail", lambda i: f"/dockings/{i['docking']}", DOCKING, "prov_a"),
    Case(
        "docking.move",
        lambda i: f"/dockings/{i['docking']}/accepted",
        DOCKING,
        "prov_a",
        data=lambda i: {"note": "收到"},
    ),
    # the provider's own solutions and cases
    Case(
        "provider.edit_solution",
        lambda i: f"/provider/solutions/{i['iot']}/edit",
        PROVIDER_OWN,
        "prov_a",
        data=lambda i: SOLUTION_FORM,
    ),
    Case("provider.solution_status", lambda i: f"/provider/solutions/{i['iot']}/withdraw", PROVIDER_OWN, "prov_a"),
    Case("provider.delete_case", lambda i: f"/provider/cases/{i['case']}/delete", PROVIDER_OWN, "prov_a"),
    # notifications and pushed needs
    Case("inbox.read", lambda i: f"/inbox/{i['note']}/read", NOTIFICATION, "ent_a"),
    Case("inbox.open_note", lambda i: f"/inbox/{i['note']}/open", NOTIFICATION, "ent_a"),
    Case("inbox.pushed_detail", lambda i: f"/inbox/pushed/{i['push']}", PUSHED, "prov_a"),
    # the docking service centre's objects
    Case("admin.provider_detail", lambda i: f"/admin/providers/{i['provider_a']}", ADMIN_ONLY, "admin"),
    Case(
        "admin.decide",
        lambda i: f"/admin/providers/{i['provider_a']}/decide",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"action": "suspend", "reason": "资质复核"},
    ),
    Case(
        "admin.decide_appeal",
        lambda i: f"/admin/appeals/{i['appeal']}/decide",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {
            f"appeal{i['appeal']}-action": "dismissed",
            f"appeal{i['appeal']}-reason": "材料仍不齐全",
            f"appeal{i['appeal']}-csrf_token": CSRF,  # the appeal's form is prefixed, its token too
        },
    ),
    Case(
        "admin.decide_identity",
        lambda i: f"/admin/providers/{i['provider_a']}/identity",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {
            "identity-action": "reject",
            "identity-reason": "新名称与营业执照不符",
            "identity-csrf_token": CSRF,
        },
    ),
    Case("admin.api_key_detail", lambda i: f"/admin/api-keys/{i['key']}", ADMIN_ONLY, "admin"),
    Case(
        "admin.api_key_revoke",
        lambda i: f"/admin/api-keys/{i['key']}/revoke",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"reason": "合作结束"},
    ),
    Case(
        "admin.api_key_issue",  # the owner is named in the form: enterprise_id
        lambda i: "/admin/api-keys",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"role": "enterprise", "enterprise_id": str(i["ent_a"]), "label": "自助签发", "reason": "越权"},
        methods=("POST",),
    ),
    # matchmaking events: a draft is the admin's; a registration names the participant's needs or solutions
    Case(
        "events.detail",
        lambda i: f"/events/{i['event']}",
        dict.fromkeys(("ent_a", "ent_b", "prov_a", "prov_b"), 404),
        "admin",
    ),
    Case(
        "events.register_enterprise",
        lambda i: f"/events/{i['event_open']}/register/enterprise",
        ENTERPRISE_NEED,
        "ent_a",
        data=lambda i: {"items": [str(i["need"])], "slots": ["0", "2"]},
        methods=("POST",),
    ),
    Case(
        "events.register_provider",
        lambda i: f"/events/{i['event_open']}/register/provider",
        PROVIDER_OWN,
        "prov_a",
        data=lambda i: {"items": [str(i["iot"])], "slots": ["1"]},
        methods=("POST",),
    ),
    Case(
        "events.request_as_enterprise",
        lambda i: f"/events/{i['event_open']}/meetings/enterprise",
        ENTERPRISE_NEED,
        "ent_a",
        data=lambda i: {"need_id": str(i["need"]), "solution_id": str(i["mes"]), "message": "想约谈"},
        methods=("POST",),
    ),
    Case(
        "events.request_as_provider",
        lambda i: f"/events/{i['event_open']}/meetings/provider",
        PROVIDER_OWN,
        "prov_a",
        data=lambda i: {"need_id": str(i["need_b"]), "solution_id": str(i["iot"]), "message": "可现场演示"},
        methods=("POST",),
    ),
    Case(
        "events.respond",  # only the party asked answers: provider A, asked by enterprise A
        lambda i: f"/events/meetings/{i['meeting']}/accept",
        {"ent_a": 404, "ent_b": 404, "prov_b": 404, "admin": 403},
        "prov_a",
        methods=("POST",),
    ),
    Case(
        "events.agenda_ics",
        lambda i: f"/events/registrations/{i['registration']}/agenda.ics",
        {"ent_b": 404, "prov_a": 404, "prov_b": 404, "admin": 403},
        "ent_a",
    ),
    Case(
        "events.agenda",
        lambda i: f"/events/registrations/{i['registration']}/agenda",
        {"ent_b": 404, "prov_a": 404, "prov_b": 404, "admin": 403},
        "ent_a",
    ),
    Case(
        "events.record_outcome",  # enterprise B met provider A: an outcome is theirs alone
        lambda i: f"/events/meetings/{i['held']}/outcome/interested",
        {"ent_a": 404, "prov_b": 404, "admin": 403},
        "ent_b",
        methods=("POST",),
    ),
    Case(
        "events.start_docking",  # enterprise A met provider B and found it promising
        lambda i: f"/events/meetings/{i['promising']}/docking",
        {"ent_b": 404, "prov_a": 403, "prov_b": 403, "admin": 403},
        "ent_a",
        methods=("POST",),
    ),
    Case("admin.event_checkin_token", lambda i: f"/admin/checkin/{i['token']}", ADMIN_ONLY, "admin", methods=("GET",)),
    Case("admin.event_checkin_list", lambda i: f"/admin/events/{i['event_held']}/checkin", ADMIN_ONLY, "admin"),
    Case(
        "admin.event_checkin",
        lambda i: f"/admin/events/registrations/{i['registration']}/checkin",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"how": "name"},
        methods=("POST",),
    ),
    Case(
        "admin.event_attendance",
        lambda i: f"/admin/events/meetings/{i['held']}/no_show",
        ADMIN_ONLY,
        "admin",
        methods=("POST",),
    ),
    Case("admin.event_report_page", lambda i: f"/admin/events/{i['event_held']}/report", ADMIN_ONLY, "admin"),
    Case(
        "admin.event_report_export",
        lambda i: f"/admin/events/{i['event_held']}/report/export",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"kind": "meetings", "format": "csv"},
        methods=("POST",),
    ),
    Case(
        "admin.event_schedule",
        lambda i: f"/admin/events/{i['event_closed']}/schedule",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"reason": "首次排期"},
    ),
    Case("admin.event_detail", lambda i: f"/admin/events/{i['event']}", ADMIN_ONLY, "admin"),
    Case(
        "admin.event_publish",
        lambda i: f"/admin/events/{i['event']}/publish",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"reason": "场地已定"},
    ),
    Case(
        "admin.event_close",
        lambda i: f"/admin/events/{i['event_open']}/close",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"reason": "名额已满"},
    ),
    Case("admin.taxonomy_list", lambda i: "/admin/taxonomy/tags", ADMIN_ONLY, "admin"),
    # accounts: any account, only an admin
    Case("admin.account_detail", lambda i: f"/admin/accounts/{i['user']}", ADMIN_ONLY, "admin"),
    Case(
        "admin.account_disable",
        lambda i: f"/admin/accounts/{i['user']}/disable",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"disable-reason": "违规", "disable-csrf_token": CSRF},
    ),
    Case(
        "admin.account_enable",
        lambda i: f"/admin/accounts/{i['user_off']}/enable",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"enable-reason": "核实无误", "enable-csrf_token": CSRF},
    ),
    Case(
        "admin.account_force_reset",
        lambda i: f"/admin/accounts/{i['user']}/force-reset",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"force-reset-reason": "疑似被盗", "force-reset-csrf_token": CSRF},
    ),
    Case(
        "admin.taxonomy_new",
        lambda i: "/admin/taxonomy/tags/new",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"name": "数字孪生", "domain": "software", "synonyms": "", "reason": "新增标签"},
    ),
    Case(
        "admin.taxonomy_edit",
        lambda i: f"/admin/taxonomy/tags/{i['tag']}",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"name": "等保测评", "domain": "security", "synonyms": "等级保护，等保2.0", "reason": "补充"},
    ),
    Case(
        "admin.taxonomy_delete",
        lambda i: f"/admin/taxonomy/tags/{i['tag']}/delete",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"reason": "不再使用"},
    ),
    Case(
        "admin.export",
        lambda i: "/admin/exports/needs",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"format": "csv", "status": "", "period": "all"},
    ),
    Case(
        "admin.outbox_requeue",
        lambda i: f"/admin/mail/{i['mail']}/requeue",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"reason": "收件人已更正邮箱"},
    ),
    Case("admin.import_template", lambda i: "/admin/import/template/providers.csv", ADMIN_ONLY, "admin"),
    Case(
        "admin.rating_adjust",
        lambda i: f"/admin/ratings/{i['rating']}/adjust",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {
            f"r{i['rating']}-stars": "5",
            f"r{i['rating']}-reason": "线下核实交付优秀",
            f"r{i['rating']}-csrf_token": CSRF,
        },
    ),
    Case(
        "admin.rating_appeal_decide",
        lambda i: f"/admin/ratings/appeals/{i['rating_appeal']}/decide",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {
            f"appeal{i['rating_appeal']}-action": "dismissed",
            f"appeal{i['rating_appeal']}-stars": "3",
            f"appeal{i['rating_appeal']}-reason": "依据充分，维持",
            f"appeal{i['rating_appeal']}-csrf_token": CSRF,
        },
    ),
    Case(
        "provider.rating_appeal",
        lambda i: f"/provider/ratings/{i['rating_published']}/appeal",
        PROVIDER_OWN,
        "prov_a",
        data=lambda i: {
            f"r{i['rating_published']}-reason": "评级未计入线下交付",
            f"r{i['rating_published']}-csrf_token": CSRF,
        },
    ),
    # the API: keys belong to one enterprise or provider
    Case("api.read_need", lambda i: f"/api/v1/needs/{i['need']}", API_NEED, "ent_a"),
    Case("api.need_matches", lambda i: f"/api/v1/needs/{i['need']}/matches", API_NEED, "ent_a"),
    Case("api.close_need", lambda i: f"/api/v1/needs/{i['need']}/close", API_NEED, "ent_a"),
    Case(
        "api.create_docking",  # the need is named in the body: need_id
        lambda i: "/api/v1/dockings",
        API_NEED,
        "ent_a",
        data=lambda i: {"need_id": i["need"], "solution_id": i["mes"], "message": "越权申请"},
        methods=("POST",),
    ),
    Case("api.read_docking", lambda i: f"/api/v1/dockings/{i['docking']}", API_DOCKING, "prov_a"),
    Case(
        "api.read_solution",
        lambda i: f"/api/v1/solutions/{i['hidden']}",
        EVERY_KEY,
        "ent_b",
        control_url=lambda i: f"/api/v1/solutions/{i['iot']}",
    ),
    Case(
        "api.read_provider",
        lambda i: f"/api/v1/providers/{i['provider_off']}",
        EVERY_KEY,
        "ent_b",
        control_url=lambda i: f"/api/v1/providers/{i['provider_a']}",
    ),
]
CASES += [
    # the 数字化技改项目白名单: enterprise A's projects; anyone logged in but A objects during the notice
    Case("projects.detail", lambda i: f"/projects/{i['project']}", dict.fromkeys(ACTORS[1:], 404), "ent_a"),
    Case(
        "projects.edit",
        lambda i: f"/projects/{i['project_returned']}/edit",
        ENTERPRISE_NEED,
        "ent_a",
        data=lambda i: PROJECT_FORM | {"provider_ids": [str(i["provider_a"])]},
    ),
    Case(
        "projects.progress",
        lambda i: f"/projects/{i['project_selected']}/progress",
        ENTERPRISE_NEED,
        "ent_a",
        data=lambda i: {"percent": "40", "note": "设备安装完成"},
        methods=("POST",),
    ),
    Case(
        "projects.complete",
        lambda i: f"/projects/{i['project_selected']}/complete",
        ENTERPRISE_NEED,
        "ent_a",
        data=lambda i: {"complete-reason": "系统上线", "complete-csrf_token": CSRF},
        methods=("POST",),
    ),
    Case(
        "projects.appeal",
        lambda i: f"/projects/{i['project_refused']}/appeal",
        ENTERPRISE_NEED,
        "ent_a",
        data=lambda i: {"appeal-reason": "投资占比计算有误", "appeal-csrf_token": CSRF},
        methods=("POST",),
    ),
    Case(
        "projects.objection",
        lambda i: f"/projects/{i['project_notice']}/objection",
        {"ent_a": 403},
        "ent_b",
        data=lambda i: {"objection-reason": "投资额存疑", "objection-csrf_token": CSRF},
        methods=("POST",),
    ),
    Case("admin.project_detail", lambda i: f"/admin/projects/{i['project']}", ADMIN_ONLY, "admin"),
    Case(
        "admin.project_decide",
        lambda i: f"/admin/projects/{i['project']}/decide",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"action": "accept", "reason": "材料齐全"},
    ),
    Case(
        "admin.project_appeal",
        lambda i: f"/admin/projects/{i['project_appealed']}/appeal",
        ADMIN_ONLY,
        "admin",
        data=lambda i: {"appeal-action": "dismissed", "appeal-reason": "维持", "appeal-csrf_token": CSRF},
    ),
]
CSRF = "<the session's CSRF token>"  # a form value filled in when the request is sent
NOT_OBJECTS = {"static", "auth.reset", "auth.register_confirm"}  # path arguments naming no object (a token)


def _body_names_an_object(op) -> bool:
    return op.body is not None and any(name.endswith("_id") for name in op.body.model_fields)


def test_every_rule_naming_an_object_has_a_row(app):
    covered = {case.endpoint for case in CASES}
    with_arguments = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules() if rule.arguments}
    missing = {endpoint: rule for endpoint, rule in with_arguments.items() if endpoint not in covered | NOT_OBJECTS}
    assert missing == {}, "add a row to CASES for each: who owns the object, who must be refused"
    body_ids = {op.endpoint for op in OPERATIONS if _body_names_an_object(op)}
    assert body_ids and body_ids <= covered, body_ids - covered
    # and every row still addresses the view it names
    adapter = app.url_map.bind("localhost")
    names = ["ent_a", "need", "docking", "iot", "mes", "hidden", "case", "note", "push", "appeal", "key", "tag", "mail"]
    names += ["event", "event_open", "event_closed", "meeting", "need_b", "registration", "user", "user_off"]
    names += ["held", "promising", "token", "event_held"]
    names += ["rating", "rating_appeal", "rating_published"]
    names += ["project", "project_returned", "project_selected", "project_refused", "project_appealed"]
    names += ["project_notice"]
    ids = dict.fromkeys(names, 7) | {"provider_a": 7, "provider_off": 8}
    for case in CASES:
        for url in (case.url(ids), (case.control_url or case.url)(ids)):
            method = next(m for m in case.methods if m in adapter.allowed_methods(url))
            assert adapter.match(url, method=method)[0] == case.endpoint, (case.endpoint, url)


def _send(w: World, actor: str | None, case: Case, method: str, url: str):
    data = case.data(w.ids)
    if case.api:
        headers = {"Authorization": f"Bearer {w.tokens[actor]}"} if actor else {}
        client = w.clients["ent_a"].application.test_client()  # no cookie: only the key speaks
        return client.open(url, method=method, headers=headers, json=data if method == "POST" else None)
    client = w.clients[actor] if actor else w.clients["ent_a"].application.test_client()
    if method == "GET":
        return client.get(url)
    token = csrf_token(client, "/" if actor else "/auth/login")
    form = {"csrf_token": token} | {name: token if value == CSRF else value for name, value in data.items()}
    return client.post(url, data=form)


def _assert_refused(response, status: int, api: bool, where: str) -> None:
    assert response.status_code == status, (where, response.status_code, response.get_data(as_text=True)[:300])
    if api:
        message = response.get_json()["error"]["message"]
    else:
        message = response.get_data(as_text=True)
        assert PAGE_MESSAGES[status] in message, where
    assert CJK.search(message), where


def _allowed(app: Flask, url: str) -> set[str]:
    return set(app.url_map.bind("localhost").allowed_methods(url))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_wrong_owner_is_refused_and_nothing_changes(app, db, case):
    w = build(app, db, held=True)
    url = case.url(w.ids)
    allowed = _allowed(app, url)
    before = snapshot(w.bound)
    for attacker, status in case.refused.items():
        for method in case.methods:
            expected = status if method in allowed else 405
            where = f"{attacker} {method} {url}"
            _assert_refused(_send(w, attacker, case, method, url), expected, case.api, where)
            assert snapshot(w.bound) == before, f"{where} changed the database"

    # the owner's same request goes through: the refusals above were the ownership check
    control = (case.control_url or case.url)(w.ids)
    for method in sorted(set(case.methods) & _allowed(app, control)):  # GET before POST
        response = _send(w, case.owner, case, method, control)
        assert response.status_code in (200, 201, 302), (case.owner, method, response.get_data(as_text=True)[:500])
        if method == "POST":
            assert snapshot(w.bound) != before, f"the owner's POST {control} changed nothing: the row tests nothing"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_anonymous_visitors_reach_no_object(app, db, case):
    w = build(app, db, held=True)
    url = case.url(w.ids)
    allowed = _allowed(app, url)
    before = snapshot(w.bound)
    for method in case.methods:
        response = _send(w, None, case, method, url)
        if method not in allowed:
            _assert_refused(response, 405, case.api, f"anonymous {method} {url}")
        elif case.api:
            _assert_refused(response, 401, True, f"anonymous {method} {url}")
        else:
            assert response.status_code == 302 and "/auth/login" in response.headers["Location"], (method, url)
    assert snapshot(w.bound) == before


# --- off the whitelist: gone from everywhere -------------------------------------------------------


def _count_on_home(client: FlaskClient) -> int:
    html = client.get("/").get_data(as_text=True)
    return int(re.search(r"<strong>(\d+)</strong><span>可匹配的解决方案</span>", html).group(1))


def _publish_need_on_the_web(w: World, actor: str) -> int:
    client = w.clients[actor]
    data = {
        "description": NEED_TEXT,
        "industry": "furniture",
        "csrf_token": csrf_token(client, "/enterprise/needs/new"),
    }
    response = client.post("/enterprise/needs/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def _publish_solution_on_the_web(w: World, title: str) -> int:
    client = w.clients["prov_a"]
    data = SOLUTION_FORM | {"title": title, "csrf_token": csrf_token(client, "/provider/solutions/new")}
    assert client.post("/provider/solutions/new", data=data).status_code == 302
    with Session(w.bound) as session:
        return session.exec(select(Solution.id).where(Solution.title == title)).one()


def _seen(w: World, asker: str, need_for_docking: int, new_title: str) -> dict[str, bool]:
    """Where provider A's IoT solution (or provider A) shows up now, surface by surface. Publishes a need
    (as enterprise B) and a solution (as provider A) to see what is pushed, and `asker` asks for a
    docking with the IoT solution on its need `need_for_docking`."""
    iot, provider = w.ids["iot"], w.ids["provider_a"]
    api = w.clients["ent_b"].application.test_client()

    def get(url: str, actor: str = "ent_b"):
        return api.get(url, headers={"Authorization": f"Bearer {w.tokens[actor]}"})

    def ids(response) -> list[int]:
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["solution"]["id"] if "solution" in item else item["id"] for item in response.get_json()["items"]]

    match = api.post(
        "/api/v1/match", json={"text": NEED_TEXT}, headers={"Authorization": f"Bearer {w.tokens['ent_b']}"}
    )
    embed = api.get("/embed/need", query_string={"q": NEED_TEXT})
    assert embed.status_code == 200
    pushed_need = _publish_need_on_the_web(w, "ent_b")
    new_solution = _publish_solution_on_the_web(w, new_title)
    asked = w.clients[asker].post(
        f"/dockings/needs/{need_for_docking}/solutions/{iot}/request",
        data={"message": "", "csrf_token": csrf_token(w.clients[asker], "/")},
    )
    assert asked.status_code == 302
    with Session(w.bound) as session:
        told_provider = session.exec(
            select(PushRecord.id).where(PushRecord.need_id == pushed_need, PushRecord.provider_id == provider)
        ).first()
        told_enterprises = session.exec(select(PushRecord.id).where(PushRecord.solution_id == new_solution)).first()
        docked = session.exec(
            select(Docking.id).where(Docking.need_id == need_for_docking, Docking.solution_id == iot)
        ).first()
    return {
        "企业需求页": IOT.title in w.clients["ent_a"].get(f"/enterprise/needs/{w.ids['need']}").get_data(as_text=True),
        "新需求的匹配结果": IOT.title
        in w.clients["ent_b"].get(f"/enterprise/needs/{pushed_need}").get_data(as_text=True),
        "API 方案列表": iot in ids(get("/api/v1/solutions?per_page=100")),
        "API 方案检索": iot in ids(get("/api/v1/solutions?q=封边机")),
        "API 方案详情": get(f"/api/v1/solutions/{iot}").status_code == 200,
        "API 服务商名录": provider in ids(get("/api/v1/providers?per_page=100")),
        "API 服务商检索": provider in ids(get("/api/v1/providers?q=越权测试数字科技500")),
        "API 服务商详情": get(f"/api/v1/providers/{provider}").status_code == 200,
        "API 一段话匹配": iot in ids(match),
        "API 需求推荐": iot in ids(get(f"/api/v1/needs/{w.ids['need']}/matches", "ent_a")),
        "嵌入组件": IOT.title in embed.get_data(as_text=True),
        "推送给服务商": told_provider is not None,
        "推送给企业": told_enterprises is not None,
        "申请对接": docked is not None,
    }


def _take_off(app: Flask, w: World, how: str) -> None:
    provider = w.ids["provider_a"]
    if how == "expire":  # the daily sweep, the day after the approval ran out
        with Session(w.bound) as session:
            row = session.get(Provider, provider)
            row.approved_until = date.today() - timedelta(days=1)
            session.add(row)
            session.commit()
        result = app.test_cli_runner().invoke(args=["whitelist-sweep", "--today", date.today().isoformat()])
        assert result.exit_code == 0, result.output
    else:
        admin = w.clients["admin"]
        page = f"/admin/providers/{provider}"
        data = {"action": how, "reason": "资质复核", "csrf_token": csrf_token(admin, page)}
        assert admin.post(f"{page}/decide", data=data).status_code == 302
    with Session(w.bound) as session:
        assert session.get(Provider, provider).status == {"suspend": "suspended", "revoke": "revoked"}.get(
            how, how + "d"
        )


@pytest.mark.parametrize("how", ["suspend", "revoke", "expire"])
def test_a_provider_off_the_whitelist_vanishes_from_every_surface(app, db, how):
    w = build(app, db, docking=False)
    home = w.clients["ent_b"]
    count = _count_on_home(home)
    before = _seen(w, "ent_b", w.ids["need_b"], "家具厂设备联网新方案甲")
    assert all(before.values()), {name: seen for name, seen in before.items() if not seen}  # else: tests nothing
    assert _count_on_home(home) == count + 1  # the new solution counted

    # a need ranked while provider A was listed, and pushed only after it left (a publish racing the
    # admin's decision): the ranking still names the IoT solution, the push must not
    late = _publish_need(app, db, db.get(Enterprise, w.ids["ent_b"]), [])
    _take_off(app, w, how)
    after = _seen(w, "ent_a", w.ids["need"], "家具厂设备联网新方案乙")
    assert not any(after.values()), {name: seen for name, seen in after.items() if seen}
    assert _count_on_home(home) == count - 1  # the IoT solution, the new one of before; the new one now: not counted
    with Session(w.bound) as session:
        stale = session.exec(select(MatchResult).where(MatchResult.need_id == late.id)).all()
        assert w.ids["iot"] in {row.solution_id for row in stale}
        anything = PushCaps(threshold=0.0, per_provider_day=99, per_enterprise_day=99, per_need=99)
        told = push.push_need(session, session.get(Need, late.id), stale, utcnow(), anything)
        session.commit()
        assert told and w.ids["provider_a"] not in {record.provider_id for record in told}


# --- a provider's crawl finds no enterprise contact details ------------------------------------------


def _provider_crawl(app: Flask, w: World) -> dict[str, str]:
    """Every page and API answer provider A can reach: pages without arguments, its objects' pages,
    and every GET operation of the API with its key."""
    client = w.clients["prov_a"]
    pages = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/api/")
    )
    pages += [f"/dockings/{w.ids['docking']}", f"/inbox/pushed/{w.ids['push']}", "/dockings/?status=requested"]
    seen = {page: client.get(page).get_data(as_text=True) for page in pages}
    api = app.test_client()
    headers = {"Authorization": f"Bearer {w.tokens['prov_a']}"}
    objects = {
        "need": w.ids["need"],
        "docking": w.ids["docking"],
        "solution": w.ids["iot"],
        "provider": w.ids["provider_a"],
    }
    for op in OPERATIONS:
        if op.method == "GET":
            url = "/api/v1" + re.sub(r"<[^>]+:(\w+)_id>", lambda m: str(objects[m.group(1)]), op.rule)
            seen[url] = api.get(url, headers=headers).get_data(as_text=True)
    with Session(w.bound) as session:  # and what reached it in its inbox or by email
        user = session.exec(select(User).where(User.email == "vendor500@example.com")).one()
        for note in session.exec(select(Notification).where(Notification.user_id == user.id)):
            seen[f"消息 {note.title}"] = note.body
        for mail in session.exec(select(OutboxMail).where(OutboxMail.to_address == user.email)):
            seen[f"邮件 {mail.subject}"] = mail.body
    return seen


def test_a_provider_sees_no_enterprise_contact_details_before_accepting(app, db):
    w = build(app, db)
    for where, text in _provider_crawl(app, w).items():
        for name, value in CONTACT.items():
            assert value not in text, f"{name} of the enterprise on {where} before acceptance"

    vendor = w.clients["prov_a"]
    detail = f"/dockings/{w.ids['docking']}"
    data = {"note": "收到", "csrf_token": csrf_token(vendor, detail)}
    assert vendor.post(f"{detail}/accepted", data=data).status_code == 302
    shown = vendor.get(detail).get_data(as_text=True)
    assert all(value in shown for value in CONTACT.values())  # the crawl could have seen them
