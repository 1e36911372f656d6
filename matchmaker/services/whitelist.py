"""The provider whitelist (服务商信息库) as the pilot programmes run it.

application (complete record) -> review -> approved for 12 months | rejected with reason;
while listed: warning with a rectification deadline -> rectified, or revoked when overdue;
suspension / reinstatement; renewal from 60 days before expiry (and after a lapse); expiry;
one appeal (申诉) against each rejection, suspension or revocation, decided by an admin.

Every move writes a WhitelistEvent (actor, time, reason); admin and system moves also write the
audit log; every status change stamps the provider's solutions (`changes.mark_provider`) so every
worker's index drops or adds them at once; the provider is told in-app and by email. The daily
`sweep` (reminders, expiries, overdue warnings) acts as the system: no user, `actor_id` None.
Functions take `today` so the clock can be set in tests and demos.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from matchmaker.services import audit, changes
from matchmaker.services.errors import ServiceError
from matchmaker.services.notifications import notify
from matchmaker.services.providers import check_credit_code_free, pending_identity_change
from matchmaker.services.ratings import RATING_ACTION
from models import (
    Appeal,
    AppealStatus,
    IdentityChange,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
    SuccessCase,
    User,
    WhitelistEvent,
    begin_write,
    utcnow,
)

S = ProviderStatus
RENEWAL_WINDOW = timedelta(days=60)  # renewal opens this long before expiry
REMINDER_BEFORE = timedelta(days=30)
MAX_REASON = 2000
PROVIDER_HOME = "/provider/"

# admin action -> (statuses it may start from, status it leads to; None = status unchanged)
TRANSITIONS: dict[str, tuple[frozenset[ProviderStatus], ProviderStatus | None]] = {
    "approve": (frozenset({S.applied}), S.approved),
    "reject": (frozenset({S.applied}), S.rejected),
    "warn": (frozenset({S.approved}), None),
    "clear_warning": (frozenset({S.approved, S.suspended, S.expired}), None),
    "suspend": (frozenset({S.approved}), S.suspended),
    "reinstate": (frozenset({S.suspended}), S.approved),  # to expired when the term ran out meanwhile
    "revoke": (frozenset({S.approved, S.suspended, S.expired}), S.revoked),
    "renew": (frozenset({S.approved, S.expired}), S.approved),
}
APPLY_FROM = frozenset({S.draft, S.rejected})
APPEALABLE = frozenset({"reject", "suspend", "revoke"})

ACTION_LABELS = {
    "apply": "提交入库申请",
    "approve": "批准入库",
    "reject": "驳回申请",
    "warn": "警告",
    "clear_warning": "整改完成",
    "suspend": "暂停资格",
    "reinstate": "恢复资格",
    "revoke": "撤销资格",
    "renew": "续期",
    "remind": "到期提醒",
    "expire": "到期",
    "appeal": "提出申诉",
    "appeal_upheld": "申诉成立",
    "appeal_dismissed": "申诉驳回",
    "import": "批量导入",
    "identity_change": "申请变更名称/信用代码/服务领域",
    "identity_approved": "批准资料变更",
    "identity_rejected": "驳回资料变更",
    RATING_ACTION: "公布评星结果",
}

# action -> (notification title, body); fields: reason, until, rectify_by
_NOTICES = {
    "approve": (
        "入库申请已通过",
        "贵单位已进入坪山区数字服务商信息库，有效期至 {until}，已发布的方案将被匹配和推送。说明：{reason}",
    ),
    "reject": (
        "入库申请未通过",
        "理由：{reason}。您可以完善资料后重新申请，或在工作台对本决定提出一次申诉。",
    ),
    "warn": (
        "收到整改警告",
        "理由：{reason}。请在 {rectify_by} 前完成整改并告知对接服务中心，逾期未整改将被撤销入库资格。",
    ),
    "clear_warning": ("整改已确认完成", "对接服务中心已确认整改完成，警告解除。说明：{reason}"),
    "suspend": (
        "入库资格已暂停",
        "暂停期间您的方案不会被匹配、展示或推送。理由：{reason}。您可以在工作台对本决定提出一次申诉。",
    ),
    "reinstate": ("入库资格已恢复", "说明：{reason}"),
    "revoke": (
        "入库资格已撤销",
        "您的方案已停止匹配、展示和推送。理由：{reason}。您可以在工作台对本决定提出一次申诉。",
    ),
    "renew": ("入库资格已续期", "有效期延至 {until}。说明：{reason}"),
    "expire": (
        "入库资格已到期",
        "入库有效期已于 {until} 届满，您的方案已停止匹配、展示和推送。请联系对接服务中心办理续期。",
    ),
    "remind": (
        "入库资格将于 {until} 到期",
        "请在到期前更新服务商资料和成功案例，并联系对接服务中心办理续期；到期后方案将停止匹配和推送。",
    ),
    "appeal_upheld": ("申诉成立", "您的申诉成立，已恢复入库，有效期至 {until}。说明：{reason}"),
    "appeal_dismissed": ("申诉未获支持", "理由：{reason}"),
    "identity_approved": ("资料变更已通过", "服务商名称、统一社会信用代码和服务领域已按申请更新。说明：{reason}"),
    "identity_rejected": ("资料变更未通过", "服务商资料保持原样。理由：{reason}"),
}


def one_year_after(day: date) -> date:
    """The same calendar day a year later (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def _clean_reason(reason: str | None, message: str = "请填写操作理由") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(message, field="reason")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"理由不能超过{MAX_REASON}字", field="reason")
    return reason


