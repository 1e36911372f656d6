"""A registration waiting for its email confirmation: nothing is created until the link is opened."""

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from models.tables import utcnow


class PendingRegistration(SQLModel, table=True):
    """The registration form as submitted (the password already hashed), and the SHA-256 of the
    single-use token mailed to the address; the account is created when the token is used."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=20)  # enterprise | provider
    email: str = Field(max_length=254, index=True)
    form: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))  # no password
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    used_at: datetime | None = None
