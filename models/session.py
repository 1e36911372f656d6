"""Engine construction for SQLite (default) and PostgreSQL."""

from sqlalchemy import event
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
    import models.workflow  # noqa: F401  (registers the workflow tables on SQLModel.metadata)
    from models.tables import ChangeCounter  # registers the catalogue tables

    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        if session.get(ChangeCounter, 1) is None:
            session.add(ChangeCounter(id=1, value=0))
            session.commit()
