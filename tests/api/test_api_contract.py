"""The API agrees with its contract, as judged by a client nobody here wrote: schemathesis.

The app runs on a local port in a thread of this process, on a database holding the demo data (the
test database: SQLite here, PostgreSQL when DATABASE_URL says so), with an enterprise key whose
enterprise has needs and a docking. Schemathesis reads /api/v1/openapi.json and sends every operation
examples, boundary and negative cases, random cases and chains of calls linked by their responses,
bounded by MAX_EXAMPLES (about a minute on 2 cores) and a fixed seed so the run is repeatable. The
full report is written to test-output/schemathesis/.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from werkzeug.serving import make_server

from matchmaker import create_app
from matchmaker.commands.seed import load_demo
from matchmaker.plumbing.config import DEFAULTS
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import api_keys, dockings, matching, ratings
from models import Enterprise, Need, Role, User, upgrade_database
from tests.conftest import _test_database_url

pytestmark = pytest.mark.api_contract

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "100"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20260"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "ignored_auth",
)
REPORTS = Path(__file__).resolve().parents[2] / "test-output" / "schemathesis"


def _seed(session: Session) -> str:
    """The demo data, one docking, published ratings, and an enterprise key whose enterprise owns them;
    returns the token."""
    load_demo(session)
    admin = session.exec(select(User).where(User.role == Role.admin)).first()
    need = session.exec(select(Need).join(Enterprise).order_by(Need.id)).first()
    ranked = matching.match_need(session, engine(), search_index(), need)
    dockings.request_docking(session, need.enterprise_id, None, need.id, ranked[0].solution_id, "契约测试", 5)
    ratings.rate(session, "2026Q1", ratings.parse_tiers(DEFAULTS["MATCHMAKER_TIERS"]))  # stars and tiers shown
    ratings.publish(session, "2026Q1", admin.id, "契约测试")
    return api_keys.issue(
        session, admin.id, Role.enterprise, "契约测试", "schemathesis", enterprise_id=need.enterprise_id
    ).token


@pytest.fixture(scope="module")
def live_api(tmp_path_factory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("contract")
    app = create_app(
        {
            "DATABASE_URL": _test_database_url(folder),
            "SECRET_KEY": "contract-secret",
            "MATCHMAKER_ENCODER": "hash",
            "MATCHMAKER_API_RATE_LIMIT": 1_000_000,  # the limit is tested elsewhere; here it would only hide cases
            "MATCHMAKER_API_LOG_INTERVAL": 0,  # no writer thread outliving the module's database
        }
    )
    with app.app_context():
        upgrade_database(engine())
        with Session(engine(), expire_on_commit=False) as session:
            token = _seed(session)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", token
    server.shutdown()
    with app.app_context():
        engine().dispose()


def test_schemathesis_finds_no_server_error_and_no_response_outside_the_contract(live_api, tmp_path):
    base, token = live_api
    REPORTS.mkdir(parents=True, exist_ok=True)
    database = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",  # hypothesis parses lambdas with `ast`, which CPython 3.11 does not allow in parallel threads
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-junit-path",
        str(REPORTS / f"junit-{database}.xml"),
    ]
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=900, env=os.environ | {"NO_COLOR": "1"}
    )
    output = run.stdout + run.stderr
    (REPORTS / f"run-{database}.txt").write_text(output, encoding="utf-8")
    figures = re.search(r"(\d+) generated, (\d+) passed", output)
    print(figures.group(0) if figures else output[-2000:])
    assert run.returncode == 0, output[-6000:]
    assert figures and figures.group(1) == figures.group(2) and int(figures.group(1)) > 100
    operations = sum(len(item) for item in _get_json(base, "/api/v1/openapi.json")["paths"].values())
    assert re.search(rf"Selected: {operations}/{operations}\s+Tested: {operations}\b", output), output[-3000:]


def _request(base: str, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=b"{}", headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _get_json(base: str, path: str) -> dict:
    status, body = _request(base, "GET", path)
    assert status == 200
    return json.loads(body)


def test_no_documented_operation_answers_without_a_key(live_api):
    base, token = live_api
    doc = _get_json(base, "/api/v1/openapi.json")
    assert doc["openapi"] == "3.1.0"
    for path, item in doc["paths"].items():
        url = doc["servers"][0]["url"] + re.sub(r"\{\w+\}", "1", path)
        for method, op in item.items():
            assert op["security"] == [{"bearerAuth": []}]
            for headers in ({}, {"Authorization": "Bearer pmk_00000000_guessed"}, {"Authorization": token}):
                status, body = _request(base, method.upper(), url, headers)
                assert status == 401, (method, path, headers, body)
                assert json.loads(body)["error"]["code"] == "unauthorized"
