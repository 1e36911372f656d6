"""A matchmaking event in a real browser: a new enterprise and a demo provider register for the
seeded upcoming event, meet on the platform's proposal, the admin schedules the meeting, checks both
in at the door and marks it held; the enterprise records 有合作意向 and turns it into a docking in one
click, which the provider accepts."""

import re

import pytest

from matchmaker.commands.seed import DEMO_ADMIN_EMAIL
from matchmaker.commands.seed_events import UPCOMING_TITLE
from tests.e2e.conftest import shot
from tests.e2e.test_journeys import NEED, login, move, register_enterprise

pytestmark = pytest.mark.e2e

PROVIDER_EMAIL = "zhilian.iot@demo-provider.example"
PROVIDER_NAME = "（演示）深圳坪山智联数采科技有限公司"
SOLUTION = "ZL-Edge机台联网快装方案"
SLOTS = ("14:00–14:20", "14:20–14:40")
REASON = "理由（必填，将记入审计日志）"


def test_an_enterprise_and_a_provider_go_from_registration_to_a_held_meeting_and_a_docking(new_page):
    enterprise, provider, admin = new_page(), new_page(), new_page()
    register_enterprise(enterprise, 17)
    enterprise.goto("/events/")
    enterprise.get_by_role("link", name=UPCOMING_TITLE).click()
    event_url = enterprise.url
    event_id = int(re.search(r"/events/(\d+)", event_url).group(1))
    enterprise.get_by_role("link", name="带需求报名").click()
    enterprise.get_by_label("或在报名的同时发布一项新需求", exact=False).fill(NEED)
    for slot in SLOTS:
        enterprise.get_by_label(slot).check()
    enterprise.get_by_role("button", name="提交报名").click()
    enterprise.get_by_text("报名信息已保存").wait_for()

    login(provider, PROVIDER_EMAIL)
    provider.goto(event_url)
    provider.get_by_role("link", name="带解决方案报名").click()
    provider.get_by_label(SOLUTION).check()
    for slot in SLOTS:
        provider.get_by_label(slot).check()
    provider.get_by_role("button", name="提交报名").click()
    provider.get_by_text("报名信息已保存").wait_for()

    # the enterprise asks for a meeting on the platform's proposal, the provider accepts
    enterprise.goto(event_url)
    proposal = enterprise.locator("#proposals-title + p + ol > li", has_text=SOLUTION).first
    proposal.get_by_label("留言（可选，200字以内）").fill("想看现场演示")
    proposal.get_by_role("button", name="发送会谈请求").click()
    enterprise.get_by_text("会谈请求已发送").wait_for()
    provider.goto(event_url)
    provider.locator("#meetings-title + ul > li", has_text="想看现场演示").get_by_role("button", name="接受").click()
    provider.get_by_text("已接受会谈").wait_for()

    # the admin closes registration and schedules; both sides are checked in at the door, the meeting held
    login(admin, DEMO_ADMIN_EMAIL)
    admin.goto(f"/admin/events/{event_id}")
    admin.get_by_label(REASON).fill("演示：报名截止")
    admin.get_by_role("button", name="截止报名").click()
    admin.get_by_label(REASON).fill("演示：排定日程")
    admin.get_by_role("button", name="排定会谈日程").click()
    admin.get_by_text("已排定 1 场会谈").wait_for()
    admin.get_by_role("link", name="现场签到与到场登记").click()
    for name in ("坪山演示家具厂17", "智联数采"):
        admin.get_by_label("参会方名称").fill(name)
        admin.get_by_role("button", name="检索").click()
        admin.locator("li", has_text=name).get_by_role("button", name="签到").click()
        admin.get_by_text("签到成功").wait_for()
    meeting = admin.locator("#door-meetings + p + ul > li", has_text="坪山演示家具厂17")
    meeting.get_by_role("button", name="已举行").click()
    admin.get_by_text("已登记为已举行").wait_for()
    shot(admin, "event-checkin-desktop")

    # the printed agenda carries the check-in QR code and the table
    enterprise.goto(event_url)
    enterprise.get_by_role("link", name="打印会谈日程与签到二维码").click()
    assert enterprise.locator("figure.qr svg").count() == 1
    assert "号桌" in enterprise.locator("#agenda-title + table").inner_text()
    shot(enterprise, "event-agenda-desktop")

    # the enterprise finds it promising and turns the meeting into a docking; the provider accepts it
    enterprise.goto(event_url)
    enterprise.get_by_role("button", name="有合作意向").click()
    enterprise.get_by_text("会谈结果已登记：有合作意向").wait_for()
    enterprise.get_by_role("button", name="一键发起对接").click()
    enterprise.get_by_text("已发起对接申请").wait_for()
    docking_url = enterprise.url
    assert re.search(r"/dockings/\d+$", docking_url)
    assert "待服务商答复" in enterprise.content()
    provider.goto(docking_url)
    move(provider, "接受对接")
    provider.get_by_text("服务商已接受").first.wait_for()

    # the report counts the held meeting and the docking that followed
    admin.goto(f"/admin/events/{event_id}/report")
    report = admin.locator("table").inner_text()
    assert re.search(r"已举行会谈\s+1", report) and re.search(r"发起对接\s+1", report)
