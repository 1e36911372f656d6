"""The 数字化技改项目白名单: applying (with or without a docking), every review step and who may take it,
the working-day notice, objections, the one appeal, progress and completion, bad input, races on the
decisions, and the export for city fund applications."""

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from threading import Barrier

import pytest
from sqlmodel import Session, func, select

from matchmaker.services import accounts
from matchmaker.services import retrofit_projects as projects
from matchmaker.services.errors import ServiceError
from matchmaker.services.exports import to_csv
from matchmaker.services.working_days import notice_period, parse_holidays
from models import (
    Appeal,
    AuditLog,
    Docking,
    DockingStatus,
    Enterprise,
    Need,
    Notification,
    ProjectEvent,
    ProjectObjection,
    ProjectStatus,
    Provider,
    RetrofitProject,
    Solution,
)
from models.schemas import AccountCreate, EnterpriseRegistration
from tests.conftest import PASSWORD, credit_code, table_snapshot
from tests.services.test_whitelist_lifecycle import make_provider

P = ProjectStatus
MONDAY = date(2027, 3, 1)  # a Monday
NOTICE = {"notice_days": 5, "holidays": frozenset()}
SCORES = {"investment": 20, "digital_share": 22, "provider": 18, "replicability": 15}


def make_enterprise(db: Session, serial: int) -> Enterprise:
    user = accounts.register_enterprise(
        db,
        EnterpriseRegistration(
            name=f"技改测试家具厂{serial}",
            credit_code=credit_code(serial),
            industry="furniture",
            employees=200,
            revenue=8000,
            street="坪山街道",
            contact_name="王厂长",
            phone="13800138000",
            email=f"retrofit{serial}@example.com",
            password=PASSWORD,
        ),
    )
    return db.exec(select(Enterprise).where(Enterprise.user_id == user.id)).one()


def application(provider_ids: list[int], **changes) -> projects.ProjectInput:
    values = projects.ProjectInput(
        name="开料封边产线数字化改造",
        content="开料机、封边机加装数采网关，上线 MES 与设备看板。",
        total_investment=300,
        digital_investment=180,
        start_on=date(2027, 4, 1),
        end_on=date(2027, 12, 31),
        expected_result="设备综合效率提升15%，达到智能制造能力成熟度三级",
        provider_ids=provider_ids,
        target_maturity=3,
    )
    return replace(values, **changes)


@pytest.fixture
def world(db):
    """An admin, two enterprises and a whitelisted provider; enterprise A's project just submitted."""
    admin = accounts.create_admin(
        db, AccountCreate(email="retro-admin@example.com", password=PASSWORD, display_name="审查员")
    )
    ent_a, ent_b = make_enterprise(db, 31), make_enterprise(db, 32)
    provider = make_provider(db, status="approved", serial=700)
    project = projects.submit(db, ent_a.id, ent_a.user_id, application([provider.id]))
    return {"admin": admin, "a": ent_a, "b": ent_b, "provider": provider, "project": project}


def advance(db: Session, project_id: int, admin_id: int, to: ProjectStatus, today: date = MONDAY) -> None:
    """Take a submitted project through the review to `to`."""
    steps = {
        P.accepted: ["accept"],
        P.reviewed: ["accept", "score"],
        P.publicity: ["accept", "score", "publicise"],
        P.selected: ["accept", "score", "publicise", "select"],
        P.not_selected: ["accept", "score", "not_select"],
    }[to]
    for action in steps:
        day = today + timedelta(days=30) if action == "select" else today
        projects.decide(db, project_id, action, admin_id, f"{action} 理由", day, scores=SCORES, **NOTICE)


# --- working days ---------------------------------------------------------------------------------


def test_the_notice_skips_weekends_and_holidays():
    friday = date(2027, 3, 5)
    # Friday, then Monday to Thursday: five working days across the weekend
    assert notice_period(friday, 5, frozenset()) == (friday, date(2027, 3, 11))
    # a holiday on the Monday pushes the end one working day later
    holiday = parse_holidays("2027-03-08")
    assert notice_period(friday, 5, holiday) == (friday, date(2027, 3, 12))
    # published on a Saturday: the notice starts on the next working day (here the Tuesday)
    assert notice_period(date(2027, 3, 6), 1, holiday) == (date(2027, 3, 9), date(2027, 3, 9))
    assert parse_holidays("2027-01-01, 2027-02-10\n2027-02-11") == {
        date(2027, 1, 1),
        date(2027, 2, 10),
        date(2027, 2, 11),
    }
    with pytest.raises(ServiceError, match="无法识别"):
        parse_holidays("2027-02-30")


