"""Password change for every signed-in user: the current password, the registration's rules, the
other sessions end, audited and notified (issue 13, missing features)."""

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.security import check_password_hash

from models import AuditLog, Notification, OutboxMail, User
from tests.conftest import PASSWORD, csrf_token, login

PAGE = "/account/password"
NEW = "Newpass456"


def _change(client: FlaskClient, current: str = PASSWORD, new: str = NEW, confirm: str | None = None):
    data = {"current_password": current, "password": new, "password_confirm": confirm or new}
    return client.post(PAGE, data=data | {"csrf_token": csrf_token(client, PAGE)})


def _user(db: Session, email: str) -> User:
    db.expire_all()
    return db.exec(select(User).where(User.email == email)).one()


@pytest.mark.parametrize(
    "fixture,email",
    [
        ("enterprise_client", "factory1@example.com"),
        ("provider_client", "vendor500@example.com"),
        ("admin_client", "admin@example.com"),
    ],
)
def test_every_role_changes_its_password_and_other_sessions_end(request, app: Flask, db: Session, fixture, email):
    client = request.getfixturevalue(fixture)
    other_browser = app.test_client()
    assert login(other_browser, email).status_code == 302
    assert "修改密码" in client.get("/").get_data(as_text=True)  # in the account menu
    version = _user(db, email).session_version

    response = _change(client)
    assert response.status_code == 302

    user = _user(db, email)
    assert check_password_hash(user.password_hash, NEW) and user.session_version == version + 1
    assert client.get(PAGE).status_code == 200  # this browser stays signed in
    assert other_browser.get(PAGE).status_code == 302  # the other one is signed out
    audit = db.exec(select(AuditLog).where(AuditLog.action == "account.password_change")).one()
    assert (audit.actor_id, audit.target_id) == (user.id, user.id)
    assert db.exec(select(Notification).where(Notification.user_id == user.id, Notification.kind == "account")).one()
    assert db.exec(
        select(OutboxMail).where(OutboxMail.to_address == email, OutboxMail.subject.contains("密码已修改"))
    ).one()
    fresh = app.test_client()
    assert login(fresh, email, PASSWORD).status_code == 200  # the old password no longer works
    assert login(fresh, email, NEW).status_code == 302


@pytest.mark.parametrize(
    "current,new,confirm,message",
    [
        ("Wrong9999", NEW, None, "当前密码不正确"),
        (PASSWORD, "short1", None, "密码至少需要8位"),
        (PASSWORD, "onlyletters", None, "密码需同时包含字母和数字"),
        (PASSWORD, "password1", None, "该密码过于常见"),
        (PASSWORD, NEW, "Other4567", "两次输入的密码不一致"),
        (PASSWORD, PASSWORD, None, "新密码不能与当前密码相同"),
        (PASSWORD, "Newpass\x01456", None, "不允许的字符"),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(enterprise_client, db, current, new, confirm, message):
    before = _user(db, "factory1@example.com")
    before = (before.password_hash, before.session_version)
    response = _change(enterprise_client, current, new, confirm)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    after = _user(db, "factory1@example.com")
    assert (after.password_hash, after.session_version) == before
    assert not db.exec(select(AuditLog).where(AuditLog.action == "account.password_change")).first()


def test_guessing_the_current_password_is_throttled_like_a_login(enterprise_client, db):
    for _ in range(5):
        assert "当前密码不正确" in _change(enterprise_client, "Wrong9999").get_data(as_text=True)
    refused = _change(enterprise_client).get_data(as_text=True)  # even the right one, now
    assert "已临时锁定" in refused
    assert check_password_hash(_user(db, "factory1@example.com").password_hash, PASSWORD)


def test_the_page_needs_a_login_and_a_csrf_token(client, enterprise_client):
    assert client.application.test_client().get(PAGE).status_code == 302
    data = {"current_password": PASSWORD, "password": NEW, "password_confirm": NEW}
    assert enterprise_client.post(PAGE, data=data).status_code == 400
