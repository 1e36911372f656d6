"""Structured request logging: one JSON line per request on the `matchmaker.request` logger.

Each request carries an id: the caller's X-Request-ID when it looks like one (a proxy or the portal
may already have assigned it), otherwise a new one. The id is echoed in the X-Request-ID response
header, so gunicorn's access log (see gunicorn.conf.py) and a user's bug report name the same request.
"""

import json
import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, Response, g, request

log = logging.getLogger("matchmaker.request")

HEADER = "X-Request-ID"
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def init_app(app: Flask) -> None:
    if not log.handlers and not app.testing:  # one handler per process; tests read records through caplog
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    app.before_request(_start)
    app.after_request(_finish)


def request_id() -> str:
    return g.get("request_id", "")


def _start() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _ACCEPTED_ID.match(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    if "request_id" not in g:  # an earlier before_request answered before ours ran
        _start()
    response.headers[HEADER] = g.request_id
    user = g.get("_login_user")  # Flask-Login's cache: the user the request acted as, if it asked
    record = {
        "request_id": g.request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
        "user_id": getattr(user, "id", None),
        "role": getattr(user, "role", None),
        "ip": request.remote_addr,
        "pid": os.getpid(),  # which worker answered
    }
    if "embedding_cache" in g:  # a match: whether its text's vector was cached (benchmarks/load.py counts)
        record["embedding_cache"] = g.embedding_cache
    log.info(json.dumps(record, ensure_ascii=False))
    return response
