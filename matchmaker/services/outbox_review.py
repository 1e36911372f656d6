"""The admin's view of the outbox: mail that was not delivered, and re-queueing it.

Listed are failed mail (given up after the last attempt, a permanent refusal, or a mail that could
not be built), kept with its error, and interrupted mail: 'sending' past its claim, i.e. handed to
the SMTP server by a sender that died before it recorded the answer (see services/mail.py), which
may or may not have arrived. The admin can put a mail back in the queue with a reason: its attempts
start again from zero and it goes at the next round, as the same message with the same Message-ID.
Every re-queue is audited (who, when, why, and what the mail's state was).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlmodel import Session, col, select

from matchmaker.services import audit
from matchmaker.services.errors import Conflict, ServiceError
from models import MailStatus, OutboxMail


def _needs_admin(now: datetime) -> ColumnElement[bool]:
    """Failed, or interrupted: still 'sending' after its claim ran out (a sender alive is long done)."""
    interrupted = and_(col(OutboxMail.status) == MailStatus.sending, col(OutboxMail.next_attempt_at) <= now)
    return or_(col(OutboxMail.status) == MailStatus.failed, interrupted)


@dataclass(frozen=True)
class Requeued:
    mail: OutboxMail
    previous: MailStatus


def attention_page(session: Session, page: int, per_page: int, now: datetime) -> tuple[list[OutboxMail], int]:
    """Undelivered mail needing the admin, most recently tried first."""
    where = _needs_admin(now)
    total = session.exec(select(func.count()).select_from(OutboxMail).where(where)).one()
    rows = session.exec(
        select(OutboxMail)
        .where(where)
        .order_by(col(OutboxMail.next_attempt_at).desc(), col(OutboxMail.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total


def requeue(session: Session, mail_id: int, actor_id: int, reason: str, now: datetime) -> Requeued:
    """Put an undelivered mail back in the queue: pending, no attempts, due at `now`; audited."""
    if not reason.strip():
        raise ServiceError("请填写重新发送的理由", field="reason")
    mail = session.get(OutboxMail, mail_id)
    if mail is None:
        raise ServiceError("邮件不存在")
    previous, attempts, error = mail.status, mail.attempts, mail.last_error
    # matched on the state read, so of two admins (or an admin and the sender) only one changes it
    result = session.exec(
        update(OutboxMail)
        .where(col(OutboxMail.id) == mail_id, col(OutboxMail.status) == previous, col(OutboxMail.attempts) == attempts)
        .where(_needs_admin(now))
        .values(status=MailStatus.pending, attempts=0, next_attempt_at=now, last_error="")
    )
    if result.rowcount != 1:
        session.rollback()
        raise Conflict("该邮件当前无需重新发送（可能已被其他管理员处理），请刷新页面")
    audit.record(
        session,
        actor_id,
        "mail.requeue",
        "outboxmail",
        mail_id,
        reason.strip(),
        previous_status=str(previous),
        attempts=attempts,
        last_error=error[:500],
        to_address=mail.to_address,
    )
    session.commit()
    session.refresh(mail)
    return Requeued(mail, previous)
