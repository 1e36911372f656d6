"""Telling people: an in-app notification, and the same message by email through the outbox.

Both rows are added to the caller's session, so they commit (or roll back) with the change they
report; the outbox sender delivers the email later and retries on failure.
"""

from sqlmodel import Session

from models import Notification, OutboxMail, User


def notify(
    session: Session, user_id: int, kind: str, title: str, body: str = "", link: str = "", email: bool = True
) -> Notification:
    """Add a notification for `user_id` and, with `email`, queue it to the user's address."""
    note = Notification(user_id=user_id, kind=kind, title=title, body=body, link=link)
    session.add(note)
    user = session.get(User, user_id)
    if email and user is not None and user.is_active:
        text = f"{body}\n\n{link}".strip() if link else body
        session.add(OutboxMail(to_address=user.email, subject=f"【坪山数字服务对接平台】{title}", body=text or title))
    return note
