"""i17b: event check-in (a token per registration for its QR code, the check-in time), the day-before
reminder mark, a meeting's attendance and both sides' outcomes, and the event a docking came from

Revision ID: i17b
Revises: i16a_maturity
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i17b"
down_revision: str | Sequence[str] | None = "i16a_maturity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> tuple[tuple[str, sa.Column], ...]:
    return (
        ("eventregistration", sa.Column("checkin_token", sa.String(length=64), nullable=False, server_default="")),
        ("eventregistration", sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True)),
        ("eventregistration", sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True)),
        ("eventmeeting", sa.Column("attendance", sa.String(length=20), nullable=False, server_default="")),
        ("eventmeeting", sa.Column("enterprise_outcome", sa.String(length=20), nullable=False, server_default="")),
        ("eventmeeting", sa.Column("provider_outcome", sa.String(length=20), nullable=False, server_default="")),
        ("docking", sa.Column("origin_event_id", sa.Integer(), nullable=True)),
    )


def upgrade() -> None:
    for table in ("eventregistration", "eventmeeting", "docking"):
        new = [column for name, column in _columns() if name == table]
        with op.batch_alter_table(table) as batch:
            for column in new:
                batch.add_column(column)
            if table == "docking":
                batch.create_foreign_key("fk_docking_origin_event_id_event", "event", ["origin_event_id"], ["id"])
                batch.create_index("ix_docking_origin_event_id", ["origin_event_id"])
    # every existing registration gets its own token before the unique index is built
    registrations = sa.table("eventregistration", sa.column("id", sa.Integer), sa.column("checkin_token", sa.String))
    connection = op.get_bind()
    for (registration_id,) in connection.execute(sa.select(registrations.c.id)).all():
        connection.execute(
            registrations.update()
            .where(registrations.c.id == registration_id)
            .values(checkin_token=secrets.token_urlsafe(24))
        )
    for table in ("eventregistration", "eventmeeting"):
        with op.batch_alter_table(table) as batch:
            for name, column in _columns():
                if name == table and column.server_default is not None:
                    batch.alter_column(column.name, server_default=None)
    op.create_index("ix_eventregistration_checkin_token", "eventregistration", ["checkin_token"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_eventregistration_checkin_token", table_name="eventregistration")
    with op.batch_alter_table("docking") as batch:
        batch.drop_index("ix_docking_origin_event_id")
        batch.drop_constraint("fk_docking_origin_event_id_event", type_="foreignkey")
        batch.drop_column("origin_event_id")
    with op.batch_alter_table("eventmeeting") as batch:
        for name in ("provider_outcome", "enterprise_outcome", "attendance"):
            batch.drop_column(name)
    with op.batch_alter_table("eventregistration") as batch:
        for name in ("reminded_at", "checked_in_at", "checkin_token"):
            batch.drop_column(name)
