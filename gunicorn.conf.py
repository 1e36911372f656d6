"""gunicorn settings for the platform: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be set from the environment (names below); `gunicorn --workers 4 …` on the command
line still wins over this file.
"""

import gc
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).lower() not in {"0", "false", "no", "off"}


# The app refuses DEBUG outside development (matchmaker/security.py); under gunicorn it is production.
os.environ.setdefault("MATCHMAKER_ENV", "production")
# One BLAS/OpenMP thread per thread that computes, set before numpy or faiss load: the encoder encodes a
# text on its calling thread and splits batches over threads of its own (embeddings/encoders.py), and
# the master, which loads the model before forking, must hold no thread pool a fork would copy broken.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Each worker holds its own search index (about 2 KB per solution with the default encoder, plus the
# model): size the count by memory as well as cores.
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 4)  # > 1 selects the gthread worker: a slow client holds a thread, not a worker
# Database connections per worker: one per thread, the index's poll thread and the API call log's writer.
os.environ.setdefault("MATCHMAKER_DB_POOL_SIZE", str(threads + 2))
timeout = _int("GUNICORN_TIMEOUT", 60)  # a worker silent this long is killed and replaced
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)  # on HUP/TERM, time to finish requests in flight
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Restart each worker after this many requests (jittered so they do not all restart at once): a slow
# leak anywhere in the stack cannot grow without bound. 0 turns it off. A new worker is a fork of the
# master, which loaded the app, the model and the search index before forking (preload_app, `when_ready`):
# it only catches up with the changes since, in well under a second, instead of ~4 s of rebuilding.
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 2000)
# Load the app in the master: the encoder's weights and the index built there are shared by every
# worker (copy-on-write) rather than loaded by each. GUNICORN_PRELOAD=0 loads them per worker instead.
preload_app = _flag("GUNICORN_PRELOAD", "1")

# One log line per request: the app's JSON line (matchmaker/plumbing/requestlog.py, with the worker's
# pid). Set GUNICORN_ACCESS_LOG (a file or "-") for gunicorn's access log as well.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The request id is the X-Request-ID response header the app sets (matchmaker/requestlog.py); the
# worker's pid tells which worker answered (benchmarks/load.py uses it to follow a publish across workers).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s pid=%(p)s "%(a)s"'

# Set GUNICORN_FORWARDED_ALLOW_IPS to the proxy's address when one terminates TLS in front.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

WARM_INDEX = _flag("MATCHMAKER_WARM_INDEX", "1")


def when_ready(server) -> None:
    """In the master, before the first fork (preload only): load the model and build the index, close
    the database connections that took, and freeze what exists into the permanent generation so that
    the workers' garbage collections never touch (and so copy) the shared pages."""
    if not (preload_app and WARM_INDEX):
        return
    from matchmaker.plumbing.health import warm_up_master  # the app module, already imported by preload

    seconds = warm_up_master(server.app.wsgi())
    if seconds is not None:
        server.log.info("master: model and search index loaded in %.1f s", seconds)
    gc.freeze()


def post_fork(server, worker) -> None:
    """A new worker must not use the master's database connections (one socket, two processes)."""
    if preload_app:
        from matchmaker.plumbing.health import forget_connections

        forget_connections(server.app.wsgi())  # the app the master loaded (worker.wsgi is set later)


def post_worker_init(worker) -> None:
    """Bring the worker's search index up (built from scratch, or caught up from the master's) with one
    small match before it takes requests, instead of making its first user wait; then freeze the
    objects that exist now (the index's ~150,000) out of the collector's reach: a full collection over
    them took 30 ms of some request's time. MATCHMAKER_WARM_INDEX=0 turns this off."""
    if not WARM_INDEX:
        return
    from matchmaker.plumbing.health import (
        warm_up,  # imported in the worker: the master keeps no app code across reloads
    )

    seconds = warm_up(worker.wsgi)
    gc.freeze()
    if seconds is not None:
        worker.log.info("worker %s: search index ready in %.2f s", worker.pid, seconds)
