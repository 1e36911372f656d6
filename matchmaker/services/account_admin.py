"""Administrators' hold on accounts: list and search them, disable and enable one, force a password
reset. Each takes a reason, is audited (who, when, why) and raises the account's session version, so
the account's open sessions end at their next request. An administrator cannot disable themselves (the
platform could be left with no one to enable them). Each change is serialised on the account row, so
two administrators acting at once change it once and the second is told why not."""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from werkzeug.security import generate_password_hash

from matchmaker.services import audit, password_reset
from matchmaker.services.errors import ServiceError
from models import AuditLog, Role, User, begin_write, utcnow

QUERY_MAX = 100
REASON_MAX = 500


def accounts_page(session: Session, query: str, role: str | None, page: int, per_page: int) -> tuple[list[User], int]:
    """Accounts whose email or name holds `query` (any case), newest first."""
    conditions = []
    text = query.strip().lower()[:QUERY_MAX]
    if text:
        conditions.append(
            or_(
                func.lower(User.email).contains(text, autoescape=True),
                func.lower(User.display_name).contains(text, autoescape=True),
            )
        )
    if role in Role.__members__:
        conditions.append(User.role == Role(role))
    total = session.exec(select(func.count()).select_from(User).where(*conditions)).one()
    users = session.exec(
        select(User).where(*conditions).order_by(col(User.id).desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(users), total


def history(session: Session, user_id: int, limit: int = 20) -> list[tuple[AuditLog, str | None]]:
    """The account's audit entries, newest first, each with the actor's name."""
    rows = session.exec(
        select(AuditLog, User.display_name)
        .join(User, User.id == AuditLog.actor_id, isouter=True)
        .where(AuditLog.target_type == "user", AuditLog.target_id == user_id)
        .order_by(col(AuditLog.id).desc())
        .limit(limit)
    )
    return list(rows)


def _locked(session: Session, user_id: int) -> User:
    begin_write(session)
    query = select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
    user = session.exec(query).first()
    if user is None:
        raise ServiceError("账号不存在")
    return user


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("请填写理由", field="reason")
    if len(reason) > REASON_MAX:
        raise ServiceError(f"理由不能超过 {REASON_MAX} 字", field="reason")
    return reason


def disable(session: Session, admin_id: int, user_id: int, reason: str) -> User:
    reason = _reason(reason)
    if user_id == admin_id:
        raise ServiceError("不能停用自己的账号")
    user = _locked(session, user_id)
    if not user.is_active:
        raise ServiceError("该账号已停用")
    user.is_active = False
    user.session_version += 1
    audit.record(session, admin_id, "account.disable", "user", user.id, reason, email=user.email)
    session.commit()
    return user


def enable(session: Session, admin_id: int, user_id: int, reason: str) -> User:
    reason = _reason(reason)
    user = _locked(session, user_id)
    if user.is_active:
        raise ServiceError("该账号未停用")
    user.is_active = True
    user.session_version += 1
    audit.record(session, admin_id, "account.enable", "user", user.id, reason, email=user.email)
    session.commit()
    return user


def force_reset(
    session: Session, admin_id: int, user_id: int, reason: str, lifetime: timedelta, now: datetime | None = None
) -> User:
    """The password stops working at once (a random one replaces it, unknown to anyone), every session
    ends, and the owner is mailed a reset link."""
    reason = _reason(reason)
    user = _locked(session, user_id)
    if not user.is_active:
        raise ServiceError("该账号已停用，请先启用再重置密码")
    user.password_hash = generate_password_hash(secrets.token_urlsafe(32))
    user.session_version += 1
    password_reset.issue(session, user, password_reset.ADMIN, lifetime, now or utcnow())
    audit.record(session, admin_id, "account.force_reset", "user", user.id, reason, email=user.email)
    session.commit()
    return user
