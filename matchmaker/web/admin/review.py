"""The admin home, the whitelist review queue, appeals and the audit log."""

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlmodel import select

from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.plumbing.security import no_store
from matchmaker.services import audit, providers, ratings, retrofit_projects, whitelist
from matchmaker.services.errors import ServiceError
from matchmaker.web import delivery
from matchmaker.web.admin import bp
from matchmaker.web.forms import DecisionForm, attach_service_error
from models import Appeal, AppealStatus, Enterprise, Need, Provider, ProviderStatus, Solution, SolutionStatus

# the filters of the review queue, in the order the page shows them
QUEUE_FILTERS = ["applied", "appeal", "warned", "expiring", "approved", "expired", "suspended", "rejected", "revoked"]


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
    return render_template(
        "admin/home.html",
        counts=counts,
        status_counts=whitelist.status_counts(session),
        project_counts=retrofit_projects.status_counts(session),
        project_appeals=len(retrofit_projects.pending_appeals(session)),
    )


@bp.route("/providers")
def provider_list():
    view = request.args.get("status") or None
    if view not in ProviderStatus.__members__ and view not in whitelist.VIEWS:
        view = None
    page, per_page = requested_page()
    items, total = whitelist.providers_page(get_session(), view, page, per_page)
    return render_template(
        "admin/providers.html",
        page=Page(items, page, per_page, total),
        status=view,
        filters=QUEUE_FILTERS,
        views=whitelist.VIEWS,
        status_counts=whitelist.status_counts(get_session()),
        waiting=whitelist.waiting_for_admin(get_session(), items),
    )


def _provider_or_404(provider_id: int) -> Provider:
    provider = get_session().get(Provider, provider_id)
    if provider is None:
        abort(404)
    return provider


@bp.route("/providers/<int:provider_id>")
@no_store
def provider_detail(
    provider_id: int,
    form: DecisionForm | None = None,
    appeal_forms: dict[int, DecisionForm] | None = None,
    identity_form: DecisionForm | None = None,
):
    session = get_session()
    provider = _provider_or_404(provider_id)
    appeals = whitelist.provider_appeals(session, provider.id)
    appeal_forms = appeal_forms or {}
    for row in appeals:
        if row.appeal.status == AppealStatus.pending and row.appeal.id not in appeal_forms:
            appeal_forms[row.appeal.id] = DecisionForm(prefix=f"appeal{row.appeal.id}", formdata=None)
    return render_template(
        "admin/provider_detail.html",
        provider=provider,
        cases=providers.cases(session, provider.id),
        solutions=providers.solutions(session, provider.id),
        history=whitelist.history(session, provider.id),
        appeals=appeals,
        appeal_forms=appeal_forms,
        actions=whitelist.allowed_actions(provider, date.today()),
        renewable_from=provider.approved_until - whitelist.RENEWAL_WINDOW if provider.approved_until else None,
        form=form or DecisionForm(formdata=None),
        identity_change=providers.pending_identity_change(session, provider.id),
        identity_form=identity_form or DecisionForm(prefix="identity", formdata=None),
        rating=ratings.standing(session, [provider.id]).get(provider.id),
    )


@bp.route("/providers/<int:provider_id>/identity", methods=["POST"])
def decide_identity(provider_id: int):
    _provider_or_404(provider_id)
    form = DecisionForm(prefix="identity")
    if form.validate_on_submit() and form.action.data in {"approve", "reject"}:
        try:
            whitelist.decide_identity_change(
                get_session(), provider_id, form.action.data == "approve", current_user.id, form.reason.data
            )
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            search_index().refresh(engine())
            flash("资料变更申请已处理，服务商已收到通知", "success")
            return redirect(url_for("admin.provider_detail", provider_id=provider_id))
    elif not form.errors:
        form.form_errors.append("未知的操作")
    return provider_detail(provider_id, identity_form=form), 400


@bp.route("/providers/<int:provider_id>/decide", methods=["POST"])
def decide(provider_id: int):
    _provider_or_404(provider_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            whitelist.decide(
                get_session(),
                provider_id,
                form.action.data,
                current_user.id,
                form.reason.data,
                today=date.today(),
                rectify_by=form.rectify_by.data,
            )
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            search_index().refresh(engine())
            delivery.push_after_listing(provider_id)
            flash(f"已执行“{whitelist.ACTION_LABELS[form.action.data]}”，服务商已收到通知", "success")
            return redirect(url_for("admin.provider_detail", provider_id=provider_id))
    return provider_detail(provider_id, form=form), 400


@bp.route("/appeals")
def appeal_list():
    status_arg = request.args.get("status", "pending")
    status = AppealStatus(status_arg) if status_arg in AppealStatus.__members__ else None
    page, per_page = requested_page()
    items, total = whitelist.appeals_page(get_session(), status, page, per_page)
    return render_template(
        "admin/appeals.html", page=Page(items, page, per_page, total), status=status, statuses=list(AppealStatus)
    )


@bp.route("/appeals/<int:appeal_id>/decide", methods=["POST"])
def decide_appeal(appeal_id: int):
    appeal = get_session().get(Appeal, appeal_id)
    if appeal is None or appeal.provider_id is None:  # a project's appeal is decided on the project's page
        abort(404)
    provider_id = appeal.provider_id
    form = DecisionForm(prefix=f"appeal{appeal_id}")
    if form.validate_on_submit() and form.action.data in {"upheld", "dismissed"}:
        try:
            whitelist.decide_appeal(
                get_session(), appeal_id, form.action.data == "upheld", current_user.id, form.reason.data, date.today()
            )
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            search_index().refresh(engine())
            delivery.push_after_listing(provider_id)
            flash("申诉已处理，服务商已收到通知", "success")
            return redirect(url_for("admin.provider_detail", provider_id=provider_id))
    elif not form.errors:
        form.form_errors.append("未知的操作")
    return provider_detail(provider_id, appeal_forms={appeal_id: form}), 400


@bp.route("/audit")
def audit_log():
    page, per_page = requested_page()
    items, total = audit.page(get_session(), page, per_page)
    return render_template("admin/audit.html", page=Page(items, page, per_page, total))
