from sqlalchemy import func
from sqlmodel import select

from models import Enterprise, Need
from tests.conftest import enterprise_form, login, post, register

NEED = {
    "title": "设备联网与排产",
    "description": "开料机、封边机都是单机作业，想在手机上看到每台机器的运行时长和产量，并上MES排产。",
    "industry": "furniture",
    "domains": ["data_collection"],
    "tags": ["设备联网", "MES"],
    "budget_range": "10-30万元",
    "expected_start": "2027-03",
}


def test_profile_update_rederives_size(enterprise_client, db):
    data = enterprise_form(employees="1200", revenue="45000")
    data.pop("password"), data.pop("password_confirm")
    data["email"] = "contact@factory.example"
    response = post(enterprise_client, "/enterprise/profile", data, page="/enterprise/profile")
    assert response.status_code == 302
    enterprise = db.exec(select(Enterprise)).one()
    assert enterprise.size_class == "large" and enterprise.email == "contact@factory.example"
    assert "大型" in enterprise_client.get("/enterprise/").get_data(as_text=True)


def test_publish_need_takes_size_from_company(enterprise_client, db):
    response = post(enterprise_client, "/enterprise/needs/new", NEED, page="/enterprise/needs/new")
    assert response.status_code == 302
    need = db.exec(select(Need)).one()
    assert need.size_class == "small"  # 120 employees, 3500 万元
    assert need.tags == ["设备联网", "MES"] and need.status == "open"
    page = enterprise_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "设备联网与排产" in page and "小型" in page
    assert "设备联网与排产" in enterprise_client.get("/enterprise/needs").get_data(as_text=True)


def test_rejected_need_writes_nothing(enterprise_client, db):
    bad = NEED | {"description": "太短", "expected_start": "明年", "industry": "no-such"}
    html = post(enterprise_client, "/enterprise/needs/new", bad, page="/enterprise/needs/new").get_data(as_text=True)
    assert "至少需要10个字符" in html and "预期开始时间格式" in html
    assert db.exec(select(func.count()).select_from(Need)).one() == 0


def test_close_and_reopen_need(enterprise_client, db):
    location = post(enterprise_client, "/enterprise/needs/new", NEED, page="/enterprise/needs/new").headers["Location"]
    need_id = int(location.rstrip("/").split("/")[-1])
    post(enterprise_client, f"/enterprise/needs/{need_id}/status/closed", {}, page=location)
    assert db.get(Need, need_id).status == "closed"
    post(enterprise_client, f"/enterprise/needs/{need_id}/status/open", {}, page=location)
    db.expire_all()
    assert db.get(Need, need_id).status == "open"


def test_an_enterprise_cannot_see_or_change_another_enterprises_need(enterprise_client, client, db):
    location = post(enterprise_client, "/enterprise/needs/new", NEED, page="/enterprise/needs/new").headers["Location"]
    need_id = int(location.rstrip("/").split("/")[-1])
    post(enterprise_client, "/auth/logout", {}, page="/enterprise/")
    register(client, "enterprise", enterprise_form(serial=2))
    login(client, "factory2@example.com")
    assert client.get(f"/enterprise/needs/{need_id}").status_code == 404
    assert post(client, f"/enterprise/needs/{need_id}/status/closed", {}, page="/enterprise/").status_code == 404
    assert db.get(Need, need_id).status == "open"
    assert "设备联网与排产" not in client.get("/enterprise/needs").get_data(as_text=True)
