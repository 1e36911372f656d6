"""The outbox sender: delivers queued `OutboxMail` rows by SMTP, retries failures, never sends twice.

Claiming is an optimistic update: `UPDATE ... SET attempts = n + 1, next_attempt_at = now + backoff
WHERE id = ? AND status = 'pending' AND attempts = n`, committed before the mail is sent. Of two
senders (gunicorn workers, or two `flask send-mail` loops) that read the same due row, only one
update matches; the other sees a changed row and moves on. The claim also schedules the retry, so a
sender that dies while sending leaves the row to be tried again after the backoff (at-least-once:
the only way a mail can go twice is a crash between the server's "250 OK" and the status update).

A failure keeps the row pending with the error; the wait doubles with each attempt (from
MATCHMAKER_MAIL_BACKOFF_SECONDS, at most MAX_BACKOFF); after MATCHMAKER_MAIL_MAX_ATTEMPTS, or on a
permanent refusal (5xx), the row is marked failed and stays in the table, so nothing is lost.
"""

import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from matchmaker.services.notifications import LINK_LABEL, one_line
from models import MailStatus, OutboxMail

logger = logging.getLogger(__name__)

BATCH = 100  # mails read per call; the loop calls again at its next tick
MAX_BACKOFF = timedelta(hours=6)
_LINK_LINE = re.compile(rf"^({re.escape(LINK_LABEL)})(/\S*)$", re.MULTILINE)


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "noreply@pingshan-matchmaker.local"
    base_url: str = ""
    max_attempts: int = 8
    backoff_seconds: int = 60
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "MailSettings":
        return cls(
            host=str(config["MATCHMAKER_SMTP_HOST"] or "").strip(),
            port=int(config["MATCHMAKER_SMTP_PORT"]),
            user=str(config["MATCHMAKER_SMTP_USER"] or ""),
            password=str(config["MATCHMAKER_SMTP_PASSWORD"] or ""),
            starttls=bool(config["MATCHMAKER_SMTP_STARTTLS"]),
            sender=str(config["MATCHMAKER_SMTP_SENDER"]),
            base_url=str(config["MATCHMAKER_BASE_URL"] or ""),
            max_attempts=int(config["MATCHMAKER_MAIL_MAX_ATTEMPTS"]),
            backoff_seconds=int(config["MATCHMAKER_MAIL_BACKOFF_SECONDS"]),
        )

    def backoff(self, attempt: int) -> timedelta:
        """The wait after attempt number `attempt` (1-based) before the next one."""
        return min(timedelta(seconds=self.backoff_seconds * 2 ** (attempt - 1)), MAX_BACKOFF)


@dataclass
class MailCounts:
    sent: int = 0
    retrying: int = 0  # failed this time; pending for a later attempt
    failed: int = 0  # given up: marked failed
    queued: int = 0  # due but left in the outbox because no SMTP host is configured
    taken: int = 0  # claimed by another sender first

    def __bool__(self) -> bool:
        return any((self.sent, self.retrying, self.failed, self.queued, self.taken))


def absolute_links(body: str, base_url: str) -> str:
    """Make the site-relative link lines that `notify` writes absolute, for a mail client."""
    base = base_url.rstrip("/")
    return _LINK_LINE.sub(lambda m: f"{m.group(1)}{base}{m.group(2)}", body) if base else body


def pending_count(session: Session) -> int:
    query = select(func.count()).select_from(OutboxMail).where(OutboxMail.status == MailStatus.pending)
    return session.exec(query).one()


def due(session: Session, now: datetime, limit: int = BATCH) -> list[tuple[int, int]]:
    """(id, attempts) of pending mails whose time has come, oldest first."""
    query = (
        select(OutboxMail.id, OutboxMail.attempts)
        .where(OutboxMail.status == MailStatus.pending, OutboxMail.next_attempt_at <= now)
        .order_by(col(OutboxMail.next_attempt_at), col(OutboxMail.id))
        .limit(limit)
    )
    return [(mail_id, attempts) for mail_id, attempts in session.exec(query)]


