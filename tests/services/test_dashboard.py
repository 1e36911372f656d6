"""The dashboard's figures on a generated dataset, checked against a plain-Python count of the same
rows (the test's own oracle), and the dashboard page: charts, accessibility, filters, roles."""

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from matchmaker.services import stats
from matchmaker.web.admin import charts
from models import (
    AuditLog,
    Docking,
    DockingEvent,
    DockingStatus,
    Enterprise,
    MatchResult,
    MaturityChange,
    Need,
    NeedStatus,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
)
from tests.conftest import credit_code, post

D = DockingStatus
BEIJING = timedelta(hours=8)
THRESHOLD = 0.45
PERIOD = stats.Period.of_months("2026-01", "2026-06")
GROUP = {"C21": "furniture", "C36": "auto_parts", "furniture": "furniture", "auto_parts": "auto_parts"}
GROUP["general"] = "general"
PATHS = (  # how far a docking went: a prefix of the way to acceptance, or off it
    [D.requested],
    [D.requested, D.declined],
    [D.requested, D.cancelled],
    [D.requested, D.accepted],
    [D.requested, D.accepted, D.cancelled],
    [D.requested, D.accepted, D.negotiating],
    [D.requested, D.accepted, D.negotiating, D.cancelled],
    [D.requested, D.accepted, D.negotiating, D.contracted],
    [D.requested, D.accepted, D.negotiating, D.contracted, D.completed],
)


@dataclass
class World:
    """What the test put in the database, kept in plain Python to compute the expected figures."""

    needs: list[Need] = field(default_factory=list)
    matchable: set[int] = field(default_factory=set)  # solution ids
    scores: dict[int, list[tuple[int, float]]] = field(default_factory=dict)  # need id -> (solution id, score)
    dockings: list[tuple[Docking, list[DockingStatus], list[datetime]]] = field(default_factory=list)


def beijing_month(moment: datetime) -> str:
    return (moment + BEIJING).strftime("%Y-%m")


def in_period(moment: datetime) -> bool:
    return PERIOD.start <= (moment + BEIJING).date() < PERIOD.end


