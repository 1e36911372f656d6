"""The admin's whitelist decisions (遴选): every move has a reason, an actor and an audit entry."""

from datetime import date, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, select

from matchmaker.errors import ServiceError
from matchmaker.services import audit, changes
from models import Provider, ProviderStatus, WhitelistEvent, utcnow

APPROVAL_VALIDITY = timedelta(days=365)

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[ProviderStatus], ProviderStatus]] = {
    "approve": (frozenset({ProviderStatus.applied}), ProviderStatus.approved),
    "reject": (frozenset({ProviderStatus.applied}), ProviderStatus.rejected),
    "suspend": (frozenset({ProviderStatus.approved}), ProviderStatus.suspended),
    "reinstate": (frozenset({ProviderStatus.suspended}), ProviderStatus.approved),
    "revoke": (frozenset({ProviderStatus.approved, ProviderStatus.suspended}), ProviderStatus.revoked),
    "renew": (frozenset({ProviderStatus.approved}), ProviderStatus.approved),
}

ACTION_LABELS = {
    "apply": "提交入库申请",
    "approve": "批准入库",
    "reject": "驳回申请",
    "suspend": "暂停资格",
    "reinstate": "恢复资格",
    "revoke": "撤销资格",
    "renew": "续期",
}


def allowed_actions(status: ProviderStatus) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


def decide(
    session: Session, provider_id: int, action: str, actor_id: int, reason: str, today: date | None = None
) -> Provider:
    """Apply an admin decision. An approval is valid for 12 months; a renewal adds 12 more."""
    reason = reason.strip()
    if not reason:
        raise ServiceError("请填写操作理由", field="reason")
    if action not in TRANSITIONS:
        raise ServiceError("未知的操作")
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ServiceError("服务商不存在")
    sources, target = TRANSITIONS[action]
    if provider.status not in sources:
        raise ServiceError(f"当前状态下不能执行“{ACTION_LABELS[action]}”")
    previous = provider.status
    provider.status = target
    today = today or date.today()
    if action == "approve":
        provider.approved_until = today + APPROVAL_VALIDITY
    elif action == "renew":  # renewing early does not cut the current term short
        provider.approved_until = max(today, provider.approved_until or today) + APPROVAL_VALIDITY
    provider.updated_at = utcnow()
    session.add(provider)
    session.add(
        WhitelistEvent(
            provider_id=provider.id,
            action=action,
            from_status=previous,
            to_status=target,
            actor_id=actor_id,
            reason=reason,
        )
    )
    audit.record(
        session,
        actor_id,
        f"whitelist.{action}",
        "provider",
        provider.id,
        reason,
        from_status=previous.value,
        to_status=target.value,
    )
    changes.mark_provider(session, provider.id)
    session.commit()
    return provider


def providers_page(
    session: Session, status: ProviderStatus | None, page: int, per_page: int
) -> tuple[list[Provider], int]:
    """Providers for the review list; pending applications first, as they need action."""
    query = select(Provider)
    if status is not None:
        query = query.where(Provider.status == status)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    pending_first = case((Provider.status == ProviderStatus.applied, 0), else_=1)
    rows = session.exec(query.order_by(pending_first, Provider.id).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def status_counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(Provider.status, func.count()).group_by(Provider.status))
    return {str(status): count for status, count in rows}
