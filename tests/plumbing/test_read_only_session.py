"""A request declared read-only (the API's reads) runs each SELECT on an autocommit connection, with no
transaction around it, and cannot write."""

import os

import pytest
from sqlalchemy import func, text, update
from sqlmodel import select

from matchmaker.plumbing.db import get_session, read_only
from models import Domain

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgresql")


def two_clock_readings(app, *, read_only_request: bool) -> tuple:
    """now() twice, 50 ms apart, in one request's session: inside one transaction both readings are the
    transaction's start; on an autocommit connection each statement is a transaction of its own."""
    with app.test_request_context("/"):
        if read_only_request:
            read_only()
        session = get_session()
        first = session.exec(text("SELECT now()")).scalar_one()
        session.exec(text("SELECT pg_sleep(0.05)"))
        return first, session.exec(text("SELECT now()")).scalar_one()


@pytest.mark.skipif(not ON_POSTGRES, reason="needs DATABASE_URL on PostgreSQL")
def test_a_read_only_request_runs_each_statement_outside_any_transaction_on_postgresql(app):
    first, second = two_clock_readings(app, read_only_request=True)
    assert (second - first).total_seconds() >= 0.05
    first, second = two_clock_readings(app, read_only_request=False)
    assert first == second  # the ordinary session: one transaction, as writes (and their row locks) need


def test_a_read_only_request_cannot_write(app, db):
    before = db.exec(select(func.count()).select_from(Domain)).one()
    with app.test_request_context("/"):
        read_only()
        session = get_session()
        session.add(Domain(code="sneaky", name="不该写入", description=""))
        with pytest.raises(RuntimeError, match="read-only"):
            session.commit()
        session.rollback()
        with pytest.raises(RuntimeError, match="read-only"):
            session.exec(update(Domain).values(name="改名"))
    assert db.exec(select(func.count()).select_from(Domain)).one() == before
    assert "改名" not in db.exec(select(Domain.name)).all()