def build_world(db: Session, seed: int = 7) -> World:
    rng = random.Random(seed)
    world = World()
    providers = []
    for serial, status in enumerate([ProviderStatus.approved] * 3 + [ProviderStatus.suspended], start=800):
        provider = Provider(
            name=f"服务商{serial}",
            credit_code=credit_code(serial),
            contact_name="李",
            phone="13900139000",
            email=f"p{serial}@example.com",
            domains=["software"],
            status=status,
        )
        db.add(provider)
        providers.append(provider)
    db.flush()
    solutions = []
    for i in range(10):
        provider = providers[i % len(providers)]
        status = SolutionStatus.withdrawn if i == 9 else SolutionStatus.published
        solution = Solution(
            provider_id=provider.id,
            title=f"方案{i}",
            description="方案说明文字足够长",
            domain="software",
            status=status,
        )
        db.add(solution)
        solutions.append(solution)
    db.flush()
    world.matchable = {
        s.id
        for s in solutions
        if s.status == SolutionStatus.published and db.get(Provider, s.provider_id).status == ProviderStatus.approved
    }
    enterprises = []
    for serial, (industry, size) in enumerate([("furniture", "small"), ("C21", "medium"), ("C36", "large")], 1):
        enterprise = Enterprise(
            name=f"企业{serial}",
            credit_code=credit_code(serial),
            industry=industry,
            employees=100,
            revenue=1000,
            size_class=size,
            street="坪山街道",
            contact_name="王",
            phone="13800138000",
            email=f"e{serial}@example.com",
        )
        db.add(enterprise)
        enterprises.append(enterprise)
    db.flush()
    # Two enterprises state a maturity level in the period, one moves up a level later in it.
    for enterprise, before, after, at in [
        (enterprises[0], 0, 1, datetime(2026, 1, 10, tzinfo=UTC)),
        (enterprises[1], 0, 2, datetime(2026, 2, 10, tzinfo=UTC)),
        (enterprises[0], 1, 2, datetime(2026, 4, 10, tzinfo=UTC)),
    ]:
        db.add(MaturityChange(enterprise_id=enterprise.id, from_level=before, to_level=after, created_at=at))
    # Month edges in Beijing time: 2026-01-01 00:30 and 2026-06-30 23:30 are in, 2025-12-31 23:30 and
    # 2026-07-01 00:30 are out; the rest anywhere from November to August.
    edges = [datetime(2025, 12, 31, 16, 30), datetime(2026, 6, 30, 15, 30), datetime(2025, 12, 31, 15, 30)]
    edges.append(datetime(2026, 6, 30, 16, 30))
    start = datetime(2025, 11, 1)
    domain_choices = [[], ["software"], ["data_collection"], ["software", "security"], ["diagnosis"]]
    for i in range(60):
        enterprise = enterprises[i % 3]
        moment = edges[i] if i < len(edges) else start + timedelta(minutes=rng.randrange(0, 300 * 24 * 60))
        need = Need(
            enterprise_id=enterprise.id,
            title=f"需求{i}",
            description="需求描述文字足够长，说明现状和目标",
            industry=enterprise.industry if i % 5 else "general",
            size_class=enterprise.size_class,
            domains=rng.choice(domain_choices),
            status=NeedStatus.closed if rng.random() < 0.2 else NeedStatus.open,
            created_at=moment.replace(tzinfo=UTC),
        )
        db.add(need)
        world.needs.append(need)
    db.flush()
    for need in world.needs:
        if rng.random() < 0.15:
            continue  # never ranked
        picked = rng.sample(solutions, rng.randrange(1, 7))
        world.scores[need.id] = []
        for rank, solution in enumerate(picked, 1):
            score = rng.choice([0.2, 0.3, 0.4, 0.4499, THRESHOLD, 0.5, 0.6])
            db.add(MatchResult(need_id=need.id, solution_id=solution.id, rank=rank, score=score))
            world.scores[need.id].append((solution.id, score))
    for i, need in enumerate(world.needs[:40]):
        solution = solutions[i % 9]
        path = PATHS[i % len(PATHS)]
        created = datetime(2025, 12, 20, tzinfo=UTC) + timedelta(days=rng.randrange(0, 220))
        moments = [created + timedelta(days=3 * step) for step in range(len(path))]
        docking = Docking(
            need_id=need.id,
            solution_id=solution.id,
            enterprise_id=need.enterprise_id,
            provider_id=solution.provider_id,
            status=path[-1],
            created_at=created,
        )
        if D.contracted in path:
            docking.contract_amount = round(rng.uniform(5, 200), 1)
            docking.contract_date = (moments[path.index(D.contracted)] + BEIJING).date()
        if D.completed in path:
            docking.satisfaction = rng.randrange(1, 6)
        db.add(docking)
        db.flush()
        previous = ""
        for status, moment in zip(path, moments, strict=True):
            db.add(DockingEvent(docking_id=docking.id, from_status=previous, to_status=status, created_at=moment))
            previous = status
        world.dockings.append((docking, path, moments))
    db.commit()
    return world


@pytest.fixture
def world(db) -> World:
    return build_world(db)


def test_needs_per_month_by_industry_size_and_domain(db, world):
    expected_industry: dict[str, dict[str, int]] = {}
    expected_size: dict[str, dict[str, int]] = {}
    expected_domain: dict[str, dict[str, int]] = {}
    for need in world.needs:
        if not in_period(need.created_at.replace(tzinfo=None)):
            continue
        month = beijing_month(need.created_at.replace(tzinfo=None))
        for table, key in ((expected_industry, GROUP[need.industry]), (expected_size, need.size_class)):
            table.setdefault(key, {}).setdefault(month, 0)
            table[key][month] += 1
        for domain in need.domains:
            expected_domain.setdefault(domain, {}).setdefault(month, 0)
            expected_domain[domain][month] += 1

    def as_dicts(counts: stats.MonthlyCounts) -> dict[str, dict[str, int]]:
        return {k: {m: n for m, n in zip(counts.months, v, strict=True) if n} for k, v in counts.rows.items()}

    by_industry = stats.needs_by_industry(db, PERIOD)
    assert by_industry.months == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert as_dicts(by_industry) == expected_industry
    assert as_dicts(stats.needs_by_size(db, PERIOD)) == expected_size
    assert as_dicts(stats.needs_by_domain(db, PERIOD)) == expected_domain
    totals = [by_industry.total(key) for key in by_industry.rows]
    assert totals == sorted(totals, reverse=True)  # largest first
    assert stats.need_count(db, PERIOD) == sum(by_industry.per_month)
    # the edge cases: 00:30 on 1 January and 23:30 on 30 June Beijing time are in, the others out
    assert by_industry.per_month[0] >= 1 and by_industry.per_month[-1] >= 1


def test_month_edges_follow_beijing_time(db, world):
    january = stats.Period.of_months("2026-01", "2026-01")
    edge_ids = {world.needs[0].id, world.needs[2].id}  # 2026-01-01 00:30 and 2025-12-31 23:30 Beijing
    ids = set(db.exec(select(Need.id).where(january.holds(Need.created_at))))
    assert world.needs[0].id in ids and world.needs[2].id not in ids
    assert edge_ids - ids == {world.needs[2].id}


