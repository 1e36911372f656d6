"""Matchmaking events (链上坪山 供需对接会): the admin creates an event, publishes it (registration
opens) and closes registration, by hand or when the deadline passes. Every change is audited.

State changes are conditional UPDATEs on the status the change starts from, so two admins (or an
admin and the deadline sweep) racing on one event change it once; the loser gets a Chinese message.
"""

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import update
from sqlmodel import Session, select

from matchmaker.services import audit, taxonomy
from matchmaker.services.errors import ServiceError
from models import Event, EventStatus, EventWrite, utcnow

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
    audit.record(session, actor_id, "event.publish", "event", event.id, reason)
    session.commit()
    session.refresh(event)
    return event


def close_registration(session: Session, event_id: int, actor_id: int, reason: str) -> Event:
    event = get(session, event_id)
    if not reason.strip():
        raise ServiceError("请填写截止报名的理由", field="reason")
    if event.status != EventStatus.published or not _move(session, event, EventStatus.published, EventStatus.closed):
        session.rollback()
        raise ServiceError("只有报名中的活动可以截止报名")
    audit.record(session, actor_id, "event.close", "event", event.id, reason)
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
