"""The enterprise's and the provider's pages on a desktop (1280 px) and on a phone (390 px), on the
seeded demo district: nothing wider than the screen, tap targets of at least 44 px on the phone, a need
page with five results within three screens, details and the docking form on demand, and one
notification when a better solution is published. Every page is saved as a screenshot at both widths."""

import re

import pytest

from matchmaker.commands.seed import DEMO_ADMIN_EMAIL
from tests.e2e.conftest import shot
from tests.e2e.test_journeys import NEED, demo_provider_emails, login, register_enterprise

pytestmark = pytest.mark.e2e

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
SCREENS = {"desktop": 3, "phone": 4}  # a need page with five results is at most this many screens of each width
TAP = 44
DEMO_ENTERPRISE = "huamu@demo-enterprise.example"
DEMO_PROVIDER = "（演示）深圳坪山智联数采科技有限公司"

# Tap targets: what a thumb presses. Links inside running text are not counted (they wrap with it).
TARGETS = "button, summary, .topbar a, .pager a, .filters a, select, input:not([type=hidden]), textarea"


@pytest.fixture(params=list(WIDTHS))
def sized(request, browser, live_url):
    """A page factory at one width: (new_page(), width name)."""
    width, height = WIDTHS[request.param]
    contexts = []

    def make():
        context = browser.new_context(base_url=live_url, locale="zh-CN", viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield make, request.param
    for context in contexts:
        context.close()


def check(page, name: str, width: str) -> None:
    """No horizontal scrolling; on the phone every visible tap target is at least 44 px high and wide
    (inputs: high); then the screenshot."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: {overflow}px wider than the {width} screen"
    if width == "phone":
        small = page.evaluate(
            """selector => [...document.querySelectorAll(selector)].filter(e => {
                   const r = e.getBoundingClientRect(), s = getComputedStyle(e);
                   if (!r.width || !r.height || s.visibility === 'hidden') return false;
                   if (['checkbox', 'radio'].includes(e.type)) return false;
                   const wide = ['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tagName) || r.width >= 44;
                   return r.height < 43.5 || !wide;
               }).map(e => `${e.tagName} ${(e.innerText || e.name || '').trim().slice(0, 20)}`)""",
            TARGETS,
        )
        assert not small, f"{name}: tap targets under {TAP}px: {small[:8]}"
    shot(page, f"{name}-{width}")


def visit(page, width: str, *pages: tuple[str, str]) -> None:
    """Open each (path, screenshot name) in turn and check it; a path "docking" opens the first docking
    of the list page open before it."""
    for path, name in pages:
        if path == "docking":
            page.locator("main table a").first.click()
        else:
            page.goto(path)
        check(page, name, width)


def test_the_enterprise_journey_fits_both_screens(sized):
    make, width = sized
    page = make()
    visit(page, width, ("/", "20-home"), ("/auth/login", "21-login"))
    login(page, DEMO_ENTERPRISE)
    visit(
        page,
        width,
        ("/enterprise/", "22-enterprise-home"),
        ("/enterprise/needs", "23-enterprise-needs"),
        ("/dockings/", "27-enterprise-dockings"),
        ("docking", "28-enterprise-docking-detail"),
        ("/inbox/", "29-enterprise-inbox"),
        ("/enterprise/profile", "30-enterprise-profile"),
    )

    page = make()  # a factory owner new to the platform posts the need of the journeys
    register_enterprise(page, 10 + list(WIDTHS).index(width))
    page.get_by_role("link", name="发布需求").first.click()
    check(page, "24-need-form", width)
    page.get_by_label("需求描述（用自己的话写清现状、痛点和想达到的效果）").fill(NEED)
    page.get_by_role("button", name="一键发布并匹配方案").click()
    assert page.locator("section[aria-labelledby=matches-h] > article.match").count() == 5
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= SCREENS[width] * WIDTHS[width][1], f"need page is {height}px tall at {width} width"
    check(page, "25-need-page", width)

    card = page.locator("section[aria-labelledby=matches-h] > article.match").first
    assert re.search(r"(高度匹配|较匹配|部分匹配) \d+%", card.locator(".band").inner_text())
    assert re.search(r"覆盖所需能力 \d+/\d+ 项", card.locator(".why").inner_text())
    coverage = card.locator("table.coverage")
    assert not coverage.is_visible()
    card.locator("summary", has_text="匹配详情").click()
    assert coverage.is_visible()  # the per-point table opens on demand
    apply = page.locator("section[aria-labelledby=matches-h] details.apply").first
    message = apply.locator("textarea")
    assert not message.is_visible()  # no message box before 申请对接 is clicked
    apply.locator("summary", has_text="申请对接").click()
    assert message.is_visible() and apply.get_by_role("button", name="发送对接申请").is_visible()
    more = page.locator("details.more")
    if more.count():
        more.locator("> summary").click()
        assert more.locator("article.match").first.is_visible()
    check(page, "26-need-page-opened", width)


def test_the_provider_journey_fits_both_screens(sized):
    make, width = sized
    page = make()
    login(page, demo_provider_emails()[DEMO_PROVIDER])
    page.goto("/provider/")
    check(page, "31-provider-home", width)
    page.goto("/inbox/pushed")
    pushed = page.locator("main article.match")
    assert pushed.count() >= 1
    first = pushed.first
    assert "匹配您的方案「" in first.inner_text() and re.search(r"覆盖企业所需能力 \d+/\d+ 项", first.inner_text())
    assert not first.locator(".prose").is_visible()  # the need's full text waits behind its summary
    check(page, "32-provider-pushed", width)
    first.locator("h3 a").click()
    check(page, "33-provider-pushed-detail", width)
    visit(
        page,
        width,
        ("/dockings/", "34-provider-dockings"),
        ("docking", "35-provider-docking-detail"),
        ("/provider/solutions/new", "36-solution-form"),
        ("/provider/profile", "37-provider-profile"),
        ("/inbox/", "38-provider-inbox"),
    )


def test_the_dashboard_shows_the_seeded_district(sized):
    make, width = sized
    page = make()
    login(page, DEMO_ADMIN_EMAIL)
    page.goto("/admin/dashboard")
    figures = page.locator("section.stats strong").all_inner_texts()
    coverage, gaps, requests, amount, satisfaction = figures[2], figures[3], figures[4], figures[5], figures[6]
    assert coverage != "0%" and int(gaps) > 0 and int(requests) > 0 and float(amount) > 0 and satisfaction != "—"
    assert page.locator("svg.chart").count() == 7  # with the maturity levels over time
    if width == "desktop":
        check(page, "39-admin-dashboard", width)
    else:
        shot(page, f"39-admin-dashboard-{width}")  # the admin works at a desk; the phone view is only looked at


NICHE_NEED = (
    "我们是一家家具厂，喷漆房的废气处理设备想加装在线监测，实时看VOCs排放浓度，超标自动报警，"
    "每月自动生成环保台账给环保局检查用。"
)


def publish_solution(page, title: str) -> None:
    page.goto("/provider/solutions/new")
    page.get_by_label("方案名称").fill(title)
    page.get_by_label("所属领域").select_option("data_collection")
    page.get_by_label("一句话简介").fill("家具厂喷漆房VOCs废气在线监测、超标报警和环保台账")
    page.get_by_label("方案介绍").fill(
        "面向家具厂喷漆房的废气处理设备加装VOCs在线监测仪，实时显示排放浓度，超标自动短信报警，"
        "每月自动生成环保台账，应对环保检查。"
    )
    page.get_by_label("核心功能模块（每行一个）").fill("VOCs排放浓度在线监测\n超标自动报警\n环保台账自动生成")
    for size in ("中型", "小型", "微型"):
        page.get_by_label(size, exact=True).check()
    page.get_by_label("家具", exact=True).check()
    page.locator("details", has_text="能力标签").locator("summary").click()
    page.get_by_label("环境监测").check()
    page.get_by_role("button", name="发布", exact=True).click()
    assert "/provider/solutions/new" not in page.url, page.locator("main").inner_text()[:400]


def test_a_better_solution_published_later_tells_the_enterprise_once(new_page):
    enterprise = new_page()
    register_enterprise(enterprise, 5)
    enterprise.get_by_role("link", name="发布需求").first.click()
    enterprise.get_by_label("需求描述（用自己的话写清现状、痛点和想达到的效果）").fill(NICHE_NEED)
    enterprise.get_by_label("数据采集").check()
    enterprise.locator("summary", has_text="能力标签").click()
    enterprise.get_by_label("环境监测").check()
    enterprise.get_by_role("button", name="一键发布并匹配方案").click()
    need_url = enterprise.url
    shot(enterprise, "40-niche-need-before")

    provider = new_page()
    login(provider, demo_provider_emails()["（演示）深圳鹏城能效科技有限公司"])
    publish_solution(provider, "家具喷漆房VOCs在线监测与环保台账")
    publish_solution(provider, "喷漆房废气VOCs监测报警系统")  # the same day: no second message

    enterprise.goto("/inbox/")
    told = enterprise.locator("main article.item", has_text="新方案推荐")
    assert told.count() == 1
    assert "喷漆房" in told.first.inner_text()
    enterprise.goto(need_url)
    assert "家具喷漆房VOCs在线监测与环保台账" in enterprise.locator("section[aria-labelledby=matches-h]").inner_text()
    shot(enterprise, "41-niche-need-after")
