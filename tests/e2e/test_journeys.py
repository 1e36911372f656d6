"""The platform's main journeys in a real browser, as its users would walk them."""

import pytest

from tests.conftest import PASSWORD, credit_code
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e

NEED = (
    "我们是坪山的一家家具厂，开料机、封边机、排钻都是单机作业，想做设备联网和数据采集，"
    "在手机上看到每台机器的开机率和产量；排产现在靠 Excel，希望上 MES 做生产排程和报工。"
)


def register_enterprise(page, serial: int) -> None:
    page.goto("/auth/register/enterprise")
    page.get_by_label("登录邮箱（同时作为联系邮箱）").fill(f"owner{serial}@furniture.example")
    page.get_by_label("密码（至少8位，含字母和数字）").fill(PASSWORD)
    page.locator("[name=password_confirm]").fill(PASSWORD)
    page.get_by_label("企业名称").fill(f"坪山演示家具厂{serial}")
    page.get_by_label("统一社会信用代码").fill(credit_code(7000 + serial))
    page.get_by_label("所属行业").select_option("furniture")
    page.get_by_label("从业人员（人）").fill("180")
    page.get_by_label("上年营业收入（万元）").fill("6000")
    page.get_by_label("所在街道").select_option("坪山街道")
    page.get_by_label("联系人").fill("陈厂长")
    page.get_by_label("联系电话").fill("13800138123")
    page.get_by_role("button", name="注册").click()
    page.locator("[name=email]").fill(f"owner{serial}@furniture.example")
    page.locator("[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_enterprise_registers_and_posts_a_need_in_one_step(new_page):
    page = new_page()
    page.goto("/")
    shot(page, "01-home")
    register_enterprise(page, 1)
    page.get_by_role("link", name="发布需求").first.click()
    page.get_by_label("需求描述（用自己的话写清现状、痛点和想达到的效果）").fill(NEED)
    page.get_by_role("button", name="智能识别领域和标签").click()
    assert page.get_by_label("MES").is_checked() and page.get_by_label("设备联网").is_checked()
    shot(page, "02-need-form-suggested")
    page.get_by_role("button", name="一键发布并匹配方案").click()

    assert page.get_by_role("heading", name="为您推荐的服务方案").is_visible()
    cards = page.locator("article.match")
    assert cards.count() >= 5
    first = cards.first
    assert "家具" in first.inner_text() or "通用" in first.inner_text()
    assert first.get_by_role("table").first.is_visible()  # per-point coverage
    shot(page, "03-need-matches")
