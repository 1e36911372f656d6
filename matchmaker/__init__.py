"""坪山区数字服务供需对接平台: the Flask application.

One folder per layer; imports point down only:

- `web/` and `api/`: the pages of each role and the JSON API; they validate input and call services;
- `services/`: the use cases (session first, own their commit, never read `request`);
- `matching/`: taxonomy, tagging, the engine, the ranker, evaluation and the per-worker search index
  (pure code over `embeddings/`, except the index's sync with the database);
- `plumbing/`: configuration, database session, security headers, logs, errors, template helpers;
- `commands/`: the `flask` commands (database, seed, backup, reindex, evaluate).

This module holds only the app factory.
"""

from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory. No I/O beyond reading configuration: tables and data come from CLI commands."""
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"), instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from matchmaker.plumbing.config import build_config

    app.config.from_mapping(build_config(app.instance_path, config))

    from matchmaker.services.ratings import parse_tiers

    parse_tiers(app.config["MATCHMAKER_TIERS"])  # a malformed MATCHMAKER_TIERS stops the start, not a page later

    from matchmaker import api
    from matchmaker.commands import cli
    from matchmaker.plumbing import db, extensions, health, pagination, ratelimit, requestlog, security, templating
    from matchmaker.plumbing.errors import register_error_pages
    from matchmaker.web import (
        account,
        admin,
        auth,
        delivery,
        docking,
        embed,
        enterprise,
        events,
        inbox,
        projects,
        provider,
        public,
    )

    pagination.init_app(app)  # the bounded int converter, before any route
    requestlog.init_app(app)
    security.init_app(app)
    db.init_app(app)
    health.init_app(app)
    extensions.init_search_index(app)
    extensions.csrf.init_app(app)
    extensions.login_manager.init_app(app)
    templating.init_app(app)
    register_error_pages(app)
    ratelimit.init_app(app)
    api.init_app(app)  # after the error pages: under /api/v1 it answers errors in JSON instead
    embed.init_app(app)
    cli.init_app(app)
    for module in (public, auth, account, enterprise, provider, admin, docking, inbox, events, projects):
        app.register_blueprint(module.bp)
    delivery.init_app(app)  # notifications, precise push, email outbox
    return app
