import re

import pytest
from sqlalchemy import func
from sqlmodel import select

from models import Enterprise, Provider, User
from tests.conftest import PASSWORD, credit_code, enterprise_form, login, post, provider_form, register


def _count(db, table) -> int:
    return db.exec(select(func.count()).select_from(table)).one()


def test_enterprise_registration_derives_size_and_hashes_password(client, db):
    response = register(client, "enterprise", enterprise_form(employees="350", revenue="2500"))
    assert response.status_code == 302
    enterprise = db.exec(select(Enterprise)).one()
    user = db.get(User, enterprise.user_id)
    assert enterprise.size_class == "medium"
    assert enterprise.email == "factory1@example.com"
    assert user.role == "enterprise"
    assert PASSWORD not in user.password_hash and user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_login_and_logout(client):
    register(client, "enterprise", enterprise_form())
    assert "邮箱或密码不正确" in login(client, "factory1@example.com", "Wrong1234").get_data(as_text=True)
    response = login(client, "FACTORY1@example.com")  # emails are case-insensitive
    assert response.status_code == 302 and response.headers["Location"].endswith("/enterprise/")
    assert "测试家具厂1" in client.get("/enterprise/").get_data(as_text=True)
    post(client, "/auth/logout", {}, page="/enterprise/")
    assert client.get("/enterprise/").status_code == 302


def test_rejected_registration_writes_nothing(client, db):
    bad = enterprise_form(credit_code="91440300MA5000001X", phone="123", revenue="-5")
    html = post(client, "/auth/register/enterprise", bad).get_data(as_text=True)
    assert "校验位不正确" in html or "不允许的字符" in html
    assert "请输入有效的手机号" in html
    assert "不能小于0" in html
    assert _count(db, User) == 0 and _count(db, Enterprise) == 0


def test_an_empty_registration_says_one_thing_per_field(client, db):
    """The form and the schema both check each field: a field shows the first message only."""
    html = post(client, "/auth/register/enterprise", {}).get_data(as_text=True)
    messages = re.findall(r'<p class="error" id="([a-z_]+)-err">([^<]*)</p>', html)
    fields = [field for field, _ in messages]
    assert {"email", "password", "name", "credit_code", "employees", "revenue", "phone"} <= set(fields)
    assert len(fields) == len(set(fields)), messages
    assert _count(db, User) == 0 and _count(db, Enterprise) == 0


def test_duplicate_email_and_credit_code_are_not_told_on_the_page_and_write_nothing(client, db):
    """#13 finding 7: the page answers the same whatever is registered; only the mail says more."""
    register(client, "enterprise", enterprise_form())
    again = post(client, "/auth/register/enterprise", enterprise_form(serial=2, email="factory1@example.com"))
    same_code = post(client, "/auth/register/enterprise", enterprise_form(serial=3, credit_code=credit_code(1)))
    fresh = post(client, "/auth/register/enterprise", enterprise_form(serial=4))
    for response in (again, same_code, fresh):
        assert response.status_code == 302 and response.headers["Location"] == "/auth/register/sent"
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "请查收确认邮件" in page
        assert "已注册" not in page and "已登记" not in page.replace("如果该邮箱或统一社会信用代码已在平台登记", "")
    assert _count(db, User) == 1 and _count(db, Enterprise) == 1


def test_password_confirmation_and_policy(client, db):
    html = post(client, "/auth/register/provider", provider_form(password_confirm="Other1234")).get_data(as_text=True)
    assert "两次输入的密码不一致" in html
    html = post(client, "/auth/register/provider", provider_form(password="abc", password_confirm="abc")).get_data(
        as_text=True
    )
    assert "密码至少需要8位" in html
    assert _count(db, Provider) == 0


def test_provider_registration_starts_as_draft(client, db):
    assert register(client, "provider", provider_form()).status_code == 302
    provider = db.exec(select(Provider)).one()
    assert provider.status == "draft" and provider.domains == ["data_collection", "software"]


def test_post_without_csrf_token_is_rejected_and_writes_nothing(client, db):
    response = client.post("/auth/register/enterprise", data=enterprise_form())
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert _count(db, User) == 0


def test_csrf_required_for_logged_in_changes(enterprise_client, db):
    data = {"title": "设备联网", "description": "车间设备想联网采集数据，看稼动率", "industry": "furniture"}
    assert enterprise_client.post("/enterprise/needs/new", data=data).status_code == 400
    forged = data | {"csrf_token": "forged"}
    assert enterprise_client.post("/enterprise/needs/new", data=forged).status_code == 400
    from models import Need

    assert _count(db, Need) == 0


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/%09/evil.example/", "/%0d%0a/evil.example/", "/%5C/evil.example/"],
)
def test_login_ignores_offsite_next(client, target):
    """A browser drops the tab and line breaks and reads the backslash as a slash: each would leave the site."""
    register(client, "enterprise", enterprise_form())
    response = post(client, f"/auth/login?next={target}", {"email": "factory1@example.com", "password": PASSWORD})
    assert response.headers["Location"] == "/enterprise/"


def test_login_follows_a_same_site_next(client):
    register(client, "enterprise", enterprise_form())
    response = post(
        client,
        "/auth/login?next=/dockings/%3Fstatus%3Drequested",
        {"email": "factory1@example.com", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/dockings/?status=requested"


def test_create_admin_command_rejects_weak_password(app, db):
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", "a@example.com", "--name", "管理员", "--password", "weak"]
    )
    assert result.exit_code != 0 and "密码至少需要8位" in result.output
    assert _count(db, User) == 0
