"""The event day and after: the reminder the day before, check-in at the door (by the QR code on the
printed agenda or by name), attendance of each meeting (held or no-show), both sides' outcomes, and
the docking an outcome of 有合作意向 turns into.

Each change is a conditional UPDATE or runs under the docking service's write lock, so two admins at
the door (or a double tap) change a row once; every admin change is audited with who, when and why.
"""

from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from matchmaker.services import audit, dockings, events
from matchmaker.services.errors import ServiceError
from matchmaker.services.notifications import notify
from models import (
    Attendance,
    Docking,
    Enterprise,
    Event,
    EventMeeting,
    EventRegistration,
    EventStatus,
    MeetingStatus,
    Outcome,
    Provider,
    utcnow,
)

OUTCOME_LABELS = {Outcome.interested: "有合作意向", Outcome.none: "暂无"}
ATTENDANCE_LABELS = {Attendance.held: "已举行", Attendance.no_show: "未到场"}
TOKEN_LIMIT = 64


# --- who a registration is ---------------------------------------------------------------------


def participant_name(session: Session, registration: EventRegistration) -> str:
    org = (
        session.get(Enterprise, registration.enterprise_id)
        if registration.enterprise_id
        else session.get(Provider, registration.provider_id)
    )
    return org.name if org else "（已删除）"


def participant_user(session: Session, registration: EventRegistration) -> int | None:
    org = (
        session.get(Enterprise, registration.enterprise_id)
        if registration.enterprise_id
        else session.get(Provider, registration.provider_id)
    )
    return org.user_id if org else None


def by_token(session: Session, token: str) -> EventRegistration:
    """The registration a check-in QR code names; the same error for any unknown token."""
    token = token.strip()
    registration = None
    if 0 < len(token) <= TOKEN_LIMIT:
        query = select(EventRegistration).where(EventRegistration.checkin_token == token)
        registration = session.exec(query).first()
    if registration is None:
        raise ServiceError("签到码无效，请改用姓名检索签到")
    return registration


# --- the reminder the day before ---------------------------------------------------------------


def beijing_today(now: datetime | None = None) -> date:
    return events.as_local(now or utcnow()).date()


def send_reminders(session: Session, today: date | None = None, now: datetime | None = None) -> int:
    """Remind every participant of the events held tomorrow (Beijing time), in the inbox and by email,
    with its agenda. A registration is reminded once: the mark is set by a conditional UPDATE in the
    same transaction as the notification, so a second run (or two at once) sends nothing more."""
    day = (today or beijing_today(now)) + timedelta(days=1)
    sent = 0
    due = select(Event).where(
        Event.event_date == day, col(Event.status).in_((EventStatus.published, EventStatus.closed))
    )
    for event in session.exec(due).all():
        for registration in events.registrations(session, event.id):
            if registration.reminded_at is not None:
                continue
            marked = session.exec(
                update(EventRegistration)
                .where(EventRegistration.id == registration.id, col(EventRegistration.reminded_at).is_(None))
                .values(reminded_at=now or utcnow())
            )
            user_id = participant_user(session, registration)
            if marked.rowcount != 1 or user_id is None:
                continue
            items = events.agenda(session, registration)
            lines = [f"{i.start:%H:%M}–{i.end:%H:%M} {i.table_no} 号桌：{i.other}" for i in items]
            body = f"{event.title}将于明天（{event.event_date:%Y-%m-%d}）在{event.venue}举行。"
            body += ("您的会谈安排：\n" + "\n".join(lines)) if lines else "您目前没有已排定的会谈。"
            body += "\n请打印会谈日程（含签到二维码），入场时出示签到。"
            notify(session, user_id, "event", f"明日参会提醒：{event.title}", body, agenda_link(registration.id))
            sent += 1
        session.commit()
    return sent


def agenda_link(registration_id: int) -> str:
    return f"/events/registrations/{registration_id}/agenda"


# --- check-in ----------------------------------------------------------------------------------


def check_in(session: Session, registration_id: int, actor_id: int, how: str) -> EventRegistration:
    """Check the participant in at the door (``how``: "qr" or "name"), once."""
    registration = session.get(EventRegistration, registration_id)
    if registration is None:
        raise ServiceError("报名记录不存在")
    event = events.get(session, registration.event_id)
    if event.status == EventStatus.draft:
        raise ServiceError("该活动尚未发布，不能签到")
    moved = session.exec(
        update(EventRegistration)
        .where(EventRegistration.id == registration.id, col(EventRegistration.checked_in_at).is_(None))
        .values(checked_in_at=utcnow())
    )
    if moved.rowcount != 1:
        session.rollback()
        raise ServiceError(f"{participant_name(session, registration)}已签到，无需重复签到")
    audit.record(session, actor_id, "event.check_in", "eventregistration", registration.id, "", event=event.id, how=how)
    session.commit()
    session.refresh(registration)
    return registration


def search(session: Session, event_id: int, query: str) -> list[tuple[EventRegistration, str]]:
    """The event's participants whose name contains ``query`` (all of them when it is empty), by name."""
    query = query.strip()
    found = []
    for registration in events.registrations(session, event_id):
        name = participant_name(session, registration)
        if query in name:
            found.append((registration, name))
    return sorted(found, key=lambda pair: pair[1])


# --- attendance --------------------------------------------------------------------------------


