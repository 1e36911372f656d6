"""Tables of the open JSON API: the keys admins issue, and one light log row per call.

A key is shown once when issued; only its SHA-256 is kept (the token carries 256 random bits, so a
plain hash is enough: there is nothing to guess that a slow hash would protect). The short prefix is
stored in clear so an admin can tell keys apart in lists and logs without ever seeing a token again.
"""

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.tables import Role, utcnow


class ApiKey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=16, unique=True, index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)  # sha256 hex of the whole token
    role: Role = Field(max_length=20)
    # The owner, by role: the enterprise or provider the key acts for, or the admin user it acts as.
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id", index=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    admin_user_id: int | None = Field(default=None, foreign_key="user.id")
    label: str = Field(max_length=100)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiCallLog(SQLModel, table=True):
    """One API call made with a key: which key, what, the answer's status, when."""

    id: int | None = Field(default=None, primary_key=True)
    key_id: int = Field(foreign_key="apikey.id", index=True)
    method: str = Field(max_length=10)
    path: str = Field(max_length=300)
    status: int
    created_at: datetime = Field(default_factory=utcnow, index=True)
