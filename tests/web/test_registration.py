"""Registration through an email confirmation link (#13 finding 7): the page answers 请查收确认邮件
whatever is registered; the account is created only when the single-use, expiring link is opened; an
email that has an account, or a credit code already registered, is told so by mail to the address
given, never on the page."""

from datetime import timedelta

from sqlalchemy import func
from sqlmodel import select

from matchmaker.services import registration
from models import Enterprise, OutboxMail, PendingRegistration, Provider, User, utcnow
from tests.conftest import (
    confirmation_link,
    credit_code,
    enterprise_form,
    login,
    post,
    provider_form,
    register,
)


def _count(db, table) -> int:
    return db.exec(select(func.count()).select_from(table)).one()


def _mails_to(db, address: str) -> list[OutboxMail]:
    db.expire_all()
    return list(db.exec(select(OutboxMail).where(OutboxMail.to_address == address).order_by(OutboxMail.id)))


def _submit(client, role: str, form: dict):
    return post(client, f"/auth/register/{role}", form, page=f"/auth/register/{role}")


def test_the_form_creates_nothing_until_the_link_is_opened(client, db):
    response = _submit(client, "enterprise", enterprise_form())
    assert response.status_code == 302 and response.headers["Location"] == "/auth/register/sent"
    assert "请查收确认邮件" in client.get("/auth/register/sent").get_data(as_text=True)
    assert _count(db, User) == 0 and _count(db, Enterprise) == 0
    assert login(client, "factory1@example.com").status_code == 200  # no account yet

    [mail] = _mails_to(db, "factory1@example.com")
    assert mail.subject == "【坪山数字服务对接平台】请确认您的注册邮箱"
    assert "测试家具厂1" in mail.body and "24 小时内" in mail.body
    link = confirmation_link(client.application, "factory1@example.com")
    assert link and f"查看详情：{link}" in mail.body  # the sender makes it absolute
    [pending] = db.exec(select(PendingRegistration)).all()
    assert link.rsplit("/", 1)[1] not in pending.token_hash  # only the token's digest is stored
    assert "password" not in pending.form and pending.password_hash.startswith(("scrypt:", "pbkdf2:"))

    page = client.get(link)  # opening the link shows a button and spends nothing (mail scanners open links)
    assert page.status_code == 200 and "完成注册" in page.get_data(as_text=True)
    assert _count(db, User) == 0
    done = post(client, link, {}, page=link)
    assert done.status_code == 302 and done.headers["Location"] == "/auth/login"
    enterprise = db.exec(select(Enterprise)).one()
    assert (enterprise.name, enterprise.size_class) == ("测试家具厂1", "small")
    assert login(client, "factory1@example.com").status_code == 302


def test_a_link_works_once(client, db):
    _submit(client, "provider", provider_form())
    link = confirmation_link(client.application, "vendor500@example.com")
    assert post(client, link, {}, page=link).status_code == 302
    again = client.get(link)
    assert again.status_code == 404 and registration.INVALID_LINK in again.get_data(as_text=True)
    assert _count(db, Provider) == 1
    provider = db.exec(select(Provider)).one()
    assert provider.status == "draft"  # then the whitelist application, as before


def test_an_expired_or_made_up_link_creates_nothing(app, client, db):
    app.config["MATCHMAKER_REGISTRATION_TTL_HOURS"] = 1
    _submit(client, "enterprise", enterprise_form())
    link = confirmation_link(app, "factory1@example.com")
    pending = db.exec(select(PendingRegistration)).one()
    pending.expires_at = utcnow() - timedelta(seconds=1)
    db.add(pending)
    db.commit()
    for address in (link, "/auth/register/confirm/made-up-token", "/auth/register/confirm/" + "x" * 500):
        response = client.get(address)
        assert response.status_code == 404 and registration.INVALID_LINK in response.get_data(as_text=True)
    token = client.get("/auth/register/enterprise").get_data(as_text=True)
    assert post(client, link, {}, page="/auth/register/enterprise").status_code == 404 and token
    assert _count(db, User) == 0


