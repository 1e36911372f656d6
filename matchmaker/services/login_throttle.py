"""Login throttling per account and per client address, counted in the database.

The failures live in a table rather than in process memory so that every gunicorn worker (and every
app server) counts against the same budget. A key (an account's email or a client address) with
`limit` failures within the last `window` is refused until the oldest of those failures leaves the
window; a refused attempt checks no password and is not counted, so the time the message names holds.
A successful login forgets the account's failures, not the address's: a valid account of one's own
must not reset the budget for guessing other accounts' passwords from the same address.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from models.security import ACCOUNT, IP, LoginFailure

BEIJING = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    per_account: int = 5
    per_ip: int = 20
    window: timedelta = timedelta(minutes=15)


class LoginThrottle:
    """One per app; `clock` returns an aware UTC datetime (tests move it instead of sleeping)."""

    def __init__(self, limits: Limits, clock: Clock = _utcnow) -> None:
        self.limits = limits
        self.clock = clock

    def refusal(self, session: Session, email: str, ip: str) -> str | None:
        """The Chinese message to show instead of checking the password, or None when allowed."""
        now = self._now()
        account_until = self._locked_until(session, ACCOUNT, _email_key(email), self.limits.per_account, now)
        if account_until is not None:
            return _account_message(account_until)
        ip_until = self._locked_until(session, IP, ip, self.limits.per_ip, now)
        if ip_until is not None:
            return _ip_message(ip_until)
        return None

    def failed(self, session: Session, email: str, ip: str) -> str | None:
        """Count a failed login (commits). Returns the lock-out message when this failure locked a key."""
        now = self._now()
        session.exec(delete(LoginFailure).where(col(LoginFailure.created_at) <= now - self.limits.window))
        session.add(LoginFailure(kind=ACCOUNT, key=_email_key(email), created_at=now))
        session.add(LoginFailure(kind=IP, key=ip, created_at=now))
        session.commit()
        return self.refusal(session, email, ip)

    def succeeded(self, session: Session, email: str) -> None:
        """Forget the account's failures after a correct password (commits)."""
        session.exec(
            delete(LoginFailure).where(col(LoginFailure.kind) == ACCOUNT, col(LoginFailure.key) == _email_key(email))
        )
        session.commit()

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _locked_until(self, session: Session, kind: str, key: str, limit: int, now: datetime) -> datetime | None:
        """When `key` may try again, or None when it is under its limit."""
        recent = (
            select(LoginFailure.created_at)
            .where(LoginFailure.kind == kind, LoginFailure.key == key)
            .where(LoginFailure.created_at > now - self.limits.window)
            .order_by(col(LoginFailure.created_at).desc())
        )
        count = session.exec(select(func.count()).select_from(recent.subquery())).one()
        if count < limit:
            return None
        # The limit-th most recent failure is the one whose expiry brings the count under the limit.
        pivot = session.exec(recent.offset(limit - 1).limit(1)).one()
        return pivot + self.limits.window


def _email_key(email: str) -> str:
    return email.strip().lower()[:254]


def _beijing(moment: datetime) -> str:
    """The retry time in Beijing time, rounded up to the minute so trying at that minute works."""
    moment = moment.astimezone(BEIJING)
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment.strftime("%H:%M")


def _account_message(until: datetime) -> str:
    return f"该账号登录失败次数过多，已临时锁定，请于 {_beijing(until)}（北京时间）后再试，或联系平台管理员"


def _ip_message(until: datetime) -> str:
    return f"当前网络登录失败次数过多，请于 {_beijing(until)}（北京时间）后再试"
