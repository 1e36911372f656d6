"""The 数字化技改项目白名单 outside the admin: the public list, notices and criteria; an enterprise's
applications, resubmissions, progress, completion and appeal; objections during the notice (公示)."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.extensions import login_manager
from matchmaker.plumbing.security import no_store
from matchmaker.services import retrofit_projects as projects
from matchmaker.services.errors import ServiceError
from matchmaker.services.working_days import local_today
from matchmaker.web.forms import ProgressForm, ProjectForm, ReasonForm, attach_service_error
from models import ProjectStatus, RetrofitProject, Role

bp = Blueprint("projects", __name__, url_prefix="/projects")
PUBLIC = frozenset({ProjectStatus.publicity, ProjectStatus.selected, ProjectStatus.completed})


def _enterprise_id() -> int:
    """The logged-in enterprise's id; anyone else is refused."""
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    if current_user.role != Role.enterprise or current_user.org_id is None:
        abort(403)
    return current_user.org_id


def _own_or_404(project_id: int) -> RetrofitProject:
    enterprise_id = _enterprise_id()
    project = get_session().get(RetrofitProject, project_id)
    if project is None or project.enterprise_id != enterprise_id:
        abort(404)
    return project


def _is_owner(project: RetrofitProject) -> bool:
    return (
        current_user.is_authenticated
        and current_user.role == Role.enterprise
        and current_user.org_id == project.enterprise_id
    )


@bp.route("/")
def listing():
    notices, listed = projects.public_lists(get_session())
    names = projects.provider_names(get_session(), [p for p, _ in notices + listed])
    return render_template(
        "projects/list.html",
        notices=notices,
        listed=listed,
        names=names,
        criteria=projects.CRITERIA,
        notice_days=current_app.config["MATCHMAKER_PROJECT_NOTICE_DAYS"],
    )


@bp.route("/mine")
@no_store
def mine():
    enterprise_id = _enterprise_id()
    session = get_session()
    return render_template(
        "projects/mine.html",
        projects=projects.for_enterprise(session, enterprise_id),
        dockings=projects.eligible_dockings(session, enterprise_id),
    )


def _form(data: projects.ProjectInput | RetrofitProject | None = None) -> ProjectForm:
    form = ProjectForm(obj=data) if data is not None and request.method != "POST" else ProjectForm()
    form.provider_ids.choices = [(p.id, p.name) for p in projects.whitelisted_providers(get_session())]
    return form


def _input(form: ProjectForm) -> projects.ProjectInput:
    return projects.ProjectInput(
        name=form.name.data or "",
        content=form.content.data or "",
        total_investment=form.total_investment.data,
        digital_investment=form.digital_investment.data,
        start_on=form.start_on.data,
        end_on=form.end_on.data,
        expected_result=form.expected_result.data or "",
        provider_ids=list(form.provider_ids.data or []),
        other_providers=form.other_providers.data or "",
        target_maturity=form.target_maturity.data or 0,
    )


@bp.route("/new", methods=["GET", "POST"])
@no_store
def new():
    enterprise_id = _enterprise_id()
    session = get_session()
    docking_id = request.values.get("docking_id", type=int)
    prefilled = None
    if docking_id is not None:
        try:
            prefilled = projects.prefill(session, enterprise_id, docking_id)
        except ServiceError as error:
            abort(404, error.message)
    form = _form(prefilled)
    form.docking_id.data = str(docking_id) if docking_id is not None else ""
    if form.validate_on_submit():
        try:
            project = projects.submit(session, enterprise_id, current_user.id, _input(form), docking_id)
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
        else:
            flash("技改项目已申报，等待形式审查", "success")
            return redirect(url_for("projects.detail", project_id=project.id))
    status = 400 if form.is_submitted() else 200
    return render_template("projects/form.html", form=form, project=None, docking_id=docking_id), status