def _locked(session: Session, provider_id: int) -> Provider:
    """The provider row, locked until commit (the row on PostgreSQL, the database on SQLite) so two
    decisions, or two appeals, cannot cross."""
    begin_write(session)
    provider = session.get(Provider, provider_id, with_for_update=True, populate_existing=True)
    if provider is None:
        raise ServiceError("服务商不存在")
    return provider


def _blocked(provider: Provider, action: str, today: date) -> str | None:
    """Why `action` is not possible now beyond the status check, in Chinese; None when it is."""
    label = ACTION_LABELS[action]
    sources, _ = TRANSITIONS[action]
    if provider.status not in sources:
        return f"当前状态下不能执行“{label}”"
    if action == "warn" and provider.rectify_by is not None:
        return f"已有未完成的整改要求（期限 {provider.rectify_by}），请先确认整改完成或作出其他处理"
    if action == "clear_warning" and provider.rectify_by is None:
        return "当前没有待整改的警告"
    if action == "renew" and provider.status == S.approved and provider.approved_until is not None:
        opens = provider.approved_until - RENEWAL_WINDOW
        if today < opens:
            return f"有效期至 {provider.approved_until}，到期前60天内（{opens} 起）才能续期"
    return None


def allowed_actions(provider: Provider, today: date) -> list[str]:
    """The admin actions possible for `provider` today, in the order the review page shows them."""
    return [action for action in TRANSITIONS if _blocked(provider, action, today) is None]


def _record(
    session: Session,
    provider: Provider,
    action: str,
    target: ProviderStatus,
    actor_id: int | None,
    reason: str,
    audited: bool = True,
    **detail,
) -> WhitelistEvent:
    """Move `provider` to `target` and write the history, the audit entry and the change stamp."""
    previous = provider.status
    event = WhitelistEvent(
        provider_id=provider.id, action=action, from_status=previous, to_status=target, actor_id=actor_id, reason=reason
    )
    session.add(event)
    if target != previous:
        provider.status = target
        changes.mark_provider(session, provider.id)
    provider.updated_at = utcnow()
    session.add(provider)
    if audited:
        audit.record(
            session,
            actor_id,
            f"whitelist.{action}",
            "provider",
            provider.id,
            reason,
            from_status=previous.value,
            to_status=target.value,
            **detail,
        )
    return event


def _tell(session: Session, provider: Provider, action: str, reason: str = "") -> None:
    if provider.user_id is None:
        return
    title, body = _NOTICES[action]
    values = {"reason": reason, "until": provider.approved_until or "—", "rectify_by": provider.rectify_by or "—"}
    kind = "reminder" if action == "remind" else "whitelist"
    notify(session, provider.user_id, kind, title.format(**values), body.format(**values), PROVIDER_HOME)


# --- the provider's side ------------------------------------------------------------------------


