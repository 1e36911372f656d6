"""Pooled PostgreSQL connections the server dropped (a restart, a failover, an idle cut): one that sat
idle is pinged and replaced before use; one in steady use is not pinged, and a drop found in use costs
that one statement while the pool reconnects. PostgreSQL only (DATABASE_URL); SQLite has no server."""

import os
import time

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from models import make_engine

URL = os.environ.get("DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not URL.startswith("postgresql"), reason="needs DATABASE_URL on PostgreSQL")


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _drop(pid: int) -> None:
    """What a server restart does to one connection: the backend goes away under the client."""
    plain = URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0] is True
        deadline = time.monotonic() + 30  # the backend is gone once it has handled the signal
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is not None:
            assert time.monotonic() < deadline, f"backend {pid} still running"
            time.sleep(0.01)


def test_a_connection_dropped_while_idle_is_replaced_before_use():
    engine = make_engine(URL, idle_ping_seconds=0.2)
    try:
        first = _backend_pid(engine)
        _drop(first)
        time.sleep(0.3)  # idle longer than the ping threshold
        assert _backend_pid(engine) != first  # no error: pinged, found dead, reconnected
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged_and_a_drop_costs_one_statement():
    engine = make_engine(URL, idle_ping_seconds=60)
    try:
        first = _backend_pid(engine)
        _drop(first)
        with pytest.raises(DBAPIError) as failed:  # not pinged: the checkout hands out the dead connection
            _backend_pid(engine)
        assert failed.value.connection_invalidated
        assert _backend_pid(engine) != first  # the pool was invalidated: the next checkout reconnects
    finally:
        engine.dispose()
