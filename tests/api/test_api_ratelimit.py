"""Per-key rate limits: 429 with Retry-After, in process and in Redis (shared by every worker)."""

import uuid

import pytest

from matchmaker import create_app
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.ratelimit import MemoryStore, RateLimiter, RedisStore
from tests.api.support import bearer, world

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def install(app, store, clock: Clock, limit: int = 3, window: int = 60) -> RateLimiter:
    limiter = RateLimiter(store, clock, namespace=f"test:{uuid.uuid4().hex}")
    app.extensions["rate_limiter"] = limiter
    app.config.update(MATCHMAKER_API_RATE_LIMIT=limit, MATCHMAKER_API_RATE_WINDOW=window)
    return limiter


def stores():
    return [pytest.param(MemoryStore, id="in-process"), pytest.param(lambda: RedisStore(REDIS_URL), id="redis")]


@pytest.mark.parametrize("make_store", stores())
def test_the_call_over_the_limit_gets_429_with_retry_after_until_the_window_turns(app, client, db, make_store):
    w = world(db)
    clock = Clock(1_800_000_000.0 + 15)  # 15 s into a 60 s window
    install(app, make_store(), clock)
    a = bearer(w.ent_a.token)
    for remaining in (2, 1, 0):
        response = client.get("/api/v1/taxonomy", headers=a)
        assert response.status_code == 200 and response.headers["X-RateLimit-Remaining"] == str(remaining)
    refused = client.get("/api/v1/taxonomy", headers=a)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "45"
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and "45 秒后再试" in error["message"]
    assert client.get("/api/v1/taxonomy", headers=bearer(w.ent_b.token)).status_code == 200  # per key

    clock.now += 44
    assert client.get("/api/v1/taxonomy", headers=a).headers["Retry-After"] == "1"
    clock.now += 1  # the next window
    assert client.get("/api/v1/taxonomy", headers=a).status_code == 200


def test_workers_sharing_redis_share_one_budget(app, client, db):
    """Two app instances (two gunicorn workers) on one Redis count the same key together."""
    w = world(db)
    clock = Clock()
    namespace = f"test:{uuid.uuid4().hex}"
    other = create_app(dict(app.config))
    for instance in (app, other):
        instance.extensions["rate_limiter"] = RateLimiter(RedisStore(REDIS_URL), clock, namespace)
        instance.config.update(MATCHMAKER_API_RATE_LIMIT=4, MATCHMAKER_API_RATE_WINDOW=60)
    a = bearer(w.ent_a.token)
    statuses = [c.get("/api/v1/taxonomy", headers=a).status_code for c in (client, other.test_client()) * 3]
    assert statuses == [200, 200, 200, 200, 429, 429]
    with other.app_context():
        engine().dispose()


def test_an_unreachable_redis_lets_calls_through(app, client, db):
    w = world(db)
    install(app, RedisStore("redis://127.0.0.1:1/0"), Clock(), limit=1)  # nothing listens on port 1
    for _ in range(3):
        assert client.get("/api/v1/taxonomy", headers=bearer(w.ent_a.token)).status_code == 200


def test_redis_url_from_the_configuration_selects_the_shared_store(app):
    configured = create_app(dict(app.config) | {"MATCHMAKER_REDIS_URL": REDIS_URL})
    assert isinstance(configured.extensions["rate_limiter"].store, RedisStore)
    assert isinstance(app.extensions["rate_limiter"].store, MemoryStore)
    with configured.app_context():
        engine().dispose()


def test_rejected_calls_count_as_calls_and_are_logged(app, client, db):
    from sqlmodel import select

    from models import ApiCallLog

    w = world(db)
    install(app, MemoryStore(), Clock(), limit=1)
    for _ in range(3):
        client.get("/api/v1/taxonomy", headers=bearer(w.ent_a.token))
    assert [row.status for row in db.exec(select(ApiCallLog).order_by(ApiCallLog.id))] == [200, 429, 429]
