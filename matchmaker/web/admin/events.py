"""The admin's matchmaking-event pages, on the admin blueprint: list, create, one event's page,
publish, and close registration (each change audited by `services.events`)."""

import io
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlmodel import select
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Optional

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.security import no_store
from matchmaker.services import event_day, event_report, events, exports, taxonomy
from matchmaker.services.errors import ServiceError
from matchmaker.web.admin import bp
from matchmaker.web.admin.dashboard import FORMATS
from matchmaker.web.forms import (
    REQUIRED,
    BaseForm,
    CheckboxesField,
    attach_service_error,
    choices,
    domain_choices,
    industry_choices,
    submitted,
)
from models import Enterprise, Event, EventMeeting, EventRegistration, EventWrite, MeetingStatus, Provider


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


# --- at the door: check-in by QR code or name, attendance of the meetings --------------------------


class CheckInForm(BaseForm):
    how = HiddenField(default="name")


SEARCH_LIMIT = 50  # characters of a name search


@dataclass(frozen=True)
class DoorMeeting:
    meeting: EventMeeting
    start: str
    label: str


@bp.route("/checkin/<token>")
def event_checkin_token(token: str):
    """What the admin's phone opens when it scans a participant's QR code: who it is, and one tap to
    check them in (a GET only shows; the check-in itself is a POST with the CSRF token)."""
    session = get_session()
    try:
        registration = event_day.by_token(session, token)
    except ServiceError:
        abort(404)
    event = events.get(session, registration.event_id)
    return render_template(
        "events/admin_checkin_token.html",
        event=event,
        registration=registration,
        name=event_day.participant_name(session, registration),
        form=CheckInForm(how="qr"),
    )


@bp.route("/events/<int:event_id>/checkin")
def event_checkin_list(event_id: int):
    """The door: participants found by name, with their check-in, and the scheduled meetings to mark."""
    event = _event_or_404(event_id)
    session = get_session()
    query = request.args.get("q", "")[:SEARCH_LIMIT]
    found = event_day.search(session, event.id, query)
    times = event.slot_times()
    meetings = []
    for m in session.exec(
        select(EventMeeting)
        .where(EventMeeting.event_id == event.id, EventMeeting.status == MeetingStatus.accepted)
        .order_by(EventMeeting.slot, EventMeeting.table_no)
    ):
        if m.slot is None:
            continue
        label = f"{session.get(Enterprise, m.enterprise_id).name} ↔ {session.get(Provider, m.provider_id).name}"
        meetings.append(DoorMeeting(m, f"{times[m.slot][0]:%H:%M} {m.table_no} 号桌", label))
    return render_template(
        "events/admin_checkin.html",
        event=event,
        found=found,
        query=query,
        meetings=meetings,
        checked=sum(1 for r in events.registrations(session, event.id) if r.checked_in_at),
        total=len(events.registrations(session, event.id)),
        attendance=event_day.ATTENDANCE_LABELS,
        form=CheckInForm(),
    )


@bp.route("/events/registrations/<int:registration_id>/checkin", methods=["POST"])
def event_checkin(registration_id: int):
    registration = get_session().get(EventRegistration, registration_id)
    if registration is None:
        abort(404)
    form = CheckInForm()
    if not form.validate_on_submit():
        flash("提交的内容有误，请重试", "error")
    else:
        how = "qr" if form.how.data == "qr" else "name"
        try:
            event_day.check_in(get_session(), registration.id, current_user.id, how)
        except ServiceError as error:
            get_session().rollback()
            flash(error.message, "error")
        else:
            flash(f"{event_day.participant_name(get_session(), registration)}签到成功", "success")
    return redirect(url_for("admin.event_checkin_list", event_id=registration.event_id))


@bp.route("/events/meetings/<int:meeting_id>/<any(held, no_show):attendance>", methods=["POST"])
def event_attendance(meeting_id: int, attendance: str):
    """Mark a scheduled meeting held (both sides checked in) or a no-show."""
    meeting = get_session().get(EventMeeting, meeting_id)
    if meeting is None:
        abort(404)
    if not BaseForm().validate_on_submit():
        flash("提交的内容有误，请重试", "error")
    else:
        try:
            event_day.mark_attendance(get_session(), meeting.id, current_user.id, attendance)
        except ServiceError as error:
            get_session().rollback()
            flash(error.message, "error")
        else:
            flash(f"已登记为{event_day.ATTENDANCE_LABELS[attendance]}", "success")
    return redirect(url_for("admin.event_checkin_list", event_id=meeting.event_id))


# --- the event report ----------------------------------------------------------------------------


class ReportExportForm(BaseForm):
    kind = SelectField("内容", choices=choices({"summary": "活动成效指标", "meetings": "逐场会谈明细"}))
    format = SelectField("文件格式", choices=choices(FORMATS))


@bp.route("/events/<int:event_id>/report")
def event_report_page(event_id: int):
    event = _event_or_404(event_id)
    figures = event_report.figures(get_session(), event.id)
    return render_template("events/admin_report.html", event=event, figures=figures, form=ReportExportForm())


@bp.route("/events/<int:event_id>/report/export", methods=["POST"])
@no_store
def event_report_export(event_id: int):
    """The report's figures, or the meetings behind them, as XLSX or CSV (audited like every export)."""
    event = _event_or_404(event_id)
    form = ReportExportForm()
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    sheet = event_report.SHEETS[form.kind.data](session, event)
    content, mimetype = exports.render(sheet, form.format.data)
    exports.record(session, current_user.id, f"event_{form.kind.data}", form.format.data, sheet, event=str(event.id))
    name = f"{sheet.name}.{form.format.data}"
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=name)
