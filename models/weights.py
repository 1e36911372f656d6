"""The fusion weights the ranker uses, as adopted by `flask refit-weights`: one row per adoption."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.tables import utcnow


class FusionWeights(SQLModel, table=True):
    """Weights adopted at one time; the newest row is in force (none: fusion.DEFAULT_WEIGHTS).

    Rows are never changed or removed, so the history of adoptions stays; who and why are in the
    audit log entry written with the row."""

    id: int | None = Field(default=None, primary_key=True)
    semantic: float
    lexical: float
    industry: float
    size: float
    tags: float
    domain: float
    maturity: float = 0.0  # added with the maturity signal; rows adopted before it weigh it 0
    adopted_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
