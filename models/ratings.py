"""Periodic star ratings (评星评级) of whitelisted providers: one row per provider and quarter."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables import utcnow


class RatingStatus(StrEnum):
    computed = "computed"  # worked out by `flask rate-providers`, open to the admin's review
    published = "published"  # shown to the provider and the public; the ranking prior reads it


class ProviderRating(SQLModel, table=True):
    """A provider's stars for one quarter: what the formula gave, what stands (the admin's adjustment
    or an upheld appeal may differ), the tier that follows, and the inputs it was worked out from."""

    __table_args__ = (UniqueConstraint("provider_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    period: str = Field(max_length=6, index=True)  # e.g. "2027Q1"
    score: float  # the formula's score in [0, 1]
    computed_stars: int  # 1-5, from the score
    stars: int  # 1-5, the stars that stand (computed_stars unless adjusted)
    tier: str = Field(max_length=20)  # the tier's name (梯队), from stars and track record
    inputs: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    status: str = Field(default=RatingStatus.computed, max_length=20, index=True)  # a RatingStatus value
    adjusted_by: int | None = Field(default=None, foreign_key="user.id")
    adjust_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    adjusted_at: datetime | None = None
    whitelist_event_id: int | None = Field(default=None, foreign_key="whitelistevent.id")  # the publication
    computed_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