def test_publicising_uses_the_configured_days_and_holidays(db, world):
    project = world["project"]
    advance(db, project.id, world["admin"].id, P.reviewed)
    friday = date(2027, 3, 5)
    projects.decide(
        db, project.id, "publicise", world["admin"].id, "评审通过", friday, notice_days=3, holidays={date(2027, 3, 8)}
    )
    db.refresh(project)
    assert (project.notice_from, project.notice_until) == (friday, date(2027, 3, 10))


# --- the whole way ------------------------------------------------------------------------------


def _actions(db: Session, project_id: int) -> list[tuple[str, str, str]]:
    events = db.exec(select(ProjectEvent).where(ProjectEvent.project_id == project_id).order_by(ProjectEvent.id))
    return [(e.action, e.from_status, e.to_status) for e in events]


def test_a_project_goes_from_application_to_completion(db, world):
    admin, ent_a, ent_b, project = world["admin"], world["a"], world["b"], world["project"]
    pid = project.id
    projects.decide(db, pid, "return", admin.id, "缺少设备清单", MONDAY)
    projects.resubmit(db, pid, ent_a.id, ent_a.user_id, application([world["provider"].id], content="补充设备清单"))
    projects.decide(db, pid, "accept", admin.id, "材料齐全", MONDAY)
    projects.decide(db, pid, "score", admin.id, "专家组：示范性强", MONDAY, scores=SCORES)
    projects.decide(db, pid, "publicise", admin.id, "评审通过", MONDAY, **NOTICE)
    projects.raise_objection(db, pid, ent_b.user_id, "投资额与产线规模不符", MONDAY + timedelta(days=2))
    with pytest.raises(ServiceError, match="公示期满后"):
        projects.decide(db, pid, "select", admin.id, "入选", MONDAY + timedelta(days=4))
    db.rollback()
    projects.decide(db, pid, "select", admin.id, "公示无实质异议", MONDAY + timedelta(days=7))
    projects.report_progress(db, pid, ent_a.id, ent_a.user_id, 40, "网关安装完成")
    projects.complete(db, pid, ent_a.id, ent_a.user_id, "系统上线并验收", MONDAY + timedelta(days=200))

    db.refresh(project)
    assert project.status == P.completed and project.progress == 100 and project.score_total == 75
    assert (project.notice_from, project.notice_until, project.selected_on) == (
        MONDAY,
        MONDAY + timedelta(days=4),
        MONDAY + timedelta(days=7),
    )
    assert _actions(db, pid) == [
        ("submit", "", "submitted"),
        ("return", "submitted", "returned"),
        ("resubmit", "returned", "submitted"),
        ("accept", "submitted", "accepted"),
        ("score", "accepted", "reviewed"),
        ("publicise", "reviewed", "publicity"),
        ("object", "publicity", "publicity"),
        ("select", "publicity", "selected"),
        ("progress", "selected", "selected"),
        ("complete", "selected", "completed"),
    ]
    audited = db.exec(select(AuditLog).where(AuditLog.target_type == "retrofit_project")).all()
    assert [entry.action.removeprefix("project.") for entry in audited] == [a for a, _, _ in _actions(db, pid)]
    decisions = [e for e in audited if e.action in {"project.return", "project.accept", "project.select"}]
    assert all(e.actor_id == admin.id and e.reason and e.created_at for e in decisions)
    told = db.exec(select(Notification.title).where(Notification.user_id == ent_a.user_id)).all()
    assert told == ["技改项目被退回补正", "技改项目通过形式审查", "技改项目进入公示", "技改项目已入选白名单"]


# --- who may do what ----------------------------------------------------------------------------

# The specification, written out independently of projects.TRANSITIONS
ALLOWED = {
    "accept": {"submitted"},
    "return": {"submitted"},
    "score": {"accepted"},
    "publicise": {"reviewed"},
    "select": {"publicity"},
    "not_select": {"reviewed", "publicity"},
}
REACHABLE = [P.submitted, P.accepted, P.reviewed, P.publicity, P.selected, P.not_selected]


@pytest.mark.parametrize("status", REACHABLE, ids=str)
def test_each_admin_step_only_from_its_statuses(db, world, status):
    admin, ent_a, provider = world["admin"], world["a"], world["provider"]
    later = MONDAY + timedelta(days=30)  # past any notice
    for action, sources in ALLOWED.items():
        project = projects.submit(db, ent_a.id, ent_a.user_id, application([provider.id], name=f"项目{action}"))
        if status != P.submitted:
            advance(db, project.id, admin.id, status)
        before = table_snapshot(db.get_bind())
        try:
            projects.decide(db, project.id, action, admin.id, "理由", later, scores=SCORES, **NOTICE)
        except ServiceError as error:
            db.rollback()
            assert status not in sources, (action, status, error.message)
            assert "不能执行" in error.message
            assert table_snapshot(db.get_bind()) == before
        else:
            assert status in sources, (action, status)
            db.refresh(project)
            assert project.status == projects.TRANSITIONS[action][1]


