"""Password reset by email: a single-use link that expires.

The link carries a random token (256 bits); the table keeps only its SHA-256, so a copy of the database
(a backup) opens no account. Using the link marks it used in the same transaction that stores the new
password, serialised (SQLite's write lock, a row lock on PostgreSQL), so two clicks at once set one
password; every other open link of the account is spent with it. The new password raises the session
version (every session ends) and forgets the account's failed logins, which lifts a lock-out.

Asking for a link answers the same whether or not the email has an account (the view shows one
message); an account gets at most one new link per RESEND_GAP, so the form cannot flood a mailbox.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from matchmaker.services import accounts, audit
from matchmaker.services.errors import ServiceError
from matchmaker.services.login_throttle import clear_account
from matchmaker.services.notifications import LINK_LABEL, SUBJECT_PREFIX, notify
from models import OutboxMail, PasswordReset, User, begin_write, utcnow
from models.validation import password_error

RESEND_GAP = timedelta(minutes=2)
INVALID_LINK = "重置链接无效、已使用或已过期，请重新申请"
SELF, ADMIN = "self", "admin"  # who asked for the link


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_path(token: str) -> str:
    return f"/auth/reset/{token}"


def request_reset(session: Session, email: str, lifetime: timedelta, now: datetime | None = None) -> None:
    """忘记密码 (commits): mail a link when an active account has this email; else nothing, silently."""
    now = now or utcnow()
    user = session.exec(select(User).where(func.lower(User.email) == email.strip().lower())).first()
    if user is None or not user.is_active:
        return
    begin_write(session)  # two requests at once: one link
    recent = select(PasswordReset.id).where(
        PasswordReset.user_id == user.id,
        col(PasswordReset.used_at).is_(None),
        PasswordReset.created_at > now - RESEND_GAP,
        PasswordReset.expires_at > now,
    )
    if session.exec(recent).first() is None:
        issue(session, user, SELF, lifetime, now)
    session.commit()


def issue(session: Session, user: User, reason: str, lifetime: timedelta, now: datetime) -> str:
    """Store a new link and queue its mail (the caller commits); returns the token."""
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            user_id=user.id, token_hash=_digest(token), created_at=now, expires_at=now + lifetime, reason=reason
        )
    )
    minutes = int(lifetime.total_seconds() // 60)
    opening = (
        "平台管理员已要求您重置登录密码，原密码已失效。"
        if reason == ADMIN
        else "我们收到了重置您登录密码的请求。如非本人操作，请忽略本邮件，您的密码不会改变。"
    )
    body = (
        f"{user.display_name}，您好：\n\n{opening}\n\n"
        f"请在 {minutes} 分钟内打开下面的链接设置新密码，链接只能使用一次：\n\n{LINK_LABEL}{link_path(token)}"
    )
    session.add(OutboxMail(to_address=user.email, subject=f"{SUBJECT_PREFIX}重置登录密码", body=body))
    return token


def open_link(session: Session, token: str, now: datetime | None = None) -> PasswordReset | None:
    """The unused, unexpired link for `token`, or None."""
    query = select(PasswordReset).where(
        PasswordReset.token_hash == _digest(token),
        col(PasswordReset.used_at).is_(None),
        PasswordReset.expires_at > (now or utcnow()),
    )
    return session.exec(query).first()


def reset(session: Session, token: str, password: str, now: datetime | None = None) -> User:
    """Set a new password through a link (commits); the link is spent."""
    now = now or utcnow()
    error = password_error(password)
    if error:
        raise ServiceError(error, field="password")
    begin_write(session)
    link = session.exec(
        select(PasswordReset)
        .where(PasswordReset.token_hash == _digest(token))
        .where(col(PasswordReset.used_at).is_(None), PasswordReset.expires_at > now)
        .with_for_update()
    ).first()
    user = session.get(User, link.user_id) if link is not None else None
    if link is None or user is None or not user.is_active:
        raise ServiceError(INVALID_LINK)
    session.exec(
        update(PasswordReset)
        .where(col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    accounts.set_password(session, user, password)
    clear_account(session, user.email)
    audit.record(session, user.id, "account.password_reset", "user", user.id, "通过邮件链接重置密码", link=link.id)
    notify(
        session,
        user.id,
        accounts.ACCOUNT_KIND,
        "您的登录密码已重置",
        "您的账号已通过邮件链接重置了登录密码，所有设备上的登录均已退出。如非本人操作，请立即联系平台管理员。",
    )
    session.commit()
    return user
