"""Security bookkeeping that must hold across every gunicorn worker: failed logins for throttling, and
the password reset links sent by email."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

ACCOUNT = "account"  # key: the lower-cased email that was tried, whether or not such an account exists
IP = "ip"  # key: the client address
PAIR = "pair"  # key: "<client address>|<lower-cased email>", one address's attempts at one account


class LoginFailure(SQLModel, table=True):
    """One failed login counted against one key; each failure writes an account row and an ip row."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key", "kind", "key", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # ACCOUNT or IP
    key: str = Field(max_length=254)
    created_at: datetime = Field(index=True)


class PasswordReset(SQLModel, table=True):
    """One password reset link. Only the SHA-256 of its token is stored, so a copy of the database
    opens no account; the link works once (`used_at`) and until `expires_at`."""

    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    reason: str = Field(default="", max_length=20)  # "self" (忘记密码) | "admin" (forced by an administrator)