def missing_for_application(session: Session, provider: Provider) -> list[str]:
    """What the record still lacks before an application is accepted, as the labels the forms use."""
    fields = (
        ("服务领域", provider.domains),
        ("服务内容", provider.service_content.strip()),
        ("技术能力", provider.capabilities.strip()),
        ("资质认证", provider.qualifications.strip()),
        ("在深圳经营年限", provider.years_in_shenzhen),
        ("联系人", provider.contact_name.strip()),
        ("联系电话", provider.phone.strip()),
        ("联系邮箱", provider.email.strip()),
    )
    missing = [label for label, value in fields if not value]
    has_case = session.exec(select(SuccessCase.id).where(SuccessCase.provider_id == provider.id).limit(1)).first()
    if has_case is None:
        missing.append("至少一个成功案例")
    return missing


def apply(session: Session, provider_id: int, actor_id: int | None, note: str = "") -> Provider:
    """Submit the provider record for review (遴选); it must be complete."""
    provider = _locked(session, provider_id)
    if provider.status not in APPLY_FROM:
        raise ServiceError("当前状态不能提交入库申请")
    if pending_appeal(session, provider.id) is not None:
        raise ServiceError("申诉正在处理中，处理结果出来前不能重新申请")
    missing = missing_for_application(session, provider)
    if missing:
        raise ServiceError(f"请先完善：{'、'.join(missing)}")
    _record(session, provider, "apply", S.applied, actor_id, (note or "").strip()[:MAX_REASON], audited=False)
    session.commit()
    return provider


def appealable_decision(session: Session, provider: Provider) -> WhitelistEvent | None:
    """The rejection, suspension or revocation that put the provider in its current status."""
    if provider.status not in {S.rejected, S.suspended, S.revoked}:
        return None
    last_move = session.exec(
        select(WhitelistEvent)
        .where(WhitelistEvent.provider_id == provider.id, WhitelistEvent.from_status != WhitelistEvent.to_status)
        .order_by(col(WhitelistEvent.id).desc())
        .limit(1)
    ).first()
    if last_move is None or last_move.action not in APPEALABLE or last_move.to_status != provider.status:
        return None
    return last_move


def appeal_of(session: Session, event_id: int) -> Appeal | None:
    return session.exec(select(Appeal).where(Appeal.whitelist_event_id == event_id)).first()


def pending_appeal(session: Session, provider_id: int) -> Appeal | None:
    return session.exec(
        select(Appeal).where(Appeal.provider_id == provider_id, Appeal.status == AppealStatus.pending)
    ).first()


def file_appeal(session: Session, provider_id: int, actor_id: int | None, reason: str) -> Appeal:
    """One appeal (申诉) against the decision that put the provider in its current status."""
    reason = _clean_reason(reason, "请填写申诉理由")
    provider = _locked(session, provider_id)
    decision = appealable_decision(session, provider)
    if decision is None:
        raise ServiceError("当前没有可以申诉的决定：只能对驳回申请、暂停资格或撤销资格的决定申诉")
    if appeal_of(session, decision.id) is not None:
        raise ServiceError("对这一决定已经申诉过，每个决定只能申诉一次")
    appeal = Appeal(provider_id=provider.id, whitelist_event_id=decision.id, reason=reason)
    session.add(appeal)
    _record(session, provider, "appeal", provider.status, actor_id, reason, audited=False)
    session.commit()
    return appeal


@dataclass(frozen=True)
class Panel:
    """What the provider's workbench shows about its whitelist standing."""

    missing: list[str]
    warning: WhitelistEvent | None  # the open warning, if any
    decision: WhitelistEvent | None  # an appealable decision
    appeal: Appeal | None  # the appeal against `decision`, once filed
    renewable_from: date | None


def panel(session: Session, provider: Provider) -> Panel:
    decision = appealable_decision(session, provider)
    warning = None
    if provider.rectify_by is not None:
        warning = session.exec(
            select(WhitelistEvent)
            .where(WhitelistEvent.provider_id == provider.id, WhitelistEvent.action == "warn")
            .order_by(col(WhitelistEvent.id).desc())
            .limit(1)
        ).first()
    return Panel(
        missing=missing_for_application(session, provider) if provider.status in APPLY_FROM else [],
        warning=warning,
        decision=decision,
        appeal=appeal_of(session, decision.id) if decision is not None else None,
        renewable_from=provider.approved_until - RENEWAL_WINDOW if provider.approved_until else None,
    )


# --- the admin's decisions ----------------------------------------------------------------------


