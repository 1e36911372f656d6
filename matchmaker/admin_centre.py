"""The docking service centre's dashboard (数据看板), exports and taxonomy management.

Routes on `matchmaker.admin.bp`, so the blueprint's admin-only guard covers them; imported by the app
factory before the blueprints are registered. Views stay thin: figures come from `services.stats`,
files from `services.exports`, edits from `services.taxonomy`.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

from matchmaker import charts
from matchmaker.admin import bp
from matchmaker.db import engine, get_session
from matchmaker.errors import ServiceError
from matchmaker.forms import REQUIRED, BaseForm, attach_service_error, choices, domain_choices, submitted
from matchmaker.pagination import Page, requested_page
from matchmaker.search import search_index
from matchmaker.services import audit, exports, matching, stats
from matchmaker.services import taxonomy as taxonomy_service
from matchmaker.templating import NEED_STATUS_LABELS, PROVIDER_STATUS_LABELS
from models import CapabilityTag, Domain, Industry, MatchResult, Need, NeedStatus, ProviderStatus
from models.validation import SIZE_LABELS, month_error

TOP_INDUSTRIES = 6  # industries drawn by name in the monthly chart; the rest are summed as 其他
HEATMAP_ROWS = 12
MAX_MONTHS = 60
RANK_BATCH = 200  # needs ranked per click of 计算匹配, so one request stays short
FUNNEL_LABELS = {"requested": "对接申请", "accepted": "服务商接受", "contracted": "签约", "completed": "验收完成"}
OTHER = "其他"
FORMATS = {"xlsx": "Excel（XLSX）", "csv": "CSV（UTF-8，带 BOM）"}


def good_match_score() -> float:
    return float(current_app.config.get("MATCHMAKER_GOOD_MATCH_SCORE", stats.DEFAULT_GOOD_MATCH_SCORE))


def beijing_today() -> date:
    return (datetime.now(UTC) + stats.LOCAL_OFFSET).date()


# --- dashboard ------------------------------------------------------------------------------------


def requested_period() -> tuple[stats.Period, str | None]:
    """The period from ?from=YYYY-MM&to=YYYY-MM, or the last 12 months with a Chinese message why."""
    default = stats.Period.months_ending(beijing_today())
    first, last = (request.args.get(key, "").strip() for key in ("from", "to"))
    if not first and not last:
        return default, None
    if not first or not last or month_error(first) or month_error(last):
        return default, "请按“年-月”填写起止月份，例如 2026-01；已显示最近 12 个月"
    if first > last:
        return default, "起始月份不能晚于结束月份；已显示最近 12 个月"
    period = stats.Period.of_months(first, last)
    if len(period.months) > MAX_MONTHS:
        return default, f"统计区间最长 {MAX_MONTHS} 个月；已显示最近 12 个月"
    return period, None


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
        ),
        charts.stacked_bar_chart(
            "needs-size",
            "各规模企业每月新增需求",
            _summary(by_size, size, "需求"),
            months,
            [charts.Series(size(key), values) for key, values in by_size.rows.items()],
        ),
        charts.line_chart(
            "needs-domain",
            "各服务领域每月需求（一条需求可涉及多个领域）",
            _summary(by_domain, domain, "需求"),
            months,
            [charts.Series(domain(key), values) for key, values in by_domain.rows.items()],
        ),
    ]
    funnel_chart = charts.funnel_chart(
        "funnel",
        "对接漏斗（按申请时间）",
        "，".join(f"{FUNNEL_LABELS[stage]} {count}" for stage, count in funnel) + "。",
        [(FUNNEL_LABELS[stage], count) for stage, count in funnel],
    )
    rating_chart = charts.bar_chart(
        "satisfaction",
        "验收满意度分布",
        f"共 {ratings.count} 次评价" + (f"，平均 {ratings.average:.1f} 分。" if ratings.average is not None else "。"),
        [(f"{score} 分", count) for score, count in sorted(ratings.ratings.items(), reverse=True)],
        unit="次",
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
def export(kind: str):
    session = get_session()
    if kind == "needs":
        form = NeedExportForm()
        if not form.validate_on_submit():
            abort(400)
        status = NeedStatus(form.status.data) if form.status.data else None
        period = None
        if form.period.data == "period":
            if month_error(form.start.data or "") or month_error(form.end.data or "") or not form.start.data:
                abort(400)
            period = stats.Period.of_months(form.start.data, form.end.data)
        sheet = exports.needs_sheet(session, period, status)
        filters = {
            "status": form.status.data or "all",
            "period": f"{form.start.data}~{form.end.data}" if period else "all",
        }
    elif kind == "providers":
        form = ProviderExportForm()
        if not form.validate_on_submit():
            abort(400)
        sheet = exports.providers_sheet(session, ProviderStatus(form.status.data) if form.status.data else None)
        filters = {"status": form.status.data or "all"}
    else:
        abort(404)
    content, mimetype = exports.render(sheet, form.format.data)
    exports.record(session, current_user.id, kind, form.format.data, sheet, **filters)
    name = f"{sheet.name}-{beijing_today():%Y%m%d}.{form.format.data}"
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=name)


# --- taxonomy management --------------------------------------------------------------------------


def _list_field(label: str) -> TextAreaField:
    return TextAreaField(label, validators=[Optional()])


def split_list(text: str | None) -> list[str]:
    """Items separated by line breaks or commas/semicolons (、 stays: it occurs inside Chinese names)."""
    for separator in ("，", ",", "；", ";"):
        text = (text or "").replace(separator, "\n")
    return [part.strip() for part in (text or "").splitlines() if part.strip()]


REASON_LABEL = "修改理由（必填，将记入审计日志）"


class IndustryForm(BaseForm):
    code = StringField("行业代码（如 C21 或 furniture，创建后不可修改）", validators=[REQUIRED])
    name = StringField("名称", validators=[REQUIRED])
    kind = SelectField("类型", choices=choices(taxonomy_service.INDUSTRY_KINDS), validators=[REQUIRED])
    gbt = _list_field("对应国标行业大类代码（GB/T 4754-2017，用逗号或换行分隔，如 C21）")
    synonyms = _list_field("同义词（用逗号或换行分隔）")
    reason = TextAreaField(REASON_LABEL, validators=[DataRequired(message="请填写修改理由")])


class DomainForm(BaseForm):
    code = StringField("领域代码（英文，创建后不可修改）", validators=[REQUIRED])
    name = StringField("名称", validators=[REQUIRED])
    description = TextAreaField("说明", validators=[Optional()])
    position = IntegerField("排序（数字小的在前）", validators=[Optional()], default=0)
    reason = TextAreaField(REASON_LABEL, validators=[DataRequired(message="请填写修改理由")])


class TagForm(BaseForm):
    name = StringField("标签名称", validators=[REQUIRED])
    domain = SelectField("所属服务领域", validators=[REQUIRED])
    synonyms = _list_field("同义词（用逗号或换行分隔）")
    reason = TextAreaField(REASON_LABEL, validators=[DataRequired(message="请填写修改理由")])


class DeleteForm(BaseForm):
    reason = TextAreaField("删除理由（必填，将记入审计日志）", validators=[DataRequired(message="请填写删除理由")])


@dataclass(frozen=True)
class Kind:
    """How one taxonomy is listed and edited."""

    label: str
    form: type[BaseForm]
    schema: type[SQLModel]
    table: type[SQLModel]
    order: tuple
    save: Callable[..., Any]
    delete: Callable[..., None]
    uses: Callable[[Session, str], dict[str, int]]
    key: Callable[[str], Any]  # URL key -> primary key

    def get(self, session: Session, key: str):
        try:
            item = session.get(self.table, self.key(key))
        except ValueError:
            item = None
        if item is None:
            abort(404)
        return item


KINDS = {
    "industries": Kind(
        "行业",
        IndustryForm,
        taxonomy_service.IndustryWrite,
        Industry,
        (col(Industry.position), col(Industry.code)),
        taxonomy_service.save_industry,
        taxonomy_service.delete_industry,
        taxonomy_service.industry_uses,
        str,
    ),
    "domains": Kind(
        "服务领域",
        DomainForm,
        taxonomy_service.DomainWrite,
        Domain,
        (col(Domain.position), col(Domain.code)),
        taxonomy_service.save_domain,
        taxonomy_service.delete_domain,
        taxonomy_service.domain_uses,
        str,
    ),
    "tags": Kind(
        "能力标签",
        TagForm,
        taxonomy_service.TagWrite,
        CapabilityTag,
        (col(CapabilityTag.domain), col(CapabilityTag.id)),
        taxonomy_service.save_tag,
        taxonomy_service.delete_tag,
        lambda session, name: taxonomy_service.tag_uses(session, name),
        int,
    ),
}


def _kind(name: str) -> Kind:
    if name not in KINDS:
        abort(404)
    return KINDS[name]


@bp.route("/taxonomy")
def taxonomy_home():
    session = get_session()
    counts = {name: session.exec(select(func.count()).select_from(kind.table)).one() for name, kind in KINDS.items()}
    return render_template("admin/taxonomy.html", kinds=KINDS, counts=counts, version=taxonomy_service.version(session))


@bp.route("/taxonomy/<kind_name>")
def taxonomy_list(kind_name: str):
    kind = _kind(kind_name)
    session = get_session()
    query = select(kind.table).order_by(*kind.order)
    domain = request.args.get("domain") or ""
    if kind_name == "tags" and domain:
        query = query.where(CapabilityTag.domain == domain)
    page, per_page = requested_page()
    items, total = taxonomy_service.page_of(session, query, page, per_page)
    _, domain_names = _names(session)
    return render_template(
        "admin/taxonomy_list.html",
        kind_name=kind_name,
        kind=kind,
        page=Page(items, page, per_page, total),
        domain=domain,
        domain_names=domain_names,
        kind_labels=taxonomy_service.INDUSTRY_KINDS,
    )


def _form(kind_name: str, item: Any = None) -> BaseForm:
    kind = KINDS[kind_name]
    if request.method == "POST":
        form = kind.form()
    elif item is not None:
        values = item.model_dump()
        for name in ("gbt", "synonyms"):
            if name in values:
                values[name] = "，".join(values[name])
        form = kind.form(data=values)
    else:
        form = kind.form()
    if item is not None and hasattr(form, "code"):
        del form.code  # the code is what other rows refer to: shown, never edited
    if kind_name == "tags":
        form.domain.choices = domain_choices(get_session())
    return form


def _overrides(kind_name: str, form: BaseForm, item: Any) -> dict[str, Any]:
    """Values the schema gets besides the form's: lists split, and an edited item's fixed code."""
    values: dict[str, Any] = {}
    for name in ("gbt", "synonyms"):
        if hasattr(form, name):
            values[name] = split_list(getattr(form, name).data)
    if item is not None and kind_name in ("industries", "domains"):
        values["code"] = item.code
    if kind_name == "domains":
        values["position"] = form.position.data or 0
    return values


def _edit(kind_name: str, key: str | None):
    kind = _kind(kind_name)
    session = get_session()
    item = kind.get(session, key) if key is not None else None
    form = _form(kind_name, item)
    data = submitted(form, kind.schema, **_overrides(kind_name, form, item)) if request.method == "POST" else None
    if data is not None:
        try:
            saved = kind.save(session, current_user.id, data, form.reason.data, kind.key(key) if key else None)
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
        else:
            flash(f"{kind.label}“{saved.name}”已保存", "success")
            return redirect(url_for("admin.taxonomy_list", kind_name=kind_name))
    uses = kind.uses(session, item.code if kind_name != "tags" else item.name) if item is not None else {}
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/taxonomy_form.html",
        kind_name=kind_name,
        kind=kind,
        item=item,
        key=key,
        form=form,
        uses=uses,
        delete_form=DeleteForm(formdata=None),
    ), status


@bp.route("/taxonomy/<kind_name>/new", methods=["GET", "POST"])
def taxonomy_new(kind_name: str):
    return _edit(kind_name, None)


@bp.route("/taxonomy/<kind_name>/<key>", methods=["GET", "POST"])
def taxonomy_edit(kind_name: str, key: str):
    return _edit(kind_name, key)


@bp.route("/taxonomy/<kind_name>/<key>/delete", methods=["POST"])
def taxonomy_delete(kind_name: str, key: str):
    kind = _kind(kind_name)
    session = get_session()
    item = kind.get(session, key)
    form = DeleteForm()
    if form.validate_on_submit():
        name = item.name
        try:
            kind.delete(session, current_user.id, kind.key(key), form.reason.data)
        except ServiceError as error:
            session.rollback()
            flash(error.message, "error")
        else:
            flash(f"{kind.label}“{name}”已删除", "success")
            return redirect(url_for("admin.taxonomy_list", kind_name=kind_name))
    else:
        flash("请填写删除理由", "error")
    return redirect(url_for("admin.taxonomy_edit", kind_name=kind_name, key=key))
