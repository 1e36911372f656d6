"""provider ratings: a provider's stars and tier per quarter (评星评级, 梯队)

Revision ID: i16c
Revises: i13c
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i16c"
down_revision: str | Sequence[str] | None = "i13c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "providerrating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=6), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("computed_stars", sa.Integer(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("adjusted_by", sa.Integer(), nullable=True),
        sa.Column("adjust_reason", sa.Text(), nullable=False),
        sa.Column("adjusted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("whitelist_event_id", sa.Integer(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["adjusted_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"]),
        sa.ForeignKeyConstraint(["whitelist_event_id"], ["whitelistevent.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id", "period"),
    )
    op.create_index("ix_providerrating_provider_id", "providerrating", ["provider_id"])
    op.create_index("ix_providerrating_period", "providerrating", ["period"])
    op.create_index("ix_providerrating_status", "providerrating", ["status"])


def downgrade() -> None:
    op.drop_index("ix_providerrating_status", table_name="providerrating")
    op.drop_index("ix_providerrating_period", table_name="providerrating")
    op.drop_index("ix_providerrating_provider_id", table_name="providerrating")
    op.drop_table("providerrating")
