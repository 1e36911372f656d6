"""Security hardening as an attacker meets it: headers on every page, cookie flags, login throttling
(per account and per address, shared by every worker through the database), the password policy
and the refusal to run the debugger outside development."""

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, Response
from sqlmodel import Session, func, select

from matchmaker import create_app
from matchmaker.plumbing.security import CONTENT_SECURITY_POLICY, login_throttle
from matchmaker.services.login_throttle import Limits, LoginThrottle
from models import LoginFailure
from models.validation import password_error
from tests.api.support import bearer, world
from tests.conftest import PASSWORD, enterprise_form, login, post, register

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
LOCKED = "该账号登录失败次数过多"


def _every_get_page(app: Flask) -> list[str]:
    """Every GET route without path arguments: each page a visitor can ask for by address alone."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/static")
    )


OWN_POLICY = {"/embed/need"}  # the widget sets its own policy, naming the portals that may frame it


def _assert_hardened(response, page: str) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    if page in OWN_POLICY:
        assert "frame-ancestors" in policy and "X-Frame-Options" not in headers, page
    else:
        assert policy == CONTENT_SECURITY_POLICY and headers.get("X-Frame-Options") == "DENY", page
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, page
    assert headers.get("X-Content-Type-Options") == "nosniff", page
    assert headers.get("Referrer-Policy") == "same-origin" or page in OWN_POLICY, page
    assert "camera=()" in headers.get("Permissions-Policy", ""), page


@pytest.mark.parametrize("visitor", ["client", "enterprise_client", "provider_client", "admin_client"])
def test_every_page_carries_the_security_headers(request, app, visitor):
    client = request.getfixturevalue(visitor)
    pages = _every_get_page(app)
    assert {"/", "/auth/login", "/enterprise/", "/admin/"} <= set(pages)
    for page in pages:
        _assert_hardened(client.get(page), page)
    _assert_hardened(client.get("/no-such-page"), "404")
    _assert_hardened(client.get("/static/app.css"), "static")


def test_a_view_that_sets_its_own_policy_keeps_it(app, client):
    """The embeddable widget names the portals that may frame it; the default must not overwrite that."""
    own = "default-src 'self'; frame-ancestors https://portal.example.gov.cn"

    @app.get("/test-embed")
    def _embed():
        return Response("ok", headers={"Content-Security-Policy": own})

    response = client.get("/test-embed")
    assert response.headers["Content-Security-Policy"] == own
    assert "X-Frame-Options" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def _session_cookie(response) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_session_cookie_is_httponly_and_lax_and_not_secure_over_plain_http(client):
    register(client, "enterprise", enterprise_form())
    cookie = _session_cookie(login(client, "factory1@example.com"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_and_hsts_sent_when_configured(app):
    secure = create_app({**app.config, "MATCHMAKER_SESSION_COOKIE_SECURE": True})
    client = secure.test_client()
    response = client.get("/auth/login", base_url="https://localhost")
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_debug_mode_is_refused_outside_development(app):
    with pytest.raises(RuntimeError, match="debug only in development"):
        create_app({**app.config, "DEBUG": True, "MATCHMAKER_ENV": "production"})
    assert create_app({**app.config, "DEBUG": True, "MATCHMAKER_ENV": "development"}).debug


# --- login throttling -------------------------------------------------------------------------------


@pytest.fixture
def clock(app):
    """The throttle's clock, set by the test instead of sleeping."""

    class Clock:
        now = T0

        def __call__(self) -> datetime:
            return self.now

    fake = Clock()
    with app.app_context():
        login_throttle().clock = fake
    return fake


def _failures(app, kind: str) -> int:
    from matchmaker.plumbing.db import engine

    with app.app_context(), Session(engine()) as session:
        return session.exec(select(func.count()).where(LoginFailure.kind == kind)).one()


def test_five_failures_lock_the_account_with_a_chinese_message_naming_the_retry_time(app, client, clock):
    register(client, "enterprise", enterprise_form())
    for attempt in range(4):
        clock.now = T0 + timedelta(minutes=attempt)
        page = login(client, "factory1@example.com", "Wrong1234").get_data(as_text=True)
        assert "邮箱或密码不正确" in page and LOCKED not in page
    clock.now = T0 + timedelta(minutes=4, seconds=30)
    fifth = login(client, "factory1@example.com", "Wrong1234").get_data(as_text=True)
    # The first failure (09:00 Beijing) leaves the 15-minute window at 09:15: the lock lifts then.
    assert LOCKED in fifth and "09:15（北京时间）" in fifth

    clock.now = T0 + timedelta(minutes=14, seconds=59)
    refused = login(client, "factory1@example.com")  # the right password, still locked
    assert refused.status_code == 200 and LOCKED in refused.get_data(as_text=True)
    assert client.get("/enterprise/").status_code == 302  # not logged in

    clock.now = T0 + timedelta(minutes=15, seconds=1)
    assert login(client, "factory1@example.com").status_code == 302
    assert client.get("/enterprise/").status_code == 200


