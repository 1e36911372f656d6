"""Bulk import (批量导入) of providers and solutions, and the admin's lists of all solutions and all
dockings with their XLSX / CSV exports.

Routes on `matchmaker.web.admin.bp`, so the blueprint's admin-only guard covers them; imported by the app
factory before the blueprints are registered. The upload size is capped for every request by
MAX_CONTENT_LENGTH (from MATCHMAKER_MAX_UPLOAD_MB); a larger body gets the Chinese 413 page.

An import's error report travels with the page instead of being stored: the page carries it signed
(itsdangerous, the app's secret key), and its pager and download buttons post it back, so any worker
can page or export it and nothing is left behind on the server.
"""

import io
from datetime import UTC, date, datetime

from flask import abort, current_app, render_template, request, send_file
from flask_login import current_user
from flask_wtf.file import FileField
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import HiddenField, IntegerField, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Optional

from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.services import exports, imports, listings
from matchmaker.services import taxonomy as taxonomy_service
from matchmaker.services.dockings import STATUS_LABELS as DOCKING_STATUS_LABELS
from matchmaker.services.errors import ServiceError
from matchmaker.services.imports import PROVIDERS, SOLUTIONS, ImportResult, RowError, Upload
from matchmaker.services.labels import DEPLOYMENT_LABELS, SOLUTION_STATUS_LABELS
from matchmaker.web.admin import bp
from matchmaker.web.forms import BaseForm, attach_service_error, choices, domain_choices
from models import DockingStatus, SolutionStatus
from models.validation import SIZE_LABELS

FORMATS = {"xlsx": "Excel（XLSX）", "csv": "CSV（UTF-8，带 BOM）"}
REPORT_PAGE_SIZE = 50
_REPORT_SALT = "import-report"


def _today() -> date:
    """Beijing's calendar day: an approval term counts from the day the district imported it."""
    return (datetime.now(UTC) + listings.LOCAL_OFFSET).date()


class ImportForm(BaseForm):
    providers = FileField("服务商表（.xlsx 或 .csv）")
    solutions = FileField("方案表（.xlsx 或 .csv）")
    reason = TextAreaField(
        "导入理由（必填，记入审计日志和每个新服务商的入库记录）",
        validators=[DataRequired(message="请填写导入理由")],
    )
    check_only = SubmitField("只校验，不导入")
    submit = SubmitField("校验并导入")


class ReportForm(BaseForm):
    report = HiddenField(validators=[DataRequired()])
    page = IntegerField(validators=[Optional()], default=1)
    format = HiddenField(validators=[Optional()])


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_REPORT_SALT)


def _sealed(title: str, rows: list[RowError], total: int) -> str:
    return _serializer().dumps({"title": title, "rows": [row.as_list() for row in rows], "total": total})


def _report(title: str, rows: list[list], total: int, page: int, token: str) -> dict:
    pages = Page(rows[(page - 1) * REPORT_PAGE_SIZE : page * REPORT_PAGE_SIZE], page, REPORT_PAGE_SIZE, len(rows))
    return {"title": title, "page": pages, "total": total, "token": token}


def _report_of(result: ImportResult) -> dict | None:
    """The page's report: every error when the import was refused, else the notices (if any)."""
    if not result.ok:
        title, rows, total = "错误", result.errors, result.error_count
    elif result.notices:
        title, rows, total = "提示", result.notices, len(result.notices)
    else:
        return None
    return _report(title, [row.as_list() for row in rows], total, 1, _sealed(title, rows, total))


def _import_page(form: ImportForm, result: ImportResult | None = None, report: dict | None = None, status: int = 200):
    session = get_session()
    vocabulary = {
        "domains": taxonomy_service.domains(session),
        "industries": taxonomy_service.industries(session),
        "tags": taxonomy_service.tags(session),
        "sizes": SIZE_LABELS,
        "deployments": DEPLOYMENT_LABELS,
    }
    return (
        render_template(
            "admin/import.html",
            form=form,
            result=result,
            report=report,
            columns=imports.COLUMNS,
            sheet_names=imports.SHEET_NAMES,
            vocabulary=vocabulary,
            max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
            max_rows=imports.MAX_ROWS,
        ),
        status,
    )


