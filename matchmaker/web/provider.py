"""The digital-service provider's pages: record, success cases, whitelist application, solutions."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.plumbing.security import no_store
from matchmaker.services import providers, ratings, whitelist
from matchmaker.services.errors import ServiceError
from matchmaker.web import delivery
from matchmaker.web.auth import guard_blueprint
from matchmaker.web.forms import (
    AppealForm,
    CaseForm,
    ConfirmForm,
    NoteForm,
    ProviderProfileForm,
    SolutionForm,
    attach_service_error,
    domain_choices,
    industry_choices,
    lines,
    submitted,
    tag_choices,
)
from models import ProviderRating, RatingStatus, SolutionStatus
from models.schemas import ProviderProfile, SolutionWrite, SuccessCaseCreate

bp = Blueprint("provider", __name__, url_prefix="/provider")
guard_blueprint(bp, "provider")


def _provider():
    return providers.get(get_session(), current_user.org_id)


@bp.route("/")
@no_store
def home(appeal_form: AppealForm | None = None):
    session = get_session()
    provider = _provider()
    return render_template(
        "provider/home.html",
        provider=provider,
        cases=providers.cases(session, provider.id),
        solutions=providers.solutions(session, provider.id),
        history=whitelist.history(session, provider.id),
        whitelist=whitelist.panel(session, provider),
        apply_form=NoteForm(),
        appeal_form=appeal_form or AppealForm(formdata=None),
        confirm=ConfirmForm(),
    )


@bp.route("/profile", methods=["GET", "POST"])
@no_store
def profile():
    session = get_session()
    provider = _provider()
    form = ProviderProfileForm(obj=provider)
    form.domains.choices = domain_choices(session)
    data = submitted(form, ProviderProfile)
    if data:
        try:
            request = providers.update_profile(session, provider.id, data, current_user.id)
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
        else:
            if request is None:
                flash("服务商资料已保存", "success")
            else:
                flash("资料已保存；名称、统一社会信用代码和服务领域的修改已提交审核，通过前仍按原资料入库", "success")
            return redirect(url_for("provider.home"))
    return render_template(
        "provider/profile.html",
        form=form,
        provider=provider,
        locked=provider.status in providers.IDENTITY_LOCKED,
        identity_change=providers.pending_identity_change(session, provider.id),
    )


@bp.route("/cases/new", methods=["GET", "POST"])
def new_case():
    form = CaseForm()
    form.industry.choices = industry_choices(get_session())
    data = submitted(form, SuccessCaseCreate)
    if data:
        try:
            providers.add_case(get_session(), current_user.org_id, data)
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash("成功案例已添加", "success")
            return redirect(url_for("provider.home"))
    return render_template("provider/case_form.html", form=form)


@bp.route("/cases/<int:case_id>/delete", methods=["POST"])
def delete_case(case_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            providers.delete_case(get_session(), current_user.org_id, case_id)
        except ServiceError:
            abort(404)
        flash("案例已删除", "success")
    return redirect(url_for("provider.home"))


@bp.route("/apply", methods=["POST"])
def apply():
    form = NoteForm()
    if form.validate_on_submit():
        try:
            whitelist.apply(get_session(), current_user.org_id, current_user.id, form.note.data or "")
        except ServiceError as error:
            get_session().rollback()
            flash(error.message, "error")
        else:
            flash("入库申请已提交，请等待对接服务中心审核", "success")
    return redirect(url_for("provider.home"))


@bp.route("/appeal", methods=["POST"])
def appeal():
    form = AppealForm()
    if form.validate_on_submit():
        try:
            whitelist.file_appeal(get_session(), current_user.org_id, current_user.id, form.reason.data)
        except ServiceError as error:
            get_session().rollback()
            if error.field is None:  # nothing to appeal (any more): the form is not on the page
                flash(error.message, "error")
                return redirect(url_for("provider.home"))
            attach_service_error(form, error)
        else:
            flash("申诉已提交，对接服务中心处理后会通知您", "success")
            return redirect(url_for("provider.home"))
    return home(appeal_form=form), 400


def _solution_form(obj=None) -> SolutionForm:
    session = get_session()
    form = SolutionForm(obj=obj)
    own_domains = _provider().domains
    form.domain.choices = [c for c in domain_choices(session) if c.value in own_domains] or domain_choices(session)
    form.industries.choices = industry_choices(session, grouped=False)
    form.tags.choices = tag_choices(session)
    if obj is not None and not form.is_submitted():
        form.modules.data = "\n".join(obj.modules)
    return form


def _solution_data(form: SolutionForm) -> SolutionWrite | None:
    return submitted(form, SolutionWrite, modules=lines(form.modules.data))


def _suggested_tags(data: SolutionWrite) -> tuple[str, ...]:
    text = "\n".join([data.title, data.summary, data.description, *data.modules])
    return search_index().suggest(engine(), text).tags


@bp.route("/solutions/new", methods=["GET", "POST"])
def new_solution():
    form = _solution_form()
    data = _solution_data(form)
    if data:
        try:
            solution = providers.create_solution(
                get_session(), current_user.org_id, data, publish=True, suggested_tags=_suggested_tags(data)
            )
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            search_index().refresh(engine())
            delivery.push_after_solution(solution.id)
            flash("方案已发布", "success")
            return redirect(url_for("provider.home"))
    return render_template("provider/solution_form.html", form=form, solution=None)


def _own_solution_or_404(solution_id: int):
    try:
        return providers.own_solution(get_session(), current_user.org_id, solution_id)
    except ServiceError:
        abort(404)


@bp.route("/solutions/<int:solution_id>/edit", methods=["GET", "POST"])
def edit_solution(solution_id: int):
    solution = _own_solution_or_404(solution_id)
    form = _solution_form(obj=solution)
    data = _solution_data(form)
    if data:
        try:
            providers.update_solution(
                get_session(), current_user.org_id, solution_id, data, suggested_tags=_suggested_tags(data)
            )
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            search_index().refresh(engine())
            delivery.push_after_solution(solution_id)
            flash("方案已更新", "success")
            return redirect(url_for("provider.home"))
    return render_template("provider/solution_form.html", form=form, solution=solution)


@bp.route("/solutions/<int:solution_id>/<any(publish, withdraw):action>", methods=["POST"])
def solution_status(solution_id: int, action: str):
    _own_solution_or_404(solution_id)
    if ConfirmForm().validate_on_submit():
        status = SolutionStatus.published if action == "publish" else SolutionStatus.withdrawn
        providers.set_solution_status(get_session(), current_user.org_id, solution_id, status)
        search_index().refresh(engine())
        delivery.push_after_solution(solution_id)  # does nothing for a withdrawal
        flash("方案已发布" if action == "publish" else "方案已撤回", "success")
    return redirect(url_for("provider.home"))


@bp.route("/ratings")
@no_store
def ratings_page(appeal_forms: dict[int, AppealForm] | None = None):
    """The provider's published star ratings (评星评级), with one appeal against each."""
    session = get_session()
    provider = _provider()
    rows = ratings.provider_ratings(session, provider.id)
    appeal_forms = appeal_forms or {}
    for rating, appeal in rows:
        if appeal is None and rating.id not in appeal_forms:
            appeal_forms[rating.id] = AppealForm(prefix=f"r{rating.id}", formdata=None)
    return render_template("provider/ratings.html", provider=provider, rows=rows, appeal_forms=appeal_forms)


@bp.route("/ratings/<int:rating_id>/appeal", methods=["POST"])
def rating_appeal(rating_id: int):
    session = get_session()
    rating = session.get(ProviderRating, rating_id)
    if rating is None or rating.provider_id != current_user.org_id or rating.status != RatingStatus.published:
        abort(404)  # another provider's rating, or one not yet shown: the same answer as none
    form = AppealForm(prefix=f"r{rating_id}")
    if form.validate_on_submit():
        try:
            ratings.file_appeal(session, rating_id, current_user.org_id, current_user.id, form.reason.data)
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
            if error.field is None:  # e.g. appealed already: the form is no longer on the page
                flash(error.message, "error")
        else:
            flash("申诉已提交，对接服务中心处理后会通知您", "success")
            return redirect(url_for("provider.ratings_page"))
    return ratings_page(appeal_forms={rating_id: form}), 400
