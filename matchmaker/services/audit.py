"""The audit log: who changed what, when and why. Written inside the caller's transaction."""

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from models import AuditLog, User


def record(
    session: Session,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None,
    reason: str = "",
    **detail: Any,
) -> None:
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            detail=detail,
        )
    )


def page(session: Session, page: int, per_page: int) -> tuple[list[tuple[AuditLog, str | None]], int]:
    """Newest entries first, each with the actor's display name."""
    total = session.exec(select(func.count()).select_from(AuditLog)).one()
    rows = session.exec(
        select(AuditLog, User.display_name)
        .join(User, User.id == AuditLog.actor_id, isouter=True)
        .order_by(AuditLog.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [(entry, name) for entry, name in rows], total