def test_the_wrong_enterprise_cannot_touch_a_project(db, world):
    ent_b, pid, admin = world["b"], world["project"].id, world["admin"]
    projects.decide(db, pid, "return", admin.id, "补正", MONDAY)
    before = table_snapshot(db.get_bind())
    calls = [
        lambda: projects.resubmit(db, pid, ent_b.id, ent_b.user_id, application([world["provider"].id])),
        lambda: projects.report_progress(db, pid, ent_b.id, ent_b.user_id, 50, "进展"),
        lambda: projects.complete(db, pid, ent_b.id, ent_b.user_id, "完工", MONDAY),
        lambda: projects.file_appeal(db, pid, ent_b.id, ent_b.user_id, "申诉"),
    ]
    for call in calls:
        with pytest.raises(ServiceError, match="项目不存在"):
            call()
        db.rollback()
    assert table_snapshot(db.get_bind()) == before


def test_objections_only_during_the_notice_and_once_per_user(db, world):
    admin, ent_b, pid = world["admin"], world["b"], world["project"].id
    with pytest.raises(ServiceError, match="不在公示期内"):
        projects.raise_objection(db, pid, ent_b.user_id, "异议", MONDAY)
    db.rollback()
    advance(db, pid, admin.id, P.publicity)
    projects.raise_objection(db, pid, ent_b.user_id, "异议", MONDAY)
    with pytest.raises(ServiceError, match="已对该项目提出过异议"):
        projects.raise_objection(db, pid, ent_b.user_id, "再次异议", MONDAY)
    db.rollback()
    with pytest.raises(ServiceError, match="不在公示期内"):  # the Monday after: the five days are over
        projects.raise_objection(db, pid, admin.id, "迟到的异议", MONDAY + timedelta(days=7))
    db.rollback()
    with pytest.raises(ServiceError, match="请填写异议理由"):
        projects.raise_objection(db, pid, admin.id, "  ", MONDAY)
    db.rollback()
    assert db.exec(select(func.count()).select_from(ProjectObjection)).one() == 1


def test_one_appeal_against_not_selected(db, world):
    admin, ent_a, pid = world["admin"], world["a"], world["project"].id
    with pytest.raises(ServiceError, match="只能对“不予入选”申诉"):
        projects.file_appeal(db, pid, ent_a.id, ent_a.user_id, "不服")
    db.rollback()
    advance(db, pid, admin.id, P.not_selected)
    appeal = projects.file_appeal(db, pid, ent_a.id, ent_a.user_id, "数字化投资占比计算有误")
    assert appeal.provider_id is None and appeal.whitelist_event_id is None and appeal.project_event_id
    with pytest.raises(ServiceError, match="只能申诉一次"):
        projects.file_appeal(db, pid, ent_a.id, ent_a.user_id, "再申诉")
    db.rollback()
    projects.decide_appeal(db, pid, True, admin.id, "复核后占比达标")
    project = db.get(RetrofitProject, pid)
    db.refresh(project)
    assert project.status == P.reviewed  # the review resumes where it was refused
    with pytest.raises(ServiceError, match="没有待处理的申诉"):
        projects.decide_appeal(db, pid, False, admin.id, "重复处理")
    db.rollback()
    # refused again (a new decision): one more appeal, dismissed this time
    projects.decide(db, pid, "not_select", admin.id, "复评仍不达标", MONDAY)
    projects.file_appeal(db, pid, ent_a.id, ent_a.user_id, "再次申诉")
    projects.decide_appeal(db, pid, False, admin.id, "维持原决定")
    db.refresh(project)
    assert project.status == P.not_selected
    statuses = db.exec(select(Appeal.status).where(Appeal.project_event_id.is_not(None)).order_by(Appeal.id)).all()
    assert statuses == ["upheld", "dismissed"]
    titles = db.exec(select(Notification.title).where(Notification.user_id == ent_a.user_id)).all()
    assert {"技改项目不予入选", "技改项目申诉成立", "技改项目申诉未获支持"} <= set(titles)


# --- dockings -----------------------------------------------------------------------------------


