"""outbox: the 'sending' state of a mail handed to the SMTP server whose answer is not yet recorded

Revision ID: i13d
Revises: i16a_maturity
"""

from collections.abc import Sequence

from alembic import op

revision: str = "i13d"
down_revision: str | Sequence[str] | None = "i16a_maturity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # a VARCHAR elsewhere: nothing to change
        op.execute("ALTER TYPE mailstatus ADD VALUE IF NOT EXISTS 'sending'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; a 'sending' row goes back to the queue's 'pending'.
    op.execute("UPDATE outboxmail SET status = 'pending' WHERE status = 'sending'")