@bp.route("/import", methods=["GET", "POST"])
def import_catalogue():
    form = ImportForm()
    if not form.validate_on_submit():
        return _import_page(form, status=400 if form.is_submitted() else 200)
    files = ((PROVIDERS, form.providers.data), (SOLUTIONS, form.solutions.data))
    uploads = [Upload(kind, upload.filename, upload.read()) for kind, upload in files if upload and upload.filename]
    if not uploads:
        form.form_errors.append("请至少选择一个文件：服务商表或方案表")
        return _import_page(form, status=400)
    session = get_session()
    try:
        result = imports.run(session, uploads, current_user.id, form.reason.data, _today(), form.check_only.data)
    except ServiceError as error:
        session.rollback()
        attach_service_error(form, error)
        return _import_page(form, status=400)
    if result.written:
        search_index().refresh(engine())
    return _import_page(form, result, _report_of(result), status=200 if result.ok else 400)


@bp.route("/import/report", methods=["POST"])
def import_report():
    """A page of a report, or the whole report as a file (format xlsx / csv)."""
    form = ReportForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        data = _serializer().loads(form.report.data)
    except BadSignature:
        abort(400)
    rows = [RowError(*row) for row in data["rows"]]
    if form.format.data in FORMATS:
        name = "导入错误报告" if data["title"] == "错误" else "导入提示"
        content, mimetype = exports.render(imports.report_sheet(rows, name), form.format.data)
        download = f"{name}-{_today():%Y%m%d}.{form.format.data}"
        return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=download)
    page = max(1, form.page.data or 1)
    report = _report(data["title"], [row.as_list() for row in rows], data["total"], page, form.report.data)
    return _import_page(ImportForm(formdata=None), report=report)


@bp.route("/import/template/<kind>.<fmt>")
def import_template(kind: str, fmt: str):
    if kind not in imports.COLUMNS or fmt not in FORMATS:
        abort(404)
    content, mimetype = exports.render(imports.template_sheet(kind), fmt)
    name = f"{imports.SHEET_NAMES[kind]}导入模板.{fmt}"
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=name)


# --- solutions and dockings: lists and exports ------------------------------------------------------


class SolutionExportForm(BaseForm):
    format = SelectField("文件格式", choices=choices(FORMATS))
    status = HiddenField()
    domain = HiddenField()
    q = HiddenField()


class DockingExportForm(BaseForm):
    format = SelectField("文件格式", choices=choices(FORMATS))
    status = HiddenField()


def _solution_filters(values) -> listings.SolutionFilters:
    """Filters from the query string or the export form; unknown values mean "all"."""
    status = values.get("status") or ""
    domain = values.get("domain") or ""
    known_domains = {choice.value for choice in domain_choices(get_session())}
    return listings.SolutionFilters(
        status=SolutionStatus(status) if status in SolutionStatus.__members__ else None,
        domain=domain if domain in known_domains else None,
        query=(values.get("q") or "").strip()[: listings.MAX_QUERY],
    )


def _docking_status(value: str | None) -> DockingStatus | None:
    return DockingStatus(value) if value in DockingStatus.__members__ else None


@bp.route("/solutions")
def solution_list():
    filters = _solution_filters(request.args)
    page, per_page = requested_page()
    items, total = listings.solutions_page(get_session(), filters, page, per_page)
    return render_template(
        "admin/solutions.html",
        page=Page(items, page, per_page, total),
        filters=filters,
        statuses=SOLUTION_STATUS_LABELS,
        domains=domain_choices(get_session()),
        form=SolutionExportForm(formdata=None, **filters.as_dict()),
    )


@bp.route("/dockings")
def docking_list():
    status = _docking_status(request.args.get("status"))
    page, per_page = requested_page()
    items, total = listings.dockings_page(get_session(), status, page, per_page)
    return render_template(
        "admin/dockings.html",
        page=Page(items, page, per_page, total),
        status=status,
        statuses=DOCKING_STATUS_LABELS,
        form=DockingExportForm(formdata=None, status=status or ""),
    )


@bp.route("/solutions/export", methods=["POST"])
def export_solutions():
    form = SolutionExportForm()
    if not form.validate_on_submit():
        abort(400)
    filters = _solution_filters(form.data)
    sheet = listings.solutions_sheet(get_session(), filters)
    return _download(form.format.data, "solutions", sheet, filters.as_dict())


@bp.route("/dockings/export", methods=["POST"])
def export_dockings():
    form = DockingExportForm()
    if not form.validate_on_submit():
        abort(400)
    status = _docking_status(form.status.data)
    sheet = listings.dockings_sheet(get_session(), status)
    return _download(form.format.data, "dockings", sheet, {"status": status or ""})


def _download(fmt: str, kind: str, sheet: exports.Sheet, filters: dict[str, str]):
    content, mimetype = exports.render(sheet, fmt)
    exports.record(get_session(), current_user.id, kind, fmt, sheet, **filters)
    name = f"{sheet.name}-{_today():%Y%m%d}.{fmt}"
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=name)
