"""The district's list of digital retrofit projects (数字化技改项目白名单), as the district reviews it.

申报 (submitted) -> 形式审查: accepted, or returned with a reason (the enterprise fixes and resubmits)
-> 评审: scored against the published criteria, with the reviewers' opinions -> 公示: a public notice for
a configured number of working days, during which any logged-in user may object -> 入选 (selected) or
不予入选 (not selected) with a reason; one appeal against 不予入选 (a `workflow.Appeal` row naming the
decision), decided by an admin. A selected project reports progress and its completion, which needs the
docking's 验收 when the project came from a docking.

Every step writes a ProjectEvent (actor, time, reason) and the audit log; every decision tells the
enterprise. Writes lock the project row (`begin_write` + FOR UPDATE), so two admins deciding at once, or a
double-clicked button, make one step and a clear message for the other.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from matchmaker.services import audit
from matchmaker.services.errors import Conflict, ServiceError
from matchmaker.services.exports import Sheet
from matchmaker.services.labels import PROJECT_STATUS_LABELS as STATUS_LABELS
from matchmaker.services.notifications import notify
from matchmaker.services.working_days import notice_period
from models import (
    Appeal,
    AppealStatus,
    Docking,
    DockingStatus,
    Enterprise,
    Need,
    ProjectEvent,
    ProjectObjection,
    ProjectStatus,
    Provider,
    ProviderStatus,
    RetrofitProject,
    Solution,
    User,
    begin_write,
    utcnow,
)
from models.validation import MATURITY_LEVELS

P = ProjectStatus
MAX_REASON = 2000
MAX_INVESTMENT = 1_000_000.0  # 万元 (100亿元): beyond any district project, so a typo is refused
MAX_YEARS = 5  # the longest construction period accepted
EARLIEST_START = date(2020, 1, 1)
PREFILL_FROM = frozenset({DockingStatus.contracted, DockingStatus.completed})

# The published criteria (评审标准): key -> (label, points, what earns them)
CRITERIA: dict[str, tuple[str, int, str]] = {
    "investment": ("投资规模", 25, "项目总投资额及资金落实情况"),
    "digital_share": ("数字化投入占比", 25, "软件、系统、智能装备等数字化投资占总投资的比例"),
    "provider": ("服务商实力", 25, "服务商是否在数字服务商信息库、是否有人工智能赋能成功案例"),
    "replicability": ("可复制推广性", 25, "在同行业（家具、钟表、皮革等）推广的示范价值"),
}

ACTION_LABELS = {
    "submit": "申报",
    "resubmit": "补正后重新申报",
    "accept": "形式审查通过",
    "return": "退回补正",
    "score": "评审打分",
    "publicise": "开始公示",
    "select": "入选",
    "not_select": "不予入选",
    "object": "提出异议",
    "appeal": "提出申诉",
    "appeal_upheld": "申诉成立",
    "appeal_dismissed": "申诉驳回",
    "progress": "报告进展",
    "complete": "报告完工",
}
# admin action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[ProjectStatus], ProjectStatus]] = {
    "accept": (frozenset({P.submitted}), P.accepted),
    "return": (frozenset({P.submitted}), P.returned),
    "score": (frozenset({P.accepted}), P.reviewed),
    "publicise": (frozenset({P.reviewed}), P.publicity),
    "select": (frozenset({P.publicity}), P.selected),
    "not_select": (frozenset({P.reviewed, P.publicity}), P.not_selected),
}
_NOTICES = {
    "accept": ("技改项目通过形式审查", "项目“{name}”材料齐全，已进入评审。说明：{reason}"),
    "return": ("技改项目被退回补正", "项目“{name}”需要补正：{reason}。请修改后重新申报。"),
    "publicise": (
        "技改项目进入公示",
        "项目“{name}”评审得分 {score} 分，公示期 {notice_from} 至 {notice_until}。说明：{reason}",
    ),
    "select": ("技改项目已入选白名单", "项目“{name}”已入选坪山区数字化技改项目白名单，将优先推荐申报市级专项资金。"),
    "not_select": ("技改项目不予入选", "项目“{name}”不予入选。理由：{reason}。您可以在项目页面对本决定提出一次申诉。"),
    "appeal_upheld": ("技改项目申诉成立", "项目“{name}”的申诉成立，恢复到“{status}”环节继续审查。说明：{reason}"),
    "appeal_dismissed": ("技改项目申诉未获支持", "项目“{name}”的申诉未获支持。理由：{reason}"),
}


def link(project_id: int) -> str:
    return f"/projects/{project_id}"


@dataclass
class ProjectInput:
    """What the application form gives; the service checks every value."""

    name: str
    content: str
    total_investment: float | None
    digital_investment: float | None
    start_on: date | None
    end_on: date | None
    expected_result: str
    provider_ids: list[int]
    other_providers: str = ""
    target_maturity: int = 0


def _clean(text: str | None, limit: int, field: str, label: str, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ServiceError(f"请填写{label}", field=field)
    if len(text) > limit:
        raise ServiceError(f"{label}不能超过{limit}字", field=field)
    return text


def _reason(reason: str | None, message: str = "请填写理由") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(message, field="reason")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"理由不能超过{MAX_REASON}字", field="reason")
    return reason


def whitelisted_providers(session: Session) -> list[Provider]:
    return list(
        session.exec(select(Provider).where(Provider.status == ProviderStatus.approved).order_by(Provider.name))
    )


def _check(session: Session, data: ProjectInput) -> dict[str, Any]:
    """The checked values, or a ServiceError naming the field."""
    values: dict[str, Any] = {
        "name": _clean(data.name, 120, "name", "项目名称"),
        "content": _clean(data.content, 5000, "content", "建设内容"),
        "expected_result": _clean(data.expected_result, 2000, "expected_result", "预期成效"),
        "other_providers": _clean(data.other_providers, 200, "other_providers", "其他服务商", required=False),
    }
    total, digital = data.total_investment, data.digital_investment
    if total is None or not 0 < float(total) <= MAX_INVESTMENT:
        raise ServiceError(f"总投资须大于0且不超过{MAX_INVESTMENT:,.0f}万元", field="total_investment")
    if digital is None or not 0 < float(digital) <= float(total):
        raise ServiceError("数字化投资须大于0且不超过总投资", field="digital_investment")
    values["total_investment"], values["digital_investment"] = round(float(total), 2), round(float(digital), 2)
    start, end = data.start_on, data.end_on
    if start is None or end is None:
        raise ServiceError("请填写计划开始和完成日期", field="start_on" if start is None else "end_on")
    if start < EARLIEST_START or end.year > start.year + MAX_YEARS:
        raise ServiceError(f"建设期须在{EARLIEST_START.year}年之后且不超过{MAX_YEARS}年", field="end_on")
    if end < start:
        raise ServiceError("计划完成日期不能早于开始日期", field="end_on")
    values["start_on"], values["end_on"] = start, end
    if data.target_maturity not in MATURITY_LEVELS:
        raise ServiceError("请选择有效的成熟度等级", field="target_maturity")
    values["target_maturity"] = data.target_maturity
    ids = sorted(set(data.provider_ids))
    listed = set(
        session.exec(select(Provider.id).where(col(Provider.id).in_(ids), Provider.status == ProviderStatus.approved))
    )
    if set(ids) - listed:
        raise ServiceError("只能选择信息库中已入库的服务商", field="provider_ids")
    if not ids and not values["other_providers"]:
        raise ServiceError("请选择或填写参与的服务商", field="provider_ids")
    values["provider_ids"] = ids
    return values


def _locked(session: Session, project_id: int) -> RetrofitProject:
    begin_write(session)
    project = session.get(RetrofitProject, project_id, with_for_update=True, populate_existing=True)
    if project is None:
        raise ServiceError("项目不存在")
    return project


def _own_locked(session: Session, project_id: int, enterprise_id: int) -> RetrofitProject:
    project = _locked(session, project_id)
    if project.enterprise_id != enterprise_id:
        raise ServiceError("项目不存在")
    return project


def _step(
    session: Session,
    project: RetrofitProject,
    action: str,
    target: ProjectStatus,
    actor_id: int | None,
    reason: str,
    **detail: Any,
) -> ProjectEvent:
    """Move `project` to `target`: its history, the audit entry, its time stamp."""
    previous = project.status
    event = ProjectEvent(
        project_id=project.id, action=action, from_status=previous, to_status=target, actor_id=actor_id, reason=reason
    )
    session.add(event)
    project.status = target
    project.updated_at = utcnow()
    session.add(project)
    audit.record(
        session,
        actor_id,
        f"project.{action}",
        "retrofit_project",
        project.id,
        reason,
        from_status=str(previous),
        to_status=str(target),
        **detail,
    )
    return event


def _tell(session: Session, project: RetrofitProject, action: str, reason: str, **values: Any) -> None:
    user_id = session.exec(select(Enterprise.user_id).where(Enterprise.id == project.enterprise_id)).first()
    if user_id is None:
        return
    title, body = _NOTICES[action]
    values = {
        "name": project.name,
        "reason": reason,
        "score": project.score_total,
        "notice_from": project.notice_from,
        "notice_until": project.notice_until,
    } | values
    notify(session, user_id, "project", title, body.format(**values), link(project.id))


# --- the enterprise's side ------------------------------------------------------------------------


def eligible_dockings(session: Session, enterprise_id: int) -> list[tuple[Docking, str, str]]:
    """The enterprise's dockings that reached 签约 or 验收, with solution and provider names."""
    rows = session.exec(
        select(Docking, Solution.title, Provider.name)
        .join(Solution, col(Solution.id) == Docking.solution_id)
        .join(Provider, col(Provider.id) == Docking.provider_id)
        .where(Docking.enterprise_id == enterprise_id, col(Docking.status).in_(PREFILL_FROM))
        .order_by(col(Docking.id).desc())
    )
    return list(rows)


