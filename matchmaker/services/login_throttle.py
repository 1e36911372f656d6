"""Login throttling per (client address, account) pair, per account and per client address, counted in
the database.

The attempts live in a table rather than in process memory so that every gunicorn worker (and every
app server) counts against the same budget. A key with `limit` rows within the last `window` is refused
until the oldest of those rows leaves the window; a refused attempt checks no password and is not
counted, so the time the message names holds.

An attempt is counted *before* its password is checked (`admit`): under a lock, the keys are checked and
the attempt's rows written, and the lock is released before the (slow) password hash. Checking first
and counting after the hash let 40 parallel guesses through 12 password checks against a limit of 5;
now no more attempts than the limit reach the hash. The lock is SQLite's write lock (BEGIN IMMEDIATE,
`begin_write`) or, on PostgreSQL, transaction-scoped advisory locks on the account's and the address's
keys (the rows they count may not exist yet, so there is no row to lock).

The pair limit is the lowest: a stranger who knows an email locks the account only from the addresses
they try from, while its owner, elsewhere, signs in. The account-wide limit, higher, stops guessing
spread over many addresses; the lock-out messages name the way out, a password reset by email, which
clears the account's count (`clear_account`). A successful login forgets the account's and the pair's rows and
its own address row, not the address's other rows: a valid account of one's own must not reset the
budget for guessing other accounts' passwords from the same address.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, text
from sqlmodel import Session, col, select

from models import begin_write
from models.security import ACCOUNT, IP, PAIR, LoginFailure

BEIJING = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    per_pair: int = 5
    per_account: int = 20
    per_ip: int = 20
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Attempt:
    """An admitted attempt: the rows that count it."""

    email: str
    ip: str
    ip_row: int


class LoginThrottle:
    """One per app; `clock` returns an aware UTC datetime (tests move it instead of sleeping)."""

    def __init__(self, limits: Limits, clock: Clock = _utcnow) -> None:
        self.limits = limits
        self.clock = clock

    def admit(self, session: Session, email: str, ip: str) -> Attempt | str:
        """Count an attempt before its password is checked (commits): the attempt, or the Chinese
        message to show instead of checking the password."""
        now = self._now()
        _serialise(session, _email_key(email), ip)
        session.exec(delete(LoginFailure).where(col(LoginFailure.created_at) <= now - self.limits.window))
        refusal = self._refusal(session, email, ip, now)
        if refusal is not None:
            session.commit()  # the purge; the attempt is not counted
            return refusal
        rows = [
            LoginFailure(kind=PAIR, key=_pair_key(email, ip), created_at=now),
            LoginFailure(kind=ACCOUNT, key=_email_key(email), created_at=now),
            LoginFailure(kind=IP, key=ip, created_at=now),
        ]
        session.add_all(rows)
        session.flush()
        attempt = Attempt(email, ip, rows[2].id or 0)
        session.commit()
        return attempt

    def failed(self, session: Session, attempt: Attempt) -> str | None:
        """After a wrong password (already counted): the lock-out message when it locked a key."""
        return self._refusal(session, attempt.email, attempt.ip, self._now())

    def succeeded(self, session: Session, attempt: Attempt) -> None:
        """Forget the account's failures (from this address and others) and this attempt (commits)."""
        clear_account(session, attempt.email)
        session.exec(delete(LoginFailure).where(col(LoginFailure.id) == attempt.ip_row))
        session.commit()

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _refusal(self, session: Session, email: str, ip: str, now: datetime) -> str | None:
        pair_until = self._locked_until(session, PAIR, _pair_key(email, ip), self.limits.per_pair, now)
        if pair_until is not None:
            return _account_message(pair_until)
        account_until = self._locked_until(session, ACCOUNT, _email_key(email), self.limits.per_account, now)
        if account_until is not None:
            return _account_message(account_until)
        ip_until = self._locked_until(session, IP, ip, self.limits.per_ip, now)
        if ip_until is not None:
            return _ip_message(ip_until)
        return None

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


def clear_account(session: Session, email: str) -> None:
    """Forget the account's failures, from every address (after a successful login or a password reset);
    the caller commits."""
    pair_prefix = _pair_key(email, "")
    session.exec(
        delete(LoginFailure).where(
            or_(
                (col(LoginFailure.kind) == ACCOUNT) & (col(LoginFailure.key) == _email_key(email)),
                (col(LoginFailure.kind) == PAIR) & col(LoginFailure.key).startswith(pair_prefix),
            )
        )
    )


def _serialise(session: Session, account_key: str, ip: str) -> None:
    """Hold the lock under which keys are counted and attempts written, until the session commits."""
    begin_write(session)  # SQLite: the database's write lock; PostgreSQL: nothing
    if session.connection().dialect.name == "postgresql":
        for key in (f"{ACCOUNT}:{account_key}", f"{IP}:{ip}"):  # always in this order: no deadlock
            session.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_lock_id(key)))


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def _email_key(email: str) -> str:
    return email.strip().lower()[:254]


def _pair_key(email: str, ip: str) -> str:
    """The account's digest (an email may be 254 characters long) then the address."""
    return f"{hashlib.sha256(_email_key(email).encode()).hexdigest()[:32]}|{ip}"[:254]


def _beijing(moment: datetime) -> str:
    """The retry time in Beijing time, rounded up to the minute so trying at that minute works."""
    moment = moment.astimezone(BEIJING)
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment.strftime("%H:%M")


def _account_message(until: datetime) -> str:
    return (
        f"该账号登录失败次数过多，已临时锁定，请于 {_beijing(until)}（北京时间）后再试；"
        "账号本人可点击“忘记密码”，通过邮件重置密码后立即登录"
    )


def _ip_message(until: datetime) -> str:
    return f"当前网络登录失败次数过多，请于 {_beijing(until)}（北京时间）后再试"
