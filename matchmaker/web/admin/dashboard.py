"""The docking service centre's dashboard (数据看板) and exports.

Routes on `matchmaker.web.admin.bp`, so the blueprint's admin-only guard covers them; imported by the app
factory before the blueprints are registered. Views stay thin: figures come from `services.stats`,
files from `services.exports`.
"""

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlmodel import Session, col, select
from wtforms import HiddenField, SelectField
from wtforms.validators import Optional

from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.errors import error_page
from matchmaker.plumbing.extensions import search_index
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.plumbing.security import no_store
from matchmaker.services import audit, event_report, exports, matching, maturity, retrofit_projects, stats
from matchmaker.services import taxonomy as taxonomy_service
from matchmaker.services.labels import NEED_STATUS_LABELS, PROVIDER_STATUS_LABELS
from matchmaker.web.admin import bp, charts
from matchmaker.web.forms import BaseForm, choices
from models import MatchResult, Need, NeedStatus, ProviderStatus
from models.validation import FACTORY_TIERS, MATURITY_LEVELS, SIZE_LABELS, month_error

TOP_INDUSTRIES = 6  # industries drawn by name in the monthly chart; the rest are summed as 其他
HEATMAP_ROWS = 12
MAX_MONTHS = 60
RANK_BATCH = 200  # needs ranked per click of 计算匹配, so one request stays short
FUNNEL_LABELS = {"requested": "对接申请", "accepted": "服务商接受", "contracted": "签约", "completed": "验收完成"}
OTHER = "其他"
FORMATS = {"xlsx": "Excel（XLSX）", "csv": "CSV（UTF-8，带 BOM）"}
# The dashboard's sections below its key figures, in order: one template each, rendered with the page's
# context. A new section is a template and a line here (its figures added to `_dashboard`).
SECTIONS = [
    "admin/dashboard/_needs.html",
    "admin/dashboard/_gaps.html",
    "admin/dashboard/_maturity.html",
    "admin/dashboard/_dockings.html",
    "admin/dashboard/_events.html",
    "admin/dashboard/_exports.html",
]


def good_match_score() -> float:
    """The score of a "good" match (优质匹配): MATCHMAKER_GOOD_MATCH_SCORE when set, else the cut-off of
    the 较匹配 band (MATCHMAKER_BAND_GOOD, derived by `flask match-bands`: results from it up are 70%
    relevant on the labelled sets). So coverage and gaps count what a need page calls 较匹配 or better,
    and follow the score scale when the ranker changes; a need without one is a gap to recruit for."""
    configured = current_app.config.get("MATCHMAKER_GOOD_MATCH_SCORE")
    return float(configured if configured is not None else current_app.config["MATCHMAKER_BAND_GOOD"])


def beijing_today() -> date:
    return (datetime.now(UTC) + stats.LOCAL_OFFSET).date()


# --- dashboard ------------------------------------------------------------------------------------


def requested_period() -> tuple[stats.Period, str | None]:
    """The period from ?from=YYYY-MM&to=YYYY-MM, or the last 12 months with a Chinese message why."""
    default = stats.Period.months_ending(beijing_today())
    first, last = (request.args.get(key, "").strip() for key in ("from", "to"))
    if not first and not last:
        return default, None
    if error := period_error(first, last):
        return default, f"{error}；已显示最近 12 个月"
    period = stats.Period.of_months(first, last)
    if len(period.months) > MAX_MONTHS:
        return default, f"统计区间最长 {MAX_MONTHS} 个月；已显示最近 12 个月"
    return period, None


def period_error(first: str, last: str) -> str | None:
    """Why the months `first`..`last` (YYYY-MM) are not a period, in Chinese; None when they are one."""
    if not first or not last or month_error(first) or month_error(last):
        return "请按“年-月”填写起止月份，例如 2026-01"
    if first > last:
        return "起始月份不能晚于结束月份"
    return None