def test_a_refused_attempt_is_not_counted_so_the_named_time_holds(app, client, clock):
    register(client, "enterprise", enterprise_form())
    for _ in range(5):
        login(client, "factory1@example.com", "Wrong1234")
    for _ in range(10):
        assert LOCKED in login(client, "factory1@example.com", "Wrong1234").get_data(as_text=True)
    assert _failures(app, "account") == 5
    clock.now = T0 + timedelta(minutes=15, seconds=1)
    assert login(client, "factory1@example.com").status_code == 302


def test_a_successful_login_forgets_the_account_failures(client, clock):
    register(client, "enterprise", enterprise_form())
    for _ in range(4):
        login(client, "factory1@example.com", "Wrong1234")
    assert login(client, "factory1@example.com").status_code == 302
    post(client, "/auth/logout", {}, page="/")
    for _ in range(4):
        assert LOCKED not in login(client, "factory1@example.com", "Wrong1234").get_data(as_text=True)
    assert login(client, "factory1@example.com").status_code == 302


def test_an_unknown_account_is_throttled_like_a_known_one(client, clock):
    """Otherwise the lock-out would tell an attacker which emails are registered."""
    for _ in range(4):
        login(client, "nobody@example.com", "Wrong1234")
    assert LOCKED in login(client, "NoBody@example.com ", "Wrong1234").get_data(as_text=True)


def test_twenty_failures_from_one_address_lock_that_address_only(app, client, clock):
    register(client, "enterprise", enterprise_form())
    for serial in range(20):  # spread over accounts, so no single account locks
        page = login(client, f"guess{serial}@example.com", "Wrong1234").get_data(as_text=True)
        assert "当前网络登录失败次数过多" not in page or serial == 19
    refused = login(client, "factory1@example.com").get_data(as_text=True)
    assert "当前网络登录失败次数过多" in refused and "09:15（北京时间）" in refused

    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert login(other, "factory1@example.com").status_code == 302


def test_a_successful_login_does_not_reset_the_address_budget(app, client, clock):
    register(client, "enterprise", enterprise_form())
    for serial in range(19):
        login(client, f"guess{serial}@example.com", "Wrong1234")
    assert login(client, "factory1@example.com").status_code == 302  # the attacker's own account
    post(client, "/auth/logout", {}, page="/")
    assert "当前网络登录失败次数过多" in login(client, "guess99@example.com", "Wrong1234").get_data(as_text=True)


def test_the_count_is_shared_by_every_worker(app, client, clock):
    """Two app instances on one database stand for two gunicorn workers: failures in one lock the other."""
    register(client, "enterprise", enterprise_form())
    for _ in range(3):
        login(client, "factory1@example.com", "Wrong1234")
    other_worker = create_app(dict(app.config))
    other_worker.extensions["login_throttle"].clock = clock
    other = other_worker.test_client()
    login(other, "factory1@example.com", "Wrong1234")
    page = login(other, "factory1@example.com", "Wrong1234").get_data(as_text=True)
    assert LOCKED in page
    assert LOCKED in login(client, "factory1@example.com").get_data(as_text=True)


def _forwarded_login(client, email: str):
    data = {"email": email, "password": "Wrong1234"}
    return post(client, "/auth/login", data, headers={"X-Forwarded-For": "203.0.113.9"})


def test_the_client_address_comes_from_a_trusted_proxy_only_when_configured(app, clock):
    post_client = app.test_client()
    for _ in range(20):
        _forwarded_login(post_client, "guess@example.com")
    # Without trusted proxies the header is ignored: the failures counted against the peer address.
    from matchmaker.plumbing.db import engine

    with app.app_context(), Session(engine()) as session:
        keys = set(session.exec(select(LoginFailure.key).where(LoginFailure.kind == "ip")))
    assert keys == {"127.0.0.1"}

    proxied = create_app({**app.config, "MATCHMAKER_TRUSTED_PROXIES": 1})
    proxied.extensions["login_throttle"].clock = clock
    client = proxied.test_client()
    _forwarded_login(client, "guess2@example.com")
    with app.app_context(), Session(engine()) as session:
        keys = set(session.exec(select(LoginFailure.key).where(LoginFailure.kind == "ip")))
    assert "203.0.113.9" in keys