def prefill(session: Session, enterprise_id: int, docking_id: int) -> ProjectInput:
    """The application as the docking already tells it: the solution, the need, the contract."""
    docking = session.get(Docking, docking_id)
    if docking is None or docking.enterprise_id != enterprise_id:
        raise ServiceError("对接记录不存在")
    if docking.status not in PREFILL_FROM:
        raise ServiceError("只有已签约或已验收的对接可以带入申报")
    solution = session.get(Solution, docking.solution_id)
    need = session.get(Need, docking.need_id)
    provider = session.get(Provider, docking.provider_id)
    listed = provider is not None and provider.status == ProviderStatus.approved
    return ProjectInput(
        name=solution.title[:120],
        content=f"{need.description}\n\n实施方案：{solution.title}。{solution.summary}".strip()[:5000],
        total_investment=docking.contract_amount,
        digital_investment=docking.contract_amount,
        start_on=docking.contract_date,
        end_on=None,
        expected_result="",
        provider_ids=[provider.id] if listed else [],
        other_providers="" if listed or provider is None else provider.name[:200],
        target_maturity=need.target_maturity,
    )


def submit(
    session: Session, enterprise_id: int, actor_id: int | None, data: ProjectInput, docking_id: int | None = None
) -> RetrofitProject:
    """申报: a new application, from a docking of the enterprise's or without one."""
    values = _check(session, data)
    begin_write(session)
    session.get(Enterprise, enterprise_id, with_for_update=True)
    if docking_id is not None:
        docking = session.get(Docking, docking_id)
        if docking is None or docking.enterprise_id != enterprise_id or docking.status not in PREFILL_FROM:
            raise ServiceError("只有本企业已签约或已验收的对接可以带入申报", field="docking_id")
        taken = session.exec(select(RetrofitProject.id).where(RetrofitProject.docking_id == docking_id)).first()
        if taken is not None:
            raise Conflict("这一对接已经申报过技改项目")
    same = session.exec(
        select(RetrofitProject.id).where(
            RetrofitProject.enterprise_id == enterprise_id,
            RetrofitProject.name == values["name"],
            col(RetrofitProject.status) != P.not_selected,
        )
    ).first()
    if same is not None:
        raise Conflict("已有同名的技改项目在申报或已入选", field="name")
    project = RetrofitProject(enterprise_id=enterprise_id, docking_id=docking_id, **values)
    session.add(project)
    session.flush()
    session.add(ProjectEvent(project_id=project.id, action="submit", to_status=P.submitted, actor_id=actor_id))
    audit.record(session, actor_id, "project.submit", "retrofit_project", project.id, "", docking_id=docking_id)
    session.commit()
    return project


