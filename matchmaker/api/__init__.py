"""The open JSON API at /api/v1: token-authenticated, rate-limited, described by an OpenAPI document.

Every operation is declared with `registry.operation`, which both routes it and feeds the document
served at /api/v1/openapi.json and rendered at /api/v1/docs. Calls made with a key are logged.
"""

from flask import Blueprint, Flask, Response, current_app, g, request

from matchmaker.api import calllog, errors
from matchmaker.api.calllog import call_log
from matchmaker.api.cli import create_api_key_command
from matchmaker.api.keys import KeyCache
from matchmaker.plumbing.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.after_request
def _log_call(response: Response) -> Response:
    """One log row per call made with a recognised key, written apart from the request's own
    transaction (see `matchmaker.api.calllog`), so it is kept whatever became of that."""
    key_id = g.pop("api_key_id", None)
    if key_id is not None:
        decision = g.pop("rate_limit", None)
        if decision is not None:
            response.headers["X-RateLimit-Limit"] = str(decision.limit)
            response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
        call_log(current_app).record(key_id, request.method, request.path, response.status_code)
    return response


DEFAULTS = {
    "MATCHMAKER_API_RATE_LIMIT": 120,  # calls per key ...
    "MATCHMAKER_API_RATE_WINDOW": 60,  # ... per this many seconds
}


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config[key] = int(app.config.get(key, value))  # from the environment they arrive as text
    app.cli.add_command(create_api_key_command)
    calllog.init_app(app)
    app.extensions["api_keys"] = KeyCache()
    csrf.exempt(bp)  # token-authenticated: no cookies, so nothing for a cross-site request to ride on
    errors.init_app(app)
    app.register_blueprint(bp)


from matchmaker.api import catalogue, dockings, docs, matching, needs  # noqa: E402,F401  (declare the operations)
