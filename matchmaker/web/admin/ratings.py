"""评星评级: the computed ratings of a quarter to review, adjust (with a reason) and publish, and the
providers' appeals against published ones."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.plumbing.security import no_store
from matchmaker.services import ratings
from matchmaker.services.errors import ServiceError
from matchmaker.web.admin import bp
from matchmaker.web.forms import RatingAdjustForm, RatingAppealDecisionForm, RatingPublishForm, attach_service_error
from models import Appeal, ProviderRating


def tiers() -> tuple[ratings.Tier, ...]:
    return ratings.parse_tiers(current_app.config["MATCHMAKER_TIERS"])


@bp.route("/ratings")
@no_store
def ratings_review(
    period: str | None = None,
    adjust_forms: dict[int, RatingAdjustForm] | None = None,
    publish_form: RatingPublishForm | None = None,
    appeal_forms: dict[int, RatingAppealDecisionForm] | None = None,
):
    session = get_session()
    periods = ratings.periods(session)
    period = period or request.args.get("period")
    if period not in periods:
        period = periods[0] if periods else None
    rows = ratings.period_ratings(session, period) if period else []
    appeals = ratings.pending_rating_appeals(session, period) if period else {}
    adjust_forms = adjust_forms or {}
    appeal_forms = appeal_forms or {}
    for rating, _ in rows:
        if rating.status == "computed" and rating.id not in adjust_forms:
            adjust_forms[rating.id] = RatingAdjustForm(prefix=f"r{rating.id}", formdata=None, stars=rating.stars)
        appeal = appeals.get(rating.id)
        if appeal is not None and appeal.id not in appeal_forms:
            appeal_forms[appeal.id] = RatingAppealDecisionForm(
                prefix=f"appeal{appeal.id}", formdata=None, stars=rating.stars
            )
    return render_template(
        "admin/ratings.html",
        periods=periods,
        period=period,
        rows=rows,
        appeals=appeals,
        adjust_forms=adjust_forms,
        appeal_forms=appeal_forms,
        publish_form=publish_form or RatingPublishForm(formdata=None, period=period),
        computed=sum(1 for rating, _ in rows if rating.status == "computed"),
        labels=ratings.COMPONENT_LABELS,
    )


@bp.route("/ratings/<int:rating_id>/adjust", methods=["POST"])
def rating_adjust(rating_id: int):
    rating = get_session().get(ProviderRating, rating_id)
    if rating is None:
        abort(404)
    period = rating.period
    form = RatingAdjustForm(prefix=f"r{rating_id}")
    if form.validate_on_submit():
        try:
            ratings.adjust(get_session(), rating_id, form.stars.data, current_user.id, form.reason.data, tiers())
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash("评级已调整，已记入审计日志", "success")
            return redirect(url_for("admin.ratings_review", period=period))
    return ratings_review(period, adjust_forms={rating_id: form}), 400


@bp.route("/ratings/publish", methods=["POST"])
def rating_publish():
    form = RatingPublishForm()
    if form.validate_on_submit():
        try:
            published = ratings.publish(get_session(), form.period.data, current_user.id, form.reason.data)
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error if error.field == "reason" else ServiceError(error.message))
        else:
            search_index().refresh(engine())
            flash(f"已公布 {len(published)} 家服务商的评级，服务商已收到通知", "success")
            return redirect(url_for("admin.ratings_review", period=form.period.data))
    return ratings_review(form.period.data, publish_form=form), 400


@bp.route("/ratings/appeals/<int:appeal_id>/decide", methods=["POST"])
def rating_appeal_decide(appeal_id: int):
    session = get_session()
    appeal = session.get(Appeal, appeal_id)
    rating = ratings.rating_of_appeal(session, appeal) if appeal is not None else None
    if rating is None:
        abort(404)
    period = rating.period
    form = RatingAppealDecisionForm(prefix=f"appeal{appeal_id}")
    if form.validate_on_submit() and form.action.data in {"upheld", "dismissed"}:
        upheld = form.action.data == "upheld"
        try:
            ratings.decide_appeal(
                session, appeal_id, upheld, form.stars.data, current_user.id, form.reason.data, tiers()
            )
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
        else:
            search_index().refresh(engine())
            flash("评级申诉已处理，服务商已收到通知", "success")
            return redirect(url_for("admin.ratings_review", period=period))
    elif not form.errors:
        form.form_errors.append("未知的操作")
    return ratings_review(period, appeal_forms={appeal_id: form}), 400
