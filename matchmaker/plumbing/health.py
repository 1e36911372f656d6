"""Liveness and readiness for the load balancer, and the index warm-up gunicorn runs in each worker.

`/healthz` answers as long as the process serves requests (it touches nothing else).
`/readyz` answers 200 when this worker can serve a match now: the database answers and the worker's
search index is built; otherwise 503 with the reason as JSON. A worker started by gunicorn.conf.py
builds its index before it accepts requests (`warm_up`), so the first user does not wait for the
model to load; with the warm-up turned off a worker turns ready after its first match.
"""

import logging
import time

from flask import Blueprint, Flask, jsonify
from sqlalchemy import text

from matchmaker.matching.signals import NeedProfile
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

WARM_UP_NEED = NeedProfile(text="设备联网 数据采集 生产管理")


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        with engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any driver error means the same to a load balancer: not ready
        log.warning("readiness: database unreachable: %s", error)
        return _not_ready("database", "数据库无法连接")
    if not search_index().built:
        return _not_ready("search_index", "搜索索引尚未加载")
    return jsonify(status="ready", search_index_seq=search_index().applied_seq)


def _not_ready(reason: str, message: str):
    return jsonify(status="unavailable", reason=reason, message=message), 503


def warm_up(app: Flask) -> float | None:
    """Build this process's search index with one small match; seconds taken, or None if it failed.

    A failure (no tables yet, database down) is logged and left to the first request, which tries
    again: a worker that cannot warm up should still start and report itself not ready.
    """
    started = time.perf_counter()
    try:
        with app.app_context():
            search_index().warm(engine())  # built, or caught up with what changed since the master built it
            search_index().match(engine(), WARM_UP_NEED, top_n=1)  # and the encoder's thread running
    except Exception:
        log.exception("search index warm-up failed; the first match request will build it")
        return None
    return time.perf_counter() - started


def warm_up_master(app: Flask) -> float | None:
    """`warm_up` for gunicorn's master before it forks: the model and the index, but no match (which
    would start the encoder's thread in a process that never serves), then no connection left open."""
    started = time.perf_counter()
    try:
        with app.app_context():
            search_index().warm(engine())
    except Exception:
        log.exception("search index warm-up in the master failed; each worker will build its own")
        return None
    finally:
        forget_connections(app, close=True)
    return time.perf_counter() - started


def forget_connections(app: Flask, close: bool = False) -> None:
    """Drop the pooled database connections: closed (in the master), or just forgotten (in a fresh fork,
    where closing would end the master's sessions)."""
    with app.app_context():
        engine().dispose(close=close)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