def _docking(db: Session, enterprise: Enterprise, provider: Provider, status: DockingStatus) -> Docking:
    need = Need(
        enterprise_id=enterprise.id,
        title="封边机联网",
        description="封边机、开料机需要联网采集产量和稼动率。",
        industry="furniture",
        size_class="medium",
        target_maturity=2,
    )
    solution = Solution(
        provider_id=provider.id, title="封边机设备联网方案", summary="数采网关+看板", domain="data_collection"
    )
    db.add_all([need, solution])
    db.flush()
    docking = Docking(
        need_id=need.id,
        solution_id=solution.id,
        enterprise_id=enterprise.id,
        provider_id=provider.id,
        status=status,
        contract_amount=85.5,
        contract_date=date(2027, 2, 1),
    )
    db.add(docking)
    db.commit()
    return docking


def test_a_contracted_docking_prefills_and_completion_waits_for_its_acceptance(db, world):
    admin, ent_a, ent_b, provider = world["admin"], world["a"], world["b"], world["provider"]
    docking = _docking(db, ent_a, provider, DockingStatus.contracted)
    filled = projects.prefill(db, ent_a.id, docking.id)
    assert (filled.name, filled.total_investment, filled.start_on) == ("封边机设备联网方案", 85.5, date(2027, 2, 1))
    assert filled.provider_ids == [provider.id] and filled.target_maturity == 2 and "稼动率" in filled.content
    with pytest.raises(ServiceError, match="对接记录不存在"):
        projects.prefill(db, ent_b.id, docking.id)
    requested = _docking(db, ent_a, provider, DockingStatus.requested)
    with pytest.raises(ServiceError, match="已签约或已验收"):
        projects.prefill(db, ent_a.id, requested.id)

    data = replace(filled, end_on=date(2027, 8, 31), expected_result="稼动率可视化")
    project = projects.submit(db, ent_a.id, ent_a.user_id, data, docking.id)
    with pytest.raises(ServiceError, match="已经申报过"):
        projects.submit(db, ent_a.id, ent_a.user_id, replace(data, name="另一个名字"), docking.id)
    db.rollback()
    advance(db, project.id, admin.id, P.selected)
    with pytest.raises(ServiceError, match="请先在对接页面完成验收"):
        projects.complete(db, project.id, ent_a.id, ent_a.user_id, "完工", MONDAY)
    db.rollback()
    docking = db.get(Docking, docking.id)
    docking.status = DockingStatus.completed
    db.add(docking)
    db.commit()
    projects.complete(db, project.id, ent_a.id, ent_a.user_id, "完工，已验收", MONDAY)
    assert db.get(RetrofitProject, project.id).status == P.completed


# --- bad input ------------------------------------------------------------------------------------

