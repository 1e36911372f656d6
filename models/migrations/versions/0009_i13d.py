"""outbox: the 'sending' state of a mail handed to the SMTP server whose answer is not yet recorded;
pendingregistration: a registration waiting for its email confirmation

Revision ID: i13d
Revises: i16c
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i13d"
down_revision: str | Sequence[str] | None = "i16c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # a VARCHAR elsewhere: nothing to change
        op.execute("ALTER TYPE mailstatus ADD VALUE IF NOT EXISTS 'sending'")
    op.create_table(
        "pendingregistration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_pendingregistration_email", "pendingregistration", ["email"])
    op.create_index("ix_pendingregistration_expires_at", "pendingregistration", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_pendingregistration_expires_at", table_name="pendingregistration")
    op.drop_index("ix_pendingregistration_email", table_name="pendingregistration")
    op.drop_table("pendingregistration")
    # PostgreSQL cannot drop an enum value; a 'sending' row goes back to the queue's 'pending'.
    op.execute("UPDATE outboxmail SET status = 'pending' WHERE status = 'sending'")
