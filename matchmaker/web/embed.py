"""The embeddable widget: /embed/need for an iframe in the district's public-service portal, and
/embed/widget.js, a script that creates that iframe for a script-tag embed.

The page is anonymous and needs no cookie: it reads no session and sets none, so it works in a
third-party iframe whose cookies the browser blocks. Its form is a GET: matching stores nothing and
changes nothing, so there is nothing for a cross-site request to forge, and no CSRF token is needed
(a token would need the session cookie the iframe may not get). Matching is rate-limited per client
IP address. Which sites may frame the page is the operator's list `MATCHMAKER_EMBED_ORIGINS`, sent as
the `frame-ancestors` directive of a strict Content-Security-Policy (the page runs no script at all).
"""

import re

from flask import Blueprint, Flask, current_app, make_response, render_template, request, send_from_directory

from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.plumbing.ratelimit import limiter
from matchmaker.services import catalogue
from matchmaker.services.errors import ServiceError

bp = Blueprint("embed", __name__, url_prefix="/embed")

TOP_N = 5
MIN_TEXT, MAX_TEXT = 4, 500
_SOURCE = re.compile(r"^('self'|'none'|https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?)$")


def frame_ancestors(setting: str) -> str:
    """The `frame-ancestors` sources from the space-separated setting; a bad entry stops the start-up
    (a typo here would silently break the portal's embed, or open the widget to any site)."""
    sources = setting.split() or ["'self'"]
    bad = [source for source in sources if not _SOURCE.match(source)]
    if bad:
        raise ValueError(
            f"MATCHMAKER_EMBED_ORIGINS: not an origin: {' '.join(bad)} (use https://host[:port] or 'self')"
        )
    return " ".join(sources)


DEFAULTS = {
    "MATCHMAKER_EMBED_RATE_LIMIT": 30,  # anonymous matches per client address ...
    "MATCHMAKER_EMBED_RATE_WINDOW": 60,  # ... per this many seconds
}


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config[key] = int(app.config.get(key, value))  # from the environment they arrive as text
    app.config.setdefault("MATCHMAKER_EMBED_ORIGINS", "'self'")  # space-separated origins allowed to frame
    app.extensions["embed_csp"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {frame_ancestors(app.config['MATCHMAKER_EMBED_ORIGINS'])}"
    )
    app.register_blueprint(bp)


def _problem(text: str) -> str | None:
    if len(text) < MIN_TEXT:
        return f"请用一句话描述需求（至少 {MIN_TEXT} 个字）"
    if len(text) > MAX_TEXT:
        return f"描述请控制在 {MAX_TEXT} 字以内，完整需求可在平台上发布"
    if "\x00" in text:
        return "描述中含有不允许的字符"
    return None


@bp.route("/need")
def need():
    text = (request.args.get("q") or "").strip()
    matches, error, status, headers = None, None, 200, {}
    if text:
        error = _problem(text)
        if error:
            status = 422
        else:
            config = current_app.config
            decision = limiter().hit(
                f"embed:{request.remote_addr}",
                config["MATCHMAKER_EMBED_RATE_LIMIT"],
                config["MATCHMAKER_EMBED_RATE_WINDOW"],
            )
            if not decision.allowed:
                error = f"查询过于频繁，请 {decision.retry_after} 秒后再试"
                status, headers = 429, {"Retry-After": str(decision.retry_after)}
            else:
                try:
                    matches = catalogue.match_text(get_session(), engine(), search_index(), text, top_n=TOP_N).matches
                except ServiceError as problem:
                    error, status = problem.message, 422
    html = render_template("embed/need.html", text=text, matches=matches, error=error, max_text=MAX_TEXT)
    return make_response(html, status, headers)


@bp.route("/widget.js")
def widget_js():
    response = send_from_directory(
        current_app.static_folder, "embed/widget.js", mimetype="text/javascript", max_age=3600
    )
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # loaded by the portal's pages
    return response


@bp.after_request
def _embed_headers(response):
    if request.endpoint == "embed.need":
        response.headers["Content-Security-Policy"] = current_app.extensions["embed_csp"]
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response