def decide(
    session: Session,
    provider_id: int,
    action: str,
    actor_id: int | None,
    reason: str,
    today: date | None = None,
    rectify_by: date | None = None,
) -> Provider:
    """Apply an admin decision. Approval and renewal give 12 months; a warning needs a deadline."""
    reason = _clean_reason(reason)
    if action not in TRANSITIONS:
        raise ServiceError("未知的操作")
    today = today or date.today()
    provider = _locked(session, provider_id)
    blocked = _blocked(provider, action, today)
    if blocked:
        raise ServiceError(blocked)
    target = TRANSITIONS[action][1] or provider.status
    detail: dict[str, str] = {}
    if action == "warn":
        if rectify_by is None:
            raise ServiceError("请填写整改期限", field="rectify_by")
        if rectify_by <= today:
            raise ServiceError("整改期限须晚于今天", field="rectify_by")
        provider.rectify_by = rectify_by
        detail["rectify_by"] = rectify_by.isoformat()
    elif action in {"clear_warning", "revoke"}:
        provider.rectify_by = None
    elif action == "approve":
        provider.approved_until = one_year_after(today)
    elif action == "renew":  # renewing early does not cut the current term short
        provider.approved_until = one_year_after(max(today, provider.approved_until or today))
    elif action == "reinstate" and provider.approved_until is not None and provider.approved_until < today:
        target = S.expired
    if action in {"approve", "renew"}:
        detail["approved_until"] = provider.approved_until.isoformat()
    _record(session, provider, action, target, actor_id, reason, **detail)
    _tell(session, provider, "expire" if target == S.expired and action == "reinstate" else action, reason)
    session.commit()
    return provider


def decide_appeal(
    session: Session, appeal_id: int, upheld: bool, actor_id: int | None, reason: str, today: date | None = None
) -> Appeal:
    """Uphold (approved again, 12 months from today) or dismiss an appeal, with a reason."""
    reason = _clean_reason(reason)
    today = today or date.today()
    begin_write(session)
    appeal = session.get(Appeal, appeal_id, with_for_update=True, populate_existing=True)
    if appeal is None or appeal.provider_id is None:  # a retrofit project's appeal: decided on its page
        raise ServiceError("申诉不存在")
    if appeal.status != AppealStatus.pending:
        raise ServiceError("该申诉已经处理")
    provider = _locked(session, appeal.provider_id)
    decision = session.get(WhitelistEvent, appeal.whitelist_event_id)
    if decision.action == RATING_ACTION:
        raise ServiceError("这是对评星结果的申诉，请在“评星评级”页面处理")
    if upheld and provider.status != decision.to_status:
        raise ServiceError("申诉提出后服务商状态已发生变化，该申诉只能驳回")
    action = "appeal_upheld" if upheld else "appeal_dismissed"
    target = S.approved if upheld else provider.status
    if upheld:
        provider.approved_until = one_year_after(today)
        provider.rectify_by = None
    appeal.status = AppealStatus.upheld if upheld else AppealStatus.dismissed
    appeal.decided_by = actor_id
    appeal.decision_reason = reason
    appeal.decided_at = utcnow()
    session.add(appeal)
    _record(session, provider, action, target, actor_id, reason, appeal_id=appeal.id)
    _tell(session, provider, action, reason)
    session.commit()
    return appeal


def decide_identity_change(
    session: Session, provider_id: int, approve: bool, actor_id: int | None, reason: str
) -> IdentityChange:
    """Approve (the record takes the new name, credit code and domains; published solutions in a
    domain no longer listed are withdrawn) or reject (nothing changes) the provider's pending
    identity change, with a reason; audited, and the provider is told."""
    reason = _clean_reason(reason)
    provider = _locked(session, provider_id)
    change = pending_identity_change(session, provider.id)
    if change is None:
        raise ServiceError("该服务商没有待审核的资料变更申请")
    detail: dict = {"identity_change_id": change.id}
    if approve:
        check_credit_code_free(session, provider.id, change.credit_code)
        detail |= {
            "before": {"name": provider.name, "credit_code": provider.credit_code, "domains": provider.domains},
            "after": {"name": change.name, "credit_code": change.credit_code, "domains": change.domains},
        }
        provider.name, provider.credit_code, provider.domains = change.name, change.credit_code, list(change.domains)
        off_domain = session.exec(
            select(Solution).where(
                Solution.provider_id == provider.id,
                Solution.status == SolutionStatus.published,
                col(Solution.domain).not_in(change.domains),
            )
        ).all()
        for solution in off_domain:
            solution.status = SolutionStatus.withdrawn
            session.add(solution)
        detail["withdrawn_solutions"] = [solution.id for solution in off_domain]
        changes.mark_provider(session, provider.id)
    change.approved = approve
    change.decided_by = actor_id
    change.decision_reason = reason
    change.decided_at = utcnow()
    session.add(change)
    action = "identity_approved" if approve else "identity_rejected"
    _record(session, provider, action, provider.status, actor_id, reason, **detail)
    _tell(session, provider, action, reason)
    session.commit()
    return change


