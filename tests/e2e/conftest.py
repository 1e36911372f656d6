"""Browser tests: the real app served on a local port, driven by Debian's Chromium through Playwright.

The server runs in a thread of the test process with its own SQLite database holding the demo
data and the real default encoder, so the pages show what a user of `make run` would see. Screenshots
of the main pages go to test-output/screenshots (or $E2E_SCREENSHOTS).
"""

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session
from werkzeug.serving import make_server

from matchmaker import create_app
from matchmaker.commands.seed import load_demo
from matchmaker.commands.seed_activity import load_activity
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services.push import PushCaps
from models import upgrade_database
from tests.conftest import confirmation_link

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PROJECT = Path(__file__).resolve().parents[2]
LIVE: dict[str, Flask] = {}  # the served app, for reading its outbox (registration links)
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS", PROJECT / "test-output" / "screenshots"))


@pytest.fixture(scope="session")
def live_url(tmp_path_factory) -> Iterator[str]:
    """Base URL of the demo platform served for the whole browser session."""
    folder = tmp_path_factory.mktemp("e2e")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'e2e.sqlite'}",
            "SECRET_KEY": "e2e-secret",
            "MATCHMAKER_ENCODER": os.environ.get("E2E_ENCODER", "use"),
            "MATCHMAKER_BASE_URL": "http://127.0.0.1",
        }
    )
    with app.app_context():
        upgrade_database(engine())
        with Session(engine()) as session:
            load_demo(session)
            load_activity(session, engine(), search_index(), PushCaps.from_config(app.config))
    LIVE["app"] = app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    with app.app_context():
        engine().dispose()


def confirm_registration(page, email: str) -> None:
    """After the form's 请查收确认邮件: open the link of the mail in the outbox and confirm, as the user would."""
    page.get_by_role("heading", name="请查收确认邮件").wait_for()
    link = confirmation_link(LIVE["app"], email)
    assert link, f"no confirmation mail to {email}"
    page.goto(link)
    page.get_by_role("button", name="完成注册").click()
    page.get_by_role("heading", name="登录").wait_for()


@pytest.fixture
def new_page(browser, live_url):
    """A factory of pages, each in its own browser context (its own cookies: one per person)."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_url, locale="zh-CN", viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield make
    for context in contexts:
        context.close()


def shot(page, name: str) -> Path:
    """Save a full-page screenshot of the current page under the test output."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
