"""The 数字化技改项目白名单 pages: an enterprise applies, an admin reviews through the pages, another
user objects during the notice, the public list and the export; wrong roles and bad input."""

import csv
import io
import re
from datetime import date, timedelta

from sqlmodel import select

from models import AuditLog, DockingStatus, Enterprise, Notification, ProjectObjection, RetrofitProject
from tests.conftest import csrf_token, enterprise_form, login, post, provider_form, register, table_snapshot
from tests.services.test_retrofit_projects import _docking, make_enterprise
from tests.services.test_whitelist_lifecycle import make_provider

FORM = {
    "name": "钟表装配线视觉质检改造",
    "content": "装配线加装工业相机，AI 视觉检测表盘缺陷。",
    "total_investment": "260",
    "digital_investment": "200",
    "start_on": "2027-04-01",
    "end_on": "2027-10-31",
    "expected_result": "漏检率降至0.5%以下",
    "target_maturity": "3",
}


def _apply(client, provider_id: int, **changes):
    data = FORM | {"provider_ids": [str(provider_id)]} | changes
    return post(client, "/projects/new", data, page="/projects/new")


def test_an_enterprise_applies_and_an_admin_takes_it_to_the_list(app, client, db, db_engine):
    provider = make_provider(db, status="approved", serial=720)
    assert register(client, "enterprise", enterprise_form()).status_code == 302
    assert login(client, "factory1@example.com").status_code == 302
    assert "技改项目" in client.get("/enterprise/").get_data(as_text=True)
    response = _apply(client, provider.id)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    project = db.exec(select(RetrofitProject)).one()
    assert response.headers["Location"].endswith(f"/projects/{project.id}")
    assert FORM["name"] in client.get("/projects/mine").get_data(as_text=True)

    admin = app.test_client()
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", "admin@example.com", "--name", "管理员", "--password", "Passw0rd!23"]
    )
    assert result.exit_code == 0
    assert login(admin, "admin@example.com", "Passw0rd!23").status_code == 302
    page = f"/admin/projects/{project.id}"
    waiting = re.search(
        r"<strong>(\d+)</strong><span><a [^>]*>待形式审查的技改项目", admin.get("/admin/").get_data(as_text=True)
    )
    assert waiting and waiting.group(1) == "1"
    assert FORM["name"] in admin.get("/admin/projects").get_data(as_text=True)

    def decide(action: str, **extra) -> int:
        return post(
            admin, f"{page}/decide", {"action": action, "reason": f"{action} 理由"} | extra, page=page
        ).status_code

    # a step the status does not allow: a Chinese message, nothing changed
    before = table_snapshot(db_engine)
    refused = post(admin, f"{page}/decide", {"action": "select", "reason": "跳步"}, page=page)
    assert refused.status_code == 400 and "不能执行" in refused.get_data(as_text=True)
    assert table_snapshot(db_engine) == before

    assert decide("accept") == 302
    bad = post(admin, f"{page}/decide", {"action": "score", "reason": "意见", "investment": "30"}, page=page)
    assert bad.status_code == 400 and "0到25之间的整数" in bad.get_data(as_text=True)
    scores = {"investment": "20", "digital_share": "24", "provider": "20", "replicability": "18"}
    assert decide("score", **scores) == 302
    assert decide("publicise") == 302
    db.expire_all()
    project = db.get(RetrofitProject, project.id)
    assert project.status == "publicity" and project.score_total == 82

    # a provider, logged in, objects during the notice; the notice is on the public page
    other = app.test_client()
    assert register(other, "provider", provider_form(721)).status_code == 302
    assert login(other, "vendor721@example.com").status_code == 302
    detail = f"/projects/{project.id}"
    assert "提出异议" in other.get(detail).get_data(as_text=True)
    objected = post(other, f"{detail}/objection", {"objection-reason": "服务商与实际不符"}, page=detail)
    assert objected.status_code == 302
    assert db.exec(select(ProjectObjection)).one().reason == "服务商与实际不符"
    assert "服务商与实际不符" in admin.get(page).get_data(as_text=True)

    # the notice ends; the admin selects; the public list and the export show it
    project.notice_until = date.today() - timedelta(days=1)
    db.add(project)
    db.commit()
    assert decide("select") == 302
    public = app.test_client().get("/projects/").get_data(as_text=True)
    assert FORM["name"] in public and "投资规模" in public  # listed, with the published criteria
    exported = post(admin, "/admin/exports/projects", {"format": "csv"}, page="/admin/projects")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    assert rows[1][rows[0].index("项目名称")] == FORM["name"]
    xlsx = post(admin, "/admin/exports/projects", {"format": "xlsx"}, page="/admin/projects")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
    assert db.exec(select(AuditLog).where(AuditLog.action == "export.projects")).first() is not None
    enterprise = db.exec(select(Enterprise)).one()
    titles = db.exec(select(Notification.title).where(Notification.user_id == enterprise.user_id)).all()
    assert "技改项目已入选白名单" in titles

    # progress reported on the project page
    moved = post(client, f"{detail}/progress", {"percent": "30", "note": "相机安装完成"}, page=detail)
    assert moved.status_code == 302
    backwards = post(client, f"{detail}/progress", {"percent": "10", "note": "倒退"}, page=detail)
    assert backwards.status_code == 400 and "完成比例须在30到99之间" in backwards.get_data(as_text=True)


