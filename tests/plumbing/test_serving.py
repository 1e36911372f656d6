"""Serving: liveness and readiness, request ids and JSON request logs, and gunicorn with its config."""

import json
import logging
import os
import re
import runpy
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from matchmaker import create_app
from matchmaker.plumbing.health import warm_up
from tests.conftest import enterprise_form, login, register
from tests.plumbing.gunicorn_server import gunicorn

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_needs_no_database_and_readyz_names_the_missing_one(app):
    down = create_app({**app.config, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    client = down.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "reason": "database", "message": "数据库无法连接"}


def test_readyz_waits_for_the_search_index_and_warm_up_builds_it(app, client):
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["reason"] == "search_index"
    assert response.get_json()["message"] == "搜索索引尚未加载"
    assert warm_up(app) is not None
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json()["status"] == "ready"


def test_warm_up_failure_is_reported_not_raised(app):
    broken = create_app({**app.config, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert warm_up(broken) is None


def _records(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "matchmaker.request"]


def test_each_request_logs_one_json_line_with_its_id_and_user(client, caplog):
    caplog.set_level(logging.INFO, logger="matchmaker.request")
    register(client, "enterprise", enterprise_form())
    login(client, "factory1@example.com")
    caplog.clear()
    response = client.get("/enterprise/needs", headers={"X-Request-ID": "portal-7f3a9c21"})
    assert response.headers["X-Request-ID"] == "portal-7f3a9c21"
    (record,) = _records(caplog)
    assert record["request_id"] == "portal-7f3a9c21"
    assert (record["method"], record["path"], record["status"]) == ("GET", "/enterprise/needs", 200)
    assert record["role"] == "enterprise" and isinstance(record["user_id"], int)
    assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0


@pytest.mark.parametrize("given", ["", "short", "has space in it", "x" * 200, "<script>alert(1)</script>"])
def test_an_unusable_request_id_is_replaced_by_a_new_one(client, caplog, given):
    caplog.set_level(logging.INFO, logger="matchmaker.request")
    response = client.get("/healthz", headers={"X-Request-ID": given})
    issued = response.headers["X-Request-ID"]
    assert issued != given and len(issued) == 32 and int(issued, 16) >= 0
    assert _records(caplog)[-1]["request_id"] == issued


def test_errors_are_logged_with_their_status_and_anonymous_user(client, caplog):
    caplog.set_level(logging.INFO, logger="matchmaker.request")
    response = client.get("/no-such-page")
    record = _records(caplog)[-1]
    assert record["status"] == 404 and record["user_id"] is None and record["role"] is None
    assert response.headers["X-Request-ID"] == record["request_id"]


def test_gunicorn_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MATCHMAKER_ENV", "")
    monkeypatch.delenv("MATCHMAKER_ENV")  # the config file's setdefault is undone after the test
    for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_MAX_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    defaults = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert defaults["workers"] == 2 and defaults["threads"] > 1
    assert defaults["max_requests"] > 0 and 0 < defaults["max_requests_jitter"] < defaults["max_requests"]
    assert defaults["graceful_timeout"] <= defaults["timeout"]
    assert "x-request-id" in defaults["access_log_format"]
    assert os.environ["MATCHMAKER_ENV"] == "production"
    monkeypatch.setenv("GUNICORN_WORKERS", "5")
    monkeypatch.setenv("MATCHMAKER_WARM_INDEX", "0")
    tuned = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert tuned["workers"] == 5 and tuned["WARM_INDEX"] is False


def _get(url: str, request_id: str | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"X-Request-ID": request_id} if request_id else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_gunicorn_workers_are_warm_before_their_first_request(app, tmp_path):
    """gunicorn with gunicorn.conf.py and two workers forked from a master that loaded the model and the
    index: every answer comes from a worker whose index is up (post_worker_init), and each request has
    one log line, carrying the caller's request id and the worker's pid."""
    log_path = tmp_path / "gunicorn.log"
    with gunicorn(app.config["DATABASE_URL"], log_path) as base:
        for n in range(8):
            status, headers, body = _get(f"{base}/readyz", f"probe-{n:04d}-abcdef")
            assert status == 200, body
            assert headers["X-Request-ID"] == f"probe-{n:04d}-abcdef"
            assert "Content-Security-Policy" in headers
    output = log_path.read_text()
    assert output.count("search index ready") == 2, output
    assert "master: model and search index loaded" in output  # before the fork, shared by both workers
    assert output.count("probe-0000-abcdef") == 1  # one line per request: the app's JSON line
    line = next(line for line in output.splitlines() if "probe-0000-abcdef" in line)
    workers = set(re.findall(r"Booting worker with pid: (\d+)", output))
    assert str(json.loads(line)["pid"]) in workers  # names the worker that answered
