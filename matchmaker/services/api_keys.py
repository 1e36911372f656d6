"""API keys: issue (the token is returned once), authenticate, revoke, and log calls.

A token reads `pmk_<prefix>_<secret>`: the prefix names the key in lists and logs, the secret is 32
random bytes. Only the SHA-256 of the whole token is stored, so a leaked database yields no usable key.
Issuing and revoking are admin state changes: both are written to the audit log with the reason.
"""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, text, update
from sqlmodel import Session, col, select

from matchmaker.matching.search_index import API_KEYS_COUNTER
from matchmaker.services import audit, changes
from matchmaker.services.errors import ServiceError
from models import ApiCallLog, ApiKey, Enterprise, Provider, Role, User, utcnow

TOKEN_PREFIX = "pmk"
LAST_USED_PRECISION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """(prefix, token) for a new key."""
    prefix = secrets.token_hex(4)
    return prefix, f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown to the admin once; not stored anywhere


def issue(
    session: Session,
    actor_id: int,
    role: Role,
    label: str,
    reason: str,
    enterprise_id: int | None = None,
    provider_id: int | None = None,
) -> IssuedKey:
    """Issue a key for an enterprise, a provider, or (role admin) for the issuing admin themself."""
    label, reason = label.strip(), reason.strip()
    if not label:
        raise ServiceError("请填写密钥用途说明", field="label")
    if not reason:
        raise ServiceError("请填写签发理由", field="reason")
    owner = _owner(session, actor_id, Role(role), enterprise_id, provider_id)
    prefix, token = new_token()
    key = ApiKey(
        prefix=prefix, token_hash=token_hash(token), role=Role(role), label=label, created_by=actor_id, **owner
    )
    session.add(key)
    session.flush()
    audit.record(session, actor_id, "api_key.issue", "api_key", key.id, reason, prefix=prefix, role=key.role, **owner)
    session.commit()
    return IssuedKey(key, token)


def _owner(
    session: Session, actor_id: int, role: Role, enterprise_id: int | None, provider_id: int | None
) -> dict[str, int]:
    if role == Role.enterprise:
        if enterprise_id is None or session.get(Enterprise, enterprise_id) is None:
            raise ServiceError("请选择密钥所属的企业", field="enterprise_id")
        return {"enterprise_id": enterprise_id}
    if role == Role.provider:
        if provider_id is None or session.get(Provider, provider_id) is None:
            raise ServiceError("请选择密钥所属的服务商", field="provider_id")
        return {"provider_id": provider_id}
    admin = session.get(User, actor_id)
    if admin is None or admin.role != Role.admin:
        raise ServiceError("只有管理员可以签发管理员密钥")
    return {"admin_user_id": actor_id}


def revoke(session: Session, key_id: int, actor_id: int, reason: str, now: datetime | None = None) -> ApiKey:
    reason = reason.strip()
    if not reason:
        raise ServiceError("请填写吊销理由", field="reason")
    key = session.get(ApiKey, key_id)
    if key is None:
        raise ServiceError("密钥不存在")
    if key.revoked_at is not None:
        raise ServiceError("该密钥已被吊销")
    key.revoked_at = now or utcnow()
    session.add(key)
    changes.bump(session, API_KEYS_COUNTER)  # every worker drops the keys it cached (matchmaker.api.keys)
    audit.record(session, actor_id, "api_key.revoke", "api_key", key.id, reason, prefix=key.prefix)
    session.commit()
    return key


def authenticate(session: Session, token: str) -> ApiKey | None:
    """The live key this token belongs to, or None (unknown, malformed or revoked alike)."""
    if not token.startswith(f"{TOKEN_PREFIX}_") or len(token) > 100:
        return None
    key = session.exec(select(ApiKey).where(ApiKey.token_hash == token_hash(token))).first()
    if key is None or key.revoked_at is not None:
        return None
    return key


@dataclass(frozen=True)
class Call:
    """One API call made with a key: what was asked, the answer's status, when."""

    key_id: int
    method: str
    path: str
    status: int
    at: datetime


def log_calls(session: Session, calls: Sequence[Call]) -> None:
    """Record calls and stamp their keys as used; commits (the caller passes a session of its own)."""
    if not calls:
        return
    if session.get_bind().dialect.name == "postgresql":
        # A usage record, not a business fact: losing the last instant of them in a crash is acceptable,
        # waiting for the WAL flush on each write is not (this transaction only).
        session.exec(text("SET LOCAL synchronous_commit TO OFF"))
    session.add_all(
        ApiCallLog(key_id=c.key_id, method=c.method[:10], path=c.path[:300], status=c.status, created_at=c.at)
        for c in calls
    )
    last_use: dict[int, datetime] = {}
    for call in calls:
        last_use[call.key_id] = max(call.at, last_use.get(call.key_id, call.at))
    for key_id, at in last_use.items():
        # To the minute: a busy key's writers would otherwise queue on its row's lock, one commit at a time.
        stale = or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < at - LAST_USED_PRECISION)
        session.exec(update(ApiKey).where(col(ApiKey.id) == key_id, stale).values(last_used_at=at))
    session.commit()


def owner_name(session: Session, key: ApiKey) -> str:
    if key.enterprise_id is not None:
        enterprise = session.get(Enterprise, key.enterprise_id)
        return enterprise.name if enterprise else ""
    if key.provider_id is not None:
        provider = session.get(Provider, key.provider_id)
        return provider.name if provider else ""
    user = session.get(User, key.admin_user_id) if key.admin_user_id else None
    return user.display_name if user else ""


def keys_page(session: Session, page: int, per_page: int) -> tuple[list[tuple[ApiKey, str]], int]:
    """Newest keys first, each with its owner's name."""
    total = session.exec(select(func.count()).select_from(ApiKey)).one()
    keys = session.exec(select(ApiKey).order_by(ApiKey.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return [(key, owner_name(session, key)) for key in keys], total


def calls_page(session: Session, key_id: int, page: int, per_page: int) -> tuple[list[ApiCallLog], int]:
    query = select(ApiCallLog).where(ApiCallLog.key_id == key_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(ApiCallLog.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def acting_user_id(session: Session, key: ApiKey) -> int | None:
    """The user an API call acts as: the owning organisation's account, else the admin who issued the key."""
    if key.enterprise_id is not None:
        enterprise = session.get(Enterprise, key.enterprise_id)
        if enterprise is not None and enterprise.user_id is not None:
            return enterprise.user_id
    if key.provider_id is not None:
        provider = session.get(Provider, key.provider_id)
        if provider is not None and provider.user_id is not None:
            return provider.user_id
    return key.admin_user_id or key.created_by
