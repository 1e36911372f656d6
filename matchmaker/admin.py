"""The docking service centre (对接服务中心): whitelist review and the audit log."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlmodel import select

from matchmaker.auth import guard_blueprint
from matchmaker.db import engine, get_session
from matchmaker.errors import ServiceError
from matchmaker.forms import DecisionForm
from matchmaker.pagination import Page, requested_page
from matchmaker.search import search_index
from matchmaker.services import audit, providers, whitelist
from models import Enterprise, Need, Provider, ProviderStatus, Solution, SolutionStatus

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_blueprint(bp, "admin")


@bp.route("/")
def home():
    session = get_session()
    counts = {
        "enterprises": session.exec(select(func.count()).select_from(Enterprise)).one(),
        "needs": session.exec(select(func.count()).select_from(Need)).one(),
        "solutions": session.exec(
            select(func.count()).select_from(Solution).where(Solution.status == SolutionStatus.published)
        ).one(),
    }
    return render_template("admin/home.html", counts=counts, status_counts=whitelist.status_counts(session))


@bp.route("/providers")
def provider_list():
    status_arg = request.args.get("status") or None
    status = ProviderStatus(status_arg) if status_arg in ProviderStatus.__members__ else None
    page, per_page = requested_page()
    items, total = whitelist.providers_page(get_session(), status, page, per_page)
    return render_template(
        "admin/providers.html",
        page=Page(items, page, per_page, total),
        status=status,
        status_counts=whitelist.status_counts(get_session()),
    )


def _provider_or_404(provider_id: int) -> Provider:
    provider = get_session().get(Provider, provider_id)
    if provider is None:
        abort(404)
    return provider


@bp.route("/providers/<int:provider_id>")
def provider_detail(provider_id: int, form: DecisionForm | None = None):
    session = get_session()
    provider = _provider_or_404(provider_id)
    return render_template(
        "admin/provider_detail.html",
        provider=provider,
        cases=providers.cases(session, provider.id),
        solutions=providers.solutions(session, provider.id),
        history=providers.history(session, provider.id),
        actions=whitelist.allowed_actions(provider.status),
        form=form or DecisionForm(),
    )


@bp.route("/providers/<int:provider_id>/decide", methods=["POST"])
def decide(provider_id: int):
    _provider_or_404(provider_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            whitelist.decide(get_session(), provider_id, form.action.data, current_user.id, form.reason.data)
        except ServiceError as error:
            get_session().rollback()
            form.form_errors.append(error.message)
        else:
            search_index().refresh(engine())
            flash(f"已{whitelist.ACTION_LABELS[form.action.data]}", "success")
            return redirect(url_for("admin.provider_detail", provider_id=provider_id))
    return provider_detail(provider_id, form=form), 400


@bp.route("/audit")
def audit_log():
    page, per_page = requested_page()
    items, total = audit.page(get_session(), page, per_page)
    return render_template("admin/audit.html", page=Page(items, page, per_page, total))