# --- the daily sweep ----------------------------------------------------------------------------


@dataclass
class SweepReport:
    revoked: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)


def sweep(session: Session, today: date) -> SweepReport:
    """Revoke providers whose rectification deadline passed, expire lapsed approvals, and remind
    providers 30 days before expiry (once per expiry date). Safe to run more than once a day;
    each provider is settled in its own transaction."""
    report = SweepReport()
    overdue = select(Provider.id).where(
        col(Provider.rectify_by) < today, col(Provider.status).in_(TRANSITIONS["revoke"][0])
    )
    for provider_id in list(session.exec(overdue)):
        provider = _locked(session, provider_id)
        if provider.rectify_by is not None and provider.rectify_by < today:
            reason = f"警告后逾期未整改（整改期限 {provider.rectify_by}），系统自动撤销入库资格"
            provider.rectify_by = None
            _record(session, provider, "revoke", S.revoked, None, reason)
            _tell(session, provider, "revoke", reason)
            report.revoked.append(provider_id)
        session.commit()

    lapsed = select(Provider.id).where(Provider.status == S.approved, col(Provider.approved_until) < today)
    for provider_id in list(session.exec(lapsed)):
        provider = _locked(session, provider_id)
        if provider.status == S.approved and provider.approved_until is not None and provider.approved_until < today:
            reason = f"入库有效期已于 {provider.approved_until} 届满"
            _record(session, provider, "expire", S.expired, None, reason)
            _tell(session, provider, "expire")
            report.expired.append(provider_id)
        session.commit()

    due = select(Provider.id).where(
        Provider.status == S.approved,
        col(Provider.approved_until) >= today,
        col(Provider.approved_until) <= today + REMINDER_BEFORE,
    )
    for provider_id in list(session.exec(due)):
        provider = _locked(session, provider_id)
        if provider.status == S.approved and provider.expiry_reminded_for != provider.approved_until:
            provider.expiry_reminded_for = provider.approved_until
            _record(session, provider, "remind", S.approved, None, f"有效期至 {provider.approved_until}", audited=False)
            _tell(session, provider, "remind")
            report.reminded.append(provider_id)
        session.commit()
    return report


# --- lists for the review queue -----------------------------------------------------------------

# list filters beyond the statuses themselves
VIEWS = {"appeal": "待处理申诉", "identity": "待审核资料变更", "warned": "整改中", "expiring": "60天内到期"}
_IDENTITY_PENDING = select(IdentityChange.provider_id).where(col(IdentityChange.approved).is_(None))


def _pending_since():
    """When the provider started waiting for an admin: its application, or its oldest open appeal."""
    applied_at = (
        select(WhitelistEvent.provider_id, func.max(WhitelistEvent.created_at).label("at"))
        .where(WhitelistEvent.action == "apply")
        .group_by(WhitelistEvent.provider_id)
        .subquery()
    )
    appealed_at = (
        select(Appeal.provider_id, func.min(Appeal.created_at).label("at"))
        .where(Appeal.status == AppealStatus.pending)
        .group_by(Appeal.provider_id)
        .subquery()
    )
    application = func.coalesce(applied_at.c.at, Provider.updated_at)
    since = func.coalesce(appealed_at.c.at, case((Provider.status == S.applied, application), else_=None))
    return applied_at, appealed_at, since


