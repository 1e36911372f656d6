"""Taxonomy management: add and edit industries, domains and tags through the admin pages, with Chinese
validation, no deletion of items in use, an audit entry with the reason, and every worker's search
index following the change."""

import re

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from matchmaker import create_app
from matchmaker.matching.search_index import TAXONOMY_COUNTER, taxonomy_version
from matchmaker.matching.signals import NeedProfile
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import providers
from matchmaker.services import taxonomy as taxonomy_service
from models import AuditLog, CapabilityTag, ChangeCounter, Domain, Enterprise, Industry, Need, Provider, ProviderStatus
from models.schemas import SolutionWrite
from tests.conftest import credit_code, post

WMS_NEED = NeedProfile(text="仓库账实不符，想上WMS管好库位和出入库。", industry="furniture", size="small")
WMS_SOLUTION = SolutionWrite(
    title="家具成品仓库数字化",
    summary="成品仓条码与库位管理",
    description="WMS 条码收发货、库位管理和盘点，账实相符。",
    domain="software",
    industries=["furniture"],
    sizes=["small", "medium"],
    modules=["收发货", "库位", "盘点"],
)


def page_html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def errors(html: str) -> list[str]:
    return re.findall(r'<p class="error"[^>]*>([^<]+)</p>', html) + re.findall(
        r'<div class="alert" role="alert"><p>([^<]+)</p>', html
    )


def counts(db: Session) -> tuple[int, ...]:
    db.expire_all()
    tables = (Industry, Domain, CapabilityTag, AuditLog)
    return (*(db.exec(select(func.count()).select_from(t)).one() for t in tables), taxonomy_version(db))


def submit(client, url: str, data: dict):
    return post(client, url, data, page=url)


def test_adding_a_tag_is_validated_audited_and_versioned(admin_client, db):
    assert taxonomy_version(db) == 0
    url = "/admin/taxonomy/tags/new"
    response = submit(
        admin_client,
        url,
        {"name": "仓储管理", "domain": "software", "synonyms": "WMS，仓库管理\n库存管理", "reason": "需求中常见"},
    )
    assert response.status_code == 302
    tag = db.exec(select(CapabilityTag).where(CapabilityTag.name == "仓储管理")).one()
    assert (tag.domain, tag.synonyms) == ("software", ["WMS", "仓库管理", "库存管理"])
    entry = db.exec(select(AuditLog).where(AuditLog.action == "taxonomy.tag.create")).one()
    assert (entry.target_type, entry.target_id, entry.reason) == ("tag", tag.id, "需求中常见")
    assert entry.detail["after"]["synonyms"] == ["WMS", "仓库管理", "库存管理"] and entry.detail["before"] == {}
    assert taxonomy_version(db) == 1
    assert "仓储管理" in page_html(admin_client, "/admin/taxonomy/tags?domain=software")


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        ("/admin/taxonomy/tags/new", {"name": "MES", "domain": "software"}, "名称“MES”已被其他能力标签使用"),
        ("/admin/taxonomy/tags/new", {"name": "mes", "domain": "software"}, "名称“mes”已被其他能力标签使用"),
        (
            "/admin/taxonomy/tags/new",
            {"name": "数采", "domain": "software"},
            "名称“数采”已是能力标签“设备联网”的同义词",
        ),
        (
            "/admin/taxonomy/tags/new",
            {"name": "生产追溯", "domain": "software", "synonyms": "追溯，等保测评"},
            "同义词不能与其他能力标签的名称相同：“等保测评”（能力标签“等保测评”的名称）",
        ),
        ("/admin/taxonomy/tags/new", {"name": "新标签", "domain": "nowhere"}, "不是有效的选择"),
        ("/admin/taxonomy/tags/new", {"name": "新标签", "domain": "software", "reason": ""}, "请填写修改理由"),
        (
            "/admin/taxonomy/industries/new",
            {"code": "C21", "name": "木制品", "kind": "division"},
            "行业代码“C21”已存在",
        ),
        (
            "/admin/taxonomy/industries/new",
            {"code": "木制品", "name": "木制品", "kind": "division"},
            "代码须以英文字母开头",
        ),
        (
            "/admin/taxonomy/industries/new",
            {"code": "C20", "name": "汽车制造业", "kind": "division"},
            "名称“汽车制造业”已被其他行业使用",
        ),
        (
            "/admin/taxonomy/industries/new",
            {"code": "C20", "name": "木材加工", "kind": "division", "gbt": "C20, 20"},
            "国标行业代码应为门类字母加两位大类数字（如 C21）：20",
        ),
        (
            "/admin/taxonomy/industries/new",
            {"code": "C20", "name": "木材加工", "kind": "division", "synonyms": "木材，汽车零部件"},
            "同义词不能与其他行业的名称相同：“汽车零部件”（行业“汽车零部件”的名称）",
        ),
        ("/admin/taxonomy/industries/new", {"code": "C20", "name": "木材加工", "kind": "sector"}, "不是有效的选择"),
        ("/admin/taxonomy/domains/new", {"code": "cloud", "name": "数据采集"}, "名称“数据采集”已被其他服务领域使用"),
        ("/admin/taxonomy/domains/new", {"code": "network", "name": "上云服务"}, "领域代码“network”已存在"),
        ("/admin/taxonomy/domains/new", {"code": "cloud", "name": "上云服务", "position": "-1"}, "不能小于0"),
    ],
)
def test_bad_input_is_explained_in_chinese_and_nothing_is_written(admin_client, db, url, data, message):
    before = counts(db)
    response = submit(admin_client, url, {"reason": "测试"} | data)
    assert response.status_code == 400
    assert any(message in text for text in errors(response.get_data(as_text=True))), errors(
        response.get_data(as_text=True)
    )
    assert counts(db) == before


