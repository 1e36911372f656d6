"""Fixed-window rate limits: per API key, and per IP address for the anonymous widget.

With `MATCHMAKER_REDIS_URL` set, the counters live in Redis, so every gunicorn worker and every app
server shares one budget per key; without it each process counts on its own (a single-process
deployment, development and tests). A window is `window` seconds aligned to the clock, and a counter
expires with its window, so nothing needs cleaning up in Redis.

If Redis is configured but cannot be reached, requests are let through and the failure is logged:
an outage of the limiter's store should not take the API down with it.
"""

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from flask import Flask, current_app

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window resets (0 when allowed)


class Store(Protocol):
    def incr(self, bucket: str, ttl: int) -> int:
        """Add one to `bucket` (created with a life of `ttl` seconds) and return the new count."""


class MemoryStore:
    """Counters in this process; buckets of past windows are dropped as new ones appear."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}  # bucket -> (count, when to forget it, monotonic)
        self._lock = threading.Lock()

    def incr(self, bucket: str, ttl: int) -> int:
        now = time.monotonic()
        with self._lock:
            count, expires = self._counts.get(bucket, (0, now + ttl))
            self._counts[bucket] = (count + 1, expires)
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            return count + 1


class RedisStore:
    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)

    def incr(self, bucket: str, ttl: int) -> int:
        with self._client.pipeline() as pipe:  # MULTI/EXEC: the two steps run together
            pipe.set(bucket, 0, ex=ttl, nx=True)
            pipe.incr(bucket)
            _, count = pipe.execute()
        return int(count)


class RateLimiter:
    def __init__(self, store: Store, clock: Clock = time.time, namespace: str = "matchmaker:rl") -> None:
        self.store = store
        self.clock = clock  # tests replace it to move between windows without sleeping
        self.namespace = namespace

    def hit(self, key: str, limit: int, window: int) -> Decision:
        """Count one request for `key` against `limit` requests per `window` seconds."""
        now = self.clock()
        start = math.floor(now / window) * window
        retry_after = max(1, math.ceil(start + window - now))
        try:
            count = self.store.incr(f"{self.namespace}:{key}:{window}:{start}", window + 1)
        except Exception:  # the store is down: let the request through (see the module docstring)
            log.exception("rate limiter store unavailable; request allowed")
            return Decision(True, limit, limit, 0)
        if count > limit:
            return Decision(False, limit, 0, retry_after)
        return Decision(True, limit, limit - count, 0)


def init_app(app: Flask) -> None:
    app.config.setdefault("MATCHMAKER_REDIS_URL", "")  # e.g. redis://127.0.0.1:6379/0; empty: count in process
    url = app.config["MATCHMAKER_REDIS_URL"]
    store: Store = RedisStore(url) if url else MemoryStore()
    app.extensions["rate_limiter"] = RateLimiter(store)


def limiter() -> RateLimiter:
    return current_app.extensions["rate_limiter"]
