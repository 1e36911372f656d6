"""The API's call log is written by a thread in batches, off the request path, and a bad batch
cannot block it."""

import logging
import threading
import time

from sqlmodel import select

from matchmaker import create_app
from matchmaker.api.calllog import CallLog, call_log
from matchmaker.plumbing.db import engine
from models import ApiCallLog, ApiKey
from tests.api.support import bearer, world


def _logged(db) -> list[tuple[int, str, str, int]]:
    db.expire_all()
    return [(r.key_id, r.method, r.path, r.status) for r in db.exec(select(ApiCallLog).order_by(ApiCallLog.id))]


def test_calls_are_written_in_batches_by_a_thread_of_the_process(app, db):
    w = world(db)
    batched = create_app(dict(app.config) | {"MATCHMAKER_API_LOG_INTERVAL": 0.05})
    client = batched.test_client()
    for path in ("/api/v1/taxonomy", "/api/v1/solutions", "/api/v1/needs/999999"):
        client.get(path, headers=bearer(w.ent_a.token))
    key = db.exec(select(ApiKey).where(ApiKey.enterprise_id == w.ent_a.id)).one()
    expected = [
        (key.id, "GET", "/api/v1/taxonomy", 200),
        (key.id, "GET", "/api/v1/solutions", 200),
        (key.id, "GET", "/api/v1/needs/999999", 404),
    ]
    deadline = time.monotonic() + 10
    while _logged(db) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _logged(db) == expected
    assert "api-call-log" in [thread.name for thread in threading.enumerate()]
    db.refresh(key)
    assert key.last_used_at is not None
    assert call_log(batched).flush() == 0  # nothing left waiting
    with batched.app_context():
        engine().dispose()


def test_a_batch_that_cannot_be_written_is_tried_once_more_then_dropped(app, db, caplog):
    w = world(db)
    key = db.exec(select(ApiKey).where(ApiKey.enterprise_id == w.ent_a.id)).one()
    with app.app_context():
        log = CallLog(engine(), interval=0)
    caplog.set_level(logging.ERROR, logger="matchmaker.api.calllog")
    log.record(key.id, "GET", "/api/v1/taxonomy", 200)  # interval 0: each call is written at once
    log.record(999_999, "GET", "/api/v1/taxonomy", 200)  # no such key: its write breaks a foreign key
    assert _logged(db) == [(key.id, "GET", "/api/v1/taxonomy", 200)]
    assert "trying once more" in caplog.text
    log.record(key.id, "GET", "/api/v1/solutions", 200)  # written with the retry, which fails again
    assert _logged(db) == [(key.id, "GET", "/api/v1/taxonomy", 200)]  # nothing of that batch half-written
    assert "failed twice and are dropped" in caplog.text
    log.record(key.id, "GET", "/api/v1/needs", 200)  # the good call of the failed batch comes with this one
    assert _logged(db) == [
        (key.id, "GET", "/api/v1/taxonomy", 200),
        (key.id, "GET", "/api/v1/solutions", 200),
        (key.id, "GET", "/api/v1/needs", 200),
    ]