def _oracle_good(world: World, need: Need) -> int:
    return sum(1 for sid, score in world.scores.get(need.id, []) if sid in world.matchable and score >= THRESHOLD)


def test_match_coverage_counts_only_matchable_good_matches(db, world):
    open_needs = [
        n for n in world.needs if n.status == NeedStatus.open and in_period(n.created_at.replace(tzinfo=None))
    ]
    ranked = [n for n in open_needs if n.id in world.scores]
    expected = stats.Coverage(
        THRESHOLD,
        open_needs=len(open_needs),
        unranked=len(open_needs) - len(ranked),
        covered=sum(1 for n in ranked if _oracle_good(world, n) >= 3),
        unmet=sum(1 for n in ranked if _oracle_good(world, n) == 0),
    )
    coverage = stats.match_coverage(db, PERIOD, THRESHOLD)
    assert coverage == expected
    assert 0 < coverage.covered and 0 < coverage.unmet and 0 < coverage.unranked  # the data exercises each case
    assert coverage.share == expected.covered / len(ranked)


def test_a_suspension_turns_covered_needs_into_gaps(db, world):
    before = stats.match_coverage(db, PERIOD, THRESHOLD)
    for provider in db.exec(select(Provider).where(Provider.status == ProviderStatus.approved)):
        provider.status = ProviderStatus.suspended
        db.add(provider)
    db.commit()
    after = stats.match_coverage(db, PERIOD, THRESHOLD)
    assert after.covered == 0 and after.unmet == after.ranked == before.ranked


def test_unmet_demand_by_industry_and_domain(db, world):
    expected: dict[tuple[str, str], int] = {}
    for need in world.needs:
        if need.status != NeedStatus.open or not in_period(need.created_at.replace(tzinfo=None)):
            continue
        if need.id not in world.scores or _oracle_good(world, need):
            continue
        for domain in need.domains or [stats.NO_DOMAIN]:
            key = (GROUP[need.industry], domain)
            expected[key] = expected.get(key, 0) + 1
    gaps = stats.unmet_demand(db, PERIOD, THRESHOLD)
    assert {(g.industry, g.domain): g.needs for g in gaps} == expected
    assert [g.needs for g in gaps] == sorted((g.needs for g in gaps), reverse=True)
    assert any(g.domain == stats.NO_DOMAIN for g in gaps)
    assert stats.providers_by_domain(db) == {"software": 3}  # the suspended one does not count


def test_docking_funnel_contracts_and_satisfaction(db, world):
    cohort = [(d, path) for d, path, _ in world.dockings if in_period(d.created_at.replace(tzinfo=None))]
    later = {
        D.requested: {D.requested, D.accepted, D.negotiating, D.contracted, D.completed},
        D.accepted: {D.accepted, D.negotiating, D.contracted, D.completed},
        D.contracted: {D.contracted, D.completed},
        D.completed: {D.completed},
    }
    expected_funnel = [(stage, sum(1 for _, path in cohort if later[stage] & set(path))) for stage in later]
    funnel = stats.docking_funnel(db, PERIOD)
    assert funnel == expected_funnel
    assert funnel[0][1] == len(cohort) and funnel[-1][1] > 0

    signed = [d for d, path, _ in world.dockings if d.contract_date and PERIOD.start <= d.contract_date < PERIOD.end]
    contracts = stats.contract_value(db, PERIOD)
    assert contracts.count == len(signed) > 0
    assert contracts.amount == pytest.approx(sum(d.contract_amount for d in signed))

    ratings = [
        d.satisfaction
        for d, path, moments in world.dockings
        if D.completed in path and in_period(moments[-1].replace(tzinfo=None))
    ]
    found = stats.satisfaction(db, PERIOD)
    assert found.count == len(ratings) > 0
    assert found.average == pytest.approx(sum(ratings) / len(ratings))
    assert found.ratings == {score: ratings.count(score) for score in range(1, 6)}


def test_periods_are_whole_months():
    period = stats.Period.months_ending(date(2026, 3, 31), 12)
    assert (period.first_month, period.last_month, len(period.months)) == ("2025-04", "2026-03", 12)
    assert period.utc_start == datetime(2025, 3, 31, 16, tzinfo=UTC)
    assert stats.Period.of_months("2025-11", "2026-02").months == ["2025-11", "2025-12", "2026-01", "2026-02"]


# --- the page -------------------------------------------------------------------------------------


