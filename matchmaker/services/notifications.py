"""Telling people: an in-app notification, and the same message by email through the outbox.

Both rows are added to the caller's session, so they commit (or roll back) with the change they
report; the outbox sender (`services/mail.py`) delivers the email later and retries on failure.
Links are stored site-relative ("/inbox/pushed/3"); the sender makes the ones in emails absolute
with MATCHMAKER_BASE_URL when it sends, so queued mail follows a change of the site's address.
"""

from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from matchmaker.services.errors import ServiceError
from models import Notification, OutboxMail, User, utcnow

SUBJECT_PREFIX = "【坪山数字服务对接平台】"
LINK_LABEL = "查看详情："  # the line of an email body that carries the link (see mail.absolute_links)


def one_line(text: str) -> str:
    """Whitespace runs (line breaks included) collapsed to one space: a mail header holds one line."""
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notify(
    session: Session, user_id: int, kind: str, title: str, body: str = "", link: str = "", email: bool = True
) -> Notification:
    """Add a notification for `user_id` and, with `email`, queue it to the user's address."""
    note = Notification(user_id=user_id, kind=kind, title=_cut(title, 200), body=body, link=link[:300])
    session.add(note)
    user = session.get(User, user_id)
    if email and user is not None and user.is_active:
        text = "\n\n".join(part for part in (body, f"{LINK_LABEL}{link}" if link else "") if part)
        subject = _cut(one_line(f"{SUBJECT_PREFIX}{title}"), 200)
        session.add(OutboxMail(to_address=user.email, subject=subject, body=text or title))
    return note


def unread_count(session: Session, user_id: int) -> int:
    query = select(func.count()).where(Notification.user_id == user_id, col(Notification.read_at).is_(None))
    return session.exec(query).one()


def page(session: Session, user_id: int, number: int, per_page: int) -> tuple[list[Notification], int]:
    """One page of the user's notifications, newest first, and how many there are in all."""
    total = session.exec(select(func.count()).where(Notification.user_id == user_id)).one()
    rows = session.exec(
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
        .offset((number - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total


def own(session: Session, user_id: int, note_id: int) -> Notification:
    """The notification if it is the user's; the same error otherwise, so ids reveal nothing."""
    note = session.get(Notification, note_id)
    if note is None or note.user_id != user_id:
        raise ServiceError("消息不存在")
    return note


def mark_read(session: Session, user_id: int, note_id: int, now: datetime | None = None) -> Notification:
    note = own(session, user_id, note_id)
    if note.read_at is None:
        note.read_at = now or utcnow()
        session.add(note)
        session.commit()
    return note


def mark_all_read(session: Session, user_id: int, now: datetime | None = None) -> int:
    """Mark every unread notification of the user read; returns how many were unread."""
    result = session.exec(
        update(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        .values(read_at=now or utcnow())
    )
    session.commit()
    return result.rowcount