def test_bad_input_is_refused_in_chinese_and_nothing_changes(app, enterprise_client, db, db_engine):
    provider = make_provider(db, status="approved", serial=722)
    before = table_snapshot(db_engine)
    for changes, message in [
        ({"digital_investment": "300"}, "数字化投资须大于0且不超过总投资"),
        ({"total_investment": "abc"}, "不是有效的小数"),
        ({"end_on": "2027-01-01"}, "计划完成日期不能早于开始日期"),
        ({"name": "项目\x07名称"}, "控制字符"),
        ({"provider_ids": ["99999"]}, "不是有效的选择"),
    ]:
        response = _apply(enterprise_client, provider.id, **changes)
        html = response.get_data(as_text=True)
        assert response.status_code == 400 and message in html, (changes, html[:3000])
    assert table_snapshot(db_engine) == before


def test_wrong_roles_are_refused(app, client, provider_client, db):
    assert provider_client.get("/projects/new").status_code == 403
    assert provider_client.get("/projects/mine").status_code == 403
    anonymous = app.test_client()
    response = anonymous.get("/projects/new")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert anonymous.get("/projects/").status_code == 200
    assert provider_client.get("/admin/projects").status_code == 403
    token = csrf_token(provider_client, "/")
    assert (
        provider_client.post("/admin/exports/projects", data={"format": "csv", "csrf_token": token}).status_code == 403
    )


def test_the_form_is_prefilled_from_a_contracted_docking(enterprise_client, db):
    provider = make_provider(db, status="approved", serial=723)
    enterprise = db.exec(select(Enterprise)).one()
    docking = _docking(db, enterprise, provider, DockingStatus.contracted)
    assert "封边机设备联网方案" in enterprise_client.get("/projects/mine").get_data(as_text=True)
    html = enterprise_client.get(f"/projects/new?docking_id={docking.id}").get_data(as_text=True)
    assert 'value="封边机设备联网方案"' in html and 'value="85.5"' in html and 'value="2027-02-01"' in html
    checked = re.search(r'<input checked[^>]*name="provider_ids"[^>]*value="(\d+)"', html)
    assert checked and int(checked.group(1)) == provider.id
    data = {"end_on": "2027-09-30", "expected_result": "稼动率可视化", "docking_id": str(docking.id)}
    form = FORM | {"name": "封边机设备联网方案", "provider_ids": [str(provider.id)]} | data
    page = f"/projects/new?docking_id={docking.id}"
    assert post(enterprise_client, "/projects/new", form, page=page).status_code == 302
    assert db.exec(select(RetrofitProject.docking_id)).one() == docking.id
    # a docking of another enterprise is not found
    other = make_enterprise(db, 33)
    foreign = _docking(db, other, provider, DockingStatus.contracted)
    assert enterprise_client.get(f"/projects/new?docking_id={foreign.id}").status_code == 404
