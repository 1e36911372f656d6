"""The API's call log, written off the request path.

Each call made with a recognised key is queued in the process and written by one thread in batches
(every MATCHMAKER_API_LOG_INTERVAL seconds: one multi-row INSERT and one last-use stamp per key), so
an API call costs no database transaction of its own: under load, writing one row per call in its own
transaction took more of the worker than anything but the matching itself. The rows are a usage
record, not business data: a process killed outright loses at most the last interval's; a process
that stops normally writes what it holds first. A failed write is tried once more with the next round;
at most MAX_PENDING calls wait (the oldest dropped beyond that, with a log line).
"""

import atexit
import logging
import os
import threading
import time

from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session

from matchmaker.services.api_keys import Call, log_calls
from models import utcnow

log = logging.getLogger(__name__)
MAX_PENDING = 100_000


class CallLog:
    """One per app and process; `record` is cheap and thread-safe, `flush` writes what is queued."""

    def __init__(self, bound: Engine, interval: float) -> None:
        self._bound = bound
        self._interval = interval
        self._pending: list[Call] = []
        self._retry: list[Call] = []  # calls whose write failed once
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one write at a time, in order
        self._owner_pid: int | None = None  # the process whose writer thread runs (gunicorn forks workers)

    def record(self, key_id: int, method: str, path: str, status: int) -> None:
        with self._lock:
            self._pending.append(Call(key_id, method, path, status, utcnow()))
            if len(self._pending) > MAX_PENDING:
                del self._pending[: len(self._pending) - MAX_PENDING]
                log.error("API call log: more than %s calls waiting to be written; the oldest dropped", MAX_PENDING)
            start = self._interval > 0 and self._owner_pid != os.getpid()
            if start:
                self._owner_pid = os.getpid()
        if start:
            threading.Thread(target=self._run, name="api-call-log", daemon=True).start()
            atexit.register(self.flush)
        elif self._interval <= 0:
            self.flush()  # no writer thread: written at once (MATCHMAKER_API_LOG_INTERVAL=0)

    def flush(self) -> int:
        """Write the queued calls now; returns how many were written. Calls whose write fails are
        tried once more with the next round, then dropped (logged), so one bad row cannot stop the log."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
            retried, self._retry = self._retry, []
            if not retried and not batch:
                return 0
            try:
                with Session(self._bound) as session:
                    log_calls(session, retried + batch)
            except Exception:
                if retried:
                    log.exception("API call log: %s calls failed twice and are dropped", len(retried))
                else:
                    log.exception("API call log: writing %s calls failed; trying once more", len(batch))
                self._retry = batch
                return 0
            return len(retried) + len(batch)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            self.flush()


def init_app(app: Flask) -> None:
    """After `matchmaker.plumbing.db.init_app`: the log writes through the app's engine."""
    app.config["MATCHMAKER_API_LOG_INTERVAL"] = float(app.config.get("MATCHMAKER_API_LOG_INTERVAL", 1.0))
    app.extensions["api_call_log"] = CallLog(app.extensions["db_engine"], app.config["MATCHMAKER_API_LOG_INTERVAL"])


def call_log(app: Flask) -> CallLog:
    return app.extensions["api_call_log"]
