"""gunicorn settings for the platform: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be set from the environment (names below); `gunicorn --workers 4 …` on the command
line still wins over this file.
"""

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# The app refuses DEBUG outside development (matchmaker/security.py); under gunicorn it is production.
os.environ.setdefault("MATCHMAKER_ENV", "production")

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Each worker holds its own search index (about 2 KB per solution with the default encoder, plus the
# model): size the count by memory as well as cores.
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 4)  # > 1 selects the gthread worker: a slow client holds a thread, not a worker
timeout = _int("GUNICORN_TIMEOUT", 60)  # a worker silent this long is killed and replaced
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)  # on HUP/TERM, time to finish requests in flight
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Restart each worker after this many requests (jittered so they do not all restart at once): a slow
# leak anywhere in the stack cannot grow without bound. 0 turns it off.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The request id is the X-Request-ID response header the app sets (matchmaker/requestlog.py); the
# worker's pid tells which worker answered (benchmarks/load.py uses it to follow a publish across workers).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s pid=%(p)s "%(a)s"'

# Set GUNICORN_FORWARDED_ALLOW_IPS to the proxy's address when one terminates TLS in front.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

WARM_INDEX = os.environ.get("MATCHMAKER_WARM_INDEX", "1").lower() not in {"0", "false", "no", "off"}


def post_worker_init(worker) -> None:
    """Build the worker's search index before it takes requests (about 4 s with the default model),
    instead of making its first user wait. MATCHMAKER_WARM_INDEX=0 turns this off."""
    if not WARM_INDEX:
        return
    from matchmaker.plumbing.health import (
        warm_up,  # imported in the worker: the master keeps no app code across reloads
    )

    seconds = warm_up(worker.wsgi)
    if seconds is not None:
        worker.log.info("worker %s: search index ready in %.1f s", worker.pid, seconds)
