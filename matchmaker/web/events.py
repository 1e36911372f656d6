"""Matchmaking events as participants see them: the list of events open or held, one event's page,
and registration: an enterprise (or chain leader) with its open needs, a whitelisted provider with
its published solutions, each with the slots it is free for.

An enterprise may also post a new need as it registers: published as the need form publishes it
(`services.publishing`), after the registration's own checks passed.

A draft event is invisible (404) to everyone but admins. Registration routes are per role, so a
wrong role gets 403 and ids of another organisation's needs or solutions get 404, as elsewhere.
"""

from dataclasses import dataclass

import segno
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlmodel import select
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import login_manager, search_index
from matchmaker.services import enterprises, event_day, events, publishing
from matchmaker.services.errors import ServiceError
from matchmaker.web import delivery
from matchmaker.web.forms import BaseForm, CheckboxesField, attach_service_error
from models import (
    Enterprise,
    Event,
    EventMeeting,
    EventStatus,
    Need,
    NeedStatus,
    Provider,
    Role,
    Solution,
    SolutionStatus,
)
from models.schemas import NeedCreate, error_messages

bp = Blueprint("events", __name__, url_prefix="/events")


class RegistrationForm(BaseForm):
    """Choices are checked by the view (foreign items: 404) and the service (Chinese messages)."""

    items = CheckboxesField("参会携带的需求", validate_choice=False)
    new_need = TextAreaField(
        "或在报名的同时发布一项新需求（可选：写明现状、痛点与期望，按本企业所属行业匹配）", validators=[Optional()]
    )
    slots = CheckboxesField("可参加的会谈时段（可多选）", validate_choice=False)


