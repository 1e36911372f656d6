"""fusion weights in the database: one row per adoption by `flask refit-weights`

Revision ID: i12b_weights
Revises: i13a_identity_change
Create Date: 2026-12-04 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i12b_weights"
down_revision: str | Sequence[str] | None = "i13a_identity_change"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fusionweights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("semantic", sa.Float(), nullable=False),
        sa.Column("lexical", sa.Float(), nullable=False),
        sa.Column("industry", sa.Float(), nullable=False),
        sa.Column("size", sa.Float(), nullable=False),
        sa.Column("tags", sa.Float(), nullable=False),
        sa.Column("domain", sa.Float(), nullable=False),
        sa.Column("adopted_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["adopted_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("fusionweights")
