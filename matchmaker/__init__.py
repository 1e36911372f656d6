"""坪山区数字服务供需对接平台: the Flask application."""

from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory. No I/O beyond reading configuration: tables and data come from CLI commands."""
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"), instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from matchmaker import health, requestlog, security
    from matchmaker.config import build_config

    app.config.from_mapping(build_config(app.instance_path, config))

    from matchmaker import admin, auth, cli, db, docking, enterprise, provider, public, search, templating
    from matchmaker.errors import register_error_pages
    from matchmaker.extensions import csrf, login_manager

    requestlog.init_app(app)
    security.init_app(app)
    db.init_app(app)
    health.init_app(app)
    search.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    templating.init_app(app)
    register_error_pages(app)
    from matchmaker import admin_keys, api, embed, ratelimit  # noqa: F401  (admin_keys: API key routes on admin.bp)

    ratelimit.init_app(app)
    api.init_app(app)  # after the error pages: under /api/v1 it answers errors in JSON instead
    embed.init_app(app)
    from matchmaker import admin_centre  # noqa: F401  (dashboard, export and taxonomy routes on admin.bp)

    cli.init_app(app)
    from matchmaker import admin_import  # noqa: F401  (bulk import, solution and docking lists on admin.bp)

    for module in (public, auth, enterprise, provider, admin, docking):
        app.register_blueprint(module.bp)
    from matchmaker import delivery, inbox  # notifications, precise push, email outbox

    app.register_blueprint(inbox.bp)
    delivery.init_app(app)
    return app
