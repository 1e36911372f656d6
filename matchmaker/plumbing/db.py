"""The request-scoped database session: one per request on `g`, closed on teardown."""

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import make_engine


def init_app(app: Flask) -> None:
    app.extensions["db_engine"] = make_engine(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