def test_editing_keeps_the_code_and_records_before_and_after(admin_client, db):
    url = "/admin/taxonomy/industries/furniture"
    html = page_html(admin_client, url)
    assert "代码：furniture" in html and 'name="code"' not in html
    assert 'value="家具"' in html and "沙发，橱柜" in html
    response = submit(
        admin_client,
        url,
        {
            "code": "hacked",
            "name": "家具家居",
            "kind": "cluster",
            "gbt": "c21",
            "synonyms": "沙发，橱柜，床垫",
            "reason": "并入家居",
        },
    )
    assert response.status_code == 302
    db.expire_all()
    industry = db.get(Industry, "furniture")
    assert (industry.name, industry.gbt, industry.synonyms) == ("家具家居", ["C21"], ["沙发", "橱柜", "床垫"])
    assert db.get(Industry, "hacked") is None
    entry = db.exec(select(AuditLog).where(AuditLog.action == "taxonomy.industry.update")).one()
    assert entry.detail["before"]["name"] == "家具" and entry.detail["after"]["name"] == "家具家居"
    assert entry.reason == "并入家居"


def test_existing_overlaps_are_kept_but_new_ones_refused(admin_client, db):
    """C21's synonym 家具 is also the cluster's name (as in the seed data); editing C21 keeps it."""
    url = "/admin/taxonomy/industries/C21"
    data = {"name": "家具制造业", "kind": "division", "gbt": "C21", "synonyms": "家具，木家具", "reason": "补充同义词"}
    assert submit(admin_client, url, data).status_code == 302
    clash = data | {"synonyms": "家具，木家具，汽车零部件"}
    assert "“汽车零部件”" in " ".join(errors(submit(admin_client, url, clash).get_data(as_text=True)))


def test_domain_order_is_editable(admin_client, db):
    url = "/admin/taxonomy/domains/data_collection"
    data = {"name": "数据采集", "description": "设备数据上云", "position": "9", "reason": "调到最后"}
    assert submit(admin_client, url, data).status_code == 302
    db.expire_all()
    assert taxonomy_service.domains(db)[-1].code == "data_collection"
    assert "设备数据上云" in page_html(admin_client, "/admin/taxonomy/domains")


def _publish(db: Session, tags: list[str]) -> None:
    provider = Provider(
        name="演示数字科技",
        credit_code=credit_code(901),
        contact_name="李",
        phone="13900139000",
        email="p901@example.com",
        domains=["software", "data_collection"],
        status=ProviderStatus.approved,
    )
    db.add(provider)
    db.commit()
    providers.create_solution(db, provider.id, WMS_SOLUTION.model_copy(update={"tags": tags}), publish=True)


def test_items_in_use_cannot_be_deleted_or_a_used_tag_renamed(admin_client, db):
    _publish(db, ["MES"])
    mes = db.exec(select(CapabilityTag).where(CapabilityTag.name == "MES")).one()
    url = f"/admin/taxonomy/tags/{mes.id}"
    html = page_html(admin_client, url)
    assert "此能力标签正被使用：1个方案" in html and "删除能力标签" not in html
    before = counts(db)
    response = submit(admin_client, url, {"name": "制造执行", "domain": "software", "reason": "改名"})
    assert "标签“MES”已被方案或需求使用，不能改名；可把“制造执行”添加为它的同义词" in errors(
        response.get_data(as_text=True)
    )
    response = post(admin_client, f"{url}/delete", {"reason": "不用了"}, page=url)
    assert response.status_code == 302
    flashed = page_html(admin_client, url)
    assert "能力标签“MES”正被1个方案使用，不能删除" in flashed
    assert counts(db) == before

    # a synonym or another domain is fine for a tag in use
    data = {"name": "MES", "domain": "software", "synonyms": "制造执行系统，制造执行", "reason": "补充"}
    assert submit(admin_client, url, data).status_code == 302

    enterprise = Enterprise(
        name="家具厂",
        credit_code=credit_code(2),
        industry="auto_parts",
        employees=50,
        revenue=500,
        size_class="small",
        street="坪山街道",
        contact_name="王",
        phone="13800138000",
        email="e@example.com",
    )
    db.add(enterprise)
    db.commit()
    db.add(
        Need(
            enterprise_id=enterprise.id,
            title="t",
            description="d" * 10,
            industry="C36",
            size_class="small",
            domains=["security"],
        )
    )
    db.commit()
    industry_url = "/admin/taxonomy/industries/auto_parts"
    post(admin_client, f"{industry_url}/delete", {"reason": "合并"}, page=industry_url)
    assert "行业“汽车零部件”正被1家企业使用，不能删除" in page_html(admin_client, industry_url)
    assert "1条需求" in page_html(admin_client, "/admin/taxonomy/industries/C36")  # C36 is the need's industry
    assert "1个产业集群" in page_html(admin_client, "/admin/taxonomy/industries/C36")  # auto_parts maps onto it
    domain_url = "/admin/taxonomy/domains/security"
    html = page_html(admin_client, domain_url)
    assert "1个能力标签" in html and "1条需求" in html
    db.expire_all()
    assert db.get(Industry, "auto_parts") is not None and db.get(Domain, "security") is not None