@bp.route("/<int:project_id>/edit", methods=["GET", "POST"])
@no_store
def edit(project_id: int):
    project = _own_or_404(project_id)
    session = get_session()
    form = _form(project)
    if form.validate_on_submit():
        try:
            projects.resubmit(session, project.id, project.enterprise_id, current_user.id, _input(form))
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
        else:
            flash("已重新申报，等待形式审查", "success")
            return redirect(url_for("projects.detail", project_id=project.id))
    status = 400 if form.is_submitted() else 200
    return render_template("projects/form.html", form=form, project=project, docking_id=project.docking_id), status


@bp.route("/<int:project_id>")
@no_store
def detail(project_id: int, forms: dict | None = None):
    session = get_session()
    shown = projects.view(session, project_id)
    if shown is None or not (_is_owner(shown.project) or shown.project.status in PUBLIC):
        if not current_user.is_authenticated:  # as every page naming an object: log in first
            return login_manager.unauthorized()
        abort(404)
    owner = _is_owner(shown.project)
    forms = forms or {}
    return render_template(
        "projects/detail.html",
        shown=shown,
        owner=owner,
        today=local_today(),
        can_object=current_user.is_authenticated
        and not owner
        and projects.objection_window_open(shown.project, local_today()),
        can_appeal=owner and projects.appealable_decision(session, shown.project) is not None and shown.appeal is None,
        progress_form=forms.get("progress") or ProgressForm(formdata=None),
        complete_form=forms.get("complete") or ReasonForm(formdata=None, prefix="complete"),
        appeal_form=forms.get("appeal") or ReasonForm(formdata=None, prefix="appeal"),
        objection_form=forms.get("objection") or ReasonForm(formdata=None, prefix="objection"),
        status_labels=projects.STATUS_LABELS,
        action_labels=projects.ACTION_LABELS,
        criteria=projects.CRITERIA,
    )


def _after(project_id: int, name: str, form, call, done: str):
    """Run `call` for a valid form; on a refusal show the page again with the message at the form."""
    if form.validate_on_submit():
        try:
            call()
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash(done, "success")
            return redirect(url_for("projects.detail", project_id=project_id))
    return detail(project_id, forms={name: form}), 400


@bp.route("/<int:project_id>/progress", methods=["POST"])
def progress(project_id: int):
    project = _own_or_404(project_id)
    form = ProgressForm()
    return _after(
        project_id,
        "progress",
        form,
        lambda: projects.report_progress(
            get_session(), project.id, project.enterprise_id, current_user.id, form.percent.data, form.note.data
        ),
        "进展已报告",
    )


@bp.route("/<int:project_id>/complete", methods=["POST"])
def complete(project_id: int):
    project = _own_or_404(project_id)
    form = ReasonForm(prefix="complete")
    return _after(
        project_id,
        "complete",
        form,
        lambda: projects.complete(
            get_session(), project.id, project.enterprise_id, current_user.id, form.reason.data, local_today()
        ),
        "项目已报告完工",
    )


@bp.route("/<int:project_id>/appeal", methods=["POST"])
def appeal(project_id: int):
    project = _own_or_404(project_id)
    form = ReasonForm(prefix="appeal")
    return _after(
        project_id,
        "appeal",
        form,
        lambda: projects.file_appeal(
            get_session(), project.id, project.enterprise_id, current_user.id, form.reason.data
        ),
        "申诉已提交，对接服务中心处理后会通知您",
    )


@bp.route("/<int:project_id>/objection", methods=["POST"])
def objection(project_id: int):
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    project = get_session().get(RetrofitProject, project_id)
    if project is None or project.status not in PUBLIC:
        abort(404)
    if _is_owner(project):
        abort(403)
    form = ReasonForm(prefix="objection")
    return _after(
        project_id,
        "objection",
        form,
        lambda: projects.raise_objection(get_session(), project.id, current_user.id, form.reason.data, local_today()),
        "异议已提交，对接服务中心将在作出入选决定前核查",
    )
