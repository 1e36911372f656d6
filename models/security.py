"""Security bookkeeping that must hold across every gunicorn worker: failed logins for throttling."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

ACCOUNT = "account"  # key: the lower-cased email that was tried, whether or not such an account exists
IP = "ip"  # key: the client address


class LoginFailure(SQLModel, table=True):
    """One failed login counted against one key; each failure writes an account row and an ip row."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key", "kind", "key", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # ACCOUNT or IP
    key: str = Field(max_length=254)
    created_at: datetime = Field(index=True)
