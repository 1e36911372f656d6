"""Matchmaking events (链上坪山 供需对接会): the admin creates an event, publishes it (registration
opens) and closes registration, by hand or when the deadline passes. While registration is open an
enterprise registers with its open needs, a whitelisted provider with its published solutions, each
with the slots it is free for. Every change is audited.

State changes are conditional UPDATEs on the status the change starts from, so two admins (or an
admin and the deadline sweep) racing on one event change it once; the loser gets a Chinese message.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from matchmaker.matching.fusion import RankedMatch
from matchmaker.matching.search_index import SearchIndex
from matchmaker.services import audit, event_schedule, matching, taxonomy
from matchmaker.services.errors import ServiceError
from matchmaker.services.notifications import notify
from models import (
    Enterprise,
    Event,
    EventMeeting,
    EventRegistration,
    EventStatus,
    EventWrite,
    MeetingStatus,
    Need,
    NeedStatus,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
    utcnow,
)

MAX_ITEMS = 10  # needs or solutions one participant brings
PROPOSALS = 5  # meeting partners proposed per need, and needs proposed to a provider

BEIJING = timezone(timedelta(hours=8))  # the event's local times (form input, slots) are Beijing time
STATUS_LABELS = {
    EventStatus.draft: "草稿",
    EventStatus.published: "报名中",
    EventStatus.closed: "报名已截止",
}


def as_utc(moment: datetime) -> datetime:
    """A deadline typed in Beijing time (naive) or given with its zone, in UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)).astimezone(UTC)


def as_local(moment: datetime) -> datetime:
    """A stored UTC moment in Beijing time, for display next to the event's local slot times."""
    return _aware(moment).astimezone(BEIJING)


def create(session: Session, actor_id: int, data: EventWrite, reason: str = "") -> Event:
    known_industries = {i.code for i in taxonomy.industries(session)}
    known_domains = {d.code for d in taxonomy.domains(session)}
    unknown = [code for code in data.industries if code not in known_industries]
    unknown += [code for code in data.domains if code not in known_domains]
    if unknown:
        raise ServiceError(f"未知的主题分类：{'、'.join(unknown)}")
    deadline = as_utc(data.registration_deadline)
    event = Event.model_validate(data.model_dump() | {"registration_deadline": deadline, "created_by": actor_id})
    session.add(event)
    session.flush()
    audit.record(session, actor_id, "event.create", "event", event.id, reason, title=event.title)
    session.commit()
    return event


