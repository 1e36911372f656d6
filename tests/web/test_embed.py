"""The embeddable widget: matches for one text box, anonymous, cookie-free, framed only where allowed."""

import re
import threading
import uuid

import pytest
from sqlalchemy import func
from sqlmodel import select

from matchmaker import create_app
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.ratelimit import MemoryStore, RateLimiter
from models import MatchResult, Need
from tests.api.support import NEED_TEXT
from tests.matching.test_need_matching import IOT, MES, catalogue


def test_the_widget_shows_explained_matches_linking_into_the_platform(client, db):
    catalogue(db)
    response = client.get("/embed/need", query_string={"q": NEED_TEXT})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.index(IOT.title) < html.index(MES.title)
    assert "演示数字科技901" in html and "数据采集" in html  # provider, domain by name
    assert "共同能力标签" in html and "设备联网" in html and "未注明" not in html
    assert re.search(r"覆盖需求要点 \d+/\d+", html)
    assert 'href="/enterprise/needs/new" target="_blank" rel="noopener"' in html
    assert f">{NEED_TEXT}</textarea>" in html  # the text stays in the box
    assert db.exec(select(func.count()).select_from(MatchResult)).one() == 0
    assert db.exec(select(func.count()).select_from(Need)).one() == 0


def test_the_widget_needs_no_cookie_and_sets_none(app, db):
    catalogue(db)
    anonymous = app.test_client(use_cookies=False)
    for query in ({}, {"q": NEED_TEXT}):
        response = anonymous.get("/embed/need", query_string=query)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        html = response.get_data(as_text=True)
        assert "csrf_token" not in html and "<script" not in html and 'method="get"' in html


def test_frame_ancestors_come_from_the_configuration(app, client):
    policy = client.get("/embed/need").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "default-src 'none'" in policy and "script-src" not in policy
    assert "X-Frame-Options" not in client.get("/embed/need").headers

    portal = "https://portal.pingshan.example https://*.gov.example:8443"
    configured = create_app(dict(app.config) | {"MATCHMAKER_EMBED_ORIGINS": portal})
    header = configured.test_client().get("/embed/need").headers["Content-Security-Policy"]
    assert header.endswith(f"frame-ancestors {portal}")
    with configured.app_context():
        engine().dispose()


@pytest.mark.parametrize("bad", ["*", "portal.example", "https://x.example; script-src *", "javascript:alert(1)"])
def test_a_bad_origin_setting_stops_the_start(app, bad):
    with pytest.raises(ValueError, match="MATCHMAKER_EMBED_ORIGINS"):
        create_app(dict(app.config) | {"MATCHMAKER_EMBED_ORIGINS": bad})


def test_bad_text_is_explained_and_nothing_is_matched(client, db):
    catalogue(db)
    short = client.get("/embed/need", query_string={"q": "MES"})
    assert short.status_code == 422 and "至少 4 个字" in short.get_data(as_text=True)
    long = client.get("/embed/need", query_string={"q": "设备联网" * 200})
    assert long.status_code == 422 and "500 字以内" in long.get_data(as_text=True)
    assert IOT.title not in short.get_data(as_text=True)


def test_anonymous_matching_is_rate_limited_per_client_address(app, db):
    catalogue(db)
    clock = [1_800_000_000.0]
    app.extensions["rate_limiter"] = RateLimiter(MemoryStore(), lambda: clock[0], namespace=uuid.uuid4().hex)
    app.config.update(MATCHMAKER_EMBED_RATE_LIMIT=2, MATCHMAKER_EMBED_RATE_WINDOW=60)
    first, second = app.test_client(), app.test_client()
    address = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(2):
        assert first.get("/embed/need", query_string={"q": NEED_TEXT}, environ_base=address).status_code == 200
    limited = first.get("/embed/need", query_string={"q": NEED_TEXT}, environ_base=address)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert "查询过于频繁" in limited.get_data(as_text=True) and IOT.title not in limited.get_data(as_text=True)
    assert first.get("/embed/need", environ_base=address).status_code == 200  # the empty form is never limited
    other = {"REMOTE_ADDR": "198.51.100.20"}
    assert second.get("/embed/need", query_string={"q": NEED_TEXT}, environ_base=other).status_code == 200
    clock[0] += 60
    assert first.get("/embed/need", query_string={"q": NEED_TEXT}, environ_base=address).status_code == 200


def test_the_script_that_creates_the_iframe(client):
    response = client.get("/embed/widget.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    script = response.get_data(as_text=True)
    assert 'new URL("need", script.src)' in script and 'createElement("iframe")' in script
    assert client.get("/static/embed/embed.css").status_code == 200


@pytest.mark.e2e
def test_a_portal_page_on_another_origin_embeds_the_widget_with_the_script_tag(app, db, browser):
    """In Chromium: the script tag on the portal creates the iframe, a search shows matches, no cookie is
    set; the same page served from an origin not in MATCHMAKER_EMBED_ORIGINS gets a blocked frame."""
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Response

    catalogue(db)
    page_html = {"body": ""}
    portal = make_server(
        "127.0.0.1", 0, lambda env, start: Response(page_html["body"], mimetype="text/html")(env, start)
    )
    platform_app = create_app(dict(app.config) | {"MATCHMAKER_EMBED_ORIGINS": f"http://localhost:{portal.server_port}"})
    platform = make_server("127.0.0.1", 0, platform_app, threaded=True)
    page_html["body"] = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>门户</title></head><body>'
        '<h1>区数字化转型公共服务平台</h1><div id="slot"></div>'
        f'<script src="http://127.0.0.1:{platform.server_port}/embed/widget.js" data-target="#slot" async></script>'
        "</body></html>"
    )
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (portal, platform)]
    for thread in threads:
        thread.start()
    try:
        allowed = browser.new_page(locale="zh-CN")
        allowed.goto(f"http://localhost:{portal.server_port}/")
        widget = allowed.frame_locator("#slot iframe")
        widget.get_by_label("用一句话描述您的数字化需求").fill(NEED_TEXT)
        widget.get_by_role("button", name="匹配服务方案").click()
        widget.get_by_role("heading", name=IOT.title, exact=False).wait_for(timeout=20_000)
        assert allowed.context.cookies() == []

        refused = browser.new_page()
        # Chromium reports the refused frame on the console: wait for that message, not for a fixed time
        with refused.expect_console_message(lambda message: "frame-ancestors" in message.text, timeout=20_000):
            refused.goto(f"http://127.0.0.1:{portal.server_port}/")  # same page, an origin not on the list
        refused.wait_for_selector("#slot iframe")
        allowed.close()
        refused.close()
    finally:
        portal.shutdown()
        platform.shutdown()
        with platform_app.app_context():
            engine().dispose()
