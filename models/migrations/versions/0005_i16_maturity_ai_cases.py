"""maturity: the enterprise's assessed or self-assessed level and 智能工厂 tier, its history, a need's
target level and the maturity band a solution serves; the AI-enabled scenarios of a success case

Revision ID: i16a_maturity
Revises: i12b_weights
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i16a_maturity"
down_revision: str | Sequence[str] | None = "i12b_weights"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# (table, column): the new columns, filled for existing rows by a server default that is dropped again
# (the models declare none).
def _columns() -> tuple[tuple[str, sa.Column], ...]:
    return (
        ("enterprise", sa.Column("maturity_source", sa.String(length=10), nullable=False, server_default="")),
        ("enterprise", sa.Column("maturity_assessed_on", sa.Date(), nullable=True)),
        ("enterprise", sa.Column("maturity_certificate", sa.String(length=60), nullable=False, server_default="")),
        ("enterprise", sa.Column("factory_tier", sa.String(length=10), nullable=False, server_default="")),
        ("enterprise", sa.Column("factory_tier_year", sa.Integer(), nullable=True)),
        ("need", sa.Column("target_maturity", sa.Integer(), nullable=False, server_default="0")),
        ("solution", sa.Column("maturity_band", sa.String(length=5), nullable=False, server_default="")),
        ("successcase", sa.Column("ai_scenarios", sa.JSON(), nullable=False, server_default="[]")),
        ("fusionweights", sa.Column("maturity", sa.Float(), nullable=False, server_default="0")),
    )


def upgrade() -> None:
    for table in ("enterprise", "need", "solution", "successcase", "fusionweights"):
        new = [column for name, column in _columns() if name == table]
        with op.batch_alter_table(table) as batch:
            for column in new:
                batch.add_column(column)
        with op.batch_alter_table(table) as batch:
            for column in new:
                if column.server_default is not None:
                    batch.alter_column(column.name, server_default=None)
    op.create_table(
        "maturitychange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("from_level", sa.Integer(), nullable=False),
        sa.Column("to_level", sa.Integer(), nullable=False),
        sa.Column("maturity_source", sa.String(length=10), nullable=False),
        sa.Column("factory_tier", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_maturitychange_enterprise_id", "maturitychange", ["enterprise_id"])
    op.create_index("ix_maturitychange_created_at", "maturitychange", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_maturitychange_created_at", table_name="maturitychange")
    op.drop_index("ix_maturitychange_enterprise_id", table_name="maturitychange")
    op.drop_table("maturitychange")
    with op.batch_alter_table("fusionweights") as batch:
        batch.drop_column("maturity")
    with op.batch_alter_table("successcase") as batch:
        batch.drop_column("ai_scenarios")
    with op.batch_alter_table("solution") as batch:
        batch.drop_column("maturity_band")
    with op.batch_alter_table("need") as batch:
        batch.drop_column("target_maturity")
    with op.batch_alter_table("enterprise") as batch:
        for name in ("factory_tier_year", "factory_tier", "maturity_certificate", "maturity_assessed_on"):
            batch.drop_column(name)
        batch.drop_column("maturity_source")
