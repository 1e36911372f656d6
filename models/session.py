"""Engine construction for SQLite (default) and PostgreSQL."""

from sqlalchemy import Enum, event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys on and may be shared across threads."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_tables(engine: Engine) -> None:
    """Create missing tables and the single change-counter row."""
    import models.api  # noqa: F401  (registers the API key and call-log tables)
    import models.security  # noqa: F401  (registers the login-failure table)
    import models.workflow  # noqa: F401  (registers the workflow tables on SQLModel.metadata)
    from models.tables import ChangeCounter  # registers the catalogue tables

    SQLModel.metadata.create_all(engine)
    _add_new_enum_values(engine)
    with Session(engine) as session:
        if session.get(ChangeCounter, 1) is None:
            session.add(ChangeCounter(id=1, value=0))
            session.commit()


def _add_new_enum_values(engine: Engine) -> None:
    """PostgreSQL keeps enum columns as native types: a value added in code (e.g. a new status)
    must be added to the existing type too. SQLite stores them as plain strings."""
    if engine.dialect.name != "postgresql":
        return
    types = {
        column.type.name: column.type
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, Enum) and column.type.name
    }
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        known = set(
            connection.execute(
                text("SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid")
            )
        )
        for name, enum in types.items():
            for value in enum.enums:
                if (name, value) not in known:
                    connection.execute(text(f"ALTER TYPE {name} ADD VALUE IF NOT EXISTS '{value}'"))