def test_throttle_service_window_and_retry_time(db):
    now = {"t": T0}
    limits = Limits(per_pair=3, per_account=100, per_ip=100, window=timedelta(minutes=10))
    throttle = LoginThrottle(limits, clock=lambda: now["t"])

    def wrong() -> str | None:
        attempt = throttle.admit(db, "a@example.com", "1.2.3.4")
        return attempt if isinstance(attempt, str) else throttle.failed(db, attempt)

    assert wrong() is None
    now["t"] = T0 + timedelta(minutes=2, seconds=10)
    assert wrong() is None
    now["t"] = T0 + timedelta(minutes=3)
    # Locked until the first failure leaves the window: 09:10 Beijing.
    assert "09:10" in wrong()
    now["t"] = T0 + timedelta(minutes=3, seconds=30)
    assert "09:10" in wrong()  # refused before any password check, and not counted
    now["t"] = T0 + timedelta(minutes=10, seconds=1)
    # Three in the window again (02:10, 03:00, 10:01): locked until 02:10 leaves, 09:12:10 rounded up to 09:13.
    assert "09:13" in wrong()
    # Rows that left the window are deleted as attempts come in: the three of T0 are gone.
    assert db.exec(select(func.count()).select_from(LoginFailure)).one() == 9


def test_a_stranger_who_knows_the_email_does_not_lock_the_owner_out_elsewhere(app, client, clock):
    register(client, "enterprise", enterprise_form())
    for _ in range(5):
        login(client, "factory1@example.com", "Wrong1234")
    refused = login(client, "factory1@example.com").get_data(as_text=True)  # the attacker's address: locked
    assert LOCKED in refused and "忘记密码" in refused
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert login(owner, "factory1@example.com").status_code == 302


def test_guesses_from_many_addresses_lock_the_account_and_name_the_reset(app, client, clock):
    register(client, "enterprise", enterprise_form())
    for serial in range(4):  # 4 addresses x 5 guesses = the account-wide limit of 20
        attacker = app.test_client()
        attacker.environ_base["REMOTE_ADDR"] = f"198.51.100.{serial}"
        for _ in range(5):
            login(attacker, "factory1@example.com", "Wrong1234")
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    page = login(owner, "factory1@example.com").get_data(as_text=True)
    assert LOCKED in page and "忘记密码" in page and "09:15（北京时间）" in page
    assert _failures(app, "account") == 20


# --- password policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("common", ["Password1", "abc12345", "1qaz2wsx", "woaini1314", "Admin123", "QWERTY123"])
def test_the_most_common_passwords_are_refused(common):
    assert password_error(common) == "该密码过于常见，容易被猜中，请换一个"


def test_registration_refuses_a_common_password_in_chinese_and_writes_nothing(client, db):
    from models import User

    form = enterprise_form(password="Password1", password_confirm="Password1")
    page = register(client, "enterprise", form)
    assert page.status_code == 200 and "该密码过于常见" in page.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(User)).one() == 0
    assert password_error(PASSWORD) is None


@pytest.mark.parametrize(
    "address",
    [
        "/admin/solutions?q=%00",
        "/admin/taxonomy/tags?domain=%00",
        "/admin/taxonomy/industries/a%00",
        "/admin/taxonomy/domains/a%1b",
        "/enterprise/needs?page=%00",
        "/?next=%01",
    ],
)
def test_an_address_with_a_control_character_is_refused_in_chinese(admin_client, address):
    response = admin_client.get(address)
    assert response.status_code == 400
    assert "请求地址含有不允许的字符" in response.get_data(as_text=True)


def test_the_api_answers_such_an_address_within_its_contract(client, db):
    token = bearer(world(db).ent_a.token)
    refused = client.get("/api/v1/solutions?q=%00", headers=token)  # its schemas' 422, not the pages' 400
    assert refused.status_code == 422 and "不允许的字符" in refused.get_json()["error"]["fields"]["q"]
    assert client.get("/api/v1/dockings/%00", headers=token).status_code == 404  # no such route: the id is a number


def test_tab_and_line_breaks_in_a_query_pass(admin_client):
    assert admin_client.get("/admin/solutions?q=%E8%AE%BE%E5%A4%87%09%E8%81%94%E7%BD%91").status_code == 200
