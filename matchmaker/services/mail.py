"""The outbox sender: delivers queued `OutboxMail` rows by SMTP, retries failures, never sends a
mail twice on its own.

Claiming is an optimistic update: `UPDATE ... SET status = 'sending', attempts = n + 1,
next_attempt_at = now + backoff WHERE id = ? AND status = 'pending' AND attempts = n`, committed
before the mail is handed to the SMTP server. Of two senders (gunicorn workers, or two `flask
send-mail` loops) that read the same due row, only one update matches; the other sees a changed row
and moves on. After the server's answer the row becomes sent, pending (a temporary failure: tried
again after the backoff) or failed.

A crash between handing the mail over and recording the answer (a SIGKILL, a power cut) leaves the
row 'sending': the server may have accepted it or not, and nobody knows which. The sender never
resends such a row blindly; once its claim has run out (next_attempt_at passed) it is listed on the
admin's page of undelivered mail, where the admin re-queues it with a reason or leaves it. Every
copy of a mail, a re-queued one too, is the same message: the same body, the same Date (the row's
creation time) and the same Message-ID, `<outbox.{id}.{created}.{install}@{sender domain}>`, where
`install` is derived from the instance's SECRET_KEY, so two installations (or a database recreated
with the same ids) never share one. A receiving server or client that already has the message can
drop the duplicate.

A failure keeps the row pending with the error; the wait doubles with each attempt (from
MATCHMAKER_MAIL_BACKOFF_SECONDS, at most MAX_BACKOFF); after MATCHMAKER_MAIL_MAX_ATTEMPTS, or on a
permanent refusal (5xx), the row is marked failed and stays in the table, so nothing is lost.
"""

import hashlib
import hmac
import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
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
    install: str = "local"  # this installation's part of every Message-ID (see install_tag)

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
            install=install_tag(str(config["SECRET_KEY"])),
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


def install_tag(secret_key: str) -> str:
    """A stable tag of this installation for Message-IDs: derived from its secret key, revealing nothing of it."""
    return hmac.new(secret_key.encode(), b"outbox message-id", hashlib.sha256).hexdigest()[:16]


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
    """Take the mail for one attempt (it becomes 'sending') if nobody has since `attempts` was read; commits."""
    result = session.exec(
        update(OutboxMail)
        .where(
            col(OutboxMail.id) == mail_id,
            col(OutboxMail.status) == MailStatus.pending,
            col(OutboxMail.attempts) == attempts,
        )
        .values(status=MailStatus.sending, attempts=attempts + 1, next_attempt_at=now + settings.backoff(attempts + 1))
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
                built = message(mail, settings)
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


def message_id(mail: OutboxMail, settings: MailSettings) -> str:
    """The mail's Message-ID, the same for every copy of it (see the module's docstring)."""
    created = _utc(mail.created_at).strftime("%Y%m%d%H%M%S%f")
    domain = settings.sender.rpartition("@")[2] or "pingshan-matchmaker.local"
    return f"<outbox.{mail.id}.{created}.{settings.install}@{domain}>"


def message(mail: OutboxMail, settings: MailSettings) -> EmailMessage:
    """The mail as it goes out; built again for a retry or a re-queue, it is the same message."""
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = mail.to_address
    msg["Subject"] = one_line(mail.subject)
    msg["Date"] = format_datetime(_utc(mail.created_at))
    msg["Message-ID"] = message_id(mail, settings)
    msg.set_content(absolute_links(mail.body, settings.base_url))
    return msg


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite returns times without their zone


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