def claim(session: Session, mail_id: int, attempts: int, now: datetime, settings: MailSettings) -> bool:
    """Take the mail for one attempt if nobody has since `attempts` was read; commits."""
    result = session.exec(
        update(OutboxMail)
        .where(
            col(OutboxMail.id) == mail_id,
            col(OutboxMail.status) == MailStatus.pending,
            col(OutboxMail.attempts) == attempts,
        )
        .values(attempts=attempts + 1, next_attempt_at=now + settings.backoff(attempts + 1))
    )
    session.commit()
    return result.rowcount == 1


def send_due(session: Session, settings: MailSettings, now: datetime, limit: int = BATCH) -> MailCounts:
    """Send the mails due at `now` (up to `limit`); returns what happened to them."""
    counts = MailCounts()
    rows = due(session, now, limit)
    if not settings.host:
        counts.queued = len(rows)
        if rows:
            logger.warning(
                "SMTP host not configured (MATCHMAKER_SMTP_HOST): %d due mail(s) stay queued in the outbox", len(rows)
            )
        return counts
    connection = _Connection(settings)
    try:
        for mail_id, attempts in rows:
            if not claim(session, mail_id, attempts, now, settings):
                counts.taken += 1
                continue
            attempt = attempts + 1
            mail = session.exec(select(OutboxMail).where(OutboxMail.id == mail_id)).one()
            try:
                built = message(mail, settings, now)
            except (ValueError, TypeError) as error:  # a header the mail library refuses: never sendable
                _finish(session, mail_id, attempt, MailStatus.failed, error=error)
                logger.warning("mail %s to %s cannot be built: %s", mail_id, mail.to_address, error)
                counts.failed += 1
                continue
            try:
                connection.send(built)
            except (smtplib.SMTPException, OSError) as error:
                gave_up = attempt >= settings.max_attempts or _permanent(error)
                _finish(session, mail_id, attempt, MailStatus.failed if gave_up else MailStatus.pending, error=error)
                logger.warning("mail %s to %s failed (attempt %d): %s", mail_id, mail.to_address, attempt, error)
                if gave_up:
                    counts.failed += 1
                else:
                    counts.retrying += 1
            else:
                _finish(session, mail_id, attempt, MailStatus.sent, sent_at=now)
                counts.sent += 1
    finally:
        connection.close()
    return counts


def message(mail: OutboxMail, settings: MailSettings, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = mail.to_address
    msg["Subject"] = one_line(mail.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring=f"outbox.{mail.id}", domain=settings.sender.rpartition("@")[2] or None)
    msg.set_content(absolute_links(mail.body, settings.base_url))
    return msg


def _permanent(error: Exception) -> bool:
    """A 5xx answer will not change by retrying (unknown mailbox, rejected sender)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _finish(
    session: Session,
    mail_id: int,
    attempt: int,
    status: MailStatus,
    error: Exception | None = None,
    sent_at: datetime | None = None,
) -> None:
    """Record the outcome of our claimed attempt (matched on it, so a stale sender changes nothing)."""
    last_error = f"{type(error).__name__}: {error}"[:2000] if error else ""
    values: dict[str, Any] = {"status": status, "last_error": last_error}
    if sent_at is not None:
        values["sent_at"] = sent_at
    session.exec(
        update(OutboxMail).where(col(OutboxMail.id) == mail_id, col(OutboxMail.attempts) == attempt).values(**values)
    )
    session.commit()


class _Connection:
    """One SMTP connection for a batch, opened on first use and reopened after an error."""

    def __init__(self, settings: MailSettings) -> None:
        self._settings = settings
        self._smtp: smtplib.SMTP | None = None

    def send(self, msg: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.send_message(msg)
        except BaseException:
            self.close()
            raise

    def _open(self) -> smtplib.SMTP:
        s = self._settings
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._smtp.close()
        self._smtp = None
