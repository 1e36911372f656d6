"""Matchmaking events (链上坪山 供需对接会): the event an admin creates and publishes, with its
meeting window cut into slots, and the input schema its form and services validate with.

The status is a plain string column (values in `EventStatus`) rather than a database enum, so later
states need no enum migration on PostgreSQL.
"""

import secrets
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.schemas import CleanList
from models.tables import utcnow

MAX_SLOTS = 48  # a day of 10-minute slots is 8 hours: more is a typing error


class EventStatus(StrEnum):
    draft = "draft"  # being prepared, seen by admins only
    published = "published"  # open for registration until the deadline
    closed = "closed"  # registration closed (by the admin or at the deadline)


class EventWrite(SQLModel):
    """What the admin's form hands to `services.events`: every rule of an event's shape."""

    title: str = Field(min_length=2, max_length=120)
    industries: CleanList = Field(default_factory=list, max_length=20)
    domains: CleanList = Field(default_factory=list, max_length=10)
    event_date: date
    venue: str = Field(min_length=2, max_length=200)
    start_time: time
    slot_minutes: int = Field(ge=10, le=120)
    slot_count: int = Field(ge=1, le=MAX_SLOTS)
    tables: int = Field(ge=1, le=500)
    registration_deadline: datetime
    meeting_cap: int = Field(ge=1, le=MAX_SLOTS)

    @model_validator(mode="after")
    def _window(self) -> "EventWrite":
        start = datetime.combine(self.event_date, self.start_time)
        if start + timedelta(minutes=self.slot_minutes * self.slot_count) > datetime.combine(
            self.event_date + timedelta(days=1), time()
        ):
            raise ValueError("会谈时段不能跨越当天午夜，请减少时段数或时长")
        if self.registration_deadline.replace(tzinfo=None) > start:
            raise ValueError("报名截止时间应早于会谈开始时间")
        if self.meeting_cap > self.slot_count:
            raise ValueError("每个参会方的会谈上限不能超过时段数")
        return self


class Event(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=120)
    industries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    domains: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    event_date: date
    venue: str = Field(max_length=200)
    start_time: time
    slot_minutes: int
    slot_count: int
    tables: int
    registration_deadline: datetime  # UTC
    meeting_cap: int
    status: str = Field(default=EventStatus.draft, max_length=20, index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def slot_times(self) -> list[tuple[datetime, datetime]]:
        """Start and end of every slot, local (naive) times of the event day."""
        start = datetime.combine(self.event_date, self.start_time)
        step = timedelta(minutes=self.slot_minutes)
        return [(start + i * step, start + (i + 1) * step) for i in range(self.slot_count)]


def checkin_token() -> str:
    """The unguessable token of a registration's check-in QR code (192 random bits)."""
    return secrets.token_urlsafe(24)


class EventRegistration(SQLModel, table=True):
    """One participant of an event: an enterprise with its needs, or a provider with its solutions,
    and the slots (indexes into `Event.slot_times`) it is available for. Its check-in token is what
    the QR code on the printed agenda carries; `reminded_at` makes the day-before reminder go once."""

    __table_args__ = (
        UniqueConstraint("event_id", "enterprise_id"),
        UniqueConstraint("event_id", "provider_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id", index=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    need_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    solution_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    slots: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    checkin_token: str = Field(default_factory=checkin_token, max_length=64, unique=True, index=True)
    checked_in_at: datetime | None = None
    reminded_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class MeetingStatus(StrEnum):
    requested = "requested"
    accepted = "accepted"
    declined = "declined"


class Attendance(StrEnum):
    held = "held"  # both sides checked in and met
    no_show = "no_show"  # at least one side did not come


class Outcome(StrEnum):
    interested = "interested"  # 有合作意向
    none = "none"  # 暂无


class EventMeeting(SQLModel, table=True):
    """A 1:1 meeting one side of an event asked the other for: a registered need and a registered
    provider's solution. Its slot and table come from the schedule."""

    __table_args__ = (UniqueConstraint("event_id", "need_id", "solution_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    need_id: int = Field(foreign_key="need.id")
    solution_id: int = Field(foreign_key="solution.id")
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    requested_by: str = Field(max_length=20)  # enterprise | provider
    message: str = Field(default="", max_length=200)
    score: float = 0.0  # the match score when requested: the schedule's weight
    status: str = Field(default=MeetingStatus.requested, max_length=20, index=True)
    slot: int | None = None  # from the schedule: an index into Event.slot_times
    table_no: int | None = None  # 1-based table number
    unplaced_reason: str = Field(default="", max_length=200)  # why the last schedule found no place
    attendance: str = Field(default="", max_length=20)  # "" until the admin marks it (values in Attendance)
    enterprise_outcome: str = Field(default="", max_length=20)  # each side's verdict after it was held (Outcome)
    provider_outcome: str = Field(default="", max_length=20)
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
