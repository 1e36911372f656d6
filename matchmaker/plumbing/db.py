"""The request-scoped database session: one per request on `g`, closed on teardown.

A request declared read-only (`read_only()`, before its first query: the API's reads) gets a session on
an autocommit connection: each SELECT runs on its own, with no BEGIN before it and no ROLLBACK at
teardown (two round trips saved), and the session refuses to write, so a read-only call can never leave
half a change behind. Writes keep their transaction (and their row locks) on the ordinary engine.
"""

from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import make_engine


class ReadOnlySession(Session):
    """A session that only reads (see the module docstring)."""


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _refuse_statement(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise RuntimeError("a read-only request tried to write")


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_flush(session, _context, _instances) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read-only request tried to write")


def init_app(app: Flask) -> None:
    bound = make_engine(app.config["DATABASE_URL"], pool_size=int(app.config["MATCHMAKER_DB_POOL_SIZE"]))
    app.extensions["db_engine"] = bound
    app.extensions["db_reader"] = bound.execution_options(isolation_level="AUTOCOMMIT")  # the same pool
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def read_only() -> None:
    """This request only reads: its session (made after this) runs on an autocommit connection."""
    g.db_read_only = True


def get_session() -> Session:
    if "db_session" not in g:
        if g.get("db_read_only"):
            g.db_session = ReadOnlySession(current_app.extensions["db_reader"], expire_on_commit=False)
        else:
            g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
