"""Security settings every response and login goes through.

- Session cookies: HttpOnly, SameSite=Lax, Secure when MATCHMAKER_SESSION_COOKIE_SECURE (behind HTTPS,
  which also turns on HSTS).
- Response headers: a Content-Security-Policy without inline script or style, nosniff, a referrer
  policy and a permissions policy. A view that sets its own Content-Security-Policy (the embeddable
  widget names the portals allowed to frame it) keeps it, and then no X-Frame-Options is added.
- Login throttling per (address, account) pair, per account and per client address
  (`services/login_throttle.py`), counted in the database before the password is checked, so that
  every worker shares the budget and parallel guesses cannot overrun it.
- Debug mode only where MATCHMAKER_ENV is "development" (the default for `flask run`;
  gunicorn.conf.py sets "production"): the app refuses to start otherwise.
- Behind a reverse proxy, MATCHMAKER_TRUSTED_PROXIES = the number of proxies whose X-Forwarded-For
  and X-Forwarded-Proto are believed, so the throttle and the logs see the real client address.
"""

import functools
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, Response, current_app, make_response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.errors import error_page, is_api_request
from matchmaker.services import accounts
from matchmaker.services.login_throttle import Limits, LoginThrottle
from models import User
from models.validation import CONTROL_CHARACTER_MESSAGE, CONTROL_CHARACTERS

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000"

DEFAULTS = {
    "MATCHMAKER_ENV": "development",  # development | production
    "MATCHMAKER_LOGIN_MAX_FAILURES_PAIR": 5,  # per account from one client address within the window
    "MATCHMAKER_LOGIN_MAX_FAILURES": 20,  # per account from every address within the window
    "MATCHMAKER_LOGIN_MAX_FAILURES_IP": 20,  # per client address within the window
    "MATCHMAKER_LOGIN_WINDOW_MINUTES": 15,
    "MATCHMAKER_TRUSTED_PROXIES": 0,
}

WRONG_CREDENTIALS = "邮箱或密码不正确"


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    if app.debug and app.config["MATCHMAKER_ENV"] != "development":
        raise RuntimeError(
            f"DEBUG is on with MATCHMAKER_ENV={app.config['MATCHMAKER_ENV']!r}: "
            "the debugger runs code for whoever can reach it; debug only in development"
        )
    secure = bool(app.config["MATCHMAKER_SESSION_COOKIE_SECURE"])
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
    )
    proxies = int(app.config["MATCHMAKER_TRUSTED_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    limits = Limits(
        per_pair=int(app.config["MATCHMAKER_LOGIN_MAX_FAILURES_PAIR"]),
        per_account=int(app.config["MATCHMAKER_LOGIN_MAX_FAILURES"]),
        per_ip=int(app.config["MATCHMAKER_LOGIN_MAX_FAILURES_IP"]),
        window=timedelta(minutes=int(app.config["MATCHMAKER_LOGIN_WINDOW_MINUTES"])),
    )
    app.extensions["login_throttle"] = LoginThrottle(limits)
    app.before_request(_refuse_control_characters)
    app.after_request(_security_headers)


def _refuse_control_characters() -> Response | None:
    """A page address or query holding a control character (%00 …) is answered 400 before any view
    reads it: PostgreSQL refuses NUL in text, so a filter or path value carrying one would surface as a
    500. Form fields get the same rule with a message on the field (`matchmaker.web.forms.BaseForm`); the
    API checks its input against its schemas and answers in the statuses its contract documents."""
    if is_api_request():
        return None
    values = [request.path, *(part for pair in request.args.items(multi=True) for part in pair)]
    if not any(CONTROL_CHARACTERS.search(value) for value in values):
        return None
    return error_page(400, f"请求地址{CONTROL_CHARACTER_MESSAGE}")


def no_store(view: Callable) -> Callable:
    """For a page or a file that shows contact details: no cache keeps a copy (a shared proxy, or the
    browser's, which would show it again after the docking was cancelled or the account signed out)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs) -> Response:
        response = make_response(view(*args, **kwargs))
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapped


def _security_headers(response: Response) -> Response:
    if "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers.setdefault("X-Frame-Options", "DENY")
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["SESSION_COOKIE_SECURE"]:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def login_throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]


def authenticate(email: str, password: str) -> tuple[User | None, str | None]:
    """The login form's check, throttled: (user, None), or (None, the Chinese message to show)."""
    session = get_session()
    throttle = login_throttle()
    address = request.remote_addr or "unknown"
    attempt = throttle.admit(session, email, address)  # counted before the password is checked
    if isinstance(attempt, str):
        return None, attempt
    user = accounts.authenticate(session, email, password)
    if user is None:
        return None, throttle.failed(session, attempt) or WRONG_CREDENTIALS
    throttle.succeeded(session, attempt)
    return user, None