class MeetingRequestForm(BaseForm):
    need_id = IntegerField(validators=[InputRequired()])
    solution_id = IntegerField(validators=[InputRequired()])
    message = StringField("留言（可选，200字以内）", validators=[Optional()])


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
    mine, proposals, meetings = None, [], []
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
            meetings = [
                _shown(m) for m in events.meetings_of(session, event.id, current_user.role, current_user.org_id)
            ]
    return render_template(
        "events/detail.html",
        event=event,
        labels=events.STATUS_LABELS,
        slots=event.slot_times(),
        deadline=events.as_local(event.registration_deadline),
        open=events.open_for_registration(event),
        mine=mine,
        proposals=proposals,
        meetings=meetings,
        requested={(m.meeting.need_id, m.meeting.solution_id) for m in meetings},
        request_form=MeetingRequestForm(),
        outcomes=event_day.OUTCOME_LABELS,
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


@dataclass(frozen=True)
class ShownMeeting:
    meeting: EventMeeting
    need: Need
    solution: Solution
    other: Enterprise | Provider  # its contact details are shown only once the meeting is accepted
    asked_me: bool
    docking_id: int | None = None  # the docking that followed the meeting, if any


def _shown(meeting: EventMeeting) -> ShownMeeting:
    session = get_session()
    mine_is_enterprise = current_user.role == Role.enterprise
    other = (
        session.get(Provider, meeting.provider_id)
        if mine_is_enterprise
        else session.get(Enterprise, meeting.enterprise_id)
    )
    docking = event_day.docking_of(session, meeting)
    return ShownMeeting(
        meeting,
        session.get(Need, meeting.need_id),
        session.get(Solution, meeting.solution_id),
        other,
        meeting.requested_by != current_user.role,
        docking.id if docking else None,
    )


def _is_id(value: object) -> bool:
    """A row id the database can hold (a huge number would be an error on PostgreSQL)."""
    return isinstance(value, int) and 0 < value < 2**31


def _request(event_id: int, role: Role):
    if current_user.role != role:
        abort(403)
    event = _visible_or_404(event_id)
    form = MeetingRequestForm()
    if not (_is_id(form.need_id.data) and _is_id(form.solution_id.data)):
        abort(404)
    session = get_session()
    owned = (
        session.get(Need, form.need_id.data)
        if role == Role.enterprise
        else session.get(Solution, form.solution_id.data)
    )
    if owned is None or (owned.enterprise_id if role == Role.enterprise else owned.provider_id) != current_user.org_id:
        abort(404)  # another organisation's need or solution: as if it did not exist
    if not form.validate_on_submit():
        flash("提交的内容有误，请重试", "error")
    else:
        try:
            events.request_meeting(
                session,
                engine(),
                search_index(),
                event.id,
                role,
                current_user.org_id,
                current_user.id,
                form.need_id.data,
                form.solution_id.data,
                form.message.data or "",
            )
        except ServiceError as error:
            session.rollback()
            flash(error.message, "error")
        else:
            flash("会谈请求已发送，对方答复后您会收到通知", "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.route("/<int:event_id>/meetings/enterprise", methods=["POST"])
@login_required
def request_as_enterprise(event_id: int):
    return _request(event_id, Role.enterprise)


@bp.route("/<int:event_id>/meetings/provider", methods=["POST"])
@login_required
def request_as_provider(event_id: int):
    return _request(event_id, Role.provider)


@bp.route("/meetings/<int:meeting_id>/<any(accept, decline):decision>", methods=["POST"])
@login_required
def respond(meeting_id: int, decision: str):
    if current_user.role not in (Role.enterprise, Role.provider):
        abort(403)
    session = get_session()
    try:
        meeting = events.addressed_meeting(session, meeting_id, current_user.role, current_user.org_id)
    except ServiceError:
        abort(404)
    form = BaseForm()
    if not form.validate_on_submit():
        flash("提交的内容有误，请重试", "error")
    else:
        try:
            events.respond_meeting(
                session, meeting_id, current_user.role, current_user.org_id, current_user.id, decision == "accept"
            )
        except ServiceError as error:
            session.rollback()
            flash(error.message, "error")
        else:
            flash("已接受会谈，双方联系方式已可见" if decision == "accept" else "已婉拒该会谈请求", "success")
    return redirect(url_for("events.detail", event_id=meeting.event_id))


def _own_registration_or_404(registration_id: int):
    if current_user.role not in (Role.enterprise, Role.provider):
        abort(403)
    try:
        return events.own_registration(get_session(), registration_id, current_user.role, current_user.org_id)
    except ServiceError:
        abort(404)


@bp.route("/registrations/<int:registration_id>/agenda")
@login_required
def agenda(registration_id: int):
    """The printable agenda, with the QR code the admin scans at the door to check the participant in."""
    registration = _own_registration_or_404(registration_id)
    session = get_session()
    event = events.get(session, registration.event_id)
    base = str(current_app.config["MATCHMAKER_BASE_URL"] or request.host_url).rstrip("/")
    checkin_url = base + url_for("admin.event_checkin_token", token=registration.checkin_token)
    return render_template(
        "events/agenda.html",
        event=event,
        registration=registration,
        name=event_day.participant_name(session, registration),
        items=events.agenda(session, registration),
        qr=segno.make(checkin_url, error="m").svg_inline(scale=4, title="签到二维码"),
    )


@bp.route("/meetings/<int:meeting_id>/outcome/<any(interested, none):outcome>", methods=["POST"])
@login_required
def record_outcome(meeting_id: int, outcome: str):
    """Either side of a held meeting records 有合作意向 or 暂无."""
    meeting = _own_meeting_or_404(meeting_id)
    if BaseForm().validate_on_submit():
        try:
            event_day.record_outcome(
                get_session(), meeting.id, current_user.role, current_user.org_id, current_user.id, outcome
            )
        except ServiceError as error:
            get_session().rollback()
            flash(error.message, "error")
        else:
            flash(f"会谈结果已登记：{event_day.OUTCOME_LABELS[outcome]}", "success")
    else:
        flash("提交的内容有误，请重试", "error")
    return redirect(url_for("events.detail", event_id=meeting.event_id))


@bp.route("/meetings/<int:meeting_id>/docking", methods=["POST"])
@login_required
def start_docking(meeting_id: int):
    """The enterprise turns a promising meeting into a docking request in one click."""
    if current_user.role != Role.enterprise:
        abort(403)
    meeting = _own_meeting_or_404(meeting_id)
    if not BaseForm().validate_on_submit():
        flash("提交的内容有误，请重试", "error")
        return redirect(url_for("events.detail", event_id=meeting.event_id))
    cap = int(current_app.config["MATCHMAKER_DOCKING_CAP"])
    try:
        docking = event_day.start_docking(get_session(), meeting.id, current_user.org_id, current_user.id, cap)
    except ServiceError as error:
        get_session().rollback()
        flash(error.message, "error")
        return redirect(url_for("events.detail", event_id=meeting.event_id))
    flash("已发起对接申请，服务商接受后双方可在对接详情中继续洽谈", "success")
    return redirect(url_for("docking.detail", docking_id=docking.id))


def _own_meeting_or_404(meeting_id: int) -> EventMeeting:
    if current_user.role not in (Role.enterprise, Role.provider):
        abort(403)
    try:
        return event_day.own_meeting(get_session(), meeting_id, current_user.role, current_user.org_id)
    except ServiceError:
        abort(404)


@bp.route("/registrations/<int:registration_id>/agenda.ics")
@login_required
def agenda_ics(registration_id: int):
    """The participant's agenda as a calendar file."""
    registration = _own_registration_or_404(registration_id)
    session = get_session()
    event = events.get(session, registration.event_id)
    body = events.agenda_ics(event, events.agenda(session, registration))
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="event-{event.id}-agenda.ics"'
    return response