def test_unused_items_are_deleted_with_a_reason(admin_client, db):
    url = "/admin/taxonomy/domains/new"
    assert submit(admin_client, url, {"code": "cloud", "name": "上云服务", "reason": "新领域"}).status_code == 302
    edit = "/admin/taxonomy/domains/cloud"
    assert "删除服务领域" in page_html(admin_client, edit)
    assert post(admin_client, f"{edit}/delete", {"reason": ""}, page=edit).status_code == 302
    assert db.get(Domain, "cloud") is not None  # no reason, no deletion
    assert post(admin_client, f"{edit}/delete", {"reason": "并入工业软件"}, page=edit).status_code == 302
    db.expire_all()
    assert db.get(Domain, "cloud") is None
    entry = db.exec(select(AuditLog).where(AuditLog.action == "taxonomy.domain.delete")).one()
    assert entry.reason == "并入工业软件" and entry.detail["before"]["name"] == "上云服务"
    assert taxonomy_version(db) == 2
    assert admin_client.get(edit).status_code == 404
    assert admin_client.get("/admin/taxonomy/tags/999").status_code == 404
    assert admin_client.get("/admin/taxonomy/tags/abc").status_code == 404
    assert admin_client.get("/admin/taxonomy/colours").status_code == 404


def test_lists_paginate(app, admin_client):
    app.config["MATCHMAKER_PAGE_SIZE"] = 2
    html = page_html(admin_client, "/admin/taxonomy/industries")
    assert "第 1 / 3 页，共 5 条" in html
    assert "通用" in page_html(admin_client, "/admin/taxonomy/industries?page=3")


def test_the_version_row_is_created_by_the_first_change_and_then_incremented(db):
    assert db.get(ChangeCounter, TAXONOMY_COUNTER) is None
    for expected in (1, 2):
        taxonomy_service.save_domain(
            db, None, taxonomy_service.DomainWrite(code=f"d{expected}", name=f"领域{expected}"), "测试"
        )
        assert taxonomy_version(db) == expected


def test_every_worker_follows_a_taxonomy_change(app, db):
    """Two app instances on one database: a tag added in one is used by the other's tagger and ranker
    on its next request, with no restart."""
    _publish(db, [])  # untagged: the index tags it from its text with the taxonomy it holds
    other = create_app(dict(app.config))
    with app.app_context():
        assert "仓储管理" not in search_index().suggest(engine(), WMS_NEED.text).tags
        before = search_index().match(engine(), WMS_NEED)
    assert before and "仓储管理" not in before[0].explanation.tags

    with other.app_context(), Session(engine()) as session:
        data = taxonomy_service.TagWrite(name="仓储管理", domain="software", synonyms=["WMS"])
        taxonomy_service.save_tag(session, None, data, "需求中常见")

    with app.app_context():
        assert "仓储管理" in search_index().suggest(engine(), WMS_NEED.text).tags
        after = search_index().match(engine(), WMS_NEED)
    # the need and the solution (re-tagged by the rebuilt engine) now share the new tag, and the need
    # asks for it (a lone candidate's score says nothing: every signal is scaled over the candidates)
    assert after[0].explanation.tags == ("仓储管理",)
    assert [p.point for p in after[0].explanation.points] == ["仓储管理"]
    assert all(p.point != "仓储管理" for p in before[0].explanation.points)

    with other.app_context(), Session(engine()) as session:
        tag = session.exec(select(CapabilityTag).where(CapabilityTag.name == "仓储管理")).one()
        taxonomy_service.save_tag(session, None, data.model_copy(update={"synonyms": ["WMS", "库位"]}), "补充", tag.id)
    with app.app_context():
        assert search_index().suggest(engine(), "库位总是乱").tags == ("仓储管理",)
    with other.app_context():
        engine().dispose()


@pytest.mark.parametrize("who", ["enterprise_client", "provider_client"])
def test_only_admins_manage_the_taxonomy(request, who):
    client = request.getfixturevalue(who)
    for url in (
        "/admin/taxonomy",
        "/admin/taxonomy/tags",
        "/admin/taxonomy/tags/new",
        "/admin/taxonomy/domains/software",
    ):
        assert client.get(url).status_code == 403
    page = "/enterprise/" if who == "enterprise_client" else "/provider/"
    assert (
        post(client, "/admin/taxonomy/domains/new", {"code": "x", "name": "x", "reason": "x"}, page=page).status_code
        == 403
    )


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/admin/taxonomy")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
