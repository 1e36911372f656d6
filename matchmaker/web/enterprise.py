"""The manufacturer's pages: company profile and needs."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from matchmaker.matching.bands import configured_cutoffs
from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.plumbing.security import no_store
from matchmaker.services import enterprises, matching, publishing
from matchmaker.services.errors import ServiceError
from matchmaker.web import delivery
from matchmaker.web.auth import guard_blueprint
from matchmaker.web.forms import (
    ConfirmForm,
    EnterpriseProfileForm,
    NeedForm,
    attach_service_error,
    domain_choices,
    industry_choices,
    submitted,
    tag_choices,
)
from models import NeedStatus
from models.schemas import EnterpriseProfile, NeedCreate

bp = Blueprint("enterprise", __name__, url_prefix="/enterprise")
guard_blueprint(bp, "enterprise")


@bp.route("/")
@no_store
def home():
    session = get_session()
    enterprise = enterprises.get(session, current_user.org_id)
    needs, total = enterprises.needs_page(session, enterprise.id, 1, 5)
    return render_template("enterprise/home.html", enterprise=enterprise, needs=needs, total=total)


@bp.route("/profile", methods=["GET", "POST"])
@no_store
def profile():
    session = get_session()
    enterprise = enterprises.get(session, current_user.org_id)
    form = EnterpriseProfileForm(obj=enterprise)
    form.industry.choices = industry_choices(session)
    data = submitted(form, EnterpriseProfile)
    if data:
        try:
            enterprises.update_profile(session, enterprise.id, data, actor_id=current_user.id)
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
        else:
            flash("企业信息已保存", "success")
            return redirect(url_for("enterprise.home"))
    return render_template("enterprise/profile.html", form=form, enterprise=enterprise)


def _need_form() -> NeedForm:
    session = get_session()
    form = NeedForm()
    form.industry.choices = industry_choices(session)
    form.domains.choices = domain_choices(session)
    form.tags.choices = tag_choices(session)
    return form


@bp.route("/needs/new", methods=["GET", "POST"])
def new_need():
    session = get_session()
    enterprise = enterprises.get(session, current_user.org_id)
    form = _need_form()
    if not form.is_submitted():
        form.industry.data = enterprise.industry
    if form.is_submitted() and form.suggest.data:
        return _show_suggestion(form, enterprise)
    data = submitted(form, NeedCreate)
    if data:
        suggestion = search_index().suggest(engine(), f"{data.title}\n{data.description}")
        try:
            published = publishing.publish_need(
                session, engine(), search_index(), enterprise.id, data, suggestion, delivery.push_caps()
            )
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
        else:
            flash(f"需求已发布，已为您匹配 {len(published.results)} 个服务方案", "success")
            return redirect(url_for("enterprise.need_detail", need_id=published.need.id))
    return render_template("enterprise/need_form.html", form=form, enterprise=enterprise)


def _show_suggestion(form: NeedForm, enterprise):
    """Fill the form's domains and tags from its text for the user to confirm; saves nothing."""
    if form.validate():  # CSRF and choices; the description may still be short
        text = f"{form.title.data or ''}\n{form.description.data or ''}"
        suggestion = search_index().suggest(engine(), text)
        form.domains.data = list(suggestion.domains)
        form.tags.data = list(suggestion.tags)
        if suggestion.domains or suggestion.tags:
            flash("已根据描述识别出服务领域和能力标签，请确认或修改后发布", "success")
        else:
            flash("未能从描述中识别出标签，可补充设备、系统或痛点的具体说法，或直接发布", "info")
    return render_template("enterprise/need_form.html", form=form, enterprise=enterprise)


@bp.route("/needs")
def needs():
    page, per_page = requested_page()
    items, total = enterprises.needs_page(get_session(), current_user.org_id, page, per_page)
    return render_template("enterprise/needs.html", page=Page(items, page, per_page, total))


def _own_need_or_404(need_id: int):
    try:
        return enterprises.own_need(get_session(), current_user.org_id, need_id)
    except ServiceError:
        abort(404)


@bp.route("/needs/<int:need_id>")
def need_detail(need_id: int):
    need = _own_need_or_404(need_id)
    session = get_session()
    if need.status == NeedStatus.open and not matching.has_snapshot(session, need.id):
        matching.match_need(session, engine(), search_index(), need)  # e.g. a need imported or seeded
    shown = matching.stored_matches(session, need.id)
    partial = configured_cutoffs(current_app.config)["partial"]
    return render_template(
        "enterprise/need_detail.html",
        need=need,
        matches=shown,
        recs=matching.recommendations(shown, partial),
        form=ConfirmForm(),
    )


@bp.route("/needs/<int:need_id>/rematch", methods=["POST"])
def rematch(need_id: int):
    need = _own_need_or_404(need_id)
    if ConfirmForm().validate_on_submit() and need.status == NeedStatus.open:
        results = matching.match_need(get_session(), engine(), search_index(), need)
        flash(f"已按最新的服务方案重新匹配，共 {len(results)} 个结果", "success")
    return redirect(url_for("enterprise.need_detail", need_id=need_id))


@bp.route("/needs/<int:need_id>/status/<any(open, closed):status>", methods=["POST"])
def need_status(need_id: int, status: str):
    _own_need_or_404(need_id)
    if ConfirmForm().validate_on_submit():
        enterprises.set_need_status(get_session(), current_user.org_id, need_id, NeedStatus(status))
        flash("需求已关闭" if status == "closed" else "需求已重新开放", "success")
    return redirect(url_for("enterprise.need_detail", need_id=need_id))
