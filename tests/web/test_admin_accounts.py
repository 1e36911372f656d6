"""账号管理 (issue 13): an admin lists and searches accounts, disables and enables one and forces a
password reset, each with a reason, audited, and each ending the account's sessions."""

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.security import generate_password_hash

from models import AuditLog, OutboxMail, Role, User
from tests.conftest import PASSWORD, csrf_token, enterprise_form, login, register

VICTIM = "factory1@example.com"


def _victim(app: Flask, db: Session) -> tuple[int, FlaskClient]:
    """An enterprise account, signed in on its own browser."""
    browser = app.test_client()
    assert register(browser, "enterprise", enterprise_form()).status_code == 302
    assert login(browser, VICTIM).status_code == 302
    return db.exec(select(User.id).where(User.email == VICTIM)).one(), browser


def _act(admin: FlaskClient, user_id: int, action: str, reason: str = "多次违规发布虚假需求"):
    page = f"/admin/accounts/{user_id}"
    token = csrf_token(admin, page)
    return admin.post(f"{page}/{action}", data={f"{action}-reason": reason, f"{action}-csrf_token": token})


def _user(db: Session, user_id: int) -> User:
    db.expire_all()
    return db.get(User, user_id)


def _audit(db: Session, action: str) -> list[AuditLog]:
    return list(db.exec(select(AuditLog).where(AuditLog.action == action)))


def test_search_filter_and_pages(app: Flask, admin_client: FlaskClient, db: Session):
    cheap = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")
    for serial in range(25):
        role = Role.provider if serial % 2 else Role.enterprise
        db.add(
            User(email=f"member{serial:02d}@example.com", password_hash=cheap, role=role, display_name=f"会员{serial}")
        )
    db.add(User(email="odd_name%@example.com", password_hash=cheap, role=Role.enterprise, display_name="百分号"))
    db.commit()
    assert "账号管理" in admin_client.get("/admin/").get_data(as_text=True)

    first = admin_client.get("/admin/accounts").get_data(as_text=True)
    assert "共 27 条" in first and first.count("/admin/accounts/") == 20
    second = admin_client.get("/admin/accounts?page=2").get_data(as_text=True)
    assert second.count("/admin/accounts/") == 7

    found = admin_client.get("/admin/accounts?q=MEMBER0").get_data(as_text=True)
    assert set(re.findall(r"member\d\d@", found)) == {f"member0{n}@" for n in range(10)}
    assert "会员11" in admin_client.get("/admin/accounts?q=会员11").get_data(as_text=True)
    providers = admin_client.get("/admin/accounts?role=provider").get_data(as_text=True)
    assert "member01@" in providers and "member00@" not in providers and "admin@example.com" not in providers
    literal = admin_client.get("/admin/accounts?q=%25").get_data(as_text=True)  # a % is searched for, not a wildcard
    assert "odd_name%@example.com" in literal and "member00@" not in literal
    assert admin_client.get("/admin/accounts?role=nonsense").status_code == 200


def test_disabling_ends_the_sessions_and_refuses_logins_until_enabled(app: Flask, admin_client, db):
    user_id, victim = _victim(app, db)
    assert victim.get("/enterprise/").status_code == 200

    assert _act(admin_client, user_id, "disable").status_code == 302
    assert not _user(db, user_id).is_active
    assert victim.get("/enterprise/").status_code == 302  # signed out at once
    assert login(app.test_client(), VICTIM).status_code == 200  # and cannot sign in
    entry = _audit(db, "account.disable")[0]
    admin_id = db.exec(select(User.id).where(User.email == "admin@example.com")).one()
    assert (entry.actor_id, entry.target_id, entry.reason) == (admin_id, user_id, "多次违规发布虚假需求")
    assert "停用账号" in admin_client.get(f"/admin/accounts/{user_id}").get_data(as_text=True)

    again = _act(admin_client, user_id, "disable")
    assert again.status_code == 400 and "该账号已停用" in again.get_data(as_text=True)
    assert len(_audit(db, "account.disable")) == 1

    assert _act(admin_client, user_id, "enable", "申诉核实无误").status_code == 302
    assert _user(db, user_id).is_active and _audit(db, "account.enable")[0].reason == "申诉核实无误"
    assert victim.get("/enterprise/").status_code == 302  # the old session stays ended
    assert login(app.test_client(), VICTIM).status_code == 302


def test_every_action_needs_a_reason(app: Flask, admin_client, db):
    user_id, _ = _victim(app, db)
    before = (_user(db, user_id).is_active, _user(db, user_id).password_hash, _user(db, user_id).session_version)
    for action in ("disable", "force-reset"):
        response = _act(admin_client, user_id, action, "  ")
        assert response.status_code == 400 and "请填写理由" in response.get_data(as_text=True)
    user = _user(db, user_id)
    assert (user.is_active, user.password_hash, user.session_version) == before
    assert not db.exec(select(AuditLog).where(AuditLog.target_type == "user")).first()


def test_an_admin_cannot_disable_themselves(admin_client, db):
    admin_id = db.exec(select(User.id).where(User.email == "admin@example.com")).one()
    assert "不能停用" in admin_client.get(f"/admin/accounts/{admin_id}").get_data(as_text=True)
    response = _act(admin_client, admin_id, "disable")
    assert response.status_code == 400 and "不能停用自己的账号" in response.get_data(as_text=True)
    assert _user(db, admin_id).is_active and not _audit(db, "account.disable")
    assert admin_client.get("/admin/").status_code == 200


def test_a_forced_reset_kills_the_password_and_mails_a_link(app: Flask, admin_client, db):
    user_id, victim = _victim(app, db)
    assert _act(admin_client, user_id, "force-reset", "账号疑似被盗用").status_code == 302

    assert victim.get("/enterprise/").status_code == 302
    assert login(app.test_client(), VICTIM).status_code == 200  # the old password is gone
    assert _audit(db, "account.force_reset")[0].reason == "账号疑似被盗用"
    mail = db.exec(select(OutboxMail).where(OutboxMail.to_address == VICTIM, OutboxMail.subject.contains("重置"))).one()
    assert "平台管理员已要求您重置登录密码" in mail.body
    token = re.search(r"/auth/reset/([A-Za-z0-9_-]+)", mail.body).group(1)
    owner = app.test_client()
    data = {"password": "Fresh7890", "password_confirm": "Fresh7890", "csrf_token": csrf_token(owner)}
    assert owner.post(f"/auth/reset/{token}", data=data).status_code == 302
    assert login(owner, VICTIM, "Fresh7890").status_code == 302


def test_an_unknown_account_is_404(admin_client):
    assert admin_client.get("/admin/accounts/987654").status_code == 404
    assert _act(admin_client, 987654, "disable").status_code == 404
