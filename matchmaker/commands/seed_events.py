"""The demo's matchmaking events: one upcoming event open for registration.

Written inside the seed's transaction (no service commits), and only when an event of the same
title is missing, so seeding twice adds nothing. Registrations, meetings and outcomes of a past
event come with the later parts of issue #17.
"""

from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from matchmaker.services.events import as_utc
from models import Event, EventStatus, User

UPCOMING_TITLE = "链上坪山·家具与智能制造数字化专场供需对接会"


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
