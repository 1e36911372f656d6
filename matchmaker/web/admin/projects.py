"""The admin's side of the 数字化技改项目白名单: the review queue, one project's review (形式审查, 评审,
公示, 入选 / 不予入选, the appeal), every step with a reason that goes to the audit log."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.plumbing.security import no_store
from matchmaker.services import retrofit_projects as projects
from matchmaker.services.errors import ServiceError
from matchmaker.services.working_days import local_today, parse_holidays
from matchmaker.web.admin import bp
from matchmaker.web.admin.dashboard import ProjectExportForm
from matchmaker.web.forms import DecisionForm, ProjectDecisionForm, attach_service_error
from models import AppealStatus, ProjectStatus


@bp.route("/projects")
@no_store
def project_list():
    session = get_session()
    status = request.args.get("status") or None
    if status is not None and status not in ProjectStatus.__members__:
        status = None
    page, per_page = requested_page()
    items, total = projects.admin_page(session, ProjectStatus(status) if status else None, page, per_page)
    return render_template(
        "admin/projects.html",
        page=Page(items, page, per_page, total),
        status=status,
        counts=projects.status_counts(session),
        appealed=projects.pending_appeals(session),
        labels=projects.STATUS_LABELS,
        export_form=ProjectExportForm(formdata=None),
    )


def _shown_or_404(project_id: int) -> projects.ProjectView:
    shown = projects.view(get_session(), project_id)
    if shown is None:
        abort(404)
    return shown


@bp.route("/projects/<int:project_id>")
@no_store
def project_detail(project_id: int, form: ProjectDecisionForm | None = None, appeal_form: DecisionForm | None = None):
    shown = _shown_or_404(project_id)
    pending = shown.appeal if shown.appeal is not None and shown.appeal.status == AppealStatus.pending else None
    return render_template(
        "admin/project_detail.html",
        shown=shown,
        actions=projects.allowed_actions(shown.project, local_today()),
        form=form or ProjectDecisionForm(formdata=None),
        appeal_form=appeal_form or DecisionForm(prefix="appeal", formdata=None),
        pending_appeal=pending,
        status_labels=projects.STATUS_LABELS,
        action_labels=projects.ACTION_LABELS,
        criteria=projects.CRITERIA,
        notice_days=current_app.config["MATCHMAKER_PROJECT_NOTICE_DAYS"],
    )


@bp.route("/projects/<int:project_id>/decide", methods=["POST"])
def project_decide(project_id: int):
    _shown_or_404(project_id)
    form = ProjectDecisionForm()
    if form.validate_on_submit():
        config = current_app.config
        try:
            projects.decide(
                get_session(),
                project_id,
                form.action.data,
                current_user.id,
                form.reason.data,
                local_today(),
                scores={key: getattr(form, key).data for key in projects.CRITERIA},
                notice_days=int(config["MATCHMAKER_PROJECT_NOTICE_DAYS"]),
                holidays=parse_holidays(config["MATCHMAKER_HOLIDAYS"]),
            )
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash(f"已执行“{projects.ACTION_LABELS[form.action.data]}”", "success")
            return redirect(url_for("admin.project_detail", project_id=project_id))
    return project_detail(project_id, form=form), 400


@bp.route("/projects/<int:project_id>/appeal", methods=["POST"])
def project_appeal(project_id: int):
    _shown_or_404(project_id)
    form = DecisionForm(prefix="appeal")
    if form.validate_on_submit() and form.action.data in {"upheld", "dismissed"}:
        try:
            projects.decide_appeal(
                get_session(), project_id, form.action.data == "upheld", current_user.id, form.reason.data
            )
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash("申诉已处理，企业已收到通知", "success")
            return redirect(url_for("admin.project_detail", project_id=project_id))
    elif not form.errors:
        form.form_errors.append("未知的操作")
    return project_detail(project_id, appeal_form=form), 400
