"""Maturity in a real browser: an enterprise records an assessed level and a 智能工厂 tier, and the
docking service centre sees the district's standing on the dashboard."""

from datetime import date, timedelta

import pytest

from matchmaker.commands.seed import DEMO_ADMIN_EMAIL
from tests.e2e.conftest import shot
from tests.e2e.test_journeys import login, register_enterprise

pytestmark = pytest.mark.e2e


def test_an_enterprise_records_its_assessed_level_and_the_dashboard_counts_it(new_page):
    enterprise = new_page()
    register_enterprise(enterprise, 61)
    enterprise.goto("/enterprise/profile")
    enterprise.get_by_label("智能制造能力成熟度（GB/T 39116）").select_option("3")
    enterprise.get_by_label("成熟度等级来源").select_option("assessed")
    enterprise.get_by_role("button", name="保存").click()
    assert "已评估的成熟度等级需填写评估日期和证书编号" in enterprise.locator("main").inner_text()
    assessed = (date.today() - timedelta(days=30)).isoformat()
    enterprise.get_by_label("评估日期（已评估时填写）").fill(assessed)
    enterprise.get_by_label("评估证书编号（已评估时填写）").fill("CMMM-2026-0088")
    enterprise.get_by_label("智能工厂等级").select_option("basic")
    enterprise.get_by_label("智能工厂认定年份").fill("2025")
    shot(enterprise, "maturity-profile-form")
    enterprise.get_by_role("button", name="保存").click()
    home = enterprise.locator("main").inner_text()
    assert "三级 集成级" in home and "CMMM-2026-0088" in home and "基础级（2025 年认定）" in home
    shot(enterprise, "maturity-enterprise-home")

    admin = new_page()
    login(admin, DEMO_ADMIN_EMAIL)
    admin.goto("/admin/dashboard")
    section = admin.locator("section", has=admin.get_by_role("heading", name="智能制造能力成熟度与智能工厂"))
    text = section.inner_text()
    assert "企业数：成熟度等级 × 智能工厂等级" in text and "各成熟度等级的企业数（月末）" in text
    section.screenshot(path=str(shot(admin, "maturity-dashboard").with_name("maturity-dashboard-section.png")))
