from sqlalchemy import func
from sqlmodel import select

from models import AuditLog, IdentityChange, Provider, Solution, SuccessCase, WhitelistEvent
from tests.conftest import PASSWORD, credit_code, login, post, provider_form, register

PROFILE = {
    "name": "测试数字科技500",
    "credit_code": credit_code(500),
    "contact_name": "李经理",
    "phone": "13900139000",
    "email": "sales@vendor.example",
    "domains": ["data_collection", "software"],
    "service_content": "为中小制造企业提供设备联网和云MES。",
    "capabilities": "支持 Modbus、OPC UA、MQTT 协议。",
    "qualifications": "ISO 9001",
    "website": "https://vendor.example",
    "years_in_shenzhen": "6",
}
CASE = {
    "title": "某家具厂设备联网",
    "client": "坪山某家具企业",
    "industry": "furniture",
    "year": "2025",
    "description": "32台设备联网，稼动率提升12%。",
}
SOLUTION = {
    "title": "家具厂设备联网采集",
    "summary": "开料机、封边机联网",
    "domain": "data_collection",
    "description": "边缘网关接入开料机、封边机，运行状态与产量实时上云，自动统计稼动率。",
    "industries": ["furniture"],
    "sizes": ["small", "micro"],
    "modules": "设备状态监控\n稼动率分析；产量统计",
    "tags": ["设备联网"],
    "deployment": "saas",
    "price_range": "5-20万元",
    "delivery_weeks": "4",
}


def _count(db, table) -> int:
    return db.exec(select(func.count()).select_from(table)).one()


def test_profile_case_and_application(provider_client, db):
    # Applying with an empty record is refused and changes nothing.
    html = post(provider_client, "/provider/apply", {}, page="/provider/", follow_redirects=True).get_data(as_text=True)
    assert "请先完善" in html and "成功案例" in html
    assert db.exec(select(Provider)).one().status == "draft"

    assert post(provider_client, "/provider/profile", PROFILE, page="/provider/profile").status_code == 302
    assert post(provider_client, "/provider/cases/new", CASE, page="/provider/cases/new").status_code == 302
    assert post(provider_client, "/provider/apply", {"note": "请审核"}, page="/provider/").status_code == 302
    provider = db.exec(select(Provider)).one()
    assert provider.status == "applied" and provider.website == "https://vendor.example"
    event = db.exec(select(WhitelistEvent)).one()
    assert (event.action, event.from_status, event.to_status, event.reason) == ("apply", "draft", "applied", "请审核")
    page = provider_client.get("/provider/").get_data(as_text=True)
    assert "待审核" in page and "某家具厂设备联网" in page


def test_solution_create_edit_withdraw(provider_client, db):
    assert post(provider_client, "/provider/solutions/new", SOLUTION, page="/provider/solutions/new").status_code == 302
    solution = db.exec(select(Solution)).one()
    assert solution.modules == ["设备状态监控", "稼动率分析", "产量统计"]
    assert solution.sizes == ["small", "micro"] and solution.status == "published"

    edit_url = f"/provider/solutions/{solution.id}/edit"
    assert "设备状态监控\n稼动率分析" in provider_client.get(edit_url).get_data(as_text=True)
    post(provider_client, edit_url, SOLUTION | {"title": "家具厂设备联网采集 2.0"}, page=edit_url)
    post(provider_client, f"/provider/solutions/{solution.id}/withdraw", {}, page="/provider/")
    db.expire_all()
    solution = db.get(Solution, solution.id)
    assert solution.title == "家具厂设备联网采集 2.0" and solution.status == "withdrawn"


def test_rejected_solution_writes_nothing(provider_client, db):
    bad = SOLUTION | {"description": "短", "sizes": [], "modules": "", "industries": []}
    html = post(provider_client, "/provider/solutions/new", bad, page="/provider/solutions/new").get_data(as_text=True)
    assert "至少需要10个字符" in html and "至少需要1项" in html
    assert _count(db, Solution) == 0


def test_solution_domain_must_be_one_of_the_providers(provider_client, db):
    # The form only offers the provider's own domains; a forged value is refused by the form.
    html = post(
        provider_client, "/provider/solutions/new", SOLUTION | {"domain": "security"}, page="/provider/solutions/new"
    ).get_data(as_text=True)
    assert "不是有效的选择" in html
    assert _count(db, Solution) == 0


def test_providers_cannot_touch_each_others_solutions_or_cases(provider_client, client, db):
    post(provider_client, "/provider/solutions/new", SOLUTION, page="/provider/solutions/new")
    post(provider_client, "/provider/cases/new", CASE, page="/provider/cases/new")
    solution_id = db.exec(select(Solution.id)).one()
    case_id = db.exec(select(SuccessCase.id)).one()
    post(provider_client, "/auth/logout", {}, page="/provider/")

    register(client, "provider", provider_form(serial=501))
    login(client, "vendor501@example.com")
    assert client.get(f"/provider/solutions/{solution_id}/edit").status_code == 404
    assert post(client, f"/provider/solutions/{solution_id}/withdraw", {}, page="/provider/").status_code == 404
    assert post(client, f"/provider/cases/{case_id}/delete", {}, page="/provider/").status_code == 404
    assert db.get(Solution, solution_id).status == "published"
    assert _count(db, SuccessCase) == 1


