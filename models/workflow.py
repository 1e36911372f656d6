"""Tables of the service workflows: dockings (对接) with their timelines, feedback on matches,
in-app notifications, the email outbox, push records, provider warnings and appeals.

Kept apart from `tables.py` (the catalogue: accounts, organisations, taxonomy, solutions, needs)
because these rows record what people did with the catalogue, each with its actor and time.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables import utcnow


def _text() -> Column:
    return Column(Text, nullable=False, default="")


class DockingStatus(StrEnum):
    requested = "requested"  # the enterprise asked the provider (对接申请)
    accepted = "accepted"  # the provider agreed to talk; contact details are now shown
    declined = "declined"  # the provider declined, with a reason
    negotiating = "negotiating"
    contracted = "contracted"  # amount (万元) and date recorded
    completed = "completed"  # delivered and accepted by the enterprise (验收), with satisfaction
    cancelled = "cancelled"


class Docking(SQLModel, table=True):
    """An enterprise asking a provider about one solution for one need, through to acceptance."""

    __table_args__ = (UniqueConstraint("need_id", "solution_id"),)

    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(foreign_key="need.id", index=True)
    solution_id: int = Field(foreign_key="solution.id", index=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    status: DockingStatus = Field(default=DockingStatus.requested, max_length=20, index=True)
    message: str = Field(default="", sa_column=_text())  # the enterprise's request note
    contract_amount: float | None = None  # 万元
    contract_date: date | None = None
    satisfaction: int | None = None  # 1-5, given on acceptance
    acceptance_comment: str = Field(default="", sa_column=_text())
    origin_event_id: int | None = Field(default=None, foreign_key="event.id", index=True)  # met at this event
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DockingEvent(SQLModel, table=True):
    """One move of a docking: the timeline both sides see."""

    id: int | None = Field(default=None, primary_key=True)
    docking_id: int = Field(foreign_key="docking.id", index=True)
    from_status: str = Field(default="", max_length=20)
    to_status: str = Field(max_length=20)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    note: str = Field(default="", sa_column=_text())
    created_at: datetime = Field(default_factory=utcnow)


class MatchFeedback(SQLModel, table=True):
    """An enterprise's verdict on one recommended solution (有用 / 不相关), for later learning."""

    __table_args__ = (UniqueConstraint("need_id", "solution_id"),)

    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(foreign_key="need.id", index=True)
    solution_id: int = Field(foreign_key="solution.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    verdict: str = Field(max_length=20)  # useful | irrelevant
    created_at: datetime = Field(default_factory=utcnow)


class Notification(SQLModel, table=True):
    """An in-app message to one user (站内消息)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=30)  # need_pushed | solution_pushed | docking | whitelist | reminder | project
    title: str = Field(max_length=200)
    body: str = Field(default="", sa_column=_text())
    link: str = Field(default="", max_length=300)
    read_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class MailStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after the maximum attempts
    sending = "sending"  # handed to the SMTP server, outcome not yet recorded (see services/mail.py)


class OutboxMail(SQLModel, table=True):
    """An email written in the same transaction as the change it reports, sent later by the outbox
    sender, so a slow or failing mail server never blocks or loses a user's request."""

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: MailStatus = Field(default=MailStatus.pending, max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    last_error: str = Field(default="", sa_column=_text())
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class PushRecord(SQLModel, table=True):
    """One precise push (精准推送): a need shown to a provider, or a solution to an enterprise."""

    __table_args__ = (UniqueConstraint("need_id", "solution_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=30)  # need_to_provider | solution_to_enterprise (22 characters)
    need_id: int = Field(foreign_key="need.id", index=True)
    solution_id: int = Field(foreign_key="solution.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    score: float
    rank: int
    explanation: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AppealStatus(StrEnum):
    pending = "pending"
    upheld = "upheld"  # the appeal succeeds: the provider is approved / reinstated
    dismissed = "dismissed"


class Appeal(SQLModel, table=True):
    """One appeal (申诉) against one decision: a provider's against a rejection, suspension or revocation
    (`whitelist_event_id`), or an enterprise's against its retrofit project's 不予入选 (`project_event_id`).
    Exactly one of the two names the decision appealed against."""

    __table_args__ = (UniqueConstraint("whitelist_event_id"), UniqueConstraint("project_event_id"))

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    whitelist_event_id: int | None = Field(default=None, foreign_key="whitelistevent.id")
    project_event_id: int | None = Field(default=None, foreign_key="projectevent.id")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    status: AppealStatus = Field(default=AppealStatus.pending, max_length=20, index=True)
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decision_reason: str = Field(default="", sa_column=_text())
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None


class IdentityChange(SQLModel, table=True):
    """A provider's request to change what its whitelist review vouched for (name, 统一社会信用代码,
    service domains) while it is applied for or listed. The record keeps its reviewed identity until an
    admin approves the change; `approved` is None while the request waits."""

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    name: str = Field(max_length=120)
    credit_code: str = Field(max_length=18)
    domains: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    requested_by: int | None = Field(default=None, foreign_key="user.id")
    approved: bool | None = None
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decision_reason: str = Field(default="", sa_column=_text())
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
