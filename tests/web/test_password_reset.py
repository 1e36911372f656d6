"""Password reset by email (issue 13): no account enumeration, a single-use link that expires, the new
password ends every session and lifts a login lock-out. Time is moved by asking for the link "earlier"."""

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, func, select
from werkzeug.security import check_password_hash

from matchmaker.services import password_reset
from models import AuditLog, LoginFailure, OutboxMail, PasswordReset, User, utcnow
from tests.conftest import PASSWORD, csrf_token, login, post

EMAIL = "factory1@example.com"
NEW = "Newpass456"
LINK = re.compile(r"/auth/reset/([A-Za-z0-9_-]+)")


def _ask(client: FlaskClient, email: str):
    return post(client, "/auth/forgot", {"email": email}, page="/auth/forgot")


def _mails(db: Session, email: str) -> list[OutboxMail]:
    db.expire_all()
    return list(
        db.exec(
            select(OutboxMail)
            .where(OutboxMail.to_address == email, OutboxMail.subject.contains("重置"))
            .order_by(OutboxMail.id)
        )
    )


def _token(db: Session, email: str = EMAIL) -> str:
    return LINK.search(_mails(db, email)[-1].body).group(1)


def _set(client: FlaskClient, token: str, password: str = NEW, confirm: str | None = None):
    page = f"/auth/reset/{token}"
    data = {"password": password, "password_confirm": confirm or password}
    return client.post(page, data=data | {"csrf_token": csrf_token(client, "/auth/login")})


def test_the_login_page_links_to_the_reset(client: FlaskClient):
    assert 'href="/auth/forgot"' in client.get("/auth/login").get_data(as_text=True)


def test_the_answer_is_the_same_whether_or_not_the_email_has_an_account(enterprise_client, app: Flask, db):
    known, unknown = app.test_client(), app.test_client()
    answers = []
    for visitor, email in ((known, EMAIL), (unknown, "nobody@example.com")):
        response = _ask(visitor, email)
        page = visitor.get(response.headers["Location"]).get_data(as_text=True)
        answers.append((response.status_code, response.headers["Location"], "如果该邮箱已注册" in page))
    assert answers[0] == answers[1] == (302, "/auth/login", True)
    assert len(_mails(db, EMAIL)) == 1 and _mails(db, "nobody@example.com") == []


def test_a_link_sets_a_new_password_once_and_ends_every_session(enterprise_client, app: Flask, db):
    _ask(app.test_client(), EMAIL)
    mail = _mails(db, EMAIL)[0]
    token = _token(db)
    assert "60 分钟" in mail.body and "只能使用一次" in mail.body
    stored = db.exec(select(PasswordReset)).one()
    assert token not in stored.token_hash and stored.used_at is None  # only a hash is kept

    visitor = app.test_client()
    assert visitor.get(f"/auth/reset/{token}").headers["Cache-Control"] == "no-store"
    assert _set(visitor, token).status_code == 302

    user = db.exec(select(User).where(User.email == EMAIL)).one()
    assert check_password_hash(user.password_hash, NEW)
    assert enterprise_client.get("/enterprise/").status_code == 302  # the signed-in session ended
    assert login(app.test_client(), EMAIL, PASSWORD).status_code == 200
    assert login(app.test_client(), EMAIL, NEW).status_code == 302
    assert db.exec(
        select(AuditLog).where(AuditLog.action == "account.password_reset", AuditLog.target_id == user.id)
    ).one()

    again = app.test_client()
    assert again.get(f"/auth/reset/{token}").status_code == 404  # single use
    response = _set(again, token, "Another789")
    assert response.status_code == 404 and "重置链接无效、已使用或已过期" in response.get_data(as_text=True)
    db.expire_all()
    assert check_password_hash(db.exec(select(User).where(User.email == EMAIL)).one().password_hash, NEW)


def test_a_link_expires(enterprise_client, app: Flask, db):
    lifetime = timedelta(minutes=app.config["MATCHMAKER_RESET_MINUTES"])
    assert lifetime == timedelta(minutes=60)
    password_reset.request_reset(db, "Factory1@Example.com", lifetime, now=utcnow() - lifetime - timedelta(seconds=1))
    stale = _token(db)
    password_reset.request_reset(db, EMAIL, lifetime)  # the expired link does not hold a new one back
    fresh = _token(db)
    assert stale != fresh
    assert app.test_client().get(f"/auth/reset/{stale}").status_code == 404
    assert _set(app.test_client(), stale).status_code == 404
    assert app.test_client().get(f"/auth/reset/{fresh}").status_code == 200
    assert _set(app.test_client(), fresh).status_code == 302


def test_the_form_cannot_flood_a_mailbox(enterprise_client, app: Flask, db):
    for _ in range(3):
        _ask(app.test_client(), EMAIL)
    assert len(_mails(db, EMAIL)) == 1


def test_a_weak_or_mismatched_new_password_is_refused_and_the_link_kept(enterprise_client, app: Flask, db):
    _ask(app.test_client(), EMAIL)
    token, visitor = _token(db), app.test_client()
    assert "密码至少需要8位" in _set(visitor, token, "short1").get_data(as_text=True)
    assert "两次输入的密码不一致" in _set(visitor, token, NEW, "Other4567").get_data(as_text=True)
    assert _set(visitor, token).status_code == 302  # the link still works after the refusals


def test_a_reset_lifts_a_login_lock_out(enterprise_client, app: Flask, db):
    attacker = app.test_client()
    for _ in range(5):
        login(attacker, EMAIL, "Wrong1234")
    assert "忘记密码" in login(attacker, EMAIL).get_data(as_text=True)  # locked, and told the way out
    _ask(app.test_client(), EMAIL)
    assert _set(app.test_client(), _token(db)).status_code == 302
    assert db.exec(select(func.count()).where(LoginFailure.kind.in_(["account", "pair"]))).one() == 0
    assert login(app.test_client(), EMAIL, NEW).status_code == 302


def test_a_disabled_account_gets_no_link(enterprise_client, app: Flask, db):
    user = db.exec(select(User).where(User.email == EMAIL)).one()
    user.is_active = False
    db.add(user)
    db.commit()
    _ask(app.test_client(), EMAIL)
    assert _mails(db, EMAIL) == []


def test_a_link_asked_for_59_minutes_ago_still_works(enterprise_client, app: Flask, db):
    lifetime = timedelta(minutes=app.config["MATCHMAKER_RESET_MINUTES"])
    password_reset.request_reset(db, EMAIL, lifetime, now=utcnow() - lifetime + timedelta(minutes=1))
    assert _set(app.test_client(), _token(db)).status_code == 302
