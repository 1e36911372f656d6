"""Matchmaking events as participants see them: the list of events open or held, one event's page,
and registration: an enterprise (or chain leader) with its open needs, a whitelisted provider with
its published solutions, each with the slots it is free for.

An enterprise may also post a new need as it registers: published as the need form publishes it
(`services.publishing`), after the registration's own checks passed.

A draft event is invisible (404) to everyone but admins. Registration routes are per role, so a
wrong role gets 403 and ids of another organisation's needs or solutions get 404, as elsewhere.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlmodel import select
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import login_manager, search_index
from matchmaker.services import enterprises, events, publishing
from matchmaker.services.errors import ServiceError
from matchmaker.web import delivery
from matchmaker.web.forms import BaseForm, CheckboxesField, attach_service_error
from models import Event, EventStatus, Need, NeedStatus, Role, Solution, SolutionStatus
from models.schemas import NeedCreate, error_messages

bp = Blueprint("events", __name__, url_prefix="/events")


class RegistrationForm(BaseForm):
    """Choices are checked by the view (foreign items: 404) and the service (Chinese messages)."""

    items = CheckboxesField("参会携带的需求", validate_choice=False)
    new_need = TextAreaField(
        "或在报名的同时发布一项新需求（可选：写明现状、痛点与期望，按本企业所属行业匹配）", validators=[Optional()]
    )
    slots = CheckboxesField("可参加的会谈时段（可多选）", validate_choice=False)


def _numbers(values: list[str]) -> list[int]:
    """Checkbox values as slot or item numbers; anything else is no slot of the event (-1)."""
    return [int(value) if value.isascii() and value.isdigit() else -1 for value in values]


def _visible_or_404(event_id: int) -> Event:
    """The event, unless it is missing or a draft: then a visitor is asked to log in (as for every
    other object, so ids reveal nothing) and anyone but an admin gets 404."""
    event = get_session().get(Event, event_id)
    if event is None or event.status == EventStatus.draft:
        if not current_user.is_authenticated:
            abort(login_manager.unauthorized())
        if event is None or current_user.role != Role.admin:
            abort(404)
    return event


@bp.route("/")
def listing():
    shown = events.listing(get_session(), (EventStatus.published, EventStatus.closed))
    return render_template("events/list.html", events=shown, labels=events.STATUS_LABELS)


@bp.route("/<int:event_id>")
def detail(event_id: int):
    event = _visible_or_404(event_id)
    mine, proposals = None, []
    if current_user.is_authenticated and current_user.role in (Role.enterprise, Role.provider):
        session = get_session()
        if current_user.role == Role.enterprise:
            mine = events.registration_of(session, event.id, enterprise_id=current_user.org_id)
            propose = events.proposals_for_enterprise
        else:
            mine = events.registration_of(session, event.id, provider_id=current_user.org_id)
            propose = events.proposals_for_provider
        if mine:
            proposals = propose(session, engine(), search_index(), event.id, current_user.org_id)
    return render_template(
        "events/detail.html",
        event=event,
        labels=events.STATUS_LABELS,
        slots=event.slot_times(),
        deadline=events.as_local(event.registration_deadline),
        open=events.open_for_registration(event),
        mine=mine,
        proposals=proposals,
        count=len(events.registrations(get_session(), event.id)),
    )


def _own_options(role: Role) -> list[SelectChoice]:
    session = get_session()
    if role == Role.enterprise:
        rows = session.exec(
            select(Need.id, Need.title).where(Need.enterprise_id == current_user.org_id, Need.status == NeedStatus.open)
        )
    else:
        rows = session.exec(
            select(Solution.id, Solution.title).where(
                Solution.provider_id == current_user.org_id, Solution.status == SolutionStatus.published
            )
        )
    return [SelectChoice(str(item_id), title) for item_id, title in rows]


def _register(event_id: int, role: Role):
    if current_user.role != role:
        abort(403)
    event = _visible_or_404(event_id)
    options = _own_options(role)
    own = {choice.value for choice in options}
    if any(value not in own for value in request.form.getlist("items")):
        abort(404)  # another organisation's need or solution: as if it did not exist
    key = "enterprise_id" if role == Role.enterprise else "provider_id"
    mine = events.registration_of(get_session(), event.id, **{key: current_user.org_id})
    form = RegistrationForm()
    if role == Role.provider:
        form.items.label.text = "参会携带的解决方案"
        del form.new_need
    form.items.choices = options
    form.slots.choices = [
        SelectChoice(str(i), f"{start:%H:%M}–{end:%H:%M}") for i, (start, end) in enumerate(event.slot_times())
    ]
    if not form.is_submitted() and mine:
        form.items.data = [str(i) for i in (mine.need_ids or mine.solution_ids)]
        form.slots.data = [str(i) for i in mine.slots]
    if form.validate_on_submit():
        chosen, slots = _numbers(form.items.data), _numbers(form.slots.data)
        try:
            if role == Role.enterprise:
                if (form.new_need.data or "").strip():
                    events.check_open(event, slots)  # nothing is published for a refused registration
                    chosen.append(_publish_need(form.new_need.data.strip()))
                events.register_enterprise(get_session(), event.id, current_user.org_id, current_user.id, chosen, slots)
            else:
                events.register_provider(get_session(), event.id, current_user.org_id, current_user.id, chosen, slots)
        except ServiceError as error:
            get_session().rollback()
            if error.field in ("need_ids", "solution_ids"):
                error.field = "items"
            attach_service_error(form, error)
        else:
            flash("报名信息已保存", "success")
            return redirect(url_for("events.detail", event_id=event.id))
    status = 400 if form.is_submitted() else 200
    html = render_template(
        "events/register.html", event=event, form=form, mine=mine, open=events.open_for_registration(event)
    )
    return html, status


def _publish_need(description: str) -> int:
    """Publish a need as the need form does (suggested tags, ranking, pushes), for the registration."""
    session = get_session()
    enterprise = enterprises.get(session, current_user.org_id)
    try:
        data = NeedCreate(description=description, industry=enterprise.industry)
    except ValidationError as exc:
        raise ServiceError(next(iter(error_messages(exc).values())), field="new_need") from None
    suggestion = search_index().suggest(engine(), description)
    data.domains, data.tags = list(suggestion.domains), list(suggestion.tags)
    published = publishing.publish_need(
        session, engine(), search_index(), enterprise.id, data, suggestion, delivery.push_caps()
    )
    return published.need.id


@bp.route("/<int:event_id>/register/enterprise", methods=["GET", "POST"])
@login_required
def register_enterprise(event_id: int):
    return _register(event_id, Role.enterprise)


@bp.route("/<int:event_id>/register/provider", methods=["GET", "POST"])
@login_required
def register_provider(event_id: int):
    return _register(event_id, Role.provider)
