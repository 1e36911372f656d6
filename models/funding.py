"""Where an enterprise stands on the way to funding: its smart-manufacturing maturity over time."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.tables import utcnow


class MaturityChange(SQLModel, table=True):
    """One change of an enterprise's 智能制造能力成熟度 level or 智能工厂 tier: the values it changed to,
    who changed them and when; the dashboard's change in level over time is read from these rows."""

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    from_level: int = 0
    to_level: int = 0
    maturity_source: str = Field(default="", max_length=10)
    factory_tier: str = Field(default="", max_length=10)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, index=True)
