"""The district's list of digital retrofit projects (数字化技改项目白名单): an enterprise's application,
every step of its review, objections raised during the public notice (公示), and progress once selected.

An appeal against 不予入选 is a row of `workflow.Appeal` naming the decision's `ProjectEvent`."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from models.tables import utcnow


def _text() -> Column:
    return Column(Text, nullable=False, default="")


class ProjectStatus(StrEnum):
    submitted = "submitted"  # 申报: waiting for 形式审查
    returned = "returned"  # 形式审查 found it incomplete; the enterprise may fix and resubmit
    accepted = "accepted"  # 形式审查 passed: waiting for 评审
    reviewed = "reviewed"  # 评审 scored: waiting for 公示
    publicity = "publicity"  # 公示 running (or ended, waiting for the decision)
    selected = "selected"  # 入选
    not_selected = "not_selected"  # 不予入选, with a reason (appealable once)
    completed = "completed"  # a selected project reported its completion


class RetrofitProject(SQLModel, table=True):
    """One project an enterprise applies with; the investments are in 万元."""

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    docking_id: int | None = Field(default=None, foreign_key="docking.id", index=True)
    name: str = Field(max_length=120)
    content: str = Field(sa_column=Column(Text, nullable=False))
    total_investment: float
    digital_investment: float
    start_on: date
    end_on: date
    provider_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    other_providers: str = Field(default="", max_length=200)  # providers not on the platform, free text
    expected_result: str = Field(sa_column=Column(Text, nullable=False))
    target_maturity: int = 0  # the 智能制造能力成熟度 level aimed for; 0 = not stated
    status: str = Field(default=ProjectStatus.submitted, max_length=20, index=True)  # a ProjectStatus value
    scores: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    score_total: int | None = None
    review_opinions: str = Field(default="", sa_column=_text())
    notice_from: date | None = None
    notice_until: date | None = None
    selected_on: date | None = None
    progress: int = 0  # percent, reported by the enterprise once selected
    completed_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ProjectEvent(SQLModel, table=True):
    """One step of a project: submit, accept, return, score, publicise, select, progress … with who and why."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="retrofitproject.id", index=True)
    action: str = Field(max_length=30)
    from_status: str = Field(default="", max_length=20)
    to_status: str = Field(max_length=20)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    reason: str = Field(default="", sa_column=_text())
    created_at: datetime = Field(default_factory=utcnow)


class ProjectObjection(SQLModel, table=True):
    """An objection (异议) a logged-in user raised while the project was on public notice."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="retrofitproject.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
