"""identity change requests: a listed provider's new name, credit code or domains wait for an admin

Revision ID: i13a_identity_change
Revises: 0001
Create Date: 2026-12-04 12:38:40.203539
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i13a_identity_change"
down_revision: str | Sequence[str] | None = "i17a_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identitychange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["decided_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identitychange_provider_id", "identitychange", ["provider_id"])


def downgrade() -> None:
    op.drop_index("ix_identitychange_provider_id", table_name="identitychange")
    op.drop_table("identitychange")