def resubmit(
    session: Session, project_id: int, enterprise_id: int, actor_id: int | None, data: ProjectInput
) -> RetrofitProject:
    """A returned application, fixed and submitted again."""
    values = _check(session, data)
    project = _own_locked(session, project_id, enterprise_id)
    if project.status != P.returned:
        raise ServiceError("只有退回补正的项目可以修改后重新申报")
    for name, value in values.items():
        setattr(project, name, value)
    _step(session, project, "resubmit", P.submitted, actor_id, "")
    session.commit()
    return project


def report_progress(
    session: Session, project_id: int, enterprise_id: int, actor_id: int | None, percent: int | None, note: str
) -> RetrofitProject:
    note = _clean(note, MAX_REASON, "note", "进展说明")
    project = _own_locked(session, project_id, enterprise_id)
    if project.status != P.selected:
        raise ServiceError("只有已入选的项目可以报告进展")
    if percent is None or not project.progress <= percent < 100:
        raise ServiceError(f"完成比例须在{project.progress}到99之间（完工请使用“报告完工”）", field="percent")
    project.progress = percent
    _step(session, project, "progress", P.selected, actor_id, note, percent=percent)
    session.commit()
    return project


def complete(
    session: Session, project_id: int, enterprise_id: int, actor_id: int | None, note: str, today: date
) -> RetrofitProject:
    """完工: a project from a docking closes with the docking's 验收 (the enterprise accepts it there first)."""
    note = _clean(note, MAX_REASON, "note", "完工说明")
    project = _own_locked(session, project_id, enterprise_id)
    if project.status != P.selected:
        raise ServiceError("只有已入选的项目可以报告完工")
    if project.docking_id is not None:
        docking = session.get(Docking, project.docking_id)
        if docking.status != DockingStatus.completed:
            raise ServiceError("请先在对接页面完成验收，再报告项目完工")
    project.progress, project.completed_on = 100, today
    _step(session, project, "complete", P.completed, actor_id, note, docking_id=project.docking_id)
    session.commit()
    return project