def test_an_email_with_an_account_is_told_by_mail_not_on_the_page(client, db):
    register(client, "enterprise", enterprise_form())
    before = len(_mails_to(db, "factory1@example.com"))
    response = _submit(client, "provider", provider_form(email="Factory1@example.com"))
    assert response.status_code == 302 and response.headers["Location"] == "/auth/register/sent"
    [mail] = _mails_to(db, "factory1@example.com")[before:]
    assert mail.subject == "【坪山数字服务对接平台】关于您的注册申请"
    assert "本邮箱已有账户" in mail.body and "查看详情：/auth/login" in mail.body and "重置密码" in mail.body
    assert "/auth/register/confirm/" not in mail.body
    assert _count(db, User) == 1 and _count(db, Provider) == 0 and _count(db, PendingRegistration) == 1


def test_a_registered_credit_code_is_explained_by_mail_to_the_address_given(client, db):
    register(client, "enterprise", enterprise_form())
    response = _submit(client, "enterprise", enterprise_form(serial=2, credit_code=credit_code(1)))
    assert response.status_code == 302 and response.headers["Location"] == "/auth/register/sent"
    [mail] = _mails_to(db, "factory2@example.com")
    assert f"统一社会信用代码 {credit_code(1)} 已有账户登记" in mail.body and "平台管理员" in mail.body
    assert "/auth/register/confirm/" not in mail.body
    assert _count(db, User) == 1 and _count(db, Enterprise) == 1
    # a provider may hold the credit code an enterprise has: that is a new registration
    _submit(client, "provider", provider_form(serial=1))
    assert confirmation_link(client.application, "vendor1@example.com")


def test_every_answer_hashes_the_password_once(client, db, monkeypatch):
    """So that the time of the answer tells nothing either."""
    from matchmaker.services import accounts

    register(client, "enterprise", enterprise_form())
    calls = []
    real = accounts.generate_password_hash
    monkeypatch.setattr(accounts, "generate_password_hash", lambda password: calls.append(1) or real(password))
    for form in (
        enterprise_form(serial=2, email="factory1@example.com"),
        enterprise_form(serial=3, credit_code=credit_code(1)),
        enterprise_form(serial=4),
    ):
        calls.clear()
        assert _submit(client, "enterprise", form).status_code == 302
        assert calls == [1], form["email"]


def test_two_links_for_one_email_make_one_account(client, db):
    _submit(client, "enterprise", enterprise_form())
    first = confirmation_link(client.application, "factory1@example.com")
    _submit(client, "enterprise", enterprise_form(serial=2, email="factory1@example.com"))
    second = confirmation_link(client.application, "factory1@example.com")
    assert first != second
    assert post(client, second, {}, page=second).status_code == 302
    late = post(client, first, {}, page=first)
    assert late.status_code == 409 and "该邮箱已注册" in late.get_data(as_text=True)  # to the mailbox's owner
    assert _count(db, User) == 1
    assert client.get(first).status_code == 404  # spent


def test_the_form_cannot_flood_a_mailbox_and_expired_registrations_are_dropped(client, db):
    """Beyond MAILS_PER_HOUR registration mails to one address within the hour the form answers the same
    and queues nothing; a registration whose link expired is deleted by the next registration."""
    answers = set()
    for serial in range(registration.MAILS_PER_HOUR + 2):
        response = _submit(client, "enterprise", enterprise_form(serial=serial + 1, email="victim@example.com"))
        answers.add((response.status_code, response.headers["Location"]))
    assert len(answers) == 1 and len(_mails_to(db, "victim@example.com")) == registration.MAILS_PER_HOUR
    assert len(_mails_to(db, "factory9@example.com")) == 0
    _submit(client, "enterprise", enterprise_form(serial=9))
    assert len(_mails_to(db, "factory9@example.com")) == 1  # another address is not held back

    for pending in db.exec(select(PendingRegistration)):
        pending.expires_at = utcnow() - timedelta(seconds=1)
        db.add(pending)
    db.commit()
    _submit(client, "enterprise", enterprise_form(serial=10))
    db.expire_all()
    assert [p.email for p in db.exec(select(PendingRegistration))] == ["factory10@example.com"]