def get(session: Session, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        raise ServiceError("活动不存在")
    return event


def listing(session: Session, statuses: tuple[str, ...] | None = None) -> list[Event]:
    query = select(Event).order_by(Event.event_date.desc(), Event.id.desc())
    if statuses:
        query = query.where(Event.status.in_(statuses))
    return list(session.exec(query))


def _move(session: Session, event: Event, source: EventStatus, target: EventStatus) -> bool:
    """Move ``event`` from ``source`` to ``target`` unless another request did first."""
    moved = session.exec(
        update(Event).where(Event.id == event.id, Event.status == source).values(status=target, updated_at=utcnow())
    )
    return moved.rowcount == 1


def publish(session: Session, event_id: int, actor_id: int, reason: str = "", now: datetime | None = None) -> Event:
    event = get(session, event_id)
    if event.status != EventStatus.draft:
        raise ServiceError("只有草稿状态的活动可以发布")
    if _aware(event.registration_deadline) <= (now or utcnow()):
        raise ServiceError("报名截止时间已过，请先修改活动再发布")
    if not _move(session, event, EventStatus.draft, EventStatus.published):
        session.rollback()
        raise ServiceError("活动状态已被其他操作改变，请刷新后重试")
    return _audited(session, event, actor_id, "event.publish", reason)


def close_registration(session: Session, event_id: int, actor_id: int, reason: str) -> Event:
    event = get(session, event_id)
    if not reason.strip():
        raise ServiceError("请填写截止报名的理由", field="reason")
    if event.status != EventStatus.published or not _move(session, event, EventStatus.published, EventStatus.closed):
        session.rollback()
        raise ServiceError("只有报名中的活动可以截止报名")
    return _audited(session, event, actor_id, "event.close", reason)


def _audited(session: Session, event: Event, actor_id: int, action: str, reason: str) -> Event:
    """Record the admin's change of ``event`` and commit it with the change."""
    audit.record(session, actor_id, action, "event", event.id, reason)
    session.commit()
    session.refresh(event)
    return event


def close_due(session: Session, now: datetime | None = None) -> list[int]:
    """Close registration of every published event whose deadline has passed (the daily sweep)."""
    now = now or utcnow()
    closed = []
    for event in session.exec(select(Event).where(Event.status == EventStatus.published)).all():
        if _aware(event.registration_deadline) <= now and _move(
            session, event, EventStatus.published, EventStatus.closed
        ):
            audit.record(session, None, "event.close", "event", event.id, "报名截止时间已到")
            closed.append(event.id)
    session.commit()
    return closed


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the column holds UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def open_for_registration(event: Event, now: datetime | None = None) -> bool:
    return event.status == EventStatus.published and _aware(event.registration_deadline) > (now or utcnow())


def registration_of(
    session: Session, event_id: int, enterprise_id: int | None = None, provider_id: int | None = None
) -> EventRegistration | None:
    query = select(EventRegistration).where(EventRegistration.event_id == event_id)
    if enterprise_id is not None:
        query = query.where(EventRegistration.enterprise_id == enterprise_id)
    else:
        query = query.where(EventRegistration.provider_id == provider_id)
    return session.exec(query).first()


def registrations(session: Session, event_id: int) -> list[EventRegistration]:
    query = select(EventRegistration).where(EventRegistration.event_id == event_id)
    return list(session.exec(query.order_by(EventRegistration.id)))


def register_enterprise(
    session: Session,
    event_id: int,
    enterprise_id: int,
    actor_id: int,
    need_ids: Collection[int],
    slots: Collection[int],
    now: datetime | None = None,
) -> EventRegistration:
    """Register (or change the registration of) an enterprise with its open needs; a chain leader
    (链主企业, a large enterprise) registers the same way."""
    needs = _chosen(need_ids, "需求", "need_ids")
    found = session.exec(
        select(Need.id).where(Need.id.in_(needs), Need.enterprise_id == enterprise_id, Need.status == NeedStatus.open)
    ).all()
    if len(found) != len(needs):
        raise ServiceError("只能带本企业发布中的需求参会", field="need_ids")
    return _register(session, event_id, actor_id, slots, now, enterprise_id=enterprise_id, need_ids=needs)


def register_provider(
    session: Session,
    event_id: int,
    provider_id: int,
    actor_id: int,
    solution_ids: Collection[int],
    slots: Collection[int],
    now: datetime | None = None,
) -> EventRegistration:
    """Register (or change the registration of) a whitelisted provider with its published solutions."""
    provider = session.get(Provider, provider_id)
    if provider is None or provider.status != ProviderStatus.approved:
        raise ServiceError("仅白名单内的服务商可以报名参会")
    solutions = _chosen(solution_ids, "解决方案", "solution_ids")
    found = session.exec(
        select(Solution.id).where(
            Solution.id.in_(solutions),
            Solution.provider_id == provider_id,
            Solution.status == SolutionStatus.published,
        )
    ).all()
    if len(found) != len(solutions):
        raise ServiceError("只能带本机构已发布的解决方案参会", field="solution_ids")
    return _register(session, event_id, actor_id, slots, now, provider_id=provider_id, solution_ids=solutions)


def _chosen(ids: Collection[int], label: str, field: str) -> list[int]:
    chosen = sorted(set(ids))
    if not chosen:
        raise ServiceError(f"请至少选择一项{label}", field=field)
    if len(chosen) > MAX_ITEMS:
        raise ServiceError(f"每个参会方最多带 {MAX_ITEMS} 项{label}", field=field)
    return chosen


def check_open(event: Event, slots: Collection[int], now: datetime | None = None) -> list[int]:
    """The chosen slots, sorted, if ``event`` takes registrations and they are its slots. Called
    before anything is written (also before a need posted with the registration is published)."""
    if not open_for_registration(event, now):
        raise ServiceError("该活动当前不接受报名")
    free = sorted(set(slots))
    if not free:
        raise ServiceError("请至少选择一个可参加的时段", field="slots")
    if free[0] < 0 or free[-1] >= event.slot_count:
        raise ServiceError("所选时段不属于该活动", field="slots")
    return free


def _register(
    session: Session, event_id: int, actor_id: int, slots: Collection[int], now: datetime | None, **fields
) -> EventRegistration:
    free = check_open(get(session, event_id), slots, now)
    owner = {k: v for k, v in fields.items() if k in ("enterprise_id", "provider_id")}
    registration = registration_of(session, event_id, **owner)
    action = "event.register_update" if registration else "event.register"
    if registration is None:
        registration = EventRegistration(event_id=event_id, **owner)
    for key, value in fields.items():
        setattr(registration, key, value)
    registration.slots = free
    registration.updated_at = utcnow()
    session.add(registration)
    try:
        session.flush()
    except IntegrityError:  # a second request registered the same participant at the same moment
        session.rollback()
        raise ServiceError("报名已提交，请刷新页面查看") from None
    audit.record(session, actor_id, action, "event", event_id, "", registration=registration.id, slots=free)
    session.commit()
    return registration


@dataclass(frozen=True)
class Proposal:
    """A proposed meeting: a registered need and a registered provider's solution, as ranked."""

    need: Need
    solution: Solution
    match: RankedMatch


def proposals_for_enterprise(
    session: Session, db: Engine, index: SearchIndex, event_id: int, enterprise_id: int
) -> list[Proposal]:
    """For each need the enterprise brings, the best-fitting solutions of the registered providers,
    ranked and explained as on the need's page (exposure cap included), among those only."""
    mine = registration_of(session, event_id, enterprise_id=enterprise_id)
    offered = [i for r in registrations(session, event_id) for i in r.solution_ids]
    if mine is None or not offered:
        return []
    proposals = []
    for need in session.exec(select(Need).where(Need.id.in_(mine.need_ids)).order_by(Need.id)):
        for match in matching.rank_among(db, index, need, offered, PROPOSALS):
            proposals.append(Proposal(need, session.get(Solution, match.solution_id), match))
    return proposals


def proposals_for_provider(
    session: Session, db: Engine, index: SearchIndex, event_id: int, provider_id: int
) -> list[Proposal]:
    """The registered needs the provider's solutions fit best: each need ranked among this
    provider's registered solutions, the best ``PROPOSALS`` needs by score."""
    mine = registration_of(session, event_id, provider_id=provider_id)
    need_ids = [i for r in registrations(session, event_id) for i in r.need_ids]
    if mine is None or not need_ids:
        return []
    proposals = []
    for need in session.exec(select(Need).where(Need.id.in_(need_ids), Need.status == NeedStatus.open)):
        best = matching.rank_among(db, index, need, mine.solution_ids, 1)
        if best:
            proposals.append(Proposal(need, session.get(Solution, best[0].solution_id), best[0]))
    return sorted(proposals, key=lambda p: -p.match.score)[:PROPOSALS]


MESSAGE_LIMIT = 200
SIDES = ("enterprise", "provider")


def request_meeting(
    session: Session,
    db: Engine,
    index: SearchIndex,
    event_id: int,
    side: str,
    org_id: int,
    actor_id: int,
    need_id: int,
    solution_id: int,
    message: str,
) -> EventMeeting:
    """``side`` (the enterprise owning the need, or the provider owning the solution) asks the other
    for a meeting. Both must be registered with that need and solution; each side stays within the
    event's cap of requested and accepted meetings."""
    event = get(session, event_id)
    if event.status not in (EventStatus.published, EventStatus.closed):
        raise ServiceError("该活动当前不能预约会谈")
    message = message.strip()
    if len(message) > MESSAGE_LIMIT:
        raise ServiceError(f"留言不能超过 {MESSAGE_LIMIT} 个字", field="message")
    need, solution = session.get(Need, need_id), session.get(Solution, solution_id)
    if need is None or solution is None:
        raise ServiceError("需求或方案不存在")
    ent_reg = registration_of(session, event_id, enterprise_id=need.enterprise_id)
    prov_reg = registration_of(session, event_id, provider_id=solution.provider_id)
    own = need.enterprise_id if side == "enterprise" else solution.provider_id
    if own != org_id:
        raise ServiceError("需求或方案不存在")
    if (
        ent_reg is None
        or need.id not in ent_reg.need_ids
        or prov_reg is None
        or solution.id not in prov_reg.solution_ids
    ):
        raise ServiceError("双方都需报名本场活动，且带上这项需求与方案")
    for column, owner in (
        (EventMeeting.enterprise_id, need.enterprise_id),
        (EventMeeting.provider_id, solution.provider_id),
    ):
        if _active_meetings(session, event_id, column, owner) >= event.meeting_cap:
            who = "您" if owner == org_id else "对方"
            raise ServiceError(f"{who}的会谈已达本场上限（{event.meeting_cap} 场）")
    ranked = matching.rank_among(db, index, need, [solution.id], 1)
    meeting = EventMeeting(
        event_id=event_id,
        need_id=need.id,
        solution_id=solution.id,
        enterprise_id=need.enterprise_id,
        provider_id=solution.provider_id,
        requested_by=side,
        message=message,
        score=ranked[0].score if ranked else 0.0,
    )
    session.add(meeting)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ServiceError("这项需求与方案已有会谈请求") from None
    other = _user_of(session, "provider" if side == "enterprise" else "enterprise", meeting)
    if other is not None:
        notify(session, other, "event", f"{event.title}：收到一对一会谈请求", message, f"/events/{event_id}")
    audit.record(session, actor_id, "event.meeting_request", "eventmeeting", meeting.id, message)
    session.commit()
    return meeting


def respond_meeting(
    session: Session, meeting_id: int, side: str, org_id: int, actor_id: int, accept: bool
) -> EventMeeting:
    """The side that was asked accepts (within its cap) or declines a requested meeting."""
    meeting = addressed_meeting(session, meeting_id, side, org_id)
    event = get(session, meeting.event_id)
    if accept:
        column = EventMeeting.enterprise_id if side == "enterprise" else EventMeeting.provider_id
        accepted = session.exec(
            select(func.count())
            .select_from(EventMeeting)
            .where(EventMeeting.event_id == event.id, column == org_id, EventMeeting.status == MeetingStatus.accepted)
        ).one()
        if accepted >= event.meeting_cap:
            raise ServiceError(f"您已接受 {event.meeting_cap} 场会谈，达到本场上限")
    target = MeetingStatus.accepted if accept else MeetingStatus.declined
    moved = session.exec(
        update(EventMeeting)
        .where(EventMeeting.id == meeting.id, EventMeeting.status == MeetingStatus.requested)
        .values(status=target, decided_at=utcnow())
    )
    if moved.rowcount != 1:
        session.rollback()
        raise ServiceError("该会谈请求已答复")
    requester = _user_of(session, meeting.requested_by, meeting)
    if requester is not None:
        verdict = "已接受" if accept else "已婉拒"
        notify(session, requester, "event", f"{event.title}：对方{verdict}您的会谈请求", "", f"/events/{event.id}")
    audit.record(session, actor_id, f"event.meeting_{target}", "eventmeeting", meeting.id)
    session.commit()
    session.refresh(meeting)
    return meeting


def addressed_meeting(session: Session, meeting_id: int, side: str, org_id: int) -> EventMeeting:
    """The meeting if ``side``/``org_id`` is the party it asks; the same error otherwise."""
    meeting = session.get(EventMeeting, meeting_id)
    asked = (
        None
        if meeting is None
        else meeting.provider_id
        if meeting.requested_by == "enterprise"
        else meeting.enterprise_id
    )
    if meeting is None or meeting.requested_by == side or asked != org_id:
        raise ServiceError("会谈请求不存在")
    return meeting


def meetings_of(session: Session, event_id: int, side: str, org_id: int) -> list[EventMeeting]:
    column = EventMeeting.enterprise_id if side == "enterprise" else EventMeeting.provider_id
    query = select(EventMeeting).where(EventMeeting.event_id == event_id, column == org_id)
    return list(session.exec(query.order_by(EventMeeting.id)))


def _active_meetings(session: Session, event_id: int, column, owner: int) -> int:
    active = (MeetingStatus.requested, MeetingStatus.accepted)
    return session.exec(
        select(func.count())
        .select_from(EventMeeting)
        .where(EventMeeting.event_id == event_id, column == owner, EventMeeting.status.in_(active))
    ).one()


def _user_of(session: Session, side: str, meeting: EventMeeting) -> int | None:
    org = (
        session.get(Enterprise, meeting.enterprise_id)
        if side == "enterprise"
        else session.get(Provider, meeting.provider_id)
    )
    return org.user_id if org else None


@dataclass(frozen=True)
class ScheduleReport:
    placed: int
    unplaced: dict[int, str]  # meeting id -> reason
    moved: int


def schedule(
    session: Session, event_id: int, actor_id: int, time_limit: float = event_schedule.DEFAULT_TIME_LIMIT
) -> ScheduleReport:
    """Give every accepted meeting of the event a slot and a table (see `event_schedule`), keeping
    the slots of the last schedule where possible. Registration must be closed."""
    event = get(session, event_id)
    if event.status != EventStatus.closed:
        raise ServiceError("请先截止报名，再排定会谈日程")
    meetings = list(
        session.exec(
            select(EventMeeting).where(EventMeeting.event_id == event_id, EventMeeting.status == MeetingStatus.accepted)
        )
    )
    availability: dict[int, list[int]] = {}
    for r in registrations(session, event_id):
        key = (
            _participant("enterprise", r.enterprise_id) if r.enterprise_id else _participant("provider", r.provider_id)
        )
        availability[key] = r.slots
    problem = event_schedule.Problem(
        slots=event.slot_count,
        tables=event.tables,
        meetings=[
            event_schedule.MeetingSpec(
                m.id, _participant("enterprise", m.enterprise_id), _participant("provider", m.provider_id), m.score
            )
            for m in meetings
        ],
        availability=availability,
        previous={
            m.id: event_schedule.Placement(m.slot, m.table_no - 1)
            for m in meetings
            if m.slot is not None and m.table_no is not None
        },
    )
    result = event_schedule.solve(problem, time_limit=time_limit)
    for m in meetings:
        placed = result.placements.get(m.id)
        m.slot = placed.slot if placed else None
        m.table_no = placed.table + 1 if placed else None
        m.unplaced_reason = result.unplaced.get(m.id, "")
        session.add(m)
    audit.record(
        session,
        actor_id,
        "event.schedule",
        "event",
        event_id,
        "",
        placed=len(result.placements),
        unplaced=len(result.unplaced),
        moved=result.moved,
    )
    session.commit()
    return ScheduleReport(len(result.placements), result.unplaced, result.moved)


def _participant(side: str, org_id: int) -> int:
    """One id space for the scheduler: enterprises even, providers odd."""
    return 2 * org_id + (side == "provider")


@dataclass(frozen=True)
class AgendaItem:
    start: datetime  # Beijing time
    end: datetime
    table_no: int
    meeting: EventMeeting
    other: str  # the other side's name
    need_title: str
    solution_title: str


def own_registration(session: Session, registration_id: int, side: str, org_id: int) -> EventRegistration:
    """The registration if it is ``side``/``org_id``'s; the same error otherwise."""
    registration = session.get(EventRegistration, registration_id)
    owner = None
    if registration is not None:
        owner = registration.enterprise_id if side == "enterprise" else registration.provider_id
    if owner is None or owner != org_id:
        raise ServiceError("报名记录不存在")
    return registration


def agenda(session: Session, registration: EventRegistration) -> list[AgendaItem]:
    """The participant's scheduled meetings in time order."""
    event = get(session, registration.event_id)
    side = "enterprise" if registration.enterprise_id else "provider"
    org_id = registration.enterprise_id or registration.provider_id
    times = event.slot_times()
    items = []
    for m in meetings_of(session, event.id, side, org_id):
        if m.status != MeetingStatus.accepted or m.slot is None or m.table_no is None:
            continue
        other = (
            session.get(Provider, m.provider_id) if side == "enterprise" else session.get(Enterprise, m.enterprise_id)
        )
        start, end = times[m.slot]
        items.append(
            AgendaItem(
                start.replace(tzinfo=BEIJING),
                end.replace(tzinfo=BEIJING),
                m.table_no,
                m,
                other.name,
                session.get(Need, m.need_id).title,
                session.get(Solution, m.solution_id).title,
            )
        )
    return sorted(items, key=lambda item: item.start)


def agenda_ics(event: Event, items: list[AgendaItem]) -> bytes:
    """The agenda as an iCalendar file (RFC 5545), times in UTC so every calendar app reads them alike."""
    calendar = Calendar()
    calendar.add("prodid", "-//坪山区数字服务供需对接平台//链上坪山//ZH")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", event.title)
    for item in items:
        entry = CalendarEvent()
        entry.add("uid", f"event{event.id}-meeting{item.meeting.id}@pingshan-matchmaker")
        entry.add("dtstamp", utcnow())
        entry.add("dtstart", item.start.astimezone(UTC))
        entry.add("dtend", item.end.astimezone(UTC))
        entry.add("summary", f"一对一洽谈：{item.other}")
        entry.add("location", f"{event.venue} {item.table_no} 号桌")
        entry.add("description", f"需求：{item.need_title}\n方案：{item.solution_title}")
        calendar.add_component(entry)
    return calendar.to_ical()