def providers_page(
    session: Session, view: str | None, page: int, per_page: int, today: date | None = None
) -> tuple[list[Provider], int]:
    """The review queue: providers waiting for an admin (applications, open appeals) first, oldest
    first, then the others; `view` is a status or one of VIEWS."""
    today = today or date.today()
    applied_at, appealed_at, since = _pending_since()
    query = (
        select(Provider)
        .join(applied_at, applied_at.c.provider_id == Provider.id, isouter=True)
        .join(appealed_at, appealed_at.c.provider_id == Provider.id, isouter=True)
    )
    if view in S.__members__:
        query = query.where(Provider.status == S(view))
    elif view == "appeal":
        query = query.where(appealed_at.c.at.is_not(None))
    elif view == "identity":
        query = query.where(col(Provider.id).in_(_IDENTITY_PENDING))
    elif view == "warned":
        query = query.where(col(Provider.rectify_by).is_not(None))
    elif view == "expiring":
        query = query.where(Provider.status == S.approved, col(Provider.approved_until) <= today + RENEWAL_WINDOW)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    waiting_first = case((since.is_(None), 1), else_=0)
    rows = session.exec(query.order_by(waiting_first, since, Provider.id).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def waiting_for_admin(session: Session, providers: list[Provider]) -> dict[int, str]:
    """For the providers on a queue page: which of them wait for an admin, and for what."""
    ids = [provider.id for provider in providers]
    appealed = set(
        session.exec(
            select(Appeal.provider_id).where(col(Appeal.provider_id).in_(ids), Appeal.status == AppealStatus.pending)
        )
    )
    changing = set(session.exec(_IDENTITY_PENDING.where(col(IdentityChange.provider_id).in_(ids))))
    waiting = {}
    for provider in providers:
        if provider.id in appealed:
            waiting[provider.id] = "待处理申诉"
        elif provider.id in changing:
            waiting[provider.id] = "待审核资料变更"
        elif provider.status == S.applied:
            waiting[provider.id] = "待审核申请"
    return waiting


def status_counts(session: Session, today: date | None = None) -> dict[str, int]:
    """Providers per status, plus the VIEWS counts."""
    today = today or date.today()
    counts = {
        str(status): count
        for status, count in session.exec(select(Provider.status, func.count()).group_by(Provider.status))
    }

    def count(*conditions) -> int:
        return session.exec(select(func.count()).select_from(Provider).where(*conditions)).one()

    counts["appeal"] = session.exec(
        select(func.count(func.distinct(Appeal.provider_id))).where(Appeal.status == AppealStatus.pending)
    ).one()
    counts["identity"] = count(col(Provider.id).in_(_IDENTITY_PENDING))
    counts["warned"] = count(col(Provider.rectify_by).is_not(None))
    counts["expiring"] = count(Provider.status == S.approved, col(Provider.approved_until) <= today + RENEWAL_WINDOW)
    return counts


@dataclass(frozen=True)
class AppealRow:
    appeal: Appeal
    provider: Provider
    decision: WhitelistEvent


def _appeal_rows():
    return (
        select(Appeal, Provider, WhitelistEvent)
        .join(Provider, col(Provider.id) == Appeal.provider_id)
        .join(WhitelistEvent, col(WhitelistEvent.id) == Appeal.whitelist_event_id)
    )


def appeals_page(
    session: Session, status: AppealStatus | None, page: int, per_page: int
) -> tuple[list[AppealRow], int]:
    """Appeals, pending ones first and oldest first, then decided ones newest first."""
    query = _appeal_rows()
    if status is not None:
        query = query.where(Appeal.status == status)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    pending = Appeal.status == AppealStatus.pending
    rows = session.exec(
        query.order_by(case((pending, 0), else_=1), case((pending, Appeal.id), else_=-col(Appeal.id)))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [AppealRow(appeal, provider, decision) for appeal, provider, decision in rows], total


def provider_appeals(session: Session, provider_id: int) -> list[AppealRow]:
    rows = session.exec(_appeal_rows().where(Appeal.provider_id == provider_id).order_by(col(Appeal.id).desc()))
    return [AppealRow(appeal, provider, decision) for appeal, provider, decision in rows]


@dataclass(frozen=True)
class HistoryEntry:
    event: WhitelistEvent
    actor_name: str | None  # None: the system (the daily sweep)
    actor_role: str | None


def history(session: Session, provider_id: int) -> list[HistoryEntry]:
    """The whole whitelist history, oldest first, with who acted."""
    rows = session.exec(
        select(WhitelistEvent, User.display_name, User.role)
        .join(User, col(User.id) == WhitelistEvent.actor_id, isouter=True)
        .where(WhitelistEvent.provider_id == provider_id)
        .order_by(col(WhitelistEvent.id))
    )
    return [HistoryEntry(event, name, role) for event, name, role in rows]
