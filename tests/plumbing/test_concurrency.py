"""Caps and uniqueness rules under real concurrency: gunicorn with 2 workers (4 threads each) on the
test's database (SQLite, or PostgreSQL when DATABASE_URL says so), and requests fired at once from
threads. Whoever loses a race gets a Chinese message (a 409 in the API), never a 500, and the rule holds
in the stored rows."""

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from sqlmodel import Session, col, func, select
from werkzeug.security import check_password_hash

from matchmaker.services import password_reset, whitelist
from models import (
    Appeal,
    AuditLog,
    Docking,
    LoginFailure,
    MatchResult,
    OutboxMail,
    Provider,
    ProviderStatus,
    User,
    WhitelistEvent,
)
from tests.api.support import NEED_TEXT, bearer, make_admin, world
from tests.conftest import PASSWORD, provider_form, register
from tests.matching.test_need_matching import IOT, SECURITY, approved_provider, publish
from tests.plumbing.gunicorn_server import gunicorn

RACERS = 8
QUIET = {"MATCHMAKER_WARM_INDEX": "0", "MATCHMAKER_MAIL_INTERVAL": "0"}  # start quickly, send no mail
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 302 itself is the answer a test looks at


class Visitor:
    """A browser's session against the server: cookies, CSRF tokens, no redirects followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def call(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def csrf(self, page: str) -> str:
        status, html = self.call("GET", page)
        assert status == 200, html
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)

    def form(self, path: str, fields: dict, page: str) -> int:
        body = urllib.parse.urlencode({**fields, "csrf_token": self.csrf(page)}).encode()
        return self.submit(path, body)

    def submit(self, path: str, body: bytes) -> int:
        return self.call("POST", path, body, FORM)[0]

    def login(self, email: str) -> None:
        assert self.form("/auth/login", {"email": email, "password": PASSWORD}, "/auth/login") == 302


def at_once(calls: list[Callable[[], object]]) -> list:
    """Run the calls in threads released together by a barrier; their results in order."""
    barrier = Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def api_post(base: str, token: str, path: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def count(db: Session, table, *conditions) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(table).where(*conditions)).one()


@pytest.fixture
def need_with_matches(client, db):
    """Enterprise A's need, with RACERS approved providers' solutions in its stored ranking and, on top,
    two solutions of one more provider; returns (world, need id, the racers' solution ids, the pair)."""
    w = world(db)
    need = {"description": NEED_TEXT, "industry": "furniture"}
    response = client.post("/api/v1/needs", headers=bearer(w.ent_a.token), json=need)
    assert response.status_code == 201, response.get_data(as_text=True)
    need_id = response.get_json()["id"]
    solutions = [publish(db, approved_provider(db, 700 + n, ["data_collection"]), IOT).id for n in range(RACERS)]
    twin_vendor = approved_provider(db, 799, ["data_collection", "security"])
    pair = [publish(db, twin_vendor, IOT).id, publish(db, twin_vendor, SECURITY).id]
    for rank, solution_id in enumerate(solutions + pair, start=50):
        db.add(MatchResult(need_id=need_id, solution_id=solution_id, rank=rank, score=0.8))
    db.commit()
    return w, need_id, solutions, pair


def test_concurrent_docking_requests_stop_at_the_cap(app, db, need_with_matches, tmp_path):
    w, need_id, solutions, _ = need_with_matches
    cap = app.config["MATCHMAKER_DOCKING_CAP"]
    with gunicorn(app.config["DATABASE_URL"], tmp_path / "gunicorn.log", **QUIET) as base:
        answers = at_once(
            [
                lambda s=s: api_post(base, w.ent_a.token, "/api/v1/dockings", {"need_id": need_id, "solution_id": s})
                for s in solutions
            ]
        )
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: cap, 409: RACERS - cap}, answers
    refused = {body["error"]["message"] for status, body in answers if status == 409}
    assert refused == {f"每个需求最多向 {cap} 家服务商申请对接，本需求已达上限"}
    assert count(db, Docking, Docking.need_id == need_id) == cap


def test_concurrent_requests_to_one_provider_store_one_docking(app, db, need_with_matches, tmp_path):
    w, need_id, _, pair = need_with_matches
    twice = [pair[0], pair[1], pair[0], pair[1]]  # two solutions of one provider, each asked twice at once
    with gunicorn(app.config["DATABASE_URL"], tmp_path / "gunicorn.log", **QUIET) as base:
        answers = at_once(
            [
                lambda s=s: api_post(base, w.ent_a.token, "/api/v1/dockings", {"need_id": need_id, "solution_id": s})
                for s in twice
            ]
        )
    assert sorted(status for status, _ in answers) == [201, 409, 409, 409], answers
    assert count(db, Docking, Docking.need_id == need_id) == 1


def _rejected_provider(client, db) -> Provider:
    assert register(client, "provider", provider_form()).status_code == 302
    provider = db.exec(select(Provider).where(Provider.email == "vendor500@example.com")).one()
    provider.status = ProviderStatus.applied
    db.add(provider)
    db.commit()
    return whitelist.decide(db, provider.id, "reject", make_admin(db).id, "资料不全")