def objection_window_open(project: RetrofitProject, today: date) -> bool:
    """From publication (a notice published on a weekend is open at once) to the notice's last working day."""
    return project.status == P.publicity and project.notice_until is not None and today <= project.notice_until


def raise_objection(session: Session, project_id: int, user_id: int, reason: str, today: date) -> ProjectObjection:
    """An objection during the notice; one per user and project."""
    reason = _reason(reason, "请填写异议理由")
    project = _locked(session, project_id)
    if not objection_window_open(project, today):
        raise ServiceError("该项目不在公示期内，不能提出异议")
    mine = session.exec(
        select(ProjectObjection.id).where(
            ProjectObjection.project_id == project.id, ProjectObjection.user_id == user_id
        )
    ).first()
    if mine is not None:
        raise Conflict("您已对该项目提出过异议")
    objection = ProjectObjection(project_id=project.id, user_id=user_id, reason=reason)
    session.add(objection)
    session.add(
        ProjectEvent(
            project_id=project.id, action="object", from_status=P.publicity, to_status=P.publicity, actor_id=user_id
        )
    )
    audit.record(session, user_id, "project.object", "retrofit_project", project.id, reason)
    session.commit()
    return objection


def appealable_decision(session: Session, project: RetrofitProject) -> ProjectEvent | None:
    if project.status != P.not_selected:
        return None
    return session.exec(
        select(ProjectEvent)
        .where(ProjectEvent.project_id == project.id, ProjectEvent.action == "not_select")
        .order_by(col(ProjectEvent.id).desc())
        .limit(1)
    ).first()


def appeal_of(session: Session, project: RetrofitProject) -> Appeal | None:
    """The appeal against the project's latest 不予入选, if filed."""
    decision = session.exec(
        select(ProjectEvent.id)
        .where(ProjectEvent.project_id == project.id, ProjectEvent.action == "not_select")
        .order_by(col(ProjectEvent.id).desc())
        .limit(1)
    ).first()
    if decision is None:
        return None
    return session.exec(select(Appeal).where(Appeal.project_event_id == decision)).first()


def file_appeal(session: Session, project_id: int, enterprise_id: int, actor_id: int | None, reason: str) -> Appeal:
    """One appeal (申诉) against 不予入选, through the whitelist's appeal records."""
    reason = _reason(reason, "请填写申诉理由")
    project = _own_locked(session, project_id, enterprise_id)
    decision = appealable_decision(session, project)
    if decision is None:
        raise ServiceError("当前没有可以申诉的决定：只能对“不予入选”申诉")
    if session.exec(select(Appeal.id).where(Appeal.project_event_id == decision.id)).first() is not None:
        raise Conflict("对这一决定已经申诉过，每个决定只能申诉一次")
    appeal = Appeal(project_event_id=decision.id, reason=reason)
    session.add(appeal)
    _step(session, project, "appeal", project.status, actor_id, reason)
    session.commit()
    return appeal


# --- the admin's decisions ------------------------------------------------------------------------


