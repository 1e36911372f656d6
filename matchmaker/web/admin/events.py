"""The admin's matchmaking-event pages, on the admin blueprint: list, create, one event's page,
publish, and close registration (each change audited by `services.events`)."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlmodel import select
from wtforms import DateField, DateTimeLocalField, IntegerField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Optional

from matchmaker.plumbing.db import get_session
from matchmaker.services import events, taxonomy
from matchmaker.services.errors import ServiceError
from matchmaker.web.admin import bp
from matchmaker.web.forms import (
    REQUIRED,
    BaseForm,
    CheckboxesField,
    attach_service_error,
    domain_choices,
    industry_choices,
    submitted,
)
from models import Enterprise, Event, EventMeeting, EventWrite, MeetingStatus, Provider


class EventForm(BaseForm):
    title = StringField("活动名称（如：链上坪山·新能源汽车专场）", validators=[REQUIRED])
    industries = CheckboxesField("主题行业（可多选）")
    domains = CheckboxesField("主题服务领域（可多选）")
    event_date = DateField("活动日期", validators=[REQUIRED])
    venue = StringField("活动地点", validators=[REQUIRED])
    start_time = TimeField("会谈开始时间", validators=[REQUIRED])
    slot_minutes = IntegerField("每场会谈时长（分钟）", default=20, validators=[REQUIRED])
    slot_count = IntegerField("会谈时段数", default=12, validators=[REQUIRED])
    tables = IntegerField("洽谈桌数", default=20, validators=[REQUIRED])
    registration_deadline = DateTimeLocalField(
        "报名截止时间（北京时间）", format="%Y-%m-%dT%H:%M", validators=[REQUIRED]
    )
    meeting_cap = IntegerField("每个参会方的会谈上限", default=6, validators=[REQUIRED])
    reason = TextAreaField("备注（记入审计日志）", validators=[Optional()])


class ReasonForm(BaseForm):
    reason = TextAreaField("理由（必填，将记入审计日志）", validators=[DataRequired(message="请填写理由")])


def _event_form() -> EventForm:
    form = EventForm()
    form.industries.choices = industry_choices(get_session(), grouped=False)
    form.domains.choices = domain_choices(get_session())
    return form


def _event_or_404(event_id: int) -> Event:
    event = get_session().get(Event, event_id)
    if event is None:
        abort(404)
    return event


@bp.route("/events")
def events_list():
    return render_template("events/admin_list.html", events=events.listing(get_session()), labels=events.STATUS_LABELS)


@bp.route("/events/new", methods=["GET", "POST"])
def event_new():
    form = _event_form()
    data = submitted(form, EventWrite)
    if data is not None:
        try:
            event = events.create(get_session(), current_user.id, data, form.reason.data or "")
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash("活动已创建（草稿），核对后发布即开放报名", "success")
            return redirect(url_for("admin.event_detail", event_id=event.id))
    status = 400 if form.is_submitted() else 200
    return render_template("events/admin_form.html", form=form), status


@bp.route("/events/<int:event_id>")
def event_detail(event_id: int, form: ReasonForm | None = None, status: int = 200):
    event = _event_or_404(event_id)
    session = get_session()
    grid, unplaced = _grid(event)
    names = {i.code: i.name for i in taxonomy.industries(get_session())}
    names |= {d.code: d.name for d in taxonomy.domains(get_session())}
    html = render_template(
        "events/admin_detail.html",
        event=event,
        names=names,
        grid=grid,
        scheduled=any(any(row) for row in grid),
        unplaced=unplaced,
        registered=len(events.registrations(session, event.id)),
        labels=events.STATUS_LABELS,
        slots=event.slot_times(),
        deadline=events.as_local(event.registration_deadline),
        form=form or ReasonForm(),
    )
    return html, status


@bp.route("/events/<int:event_id>/publish", methods=["POST"])
def event_publish(event_id: int):
    return _change(event_id, events.publish, "活动已发布，企业与服务商现在可以报名")


@bp.route("/events/<int:event_id>/close", methods=["POST"])
def event_close(event_id: int):
    return _change(event_id, events.close_registration, "报名已截止")


@bp.route("/events/<int:event_id>/schedule", methods=["POST"])
def event_schedule(event_id: int):
    """Assign slots and tables to the accepted meetings (after the request deadline)."""
    _event_or_404(event_id)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            report = events.schedule(get_session(), event_id, current_user.id)
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash(
                f"已排定 {report.placed} 场会谈，{len(report.unplaced)} 场未能安排，调整 {report.moved} 场", "success"
            )
            return redirect(url_for("admin.event_detail", event_id=event_id))
    return event_detail(event_id, form=form, status=400)


def _grid(event: Event) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """The meeting grid (one row per slot, one cell per table) and the unplaced meetings with reasons."""
    session = get_session()
    grid = [["" for _ in range(event.tables)] for _ in range(event.slot_count)]
    unplaced = []
    for m in session.exec(
        select(EventMeeting).where(EventMeeting.event_id == event.id, EventMeeting.status == MeetingStatus.accepted)
    ):
        label = f"{session.get(Enterprise, m.enterprise_id).name} ↔ {session.get(Provider, m.provider_id).name}"
        if m.slot is not None and m.table_no is not None:
            grid[m.slot][m.table_no - 1] = label
        elif m.unplaced_reason:
            unplaced.append((label, m.unplaced_reason))
    return grid, unplaced


def _change(event_id: int, change, done: str):
    _event_or_404(event_id)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            change(get_session(), event_id, current_user.id, form.reason.data)
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash(done, "success")
            return redirect(url_for("admin.event_detail", event_id=event_id))
    return event_detail(event_id, form=form, status=400)