def test_concurrent_identical_appeals_store_one(app, client, db, tmp_path):
    provider = _rejected_provider(client, db)
    with gunicorn(app.config["DATABASE_URL"], tmp_path / "gunicorn.log", **QUIET) as base:
        visitor = Visitor(base)
        visitor.login("vendor500@example.com")
        body = urllib.parse.urlencode({"reason": "材料已补齐，请复核", "csrf_token": visitor.csrf("/provider/")})
        statuses = at_once([lambda: visitor.submit("/provider/appeal", body.encode())] * 4)
    assert sorted(statuses) == [302] * 4  # one filed; the others are told it was filed already
    assert count(db, Appeal, Appeal.provider_id == provider.id) == 1
    assert count(db, WhitelistEvent, WhitelistEvent.provider_id == provider.id, WhitelistEvent.action == "appeal") == 1


def test_concurrent_admin_decisions_apply_once(app, client, db, tmp_path):
    provider = _rejected_provider(client, db)
    provider.status = ProviderStatus.applied
    db.add(provider)
    db.commit()
    admin = make_admin(db)
    with gunicorn(app.config["DATABASE_URL"], tmp_path / "gunicorn.log", **QUIET) as base:
        visitor = Visitor(base)
        visitor.login(admin.email)
        page = f"/admin/providers/{provider.id}"
        fields = {"action": "approve", "reason": "资料齐全", "csrf_token": visitor.csrf(page)}
        body = urllib.parse.urlencode(fields).encode()
        statuses = at_once([lambda: visitor.submit(f"{page}/decide", body)] * 4)
    assert sorted(statuses) == [302, 400, 400, 400]  # the others see “当前状态下不能执行”
    approvals = (WhitelistEvent.provider_id == provider.id, WhitelistEvent.action == "approve")
    assert count(db, WhitelistEvent, *approvals) == 1


def test_parallel_wrong_passwords_get_no_more_password_checks_than_the_limit(app, client, db, tmp_path):
    """40 wrong passwords at once for one account from one address: each attempt is counted before its
    password is checked, so at most the pair limit of them are checked (12 of 40 were, against 5)."""
    assert register(client, "provider", provider_form()).status_code == 302
    limit = app.config["MATCHMAKER_LOGIN_MAX_FAILURES_PAIR"]
    with gunicorn(app.config["DATABASE_URL"], tmp_path / "gunicorn.log", **QUIET) as base:
        visitor = Visitor(base)
        fields = {"email": "vendor500@example.com", "password": "Wrong1234", "csrf_token": visitor.csrf("/auth/login")}
        body = urllib.parse.urlencode(fields).encode()
        pages = at_once([lambda: visitor.call("POST", "/auth/login", body, FORM)] * 40)
    assert {status for status, _ in pages} == {200}
    wrong = sum("邮箱或密码不正确" in html for _, html in pages)
    locked = sum("已临时锁定" in html for _, html in pages)
    assert wrong + locked == 40 and locked >= 40 - limit
    # every password check was counted first: the rows are the checks
    assert count(db, LoginFailure, LoginFailure.kind == "account") <= limit


def test_one_reset_link_clicked_at_once_sets_one_password(app, client, db, tmp_path):
    """The same reset link submitted four times at once (four passwords): one is stored, the others are
    told the link is spent; the link is single-use even when racing."""
    assert register(client, "provider", provider_form()).status_code == 302
    password_reset.request_reset(db, "vendor500@example.com", timedelta(minutes=60))
    mails = select(OutboxMail).where(OutboxMail.to_address == "vendor500@example.com")
    mail = db.exec(mails.order_by(col(OutboxMail.id).desc())).first()  # the reset, after the registration mail
    path = re.search(r"/auth/reset/\S+", mail.body).group(0)
    passwords = [f"Racer{n}pass9" for n in range(4)]
    with gunicorn(app.config["DATABASE_URL"], tmp_path / "gunicorn.log", **QUIET) as base:
        visitors = [Visitor(base) for _ in passwords]
        bodies = [
            urllib.parse.urlencode({"password": p, "password_confirm": p, "csrf_token": v.csrf(path)}).encode()
            for p, v in zip(passwords, visitors, strict=True)
        ]
        statuses = at_once([lambda v=v, b=b: v.submit(path, b) for v, b in zip(visitors, bodies, strict=True)])
    # the losers are refused with "重置链接无效、已使用或已过期": 404 if the link was spent before their
    # request opened it, 400 if it was spent while they waited for the write lock
    assert statuses.count(302) == 1 and set(statuses) - {302} <= {400, 404}, statuses
    assert count(db, AuditLog, AuditLog.action == "account.password_reset") == 1
    user = db.exec(select(User).where(User.email == "vendor500@example.com")).one()
    db.refresh(user)
    winner = statuses.index(302)
    assert check_password_hash(user.password_hash, passwords[winner])
