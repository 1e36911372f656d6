"""Each worker keeps the API keys it has seen; a revocation reaches every worker within the poll
interval (through the change counter the search index polls), and a call with a cached key asks the
database nothing about it."""

import threading
import time

import pytest
from sqlalchemy import event
from sqlmodel import select

from matchmaker import create_app
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import api_keys
from models import ApiKey
from tests.api.support import bearer, world

POLL = 0.2


@pytest.fixture
def workers(app):
    """Two app instances on the test's database, as two gunicorn workers, each with its poll thread."""
    made = [create_app(dict(app.config, MATCHMAKER_INDEX_POLL_SECONDS=POLL)) for _ in range(2)]
    yield made
    for worker in made:
        with worker.app_context():
            search_index().stop_polling()
            engine().dispose()


def status(worker, token: str) -> int:
    return worker.test_client().get("/api/v1/taxonomy", headers=bearer(token)).status_code


def reads_during(worker, call) -> list[str]:
    """The SELECTs the calling thread made meanwhile (not the poll thread's; the call log, written at
    once in tests, only writes)."""
    seen, caller = [], threading.get_ident()
    with worker.app_context():
        bound = engine()

    def note(_conn, _cursor, statement, *_args):
        if threading.get_ident() == caller and statement.lstrip().lower().startswith("select"):
            seen.append(statement.lower())

    event.listen(bound, "before_cursor_execute", note)
    try:
        call()
    finally:
        event.remove(bound, "before_cursor_execute", note)
    return seen


def test_a_cached_key_costs_no_lookup_and_a_revoked_one_is_refused_by_every_worker_within_the_interval(workers, db):
    w = world(db)
    for worker in workers:
        assert status(worker, w.ent_a.token) == 200  # looked up, kept
    time.sleep(2 * POLL)  # the poll threads have looked at the counters once
    for worker in workers:
        seen = reads_during(worker, lambda worker=worker: status(worker, w.ent_a.token))
        assert not any("apikey" in statement or "changecounter" in statement for statement in seen), seen

    key = db.exec(select(ApiKey).where(ApiKey.enterprise_id == w.ent_a.id)).one()
    api_keys.revoke(db, key.id, w.admin.id, "合作结束")  # by an admin on some worker
    revoked_at = time.monotonic()
    refused = {}
    while len(refused) < len(workers):
        for n, worker in enumerate(workers):
            if n not in refused and status(worker, w.ent_a.token) == 401:
                refused[n] = time.monotonic() - revoked_at
        assert time.monotonic() - revoked_at < 10 * POLL, f"still accepted after {10 * POLL} s"
        time.sleep(0.01)
    assert max(refused.values()) < POLL + 0.5  # the interval, plus one look's and one call's time
    for worker in workers:
        assert status(worker, w.ent_b.token) == 200  # other keys: looked up again, still valid


def test_an_unknown_token_is_looked_up_every_time_and_never_kept(workers, db):
    world(db)
    worker = workers[0]
    for _ in range(2):
        seen = reads_during(worker, lambda: status(worker, "pmk_0000_guessed"))
        assert status(worker, "pmk_0000_guessed") == 401
        assert any("apikey" in statement for statement in seen)