def _checked_in(session: Session, meeting: EventMeeting) -> tuple[bool, bool]:
    enterprise = events.registration_of(session, meeting.event_id, enterprise_id=meeting.enterprise_id)
    provider = events.registration_of(session, meeting.event_id, provider_id=meeting.provider_id)
    return (
        enterprise is not None and enterprise.checked_in_at is not None,
        provider is not None and provider.checked_in_at is not None,
    )


def mark_attendance(
    session: Session, meeting_id: int, actor_id: int, attendance: str, reason: str = ""
) -> EventMeeting:
    """The admin marks a scheduled meeting held or a no-show. Held needs both sides checked in; once
    either side recorded an outcome the mark stands."""
    if attendance not in ATTENDANCE_LABELS:
        raise ServiceError("请选择“已举行”或“未到场”")
    meeting = session.get(EventMeeting, meeting_id)
    if meeting is None:
        raise ServiceError("会谈不存在")
    if meeting.status != MeetingStatus.accepted or meeting.slot is None:
        raise ServiceError("只有已排定的会谈可以登记到场情况")
    if meeting.enterprise_outcome or meeting.provider_outcome:
        raise ServiceError("双方已登记会谈结果，不能再修改到场情况")
    if attendance == Attendance.held:
        enterprise_in, provider_in = _checked_in(session, meeting)
        missing = [who for who, came in (("企业", enterprise_in), ("服务商", provider_in)) if not came]
        if missing:
            raise ServiceError(f"{'、'.join(missing)}尚未签到，不能登记为已举行")
    moved = session.exec(
        update(EventMeeting)
        .where(
            EventMeeting.id == meeting.id,
            EventMeeting.attendance == meeting.attendance,
            EventMeeting.enterprise_outcome == "",
            EventMeeting.provider_outcome == "",
        )
        .values(attendance=attendance)
    )
    if moved.rowcount != 1:
        session.rollback()
        raise ServiceError("该会谈已被其他操作修改，请刷新后重试")
    audit.record(
        session,
        actor_id,
        f"event.meeting_{attendance}",
        "eventmeeting",
        meeting.id,
        reason,
        previous=meeting.attendance,
    )
    session.commit()
    session.refresh(meeting)
    return meeting


# --- outcomes and the docking that follows -----------------------------------------------------


def own_meeting(session: Session, meeting_id: int, side: str, org_id: int) -> EventMeeting:
    """The meeting if ``side``/``org_id`` is one of its two parties; the same error otherwise."""
    meeting = session.get(EventMeeting, meeting_id)
    owner = None
    if meeting is not None:
        owner = meeting.enterprise_id if side == "enterprise" else meeting.provider_id
    if owner is None or owner != org_id:
        raise ServiceError("会谈不存在")
    return meeting


def record_outcome(
    session: Session, meeting_id: int, side: str, org_id: int, actor_id: int, outcome: str
) -> EventMeeting:
    """One side records the outcome of a held meeting: 有合作意向 or 暂无 (changeable until a docking
    follows from it). The other side is told."""
    if outcome not in OUTCOME_LABELS:
        raise ServiceError("会谈结果只能是“有合作意向”或“暂无”")
    meeting = own_meeting(session, meeting_id, side, org_id)
    if meeting.attendance != Attendance.held:
        raise ServiceError("会谈登记为已举行后才能填写结果")
    if docking_of(session, meeting) is not None:
        raise ServiceError("已由本次会谈发起对接，会谈结果不能再修改")
    column = "enterprise_outcome" if side == "enterprise" else "provider_outcome"
    setattr(meeting, column, outcome)
    session.add(meeting)
    other_side = "provider" if side == "enterprise" else "enterprise"
    other = (
        session.get(Provider, meeting.provider_id)
        if other_side == "provider"
        else session.get(Enterprise, meeting.enterprise_id)
    )
    event = events.get(session, meeting.event_id)
    if other is not None and other.user_id is not None and outcome == Outcome.interested:
        notify(
            session,
            other.user_id,
            "event",
            f"{event.title}：对方表示有合作意向",
            "对方在会谈后登记了“有合作意向”。" + ("企业可一键发起对接。" if other_side == "enterprise" else ""),
            f"/events/{event.id}",
        )
    audit.record(session, actor_id, "event.meeting_outcome", "eventmeeting", meeting.id, "", side=side, outcome=outcome)
    session.commit()
    session.refresh(meeting)
    return meeting


def docking_of(session: Session, meeting: EventMeeting) -> Docking | None:
    """The docking between the meeting's need and solution, if one exists (there is at most one)."""
    query = select(Docking).where(Docking.need_id == meeting.need_id, Docking.solution_id == meeting.solution_id)
    return session.exec(query).first()


def start_docking(session: Session, meeting_id: int, enterprise_id: int, actor_id: int, cap: int) -> Docking:
    """The enterprise turns a held meeting it found promising into a docking request, with the event
    as its origin: the docking service's cap, its one-per-provider rule and its contact gating apply."""
    meeting = own_meeting(session, meeting_id, "enterprise", enterprise_id)
    if meeting.attendance != Attendance.held or meeting.enterprise_outcome != Outcome.interested:
        raise ServiceError("请先将会谈结果登记为“有合作意向”，再发起对接")
    event = events.get(session, meeting.event_id)
    docking = dockings.request_docking(
        session,
        enterprise_id,
        actor_id,
        meeting.need_id,
        meeting.solution_id,
        f"来自活动“{event.title}”的一对一会谈",
        cap,
        origin_event_id=event.id,
    )
    audit.record(session, actor_id, "event.meeting_docking", "eventmeeting", meeting.id, "", docking=docking.id)
    session.commit()
    return docking