def _blocked(project: RetrofitProject, action: str, today: date) -> str | None:
    sources, _ = TRANSITIONS[action]
    if project.status not in sources:
        return f"当前状态（{STATUS_LABELS[project.status]}）下不能执行“{ACTION_LABELS[action]}”"
    if action == "select" and project.notice_until is not None and today <= project.notice_until:
        return f"公示期至 {project.notice_until} 结束，公示期满后才能确定入选"
    return None


def allowed_actions(project: RetrofitProject, today: date) -> list[str]:
    return [action for action in TRANSITIONS if _blocked(project, action, today) is None]


def check_scores(raw: dict[str, Any]) -> dict[str, int]:
    scores = {}
    for key, (label, points, _) in CRITERIA.items():
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= points:
            raise ServiceError(f"“{label}”得分须为0到{points}之间的整数", field=key)
        scores[key] = value
    return scores


def decide(
    session: Session,
    project_id: int,
    action: str,
    actor_id: int | None,
    reason: str,
    today: date,
    *,
    scores: dict[str, Any] | None = None,
    notice_days: int = 5,
    holidays: frozenset[date] = frozenset(),
) -> RetrofitProject:
    """One admin step; 评审 needs the scores (the reason holds the reviewers' opinions), 公示 counts the
    notice in working days from today."""
    if action not in TRANSITIONS:
        raise ServiceError("未知的操作")
    reason = _reason(reason, "请填写评审意见" if action == "score" else "请填写理由")
    checked = check_scores(scores or {}) if action == "score" else None
    project = _locked(session, project_id)
    blocked = _blocked(project, action, today)
    if blocked:
        raise Conflict(blocked)
    detail: dict[str, Any] = {}
    if checked is not None:
        project.scores, project.score_total, project.review_opinions = checked, sum(checked.values()), reason
        detail = {"scores": checked, "score_total": project.score_total}
    elif action == "publicise":
        project.notice_from, project.notice_until = notice_period(today, notice_days, holidays)
        detail = {"notice_from": project.notice_from.isoformat(), "notice_until": project.notice_until.isoformat()}
    elif action == "select":
        project.selected_on = today
    _step(session, project, action, TRANSITIONS[action][1], actor_id, reason, **detail)
    if action in _NOTICES:
        _tell(session, project, action, reason)
    session.commit()
    return project


def decide_appeal(
    session: Session, project_id: int, upheld: bool, actor_id: int | None, reason: str
) -> RetrofitProject:
    """Uphold (the review resumes at the step the project was refused from) or dismiss the appeal."""
    reason = _reason(reason)
    project = _locked(session, project_id)
    appeal = appeal_of(session, project)
    if appeal is None or appeal.status != AppealStatus.pending:
        raise Conflict("该项目没有待处理的申诉")
    decision = session.get(ProjectEvent, appeal.project_event_id)
    appeal.status = AppealStatus.upheld if upheld else AppealStatus.dismissed
    appeal.decided_by, appeal.decision_reason, appeal.decided_at = actor_id, reason, utcnow()
    session.add(appeal)
    action = "appeal_upheld" if upheld else "appeal_dismissed"
    target = ProjectStatus(decision.from_status) if upheld else project.status
    _step(session, project, action, target, actor_id, reason, appeal_id=appeal.id)
    _tell(session, project, action, reason, status=STATUS_LABELS[target])
    session.commit()
    return project


# --- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    event: ProjectEvent
    actor_name: str | None


@dataclass(frozen=True)
class ProjectView:
    project: RetrofitProject
    enterprise: Enterprise
    providers: list[Provider]
    history: list[HistoryEntry]
    objections: list[tuple[ProjectObjection, str]]
    appeal: Appeal | None


def view(session: Session, project_id: int) -> ProjectView | None:
    project = session.get(RetrofitProject, project_id)
    if project is None:
        return None
    providers = list(session.exec(select(Provider).where(col(Provider.id).in_(project.provider_ids))))
    history = session.exec(
        select(ProjectEvent, User.display_name)
        .join(User, col(User.id) == ProjectEvent.actor_id, isouter=True)
        .where(ProjectEvent.project_id == project.id)
        .order_by(col(ProjectEvent.id))
    )
    objections = session.exec(
        select(ProjectObjection, User.display_name)
        .join(User, col(User.id) == ProjectObjection.user_id)
        .where(ProjectObjection.project_id == project.id)
        .order_by(col(ProjectObjection.id))
    )
    return ProjectView(
        project=project,
        enterprise=session.get(Enterprise, project.enterprise_id),
        providers=providers,
        history=[HistoryEntry(event, name) for event, name in history],
        objections=list(objections),
        appeal=appeal_of(session, project),
    )