def test_dashboard_page_shows_the_figures_as_accessible_charts(app, admin_client, db, world):
    app.config["MATCHMAKER_GOOD_MATCH_SCORE"] = THRESHOLD
    html = admin_client.get("/admin/dashboard?from=2026-01&to=2026-06").get_data(as_text=True)
    coverage = stats.match_coverage(db, PERIOD, THRESHOLD)
    contracts = stats.contract_value(db, PERIOD)
    assert f"{coverage.covered} / {coverage.ranked}" in html
    assert f"<strong>{coverage.unmet}</strong><span>供需缺口" in html
    assert f"{contracts.amount:.1f}" in html
    assert "统计区间：2026-01 至 2026-06" in html
    svgs = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    assert len(svgs) == 7  # industry, size, domain, gaps, maturity levels, funnel, satisfaction
    for svg in svgs:
        ids = re.search(r'aria-labelledby="([\w-]+)-title ([\w-]+)-desc"', svg)
        assert ids and f'<title id="{ids.group(1)}-title">' in svg and f'<desc id="{ids.group(2)}-desc">' in svg
        assert 'role="img"' in svg
    assert html.count("查看数据表") == 7 and "<table>" in html
    assert "2026-01 至 2026-06，共有 1 次等级提升" in html
    assert (
        "style=" not in html
        and "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert "汽车零部件" in html and "家具" in html  # industries by name, not code


def test_a_bad_period_is_explained_and_the_last_twelve_months_shown(admin_client):
    for query in ("from=2026-13&to=2026-02", "from=2026-05&to=2026-01", "from=2020-01&to=2026-01", "from=2026-01"):
        html = admin_client.get(f"/admin/dashboard?{query}").get_data(as_text=True)
        assert 'role="alert"' in html and "已显示最近 12 个月" in html


def test_ranking_unranked_needs_from_the_dashboard(admin_client, db, world):
    unranked = [n for n in world.needs if n.status == NeedStatus.open and n.id not in world.scores]
    page = "/admin/dashboard?from=2026-01&to=2026-06"
    assert "为未计算的需求计算匹配" in admin_client.get(page).get_data(as_text=True)
    response = post(admin_client, "/admin/dashboard/rank?from=2026-01&to=2026-06", {}, page=page)
    assert response.status_code == 302
    assert stats.match_coverage(db, PERIOD, THRESHOLD).unranked == 0
    entry = db.exec(select(AuditLog).where(AuditLog.action == "dashboard.rank")).one()
    assert entry.detail["needs"] == len(unranked)


def test_threshold_comes_from_config(app, admin_client, world):
    app.config["MATCHMAKER_GOOD_MATCH_SCORE"] = "0.55"  # from the environment it arrives as text
    html = admin_client.get("/admin/dashboard?from=2026-01&to=2026-06").get_data(as_text=True)
    assert "匹配分不低于 0.55" in html


@pytest.mark.parametrize("who", ["enterprise_client", "provider_client"])
def test_only_admins_see_the_dashboard(request, who):
    client = request.getfixturevalue(who)
    assert client.get("/admin/dashboard").status_code == 403
    assert client.post("/admin/dashboard/rank").status_code in (400, 403)


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/admin/dashboard")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_period_without_data_says_so_in_one_sentence_per_chart(admin_client, world):
    """No blank plot and no zero axis: each chart with nothing to draw is one sentence."""
    html = admin_client.get("/admin/dashboard?from=2019-01&to=2019-03").get_data(as_text=True)
    assert "<svg" not in html and "查看数据表" not in html
    for sentence in ("区间内没有新发布的需求。", "区间内没有对接申请。", "区间内没有验收评价。"):
        assert f'<p class="empty">{sentence}</p>' in html
    assert '<p class="empty">区间内没有已计算匹配的开放需求，暂无供需缺口可看。</p>' in html
    assert "供需缺口明细" not in html  # no empty table under it either


def test_empty_charts_are_sentences_and_charts_with_data_are_drawn():
    months = ["2026-01", "2026-02"]
    empty = charts.stacked_bar_chart("a", "标题", "说明", months, [charts.Series("家具", [0, 0])], empty="没有需求。")
    assert empty.empty == "没有需求。" and empty.svg == ""
    assert charts.funnel_chart("f", "漏斗", "说明", [("申请", 0), ("接受", 0)], empty="没有对接。").empty
    assert charts.heatmap("h", "缺口", "说明", [], [], [], empty="没有缺口。").empty == "没有缺口。"
    drawn = charts.bar_chart("b", "满意度", "说明", [("5 分", 2), ("4 分", 0)], empty="没有评价。")
    assert drawn.empty == "" and "<svg" in drawn.svg
