"""The platform's main journeys in a real browser, as its users would walk them."""

import json
import re
from datetime import date

import openpyxl
import pytest

from matchmaker.commands.seed import DEMO_ADMIN_EMAIL, DEMO_PASSWORD
from tests.conftest import PASSWORD, credit_code
from tests.e2e.conftest import PROJECT, confirm_registration, shot

pytestmark = pytest.mark.e2e

NEED = (
    "我们是坪山的一家家具厂，开料机、封边机、排钻都是单机作业，想做设备联网和数据采集，"
    "在手机上看到每台机器的开机率和产量；排产现在靠 Excel，希望上 MES 做生产排程和报工。"
)
# A need the demo's device-networking solution covers whole, so its best match reaches the push
# threshold (the 高度匹配 band) and the provider asked first has it among its pushed needs.
PUSHED_NEED = (
    "我们是坪山的一家家具厂，开料机、封边机、排钻都是单机作业，想做设备联网和数据采集，"
    "在手机上看到每台机器的开机率、停机原因和产量，老设备也要能接上。"
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
    confirm_registration(page, f"owner{serial}@furniture.example")
    page.locator("[name=email]").fill(f"owner{serial}@furniture.example")
    page.locator("[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def login(page, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/auth/login")
    page.locator("[name=email]").fill(email)
    page.locator("[name=password]").fill(password)
    page.get_by_role("button", name="登录").click()


def demo_provider_emails() -> dict[str, str]:
    rows = json.loads((PROJECT / "seed_data" / "providers.json").read_text(encoding="utf-8"))
    return {row["name"]: row["email"] for row in rows}


def move(page, label: str, **fields: str) -> None:
    """Make a docking move from its detail page: fill the move's form by label and submit it."""
    form = page.locator("form", has=page.get_by_role("heading", name=label))
    for field_label, value in fields.items():
        control = form.get_by_label(field_label)
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    form.get_by_role("button", name=label).click()


def test_the_docking_journey_from_one_click_need_to_accepted_delivery(new_page, tmp_path):
    """Enterprise posts and asks two providers; a provider sees the push and accepts; the enterprise
    records the contract and accepts delivery; the admin sees it on the dashboard and exports the list."""
    admin = new_page()
    login(admin, DEMO_ADMIN_EMAIL)
    admin.goto(f"/admin/dashboard?from={date.today():%Y-%m}&to={date.today():%Y-%m}")
    amount_before = float(admin.locator("section.stats strong").nth(5).inner_text())
    enterprise = new_page()
    register_enterprise(enterprise, 2)
    enterprise.get_by_role("link", name="发布需求").first.click()
    enterprise.get_by_label("需求描述（用自己的话写清现状、痛点和想达到的效果）").fill(PUSHED_NEED)
    enterprise.get_by_role("button", name="一键发布并匹配方案").click()
    need_url = enterprise.url

    cards = enterprise.locator("section[aria-labelledby=matches-h] > article.match")
    asked: list[str] = []
    for i in range(cards.count()):
        card = cards.nth(i)
        provider_name = re.split(r" · ", card.locator("p.muted").first.inner_text())[0].strip()
        if provider_name in asked or card.locator("details.apply").count() == 0:
            continue
        card.locator("details.apply summary").click()  # the form opens on the click
        card.get_by_label("给服务商的留言（可选，最多500字）").fill("想约时间到厂里看看设备情况。")
        card.get_by_role("button", name="发送对接申请").click()
        asked.append(provider_name)
        enterprise.goto(need_url)
        cards = enterprise.locator("section[aria-labelledby=matches-h] > article.match")
        if len(asked) == 2:
            break
    assert len(asked) == 2
    shot(enterprise, "04-need-with-dockings")

    provider = new_page()
    login(provider, demo_provider_emails()[asked[0]])
    provider.goto("/inbox/pushed")
    pushed = provider.locator("main").inner_text()
    assert "排钻都是单机作业" in pushed and "坪山演示家具厂2" not in pushed  # the need, without who posted it
    shot(provider, "05-provider-pushed-needs")
    provider.get_by_role("link", name="我的对接").first.click()
    provider.locator("main table a").first.click()
    page_text = provider.locator("main").inner_text()
    assert "13800138123" not in page_text  # no contact before acceptance
    move(provider, "接受对接")
    assert "服务商已接受" in provider.locator("main h1").inner_text()
    assert "13800138123" in provider.locator("main").inner_text()
    shot(provider, "06-provider-docking-accepted")

    enterprise.get_by_role("link", name="我的对接").first.click()
    enterprise.get_by_role("link", name="已接受").click()  # the status filter
    enterprise.locator("main table a").first.click()
    move(enterprise, "进入洽谈")
    assert "洽谈中" in enterprise.locator("main h1").inner_text()
    move(enterprise, "登记签约", **{"合同金额（万元）": "38.5", "签约日期": date.today().isoformat()})
    assert "已签约" in enterprise.locator("main h1").inner_text()
    move(enterprise, "验收交付", **{"满意度": "5", "验收意见（必填）": "设备全部联网，看板每天在用。"})
    assert "已验收" in enterprise.locator("main h1").inner_text()
    shot(enterprise, "07-docking-timeline")

    admin.goto(f"/admin/dashboard?from={date.today():%Y-%m}&to={date.today():%Y-%m}")
    amount_after = float(admin.locator("section.stats strong").nth(5).inner_text())
    assert round(amount_after - amount_before, 1) == 38.5  # this month's contract value grew by the contract
    shot(admin, "08-admin-dashboard")
    with admin.expect_download() as download:
        admin.get_by_role("button", name="导出需求清单").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix in (".xlsx", ".csv")
    if saved.suffix == ".xlsx":
        rows = list(openpyxl.load_workbook(saved, read_only=True).active.iter_rows(values_only=True))
        assert any("坪山演示家具厂2" in str(cell) for row in rows for cell in row)


def test_a_rejected_provider_appeals_and_is_approved(new_page):
    provider = new_page()
    provider.goto("/auth/register/provider")
    provider.get_by_label("登录邮箱（同时作为联系邮箱）").fill("appeal@vendor.example")
    provider.get_by_label("密码（至少8位，含字母和数字）").fill(PASSWORD)
    provider.locator("[name=password_confirm]").fill(PASSWORD)
    provider.get_by_label("服务商名称").fill("坪山演示申诉科技有限公司")
    provider.get_by_label("统一社会信用代码").fill(credit_code(7900))
    provider.get_by_label("联系人").fill("赵经理")
    provider.get_by_label("联系电话").fill("13900139456")
    provider.get_by_label("数据采集").check()
    provider.get_by_role("button", name="注册").click()
    confirm_registration(provider, "appeal@vendor.example")
    login(provider, "appeal@vendor.example", PASSWORD)

    provider.goto("/provider/profile")
    provider.get_by_label("服务内容").fill("为电子、家具企业提供设备联网与数据采集服务")
    provider.get_by_label("技术能力").fill("工业网关、PLC 协议解析、边缘计算")
    provider.get_by_label("资质认证").fill("ISO 9001；高新技术企业")
    provider.get_by_label("在深圳经营年限").fill("6")
    provider.get_by_role("button", name=re.compile("保存")).click()
    provider.goto("/provider/cases/new")
    provider.get_by_label("案例名称").fill("某电子厂 SMT 设备联网")
    provider.get_by_label("案例说明（做了什么、取得了什么效果）").fill("接入 40 台设备，OEE 提升 8%")
    provider.get_by_role("button", name=re.compile("保存|添加")).click()
    provider.goto("/provider/")
    provider.get_by_role("button", name="提交入库申请").click()

    admin = new_page()
    login(admin, DEMO_ADMIN_EMAIL)
    admin.goto("/admin/providers")
    admin.get_by_role("link", name="坪山演示申诉科技有限公司").click()
    admin.get_by_label("理由（必填，将记入审计日志）").fill("成功案例证明材料不足")
    admin.get_by_role("button", name="驳回申请").click()
    shot(admin, "09-admin-rejected")

    provider.goto("/provider/")
    provider.get_by_label("申诉理由（每个决定只能申诉一次）").fill("已补充两份客户验收报告，请复核")
    provider.get_by_role("button", name="提交申诉").click()
    shot(provider, "10-provider-appealed")

    admin.reload()
    appeal = admin.locator("form", has=admin.get_by_role("button", name=re.compile("申诉成立")))
    appeal.get_by_label(re.compile("理由")).fill("补充材料属实")
    appeal.get_by_role("button", name=re.compile("申诉成立")).click()
    assert "已入库" in admin.locator("main h1").inner_text()
    provider.goto("/provider/")
    assert "已入库" in provider.locator("main").inner_text()


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
    cards = page.locator("section[aria-labelledby=matches-h] > article.match")
    assert cards.count() >= 3
    first = cards.first
    assert "家具" in first.inner_text() or "通用" in first.inner_text()
    first.locator("summary", has_text="匹配详情").click()
    assert first.get_by_role("table").first.is_visible()  # per-point coverage, on demand
    shot(page, "03-need-matches")