def _names(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    industries = {i.code: i.name for i in taxonomy_service.industries(session)}
    domains = {d.code: d.name for d in taxonomy_service.domains(session)}
    return industries, domains


def _top_series(counts: stats.MonthlyCounts, label: Callable[[str], str], top: int) -> list[charts.Series]:
    keys = list(counts.rows)
    series = [charts.Series(label(key), counts.rows[key]) for key in keys[:top]]
    rest = keys[top:]
    if rest:
        summed = [sum(counts.rows[key][i] for key in rest) for i in range(len(counts.months))]
        series.append(charts.Series(OTHER, summed))
    return series


def _summary(counts: stats.MonthlyCounts, label: Callable[[str], str], what: str) -> str:
    if not counts.rows:
        return f"所选区间内没有{what}数据。"
    leaders = "，".join(f"{label(key)} {counts.total(key)} 条" for key in list(counts.rows)[:3])
    return f"{counts.months[0]} 至 {counts.months[-1]}，最多的是：{leaders}。"


@dataclass(frozen=True)
class GapRow:
    industry: str
    domain: str
    needs: int
    providers: int


def _dashboard(session: Session, period: stats.Period, threshold: float) -> dict[str, Any]:
    industries, domains = _names(session)

    def industry(code: str) -> str:
        return industries.get(code, code)

    def domain(code: str) -> str:
        return domains.get(code, code) if code else "未指定领域"

    def size(code: str) -> str:
        return SIZE_LABELS.get(code, code or "未知")

    by_industry = stats.needs_by_industry(session, period)
    by_size = stats.needs_by_size(session, period)
    by_domain = stats.needs_by_domain(session, period)
    coverage = stats.match_coverage(session, period, threshold)
    gaps = stats.unmet_demand(session, period, threshold)
    supply = stats.providers_by_domain(session)
    funnel = stats.docking_funnel(session, period)
    contracts = stats.contract_value(session, period)
    ratings = stats.satisfaction(session, period)

    months = period.months
    figures = [
        charts.stacked_bar_chart(
            "needs-industry",
            "各行业每月新增需求",
            _summary(by_industry, industry, "需求"),
            months,
            _top_series(by_industry, industry, TOP_INDUSTRIES),
            other=OTHER,
            empty="区间内没有新发布的需求。",
        ),
        charts.stacked_bar_chart(
            "needs-size",
            "各规模企业每月新增需求",
            _summary(by_size, size, "需求"),
            months,
            [charts.Series(size(key), values) for key, values in by_size.rows.items()],
            empty="区间内没有新发布的需求。",
        ),
        charts.line_chart(
            "needs-domain",
            "各服务领域每月需求（一条需求可涉及多个领域）",
            _summary(by_domain, domain, "需求"),
            months,
            [charts.Series(domain(key), values) for key, values in by_domain.rows.items()],
            empty="区间内的需求都没有注明服务领域。" if by_size.rows else "区间内没有新发布的需求。",
        ),
    ]
    funnel_chart = charts.funnel_chart(
        "funnel",
        "对接漏斗（按申请时间）",
        "，".join(f"{FUNNEL_LABELS[stage]} {count}" for stage, count in funnel) + "。",
        [(FUNNEL_LABELS[stage], count) for stage, count in funnel],
        empty="区间内没有对接申请。",
    )
    rating_chart = charts.bar_chart(
        "satisfaction",
        "验收满意度分布",
        f"共 {ratings.count} 次评价" + (f"，平均 {ratings.average:.1f} 分。" if ratings.average is not None else "。"),
        [(f"{score} 分", count) for score, count in sorted(ratings.ratings.items(), reverse=True)],
        unit="次",
        empty="区间内没有验收评价。",
    )
    gap_industries = _ordered_keys(gaps, lambda g: g.industry)[:HEATMAP_ROWS]
    gap_domains = [code for code in domains if any(g.domain == code for g in gaps)]
    if any(g.domain == stats.NO_DOMAIN for g in gaps):
        gap_domains.append(stats.NO_DOMAIN)
    cells = {(g.industry, g.domain): g.needs for g in gaps}
    gap_chart = charts.heatmap(
        "gaps",
        "供需缺口：没有优质匹配的开放需求（行业 × 服务领域）",
        f"共 {coverage.unmet} 条需求没有评分达到 {threshold:g} 的匹配"
        + (
            f"，缺口最大的是{industry(gaps[0].industry)} × {domain(gaps[0].domain)}（{gaps[0].needs} 条）。"
            if gaps
            else "。"
        ),
        [industry(code) for code in gap_industries],
        [domain(code) for code in gap_domains],
        [[cells.get((i, d), 0) for d in gap_domains] for i in gap_industries],
        empty="区间内没有供需缺口。" if coverage.ranked else "区间内没有已计算匹配的开放需求，暂无供需缺口可看。",
    )
    gap_rows = [GapRow(industry(g.industry), domain(g.domain), g.needs, supply.get(g.domain, 0)) for g in gaps]
    return {
        "coverage": coverage,
        "contracts": contracts,
        "ratings": ratings,
        "funnel": funnel,
        "needs_total": stats.need_count(session, period),
        "figures": figures,
        "funnel_chart": funnel_chart,
        "rating_chart": rating_chart,
        "gap_chart": gap_chart,
        "gap_rows": gap_rows,
        "good_min": stats.COVERAGE_MIN_GOOD,
        "maturity": _maturity(session, period),
        "event_rows": event_report.dashboard_rows(session),
    }


@dataclass(frozen=True)
class StandingRow:
    level: str
    counts: list[int]  # per FACTORY_TIERS, in its order
    total: int


def _standing_rows(counts: Counter[maturity.LevelTier]) -> list[StandingRow]:
    """One row per maturity level, highest first, then 未评估; one column per 智能工厂 tier."""
    rows = []
    for level in (5, 4, 3, 2, 1, 0):
        cells = [counts.get((level, tier), 0) for tier in FACTORY_TIERS]
        rows.append(StandingRow(MATURITY_LEVELS[level], cells, sum(cells)))
    return rows


def _maturity(session: Session, period: stats.Period) -> dict[str, Any]:
    """The maturity section: enterprises and open needs by level and tier, and levels month by month."""
    now = maturity.standing(session)
    levels, upgrades = maturity.levels_over_time(session, period)
    assessed = sum(n for (level, _), n in now.enterprises.items() if level >= 3)
    chart = charts.stacked_bar_chart(
        "maturity-levels",
        "各成熟度等级的企业数（月末）",
        f"{period.first_month} 至 {period.last_month}，共有 {sum(upgrades)} 次等级提升；"
        f"目前三级及以上企业 {assessed} 家。",
        period.months,
        [charts.Series(MATURITY_LEVELS[int(key)], values) for key, values in sorted(levels.rows.items())],
    )
    return {
        "tiers": list(FACTORY_TIERS.values()),
        "enterprises": _standing_rows(now.enterprises),
        "open_needs": _standing_rows(now.open_needs),
        "chart": chart,
    }


def _ordered_keys(gaps: list[stats.Gap], key: Callable[[stats.Gap], str]) -> list[str]:
    totals: dict[str, int] = {}
    for gap in gaps:
        totals[key(gap)] = totals.get(key(gap), 0) + gap.needs
    return sorted(totals, key=lambda k: (-totals[k], k))


class NeedExportForm(BaseForm):
    format = SelectField("文件格式", choices=choices(FORMATS))
    status = SelectField("需求状态", choices=choices({"": "全部"} | NEED_STATUS_LABELS), validators=[Optional()])
    period = SelectField("发布时间", choices=choices({"all": "全部时间", "period": "仅统计区间内"}))
    start = HiddenField()
    end = HiddenField()


class ProviderExportForm(BaseForm):
    format = SelectField("文件格式", choices=choices(FORMATS))
    status = SelectField("入库状态", choices=choices({"": "全部"} | PROVIDER_STATUS_LABELS), validators=[Optional()])


class ProjectExportForm(BaseForm):
    format = SelectField("文件格式", choices=choices(FORMATS))


@bp.route("/dashboard")
def dashboard():
    session = get_session()
    period, period_error = requested_period()
    threshold = good_match_score()
    data = _dashboard(session, period, threshold)
    page, per_page = requested_page()
    rows = data.pop("gap_rows")
    gap_page = Page(rows[(page - 1) * per_page : page * per_page], page, per_page, len(rows))
    need_form = NeedExportForm(start=period.first_month, end=period.last_month)
    return render_template(
        "admin/dashboard.html",
        period=period,
        period_error=period_error,
        threshold=threshold,
        gap_page=gap_page,
        need_form=need_form,
        provider_form=ProviderExportForm(),
        sections=SECTIONS,
        **data,
    )


@bp.route("/dashboard/rank", methods=["POST"])
def rank_unranked():
    """Rank open needs that were never ranked (e.g. imported ones), so coverage and gaps count them."""
    form = BaseForm()
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    unranked = session.exec(
        select(Need)
        .where(Need.status == NeedStatus.open, ~select(MatchResult.id).where(MatchResult.need_id == Need.id).exists())
        .order_by(col(Need.id))
        .limit(RANK_BATCH)
    ).all()
    for need in unranked:
        matching.match_need(session, engine(), search_index(), need)
    audit.record(
        session, current_user.id, "dashboard.rank", "need", None, "为未计算匹配的开放需求计算匹配", needs=len(unranked)
    )
    session.commit()
    flash(f"已为 {len(unranked)} 条需求计算匹配", "success")
    return redirect(url_for("admin.dashboard", **{k: v for k, v in request.args.items() if k in ("from", "to")}))


@bp.route("/exports/<kind>", methods=["POST"])
@no_store
def export(kind: str):
    session = get_session()
    if kind == "needs":
        form = NeedExportForm()
        if not form.validate_on_submit():
            abort(400)
        status = NeedStatus(form.status.data) if form.status.data else None
        period = None
        if form.period.data == "period":
            start, end = (form.start.data or "").strip(), (form.end.data or "").strip()
            if error := period_error(start, end):
                return error_page(400, f"导出区间无效：{error}。请在统计看板上选好统计区间后再导出。")
            period = stats.Period.of_months(start, end)
        sheet = exports.needs_sheet(session, period, status)
        filters = {
            "status": form.status.data or "all",
            "period": f"{start}~{end}" if period else "all",
        }
    elif kind == "providers":
        form = ProviderExportForm()
        if not form.validate_on_submit():
            abort(400)
        sheet = exports.providers_sheet(session, ProviderStatus(form.status.data) if form.status.data else None)
        filters = {"status": form.status.data or "all"}
    elif kind == "projects":  # the 数字化技改项目白名单, for city fund applications
        form = ProjectExportForm()
        if not form.validate_on_submit():
            abort(400)
        sheet = retrofit_projects.export_sheet(session)
        filters = {"status": "selected"}
    else:
        abort(404)
    content, mimetype = exports.render(sheet, form.format.data)
    exports.record(session, current_user.id, kind, form.format.data, sheet, **filters)
    name = f"{sheet.name}-{beijing_today():%Y%m%d}.{form.format.data}"
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=name)
