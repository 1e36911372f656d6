"""The demo's matchmaking events: one upcoming event open for registration (`load_events`, inside the
demo seed's transaction), and one held six weeks ago with its check-ins, held meetings, a no-show,
outcomes and the dockings that followed (`past_event`, an activity step: it needs the rankings).

Each is added only when an event of its title is missing, so seeding twice adds nothing.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import Session, col, select

from matchmaker.services import dockings, matching
from matchmaker.services.dockings import MoveDetails, Party
from matchmaker.services.events import BEIJING, as_utc
from models import (
    Attendance,
    Docking,
    DockingStatus,
    Enterprise,
    Event,
    EventMeeting,
    EventRegistration,
    EventStatus,
    MeetingStatus,
    Need,
    NeedStatus,
    Notification,
    Outcome,
    Provider,
    ProviderStatus,
    User,
)

if TYPE_CHECKING:
    from matchmaker.commands.seed_activity import Activity

UPCOMING_TITLE = "链上坪山·家具与智能制造数字化专场供需对接会"
PAST_TITLE = "链上坪山·电子信息与新能源汽车零部件专场供需对接会"
PAST_MEETINGS = 6
# per meeting, in slot order: (enterprise checked in, attendance, enterprise's outcome, provider's outcome,
# the docking's moves after the request: (target, party, days after the event, details))
PAST_STORIES = (
    (
        True,
        Attendance.held,
        Outcome.interested,
        Outcome.interested,
        (
            (DockingStatus.accepted, Party.provider, 2, MoveDetails()),
            (DockingStatus.negotiating, Party.enterprise, 6, MoveDetails(note="到厂调研后确定一期范围")),
            (DockingStatus.contracted, Party.enterprise, 20, MoveDetails(amount="42")),
        ),
    ),
    (
        True,
        Attendance.held,
        Outcome.interested,
        Outcome.interested,
        ((DockingStatus.accepted, Party.provider, 1, MoveDetails()),),
    ),
    (True, Attendance.held, Outcome.interested, Outcome.none, ()),
    (True, Attendance.held, Outcome.none, Outcome.none, None),
    (True, Attendance.held, Outcome.none, Outcome.interested, None),
    (False, Attendance.no_show, "", "", None),
)


def load_events(session: Session, admin: User, report, today: date | None = None) -> None:
    """Add the upcoming event (four weeks from ``today``, registration open for three)."""
    if session.exec(select(Event.id).where(Event.title == UPCOMING_TITLE)).first() is not None:
        return
    day = (today or date.today()) + timedelta(days=28)
    session.add(
        Event(
            title=UPCOMING_TITLE,
            industries=["furniture"],
            domains=["data_collection", "software"],
            event_date=day,
            venue="坪山区会展中心三楼多功能厅",
            start_time=time(14, 0),
            slot_minutes=20,
            slot_count=9,
            tables=15,
            registration_deadline=as_utc(datetime.combine(day - timedelta(days=7), time(18, 0))),
            meeting_cap=5,
            status=EventStatus.published,
            created_by=admin.id,
        )
    )
    report.count("event")


def _past_pairs(session: Session, posted_before: datetime) -> list[tuple[Need, int, int]]:
    """(need, solution id, provider id) of open needs posted before ``posted_before`` and their best-ranked
    listed solution with no docking between them yet: one per need, at most two per provider, each
    enterprise once."""
    pairs, per_provider, enterprises = [], {}, set()
    for need in session.exec(select(Need).where(Need.status == NeedStatus.open).order_by(col(Need.id))):
        if _utc(need.created_at) >= posted_before:
            continue
        if need.enterprise_id in enterprises:
            continue
        taken = set(session.exec(select(Docking.provider_id).where(Docking.need_id == need.id)))
        if len(taken) >= 3:
            continue
        for shown in matching.stored_matches(session, need.id)[:5]:
            provider = shown.provider
            if provider.status != ProviderStatus.approved or provider.id in taken:
                continue
            if per_provider.get(provider.id, 0) >= 2:
                continue
            pairs.append((need, shown.solution.id, provider.id))
            per_provider[provider.id] = per_provider.get(provider.id, 0) + 1
            enterprises.add(need.enterprise_id)
            break
        if len(pairs) == PAST_MEETINGS:
            break
    return pairs


def past_event(act: "Activity") -> None:
    """An event held six weeks before ``act.now``: registrations checked in at the door (one enterprise
    did not come), meetings held or missed, both sides' outcomes, and the dockings that followed
    through the docking service (one already signed)."""
    session = act.session
    if session.exec(select(Event.id).where(Event.title == PAST_TITLE)).first() is not None:
        return
    day = (_utc(act.now).astimezone(BEIJING) - timedelta(days=42)).date()
    start = datetime.combine(day, time(14, 0), tzinfo=BEIJING)
    pairs = _past_pairs(session, start - timedelta(days=10))
    if len(pairs) < PAST_MEETINGS:
        return  # the demo data changed: no story to tell
    event = Event(
        title=PAST_TITLE,
        industries=[],
        domains=["software", "data_collection"],
        event_date=day,
        venue="坪山区创新广场二楼路演厅",
        start_time=time(14, 0),
        slot_minutes=20,
        slot_count=PAST_MEETINGS,
        tables=6,
        registration_deadline=as_utc(datetime.combine(day - timedelta(days=5), time(18, 0))),
        meeting_cap=3,
        status=EventStatus.closed,
        created_by=act.admin.id,
        created_at=start - timedelta(days=30),
    )
    session.add(event)
    session.flush()
    registrations: dict[tuple[str, int], EventRegistration] = {}
    for (need, solution_id, provider_id), story in zip(pairs, PAST_STORIES, strict=True):
        came = story[0]
        for key, fields in (
            (("enterprise", need.enterprise_id), {"enterprise_id": need.enterprise_id}),
            (("provider", provider_id), {"provider_id": provider_id}),
        ):
            registration = registrations.get(key)
            if registration is None:
                registration = EventRegistration(event_id=event.id, slots=list(range(PAST_MEETINGS)), **fields)
                registration.created_at = registration.updated_at = start - timedelta(days=10)
                registrations[key] = registration
            if key[0] == "enterprise":
                registration.need_ids = [*registration.need_ids, need.id]
                if came:
                    registration.checked_in_at = start - timedelta(minutes=15)
            else:
                registration.solution_ids = sorted({*registration.solution_ids, solution_id})
                registration.checked_in_at = start - timedelta(minutes=20)
    session.add_all(registrations.values())
    meetings = []
    for slot, ((need, solution_id, provider_id), story) in enumerate(zip(pairs, PAST_STORIES, strict=True)):
        _, attendance, ours, theirs, _ = story
        meeting = EventMeeting(
            event_id=event.id,
            need_id=need.id,
            solution_id=solution_id,
            enterprise_id=need.enterprise_id,
            provider_id=provider_id,
            requested_by="enterprise" if slot % 2 == 0 else "provider",
            message="希望现场演示一下",
            score=0.7,
            status=MeetingStatus.accepted,
            slot=slot,
            table_no=slot % 3 + 1,
            attendance=attendance,
            enterprise_outcome=ours,
            provider_outcome=theirs,
            created_at=start - timedelta(days=8),
            decided_at=start - timedelta(days=7),
        )
        meetings.append(meeting)
    session.add_all(meetings)
    session.commit()
    act.report.count("event")
    for meeting, story in zip(meetings, PAST_STORIES, strict=True):
        moves = story[4]
        if moves is None:
            continue
        enterprise = session.get(Enterprise, meeting.enterprise_id)
        when = start + timedelta(days=1)
        docking = dockings.request_docking(
            session,
            enterprise.id,
            enterprise.user_id,
            meeting.need_id,
            meeting.solution_id,
            f"来自活动“{PAST_TITLE}”的一对一会谈",
            5,
            when,
            origin_event_id=event.id,
        )
        act.report.count("dockings")
        for target, party, days, details in moves:
            when = start + timedelta(days=days)
            if target == DockingStatus.contracted:
                details = MoveDetails(amount=details.amount, contract_date=(when + dockings.LOCAL_OFFSET).date())
            if party == Party.enterprise:
                org, user = enterprise.id, enterprise.user_id
            else:
                org, user = docking.provider_id, session.get(Provider, docking.provider_id).user_id
            dockings.move(session, docking.id, party, org, user, target, details, when)
        session.exec(
            update(Notification).where(col(Notification.link) == dockings.link(docking.id)).values(created_at=when)
        )
        session.commit()


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the columns hold UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
