"""The 数字化技改项目白名单 in a real browser: an enterprise applies, the docking service centre reviews
(形式审查, 评审, 公示), another user objects during the notice, the project is selected, appears on the
public list and in the export for city fund applications."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from matchmaker.commands.seed import DEMO_ADMIN_EMAIL
from tests.e2e.conftest import shot
from tests.e2e.test_journeys import login, register_enterprise

pytestmark = pytest.mark.e2e
NAME = "家具开料线数字化技改（浏览器测试）"


def _step(page, heading: str, reason: str, **fields: str) -> None:
    """Take one review step from the admin's project page: the form under its heading."""
    form = page.locator("form", has=page.get_by_role("heading", name=heading, exact=True))
    for label, value in fields.items():
        form.get_by_label(label).fill(value)
    form.locator("textarea[name=reason]").fill(reason)
    form.get_by_role("button", name=heading).click()
    assert f"已执行“{heading}”" in page.locator("main").inner_text()


def _end_the_notice(tmp_path_factory, name: str) -> None:
    """Five working days pass: the demo server's database is told the notice ended yesterday."""
    database = next(tmp_path_factory.getbasetemp().glob("e2e*/e2e.sqlite"))
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE retrofitproject SET notice_until = :day WHERE name = :name"),
            {"day": date.today() - timedelta(days=1), "name": name},
        )
    engine.dispose()


def test_a_project_goes_from_application_to_the_list_and_the_export(new_page, tmp_path_factory):
    enterprise = new_page()
    register_enterprise(enterprise, 63)
    enterprise.get_by_role("link", name="申报数字化技改项目白名单").click()
    enterprise.get_by_role("link", name="不经平台对接，直接申报").click()
    enterprise.get_by_label("项目名称").fill(NAME)
    enterprise.get_by_label("建设内容（改造的产线/环节、部署的系统和装备）").fill("开料机、封边机联网，上线 MES。")
    enterprise.get_by_label("总投资（万元）").fill("300")
    enterprise.get_by_label("其中数字化投资（万元，软件、系统、智能装备等）").fill("400")
    enterprise.get_by_label("计划开始日期").fill("2027-04-01")
    enterprise.get_by_label("计划完成日期").fill("2027-12-31")
    enterprise.locator("input[name=provider_ids]").first.check()
    enterprise.get_by_label("预期成效（如效率提升、目标成熟度等级）").fill("设备综合效率提升15%")
    enterprise.get_by_label("目标智能制造能力成熟度（可不填）").select_option("3")
    enterprise.get_by_role("button", name="提交申报").click()
    assert "数字化投资须大于0且不超过总投资" in enterprise.locator("main").inner_text()
    enterprise.get_by_label("其中数字化投资（万元，软件、系统、智能装备等）").fill("180")
    enterprise.get_by_role("button", name="提交申报").click()
    assert "已申报，待形式审查" in enterprise.locator("main").inner_text()
    project_url = enterprise.url
    shot(enterprise, "project-applied")

    admin = new_page()
    login(admin, DEMO_ADMIN_EMAIL)
    admin.goto("/admin/")
    admin.get_by_role("link", name="数字化技改项目白名单：审查、公示与导出").click()
    admin.get_by_role("link", name=NAME).click()
    _step(admin, "形式审查通过", "材料齐全")
    scores = {"投资规模（0-25）": "20", "数字化投入占比（0-25）": "23", "服务商实力（0-25）": "19"}
    _step(admin, "评审打分", "专家组：示范价值高", **scores, **{"可复制推广性（0-25）": "18"})
    _step(admin, "开始公示", "评审通过，进入公示")
    assert "公示中" in admin.locator("main").inner_text()

    other = new_page()  # another enterprise, logged in, objects during the notice
    register_enterprise(other, 64)
    other.goto(project_url)
    other.get_by_label("理由").fill("投资额与产线规模不符，请核实")
    other.get_by_role("button", name="提交异议").click()
    assert "异议已提交" in other.locator("main").inner_text()

    admin.reload()
    assert "投资额与产线规模不符" in admin.locator("main").inner_text()
    assert "期满后可确定入选" in admin.locator("main").inner_text()  # no 入选 during the notice
    _end_the_notice(tmp_path_factory, NAME)
    admin.reload()
    _step(admin, "入选", "公示期满，异议经核查不成立")
    shot(admin, "project-selected-admin")

    public = new_page()
    public.goto("/projects/")
    assert NAME in public.locator("section", has=public.get_by_role("heading", name="已入选项目")).inner_text()
    shot(public, "project-public-list")

    admin.goto("/admin/projects")
    admin.get_by_label("文件格式").select_option("csv")
    with admin.expect_download() as download:
        admin.get_by_role("button", name="导出入选项目").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert text.startswith("企业名称,统一社会信用代码,项目名称") and NAME in text and "坪山演示家具厂63" in text