def for_enterprise(session: Session, enterprise_id: int) -> list[RetrofitProject]:
    return list(
        session.exec(
            select(RetrofitProject)
            .where(RetrofitProject.enterprise_id == enterprise_id)
            .order_by(col(RetrofitProject.id).desc())
        )
    )


def admin_page(
    session: Session, status: ProjectStatus | None, page: int, per_page: int
) -> tuple[list[tuple[RetrofitProject, str]], int]:
    """Projects with their enterprise's name, those waiting longest first."""
    query = select(RetrofitProject, Enterprise.name).join(
        Enterprise, col(Enterprise.id) == RetrofitProject.enterprise_id
    )
    if status is not None:
        query = query.where(RetrofitProject.status == status)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(RetrofitProject.updated_at), col(RetrofitProject.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total


def status_counts(session: Session) -> dict[str, int]:
    counts = dict(session.exec(select(RetrofitProject.status, func.count()).group_by(RetrofitProject.status)).all())
    return {str(status): count for status, count in counts.items()}


def pending_appeals(session: Session) -> set[int]:
    """Projects whose appeal waits for an admin."""
    return set(
        session.exec(
            select(ProjectEvent.project_id)
            .join(Appeal, col(Appeal.project_event_id) == ProjectEvent.id)
            .where(Appeal.status == AppealStatus.pending)
        )
    )


def public_lists(session: Session) -> tuple[list[tuple[RetrofitProject, str]], list[tuple[RetrofitProject, str]]]:
    """(on public notice, selected or completed), each with the enterprise's name."""
    base = select(RetrofitProject, Enterprise.name).join(
        Enterprise, col(Enterprise.id) == RetrofitProject.enterprise_id
    )
    notices = session.exec(
        base.where(RetrofitProject.status == P.publicity).order_by(col(RetrofitProject.notice_from).desc())
    )
    listed = session.exec(
        base.where(col(RetrofitProject.status).in_((P.selected, P.completed))).order_by(
            col(RetrofitProject.selected_on).desc(), col(RetrofitProject.id).desc()
        )
    )
    return list(notices), list(listed)


def provider_names(session: Session, projects: list[RetrofitProject]) -> dict[int, str]:
    ids = {pid for project in projects for pid in project.provider_ids}
    return dict(session.exec(select(Provider.id, Provider.name).where(col(Provider.id).in_(ids))).all())


def _providers_text(project: RetrofitProject, names: dict[int, str]) -> str:
    parts = [names[pid] for pid in project.provider_ids if pid in names]
    if project.other_providers:
        parts.append(project.other_providers)
    return "；".join(parts)


EXPORT_HEADERS = (
    "企业名称",
    "统一社会信用代码",
    "项目名称",
    "建设内容",
    "总投资（万元）",
    "数字化投资（万元）",
    "数字化投资占比",
    "计划开始",
    "计划完成",
    "服务商",
    "预期成效",
    "目标成熟度",
    "评审得分",
    "入选日期",
    "状态",
    "完成进度",
)


def export_sheet(session: Session) -> Sheet:
    """The selected projects with the columns a city fund application asks for."""
    rows_query = (
        select(RetrofitProject, Enterprise)
        .join(Enterprise, col(Enterprise.id) == RetrofitProject.enterprise_id)
        .where(col(RetrofitProject.status).in_((P.selected, P.completed)))
        .order_by(col(RetrofitProject.selected_on), col(RetrofitProject.id))
    )

    def rows() -> Iterator[list[Any]]:
        found = list(session.exec(rows_query))
        names = provider_names(session, [project for project, _ in found])
        for project, enterprise in found:
            yield [
                enterprise.name,
                enterprise.credit_code,
                project.name,
                project.content,
                project.total_investment,
                project.digital_investment,
                f"{project.digital_investment / project.total_investment:.0%}",
                project.start_on,
                project.end_on,
                _providers_text(project, names),
                project.expected_result,
                MATURITY_LEVELS[project.target_maturity] if project.target_maturity else "",
                project.score_total,
                project.selected_on,
                STATUS_LABELS[project.status],
                f"{project.progress}%",
            ]

    widths = (30, 22, 30, 50, 12, 14, 12, 12, 12, 30, 40, 14, 10, 12, 10, 10)
    return Sheet("数字化技改项目白名单", EXPORT_HEADERS, widths, rows())
