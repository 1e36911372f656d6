"""Dockings (对接) for both sides: the lists, the detail with its timeline and the moves each side may
make, and the enterprise's docking request and 有用 / 不相关 verdicts on the matches of its need page.

Every route checks the role here and the ownership in the service: another organisation's docking or
need is a 404, so ids reveal nothing.
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import DateField, DecimalField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.extensions import login_manager
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.plumbing.security import no_store
from matchmaker.services import dockings, enterprises
from matchmaker.services.dockings import MoveDetails, NeedPanel, Party
from matchmaker.services.errors import ServiceError
from matchmaker.web.forms import BaseForm, attach_service_error
from models import DockingStatus, Need

bp = Blueprint("docking", __name__, url_prefix="/dockings")

SATISFACTION = [
    SelectChoice(value, label)
    for value, label in (
        ("", "请选择"),
        ("5", "5 分 · 非常满意"),
        ("4", "4 分 · 满意"),
        ("3", "3 分 · 一般"),
        ("2", "2 分 · 不满意"),
        ("1", "1 分 · 很不满意"),
    )
]
# the note's label for each move: required where the service requires it
NOTE_LABELS = {
    DockingStatus.accepted: "回复留言（可选）",
    DockingStatus.declined: "婉拒理由（必填，企业会看到）",
    DockingStatus.negotiating: "备注（可选，如洽谈安排）",
    DockingStatus.contracted: "备注（可选）",
    DockingStatus.completed: "验收意见（必填）",
    DockingStatus.cancelled: "取消理由（必填，对方会看到）",
}


class RequestForm(BaseForm):
    message = TextAreaField("留言（可选）", validators=[Optional()])


class FeedbackForm(BaseForm):
    verdict = StringField("评价", validators=[Optional()])


class MoveForm(BaseForm):
    note = TextAreaField("说明", validators=[Optional()])
    amount = DecimalField("合同金额（万元）", validators=[Optional()], places=None)
    contract_date = DateField("签约日期", validators=[Optional()])
    satisfaction = SelectField("满意度", choices=SATISFACTION, validators=[Optional()])


@bp.before_request
def _require_party():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in Party.__members__ or current_user.org_id is None:
        abort(403)
    return None


def _party() -> Party:
    return Party(current_user.role)


def _cap() -> int:
    return int(current_app.config["MATCHMAKER_DOCKING_CAP"])


@bp.app_template_filter("docking_status")
def docking_status_label(status: str) -> str:
    return dockings.STATUS_LABELS.get(status, status)


@bp.app_template_global("docking_panel")
def docking_panel(need: Need, matches: list) -> NeedPanel | None:
    """For the enterprise's own need page: its dockings, verdicts and the providers' track records."""
    if current_user.role != Party.enterprise or need.enterprise_id != current_user.org_id:
        return None
    provider_ids = [m.provider.id for m in matches]
    return dockings.need_panel(get_session(), need.enterprise_id, need.id, provider_ids, _cap())


@bp.route("/")
def index():
    status = request.args.get("status") or None
    if status not in DockingStatus.__members__:
        status = None
    page, per_page = requested_page()
    rows, total = dockings.page_for(
        get_session(), _party(), current_user.org_id, DockingStatus(status) if status else None, page, per_page
    )
    return render_template(
        "docking/list.html", page=Page(rows, page, per_page, total), status=status, statuses=list(DockingStatus)
    )


def _view_or_404(docking_id: int) -> dockings.DockingView:
    try:
        return dockings.view(get_session(), _party(), current_user.org_id, docking_id)
    except ServiceError:
        abort(404)


def _forms(moves: list[DockingStatus], failed: tuple[DockingStatus, MoveForm] | None = None) -> dict:
    forms = {target: MoveForm(formdata=None) for target in moves}
    if failed is not None and failed[0] in forms:
        forms[failed[0]] = failed[1]
    return forms


@bp.route("/<int:docking_id>")
@no_store
def detail(docking_id: int):
    shown = _view_or_404(docking_id)
    return _render_detail(shown, _forms(shown.moves))


def _render_detail(shown: dockings.DockingView, forms: dict):
    return render_template(
        "docking/detail.html",
        v=shown,
        forms=forms,
        move_labels=dockings.MOVE_LABELS,
        note_labels=NOTE_LABELS,
    )


@bp.route(
    "/<int:docking_id>/<any(accepted, declined, negotiating, contracted, completed, cancelled):target>",
    methods=["POST"],
)
@no_store
def move(docking_id: int, target: str):
    _view_or_404(docking_id)
    target = DockingStatus(target)
    session = get_session()
    form = MoveForm()
    if form.validate_on_submit():
        details = MoveDetails(
            note=form.note.data or "",
            amount=form.amount.data,
            contract_date=form.contract_date.data,
            satisfaction=int(form.satisfaction.data) if form.satisfaction.data else None,
        )
        try:
            dockings.move(session, docking_id, _party(), current_user.org_id, current_user.id, target, details)
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
        else:
            flash(f"已{dockings.MOVE_LABELS[target]}，对方会收到通知", "success")
            return redirect(url_for("docking.detail", docking_id=docking_id))
    shown = _view_or_404(docking_id)
    if target not in shown.moves:  # e.g. the other side moved first: say why on top of the page
        form.form_errors = form.form_errors or [f"当前状态下不能{dockings.MOVE_LABELS[target]}"]
        flash(form.form_errors[0], "error")
    return _render_detail(shown, _forms(shown.moves, (target, form)))


def _own_need_or_404(need_id: int) -> Need:
    if _party() != Party.enterprise:
        abort(403)
    try:
        return enterprises.own_need(get_session(), current_user.org_id, need_id)
    except ServiceError:
        abort(404)


@bp.route("/needs/<int:need_id>/solutions/<int:solution_id>/request", methods=["POST"])
def request_docking(need_id: int, solution_id: int):
    need = _own_need_or_404(need_id)
    back = url_for("enterprise.need_detail", need_id=need.id)
    form = RequestForm()
    if not form.validate_on_submit():
        flash("提交的内容有误，请重试", "error")
        return redirect(back)
    session = get_session()
    try:
        dockings.request_docking(
            session, current_user.org_id, current_user.id, need.id, solution_id, form.message.data or "", _cap()
        )
    except ServiceError as error:
        session.rollback()
        flash(error.message, "error")
        return redirect(back)
    flash("对接申请已发送，服务商接受后您会收到通知", "success")
    return redirect(f"{back}#match-{solution_id}")


@bp.route("/needs/<int:need_id>/solutions/<int:solution_id>/feedback", methods=["POST"])
def feedback(need_id: int, solution_id: int):
    need = _own_need_or_404(need_id)
    back = url_for("enterprise.need_detail", need_id=need.id)
    form = FeedbackForm()
    session = get_session()
    try:
        if not form.validate_on_submit():
            raise ServiceError("提交的内容有误，请重试")
        dockings.set_feedback(session, current_user.org_id, current_user.id, need.id, solution_id, form.verdict.data)
    except ServiceError as error:
        session.rollback()
        flash(error.message, "error")
        return redirect(back)
    flash(f"已标记为“{dockings.VERDICTS[form.verdict.data]}”，感谢反馈，这将帮助改进推荐", "success")
    return redirect(f"{back}#match-{solution_id}")
