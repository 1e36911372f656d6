"""retrofit projects: the district's 数字化技改项目白名单 (applications, review steps, objections), and
appeals that name a project's decision instead of a whitelist decision

Revision ID: i16b
Revises: i13d
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i16b"
down_revision: str | Sequence[str] | None = "i13d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retrofitproject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("docking_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("total_investment", sa.Float(), nullable=False),
        sa.Column("digital_investment", sa.Float(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.Column("provider_ids", sa.JSON(), nullable=False),
        sa.Column("other_providers", sa.String(length=200), nullable=False),
        sa.Column("expected_result", sa.Text(), nullable=False),
        sa.Column("target_maturity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("score_total", sa.Integer(), nullable=True),
        sa.Column("review_opinions", sa.Text(), nullable=False),
        sa.Column("notice_from", sa.Date(), nullable=True),
        sa.Column("notice_until", sa.Date(), nullable=True),
        sa.Column("selected_on", sa.Date(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["docking_id"], ["docking.id"]),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_retrofitproject_enterprise_id", "retrofitproject", ["enterprise_id"])
    op.create_index("ix_retrofitproject_docking_id", "retrofitproject", ["docking_id"])
    op.create_index("ix_retrofitproject_status", "retrofitproject", ["status"])
    op.create_table(
        "projectevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["retrofitproject.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_projectevent_project_id", "projectevent", ["project_id"])
    op.create_table(
        "projectobjection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["retrofitproject.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_projectobjection_project_id", "projectobjection", ["project_id"])
    op.create_index("ix_projectobjection_user_id", "projectobjection", ["user_id"])
    with op.batch_alter_table("appeal") as batch:
        batch.add_column(sa.Column("project_event_id", sa.Integer(), nullable=True))
        batch.alter_column("provider_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("whitelist_event_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key("appeal_project_event_id_fkey", "projectevent", ["project_event_id"], ["id"])
        batch.create_unique_constraint("appeal_project_event_id_key", ["project_event_id"])


def downgrade() -> None:
    op.execute("DELETE FROM appeal WHERE project_event_id IS NOT NULL")
    with op.batch_alter_table("appeal") as batch:
        batch.drop_constraint("appeal_project_event_id_key", type_="unique")
        batch.drop_constraint("appeal_project_event_id_fkey", type_="foreignkey")
        batch.drop_column("project_event_id")
        batch.alter_column("whitelist_event_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("provider_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_projectobjection_user_id", table_name="projectobjection")
    op.drop_index("ix_projectobjection_project_id", table_name="projectobjection")
    op.drop_table("projectobjection")
    op.drop_index("ix_projectevent_project_id", table_name="projectevent")
    op.drop_table("projectevent")
    op.drop_index("ix_retrofitproject_status", table_name="retrofitproject")
    op.drop_index("ix_retrofitproject_docking_id", table_name="retrofitproject")
    op.drop_index("ix_retrofitproject_enterprise_id", table_name="retrofitproject")
    op.drop_table("retrofitproject")