def _admin_browser(app):
    args = ["create-admin", "--email", "admin@example.com", "--name", "管理员", "--password", PASSWORD]
    assert app.test_cli_runner().invoke(args=args).exit_code == 0
    browser = app.test_client()
    assert login(browser, "admin@example.com").status_code == 302
    return browser


def test_a_listed_providers_identity_changes_only_through_an_admin_approved_request(app, provider_client, db):
    """Finding 4 of #13: an approved provider renamed itself to another provider's name, changed its
    credit code and took all six domains, stayed approved with nothing audited, then published in a
    domain it was never reviewed for."""
    assert post(provider_client, "/provider/profile", PROFILE, page="/provider/profile").status_code == 302
    provider = db.exec(select(Provider)).one()
    provider.status = "approved"
    db.add(provider)
    db.commit()
    all_domains = ["data_collection", "network", "software", "integration", "security", "diagnosis"]
    hijack = PROFILE | {"name": "另一家数字科技", "credit_code": credit_code(777), "domains": all_domains}
    response = post(provider_client, "/provider/profile", hijack | {"phone": "13700137000"}, page="/provider/profile")
    assert response.status_code == 302
    assert "已提交审核" in provider_client.get("/provider/").get_data(as_text=True)
    db.expire_all()
    provider = db.get(Provider, provider.id)
    assert (provider.name, provider.credit_code, provider.domains) == (
        PROFILE["name"],
        PROFILE["credit_code"],
        PROFILE["domains"],
    )
    assert provider.status == "approved" and provider.phone == "13700137000"  # the rest is saved at once
    change = db.exec(select(IdentityChange)).one()
    assert (change.name, change.credit_code, change.domains, change.approved) == (
        "另一家数字科技",
        credit_code(777),
        all_domains,
        None,
    )
    entry = db.exec(select(AuditLog).where(AuditLog.action == "provider.profile").order_by(AuditLog.id.desc())).first()
    assert entry.detail["fields"] == ["credit_code", "domains", "name", "phone"]
    assert entry.detail["before"]["phone"] == "13900139000" and entry.detail["after"]["name"] == "另一家数字科技"

    # no solution in a domain it was never reviewed for; no second request while one waits
    html = post(
        provider_client, "/provider/solutions/new", SOLUTION | {"domain": "security"}, page="/provider/solutions/new"
    ).get_data(as_text=True)
    assert "不是有效的选择" in html and _count(db, Solution) == 0
    again = post(provider_client, "/provider/profile", hijack | {"name": "第三个名字"}, page="/provider/profile")
    assert "已有待审核的名称、信用代码或服务领域变更申请" in again.get_data(as_text=True)
    assert _count(db, IdentityChange) == 1

    admin = _admin_browser(app)
    page = f"/admin/providers/{provider.id}"
    assert "另一家数字科技" in admin.get(page).get_data(as_text=True)
    refused = {"identity-action": "reject", "identity-reason": ""}
    assert post(admin, f"{page}/identity", refused, page=page).status_code == 400
    rejected = {"identity-action": "reject", "identity-reason": "名称与营业执照不符"}
    assert post(admin, f"{page}/identity", rejected, page=page).status_code == 302
    db.expire_all()
    assert db.get(IdentityChange, change.id).approved is False
    assert db.get(Provider, provider.id).name == PROFILE["name"]
    decision = db.exec(select(AuditLog).where(AuditLog.action == "whitelist.identity_rejected")).one()
    assert decision.reason == "名称与营业执照不符" and decision.target_id == provider.id

    # a genuine change (a domain dropped, one added) approved: the record takes it, off-domain solutions go
    assert post(provider_client, "/provider/solutions/new", SOLUTION, page="/provider/solutions/new").status_code == 302
    moved = PROFILE | {"name": "测试数字科技500（更名）", "domains": ["software", "security"]}
    assert post(provider_client, "/provider/profile", moved, page="/provider/profile").status_code == 302
    approved = {"identity-action": "approve", "identity-reason": "已核对营业执照变更登记"}
    assert post(admin, f"{page}/identity", approved, page=page).status_code == 302
    db.expire_all()
    provider = db.get(Provider, provider.id)
    assert (provider.name, provider.domains, provider.status) == (
        "测试数字科技500（更名）",
        ["software", "security"],
        "approved",
    )
    assert db.exec(select(Solution)).one().status == "withdrawn"  # its domain, data_collection, was dropped
    assert db.exec(select(AuditLog).where(AuditLog.action == "whitelist.identity_approved")).one().actor_id is not None


def test_a_draft_providers_identity_changes_at_once_and_is_audited(provider_client, db):
    assert post(provider_client, "/provider/profile", PROFILE, page="/provider/profile").status_code == 302
    renamed = PROFILE | {"name": "新名字数字科技"}
    assert post(provider_client, "/provider/profile", renamed, page="/provider/profile").status_code == 302
    assert db.exec(select(Provider)).one().name == "新名字数字科技"
    assert _count(db, IdentityChange) == 0
    entries = db.exec(select(AuditLog).where(AuditLog.action == "provider.profile").order_by(AuditLog.id)).all()
    assert entries[-1].detail["fields"] == ["name"] and entries[-1].detail["after"] == {"name": "新名字数字科技"}
