"""Alembic environment of the platform: run by `models.session.upgrade_database` and `flask db …`.

No alembic.ini: the caller hands in an open connection as `config.attributes["connection"]` (the one
that holds the migration lock, see `models.session`). The target is SQLModel.metadata with every model
module imported, so `flask db revision --autogenerate` sees every table.
"""

from alembic import context
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import models.api  # noqa: F401  (API keys, call log)
import models.funding  # noqa: F401  (maturity history)
import models.ratings  # noqa: F401  (provider star ratings)
import models.security  # noqa: F401  (login failures)
import models.tables  # noqa: F401  (catalogue)
import models.weights  # noqa: F401  (fusion weights)
import models.workflow  # noqa: F401  (dockings, notifications, outbox, pushes, appeals)

config = context.config
target_metadata = SQLModel.metadata


def render_item(kind: str, obj, autogen_context) -> str | bool:
    """Write SQLModel's column types as the plain SQLAlchemy types they stand for, so revisions
    depend on SQLAlchemy only (the database sees the same types)."""
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.impl.length})" if obj.impl.length else "sa.String()"
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("models/migrations is run through models.session (flask db …), which passes a connection")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        # SQLite cannot ALTER most things: later migrations' alter/drop ops become copy-and-rename batches.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: run `flask db upgrade` against the database")
run_migrations_online()
