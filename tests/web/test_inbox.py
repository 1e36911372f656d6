"""消息中心: every role's notifications, paginated, with the unread count in the navigation; opening
or marking them read; nobody sees or touches another user's notifications."""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import current_user
from sqlalchemy import func, text
from sqlmodel import Session, col, select

from matchmaker.plumbing.db import get_session
from matchmaker.services.notifications import notify
from models import Notification, OutboxMail, Role, User
from tests.conftest import enterprise_form, login, post, provider_form, register

NAV_BADGE = re.compile(r'消息<strong>（(\d+)<span class="skip"> 条未读</span>）</strong></a>')


def signed_in(app: Flask, kind: str, serial: int) -> FlaskClient:
    client = app.test_client()
    form = enterprise_form(serial) if kind == "enterprise" else provider_form(serial)
    assert register(client, kind, form).status_code == 302
    assert login(client, form["email"]).status_code == 302
    return client


def user_id(db: Session, email: str) -> int:
    return db.exec(select(User.id).where(User.email == email)).one()


def unread_in_nav(client: FlaskClient, page: str = "/inbox/") -> int:
    found = NAV_BADGE.search(client.get(page).get_data(as_text=True))
    return int(found.group(1)) if found else 0


def tell(db: Session, uid: int, title: str, link: str = "", email: bool = True) -> Notification:
    note = notify(db, uid, "docking", title, f"{title}的详细说明", link, email=email)
    db.commit()
    return note


def test_every_role_sees_its_own_notifications_with_the_unread_count(app, db):
    factory, vendor = signed_in(app, "enterprise", 1), signed_in(app, "provider", 500)
    factory_id, vendor_id = user_id(db, "factory1@example.com"), user_id(db, "vendor500@example.com")
    tell(db, factory_id, "对接申请已被接受", "/enterprise/")
    tell(db, factory_id, "新方案推荐：设备联网")
    tell(db, vendor_id, "新的对接申请：封边机联网")
    assert unread_in_nav(factory, "/enterprise/") == 2 and unread_in_nav(vendor, "/provider/") == 1
    page = factory.get("/inbox/").get_data(as_text=True)
    assert "对接申请已被接受" in page and "新方案推荐：设备联网的详细说明" in page
    assert "新的对接申请" not in page
    assert "新的对接申请：封边机联网" in vendor.get("/inbox/").get_data(as_text=True)
    # each notification was also queued as an email to the user's address (besides the registration mails)
    notices = select(func.count()).select_from(OutboxMail).where(~OutboxMail.subject.contains("注册"))
    assert db.exec(notices).one() == 3


def test_an_admin_has_an_inbox_too(app, admin_client, db):
    tell(db, user_id(db, "admin@example.com"), "有新的入库申请待审核", "/admin/")
    assert unread_in_nav(admin_client, "/admin/") == 1
    assert "有新的入库申请待审核" in admin_client.get("/inbox/").get_data(as_text=True)


def test_opening_marks_read_and_follows_the_link(app, db):
    factory = signed_in(app, "enterprise", 1)
    uid = user_id(db, "factory1@example.com")
    note = tell(db, uid, "对接申请已被接受", "/enterprise/needs")
    opened = post(factory, f"/inbox/{note.id}/open", {}, page="/inbox/")
    assert opened.status_code == 302 and opened.headers["Location"] == "/enterprise/needs"
    assert db.get(Notification, note.id, populate_existing=True).read_at is not None
    assert unread_in_nav(factory) == 0


@pytest.mark.parametrize("link", ["https://evil.example/x", "//evil.example/x", ""])
def test_a_link_off_the_site_is_not_followed(app, db, link):
    factory = signed_in(app, "enterprise", 1)
    note = tell(db, user_id(db, "factory1@example.com"), "消息", link)
    opened = post(factory, f"/inbox/{note.id}/open", {}, page="/inbox/")
    assert opened.headers["Location"] == "/inbox/"


def test_mark_one_and_mark_all_read(app, db):
    factory = signed_in(app, "enterprise", 1)
    uid = user_id(db, "factory1@example.com")
    first, *_ = [tell(db, uid, f"消息{i}") for i in range(3)]
    assert post(factory, f"/inbox/{first.id}/read", {}, page="/inbox/").status_code == 302
    assert unread_in_nav(factory) == 2
    done = post(factory, "/inbox/read-all", {}, page="/inbox/", follow_redirects=True).get_data(as_text=True)
    assert "已将 2 条消息标为已读" in done and unread_in_nav(factory) == 0
    unread = select(func.count()).where(Notification.user_id == uid, col(Notification.read_at).is_(None))
    assert db.exec(unread).one() == 0


def test_without_the_csrf_token_nothing_changes(app, db):
    factory = signed_in(app, "enterprise", 1)
    note = tell(db, user_id(db, "factory1@example.com"), "消息")
    factory.post(f"/inbox/{note.id}/read", data={})
    factory.post("/inbox/read-all", data={})
    assert unread_in_nav(factory) == 1


def test_another_users_notification_is_not_found(app, db):
    factory, vendor = signed_in(app, "enterprise", 1), signed_in(app, "provider", 500)
    note = tell(db, user_id(db, "factory1@example.com"), "对接申请已被接受", "/enterprise/")
    for action in ("read", "open"):
        assert post(vendor, f"/inbox/{note.id}/{action}", {}, page="/inbox/").status_code == 404
    assert db.get(Notification, note.id, populate_existing=True).read_at is None
    assert unread_in_nav(factory) == 1


def test_the_list_is_paginated_newest_first(app, db):
    factory = signed_in(app, "enterprise", 1)
    uid = user_id(db, "factory1@example.com")
    for i in range(app.config["MATCHMAKER_PAGE_SIZE"] + 3):
        tell(db, uid, f"第{i:02d}条消息", email=False)
    first = factory.get("/inbox/").get_data(as_text=True)
    second = factory.get("/inbox/?page=2").get_data(as_text=True)
    newest, oldest = f"第{app.config['MATCHMAKER_PAGE_SIZE'] + 2:02d}条消息", "第00条消息"
    assert newest in first and oldest not in first
    assert oldest in second and newest not in second
    assert "第 2 / 2 页" in second and 'href="/inbox/?page=1"' in second


def test_signed_out_visitors_are_sent_to_login(client):
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_notification_text_is_escaped(app, db):
    """Titles and bodies quote user text (need titles, reasons): markup in them stays text."""
    factory = signed_in(app, "enterprise", 1)
    tell(db, user_id(db, "factory1@example.com"), "<script>alert(1)</script>")
    page = factory.get("/inbox/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_the_error_page_after_a_failed_transaction_is_still_the_chinese_one(app):
    """The unread count is on every page, the 500 page too: a failed transaction must not break it."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/test-failing-write")
    def failing_write():
        assert current_user.is_authenticated
        session = get_session()
        session.add(User(email="factory1@example.com", password_hash="-", role=Role.enterprise, display_name="重复"))
        session.flush()  # IntegrityError: the e-mail is taken; the session now needs a rollback

    @app.route("/test-failing-statement")
    def failing_statement():
        get_session().exec(text("SELECT no_such_column FROM notification"))  # aborts a PostgreSQL transaction

    factory = signed_in(app, "enterprise", 1)
    response = factory.get("/test-failing-write")  # a lost race on a unique rule: a conflict, not a crash
    assert response.status_code == 409 and "操作冲突" in response.get_data(as_text=True)
    response = factory.get("/test-failing-statement")
    assert response.status_code == 500 and "系统繁忙" in response.get_data(as_text=True)
