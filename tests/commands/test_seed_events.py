"""The demo's events: an upcoming event open for registration, added once however often seeding runs."""

from datetime import UTC, date, datetime

from sqlmodel import select

from matchmaker.commands.seed import SeedReport
from matchmaker.commands.seed_events import load_events
from matchmaker.services import accounts
from models import Event, EventStatus
from models.schemas import AccountCreate
from tests.conftest import PASSWORD


def test_the_upcoming_event_is_open_for_registration_and_seeded_once(db):
    admin = accounts.create_admin(db, AccountCreate(email="seed@example.com", password=PASSWORD, display_name="管理员"))
    first, second = SeedReport(), SeedReport()
    load_events(db, admin, first)
    db.commit()
    load_events(db, admin, second)
    db.commit()
    assert first.created == {"event": 1} and second.created == {}
    event = db.exec(select(Event)).one()
    assert event.status == EventStatus.published
    assert event.event_date > date.today()
    deadline = event.registration_deadline.replace(tzinfo=event.registration_deadline.tzinfo or UTC)
    assert datetime.now(UTC) < deadline