BAD = [
    ({"name": " "}, "name", "请填写项目名称"),
    ({"total_investment": 0}, "total_investment", "总投资须大于0"),
    ({"total_investment": 2_000_000}, "total_investment", "不超过"),
    ({"digital_investment": 400}, "digital_investment", "不超过总投资"),
    ({"digital_investment": -1}, "digital_investment", "数字化投资须大于0"),
    ({"end_on": date(2027, 3, 1)}, "end_on", "不能早于开始日期"),
    ({"end_on": date(2034, 1, 1)}, "end_on", "不超过5年"),
    ({"start_on": None}, "start_on", "请填写计划开始"),
    ({"target_maturity": 9}, "target_maturity", "成熟度"),
    ({"provider_ids": []}, "provider_ids", "请选择或填写参与的服务商"),
    ({"provider_ids": [99999]}, "provider_ids", "只能选择信息库中已入库的服务商"),
    ({"content": "长" * 5001}, "content", "不能超过5000字"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_applications_are_refused_and_nothing_changes(db, world, changes, field, message):
    before = table_snapshot(db.get_bind())
    with pytest.raises(ServiceError) as refused:
        data = application([world["provider"].id])
        projects.submit(db, world["a"].id, world["a"].user_id, replace(data, **changes))
    db.rollback()
    assert refused.value.field == field and message in refused.value.message
    assert table_snapshot(db.get_bind()) == before


def test_a_suspended_provider_cannot_be_named(db, world):
    off = make_provider(db, status="suspended", serial=701)
    with pytest.raises(ServiceError, match="已入库的服务商"):
        projects.submit(db, world["a"].id, world["a"].user_id, application([off.id], name="另一项目"))


def test_bad_scores_and_missing_reasons_change_nothing(db, world):
    admin, pid = world["admin"], world["project"].id
    advance(db, pid, admin.id, P.accepted)
    before = table_snapshot(db.get_bind())
    for scores, message in [
        (SCORES | {"investment": 26}, "0到25"),
        (SCORES | {"provider": None}, "服务商实力"),
        ({k: v for k, v in SCORES.items() if k != "replicability"}, "可复制推广性"),
    ]:
        with pytest.raises(ServiceError, match=message):
            projects.decide(db, pid, "score", admin.id, "意见", MONDAY, scores=scores)
        db.rollback()
    with pytest.raises(ServiceError, match="请填写评审意见"):
        projects.decide(db, pid, "score", admin.id, "", MONDAY, scores=SCORES)
    db.rollback()
    with pytest.raises(ServiceError, match="未知的操作"):
        projects.decide(db, pid, "approve_everything", admin.id, "理由", MONDAY)
    db.rollback()
    assert table_snapshot(db.get_bind()) == before


# --- races --------------------------------------------------------------------------------------


def _at_once(bound, calls) -> list[str]:
    """Run each call(session) in its own thread and session at the same moment; what each answered."""
    barrier = Barrier(len(calls))

    def run(call):
        with Session(bound) as session:
            barrier.wait()
            try:
                call(session)
            except ServiceError as error:
                session.rollback()
                return error.message
            return "ok"

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize(
    ("first", "second"), [("accept", "accept"), ("accept", "return")], ids=["double-click", "two-admins"]
)
def test_concurrent_decisions_apply_once(db, world, first, second):
    admin, pid = world["admin"], world["project"].id
    answers = _at_once(
        db.get_bind(),
        [lambda s, a=action: projects.decide(s, pid, a, admin.id, "理由", MONDAY) for action in (first, second)],
    )
    assert answers.count("ok") == 1, answers
    assert "不能执行" in next(answer for answer in answers if answer != "ok")
    moves = db.exec(select(func.count()).select_from(ProjectEvent).where(ProjectEvent.project_id == pid)).one()
    assert moves == 2  # submit + the one decision


def test_concurrent_appeals_store_one(db, world):
    admin, ent_a, pid = world["admin"], world["a"], world["project"].id
    advance(db, pid, admin.id, P.not_selected)
    call = lambda s: projects.file_appeal(s, pid, ent_a.id, ent_a.user_id, "申诉")  # noqa: E731
    answers = _at_once(db.get_bind(), [call, call, call])
    assert answers.count("ok") == 1, answers
    assert db.exec(select(func.count()).select_from(Appeal)).one() == 1


# --- the list and its export ----------------------------------------------------------------------


def test_the_export_has_the_fund_columns_and_is_formula_safe(db, world):
    admin, ent_a, provider = world["admin"], world["a"], world["provider"]
    advance(db, world["project"].id, admin.id, P.selected)
    tricky = application([provider.id], name='=HYPERLINK("http://x")改造', other_providers="+外部集成商")
    other = projects.submit(db, ent_a.id, ent_a.user_id, tricky)
    advance(db, other.id, admin.id, P.selected)
    projects.submit(db, ent_a.id, ent_a.user_id, application([provider.id], name="未入选的项目"))

    sheet = projects.export_sheet(db)
    rows = list(csv.reader(io.StringIO(to_csv(sheet).decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    for column in ("企业名称", "统一社会信用代码", "项目名称", "建设内容", "服务商", "预期成效", "入选日期"):
        assert column in header
    assert [row[header.index("项目名称")] for row in body] == ["开料封边产线数字化改造", '\'=HYPERLINK("http://x")改造']
    first = dict(zip(header, body[0], strict=True))
    assert first["统一社会信用代码"] == ent_a.credit_code and first["数字化投资占比"] == "60%"
    assert first["服务商"] == provider.name and first["入选日期"] == str(MONDAY + timedelta(days=30))
    assert body[1][header.index("服务商")] == f"{provider.name}；+外部集成商"  # not at the start: inert
    notices, listed = projects.public_lists(db)
    assert notices == [] and [p.name for p, _ in listed][0] in {"开料封边产线数字化改造", tricky.name}


def test_a_double_submitted_application_is_stored_once(db, world):
    ent_a, provider = world["a"], world["provider"]
    data = application([provider.id], name="双击提交的项目")
    call = lambda s: projects.submit(s, ent_a.id, ent_a.user_id, data)  # noqa: E731
    answers = _at_once(db.get_bind(), [call, call])
    assert answers.count("ok") == 1 and "已有同名的技改项目" in "".join(answers), answers
    named = select(func.count()).select_from(RetrofitProject).where(RetrofitProject.name == "双击提交的项目")
    assert db.exec(named).one() == 1
