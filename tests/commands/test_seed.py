"""The demo data: loads completely, covers what the demo needs, and loads twice without duplicates
(one test: hashing the demo accounts' passwords makes a load take seconds)."""

from collections import Counter
from datetime import date, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from matchmaker.commands.seed import load_demo
from matchmaker.commands.seed_activity import last_quarter, load_activity
from matchmaker.commands.seed_events import PAST_TITLE
from matchmaker.services import event_report, stats
from matchmaker.services.push import PushCaps
from models import (
    Appeal,
    AppealStatus,
    Docking,
    DockingEvent,
    DockingStatus,
    Enterprise,
    Event,
    MatchFeedback,
    MatchResult,
    Need,
    Notification,
    Provider,
    ProviderRating,
    ProviderStatus,
    PushRecord,
    Solution,
    SuccessCase,
    User,
    WhitelistEvent,
)


def counts(db) -> dict[str, int]:
    tables = (User, Provider, SuccessCase, WhitelistEvent, Solution, Enterprise, Need)
    return {t.__name__: db.exec(select(func.count()).select_from(t)).one() for t in tables}


def test_demo_data_loads_twice_without_duplicates(db):
    first = load_demo(db)
    after_first = counts(db)
    second = load_demo(db)
    assert second.created == {}
    assert counts(db) == after_first
    assert first.created["providers"] == after_first["Provider"] >= 31
    assert after_first["Solution"] >= 120 and after_first["Enterprise"] >= 60

    # every view has something to show
    statuses = Counter(db.exec(select(Provider.status)))
    assert statuses[ProviderStatus.approved] > sum(statuses.values()) / 2 and statuses[ProviderStatus.suspended] >= 1
    assert statuses[ProviderStatus.applied] >= 1
    assert set(db.exec(select(Enterprise.size_class))) == {"micro", "small", "medium", "large"}
    domains = {domain for row in db.exec(select(Provider.domains)) for domain in row}
    assert len(domains) == 6
    industries = set(db.exec(select(Enterprise.industry)))
    plan = {"furniture", "watch", "leather", "auto_parts", "ic", "biopharma", "smart_terminal", "new_energy"}
    assert plan <= industries


def test_the_demo_district_has_half_a_year_of_activity_and_loads_twice(db, db_engine, index, app):
    """The activity seed goes through the services: every need ranked and pushed, dockings in every
    state with their timelines, feedback, a warning, an appeal, listings about to expire; and the
    dashboard's figures computed from those rows are not zero. A second load adds nothing."""
    load_demo(db)
    caps = PushCaps.from_config(app.config)
    first = load_activity(db, db_engine, index, caps)
    tables = (MatchResult, PushRecord, Docking, DockingEvent, MatchFeedback, Appeal, Notification, ProviderRating)
    after = {t.__name__: db.exec(select(func.count()).select_from(t)).one() for t in tables}
    assert load_activity(db, db_engine, index, caps).created == {}
    assert {t.__name__: db.exec(select(func.count()).select_from(t)).one() for t in tables} == after
    assert first.created["rankings"] == db.exec(select(func.count()).select_from(Need)).one()
    assert first.created["pushes"] == after["PushRecord"] > 0

    assert set(db.exec(select(Docking.status))) == set(DockingStatus)
    for docking in db.exec(select(Docking)):
        timeline = db.exec(
            select(DockingEvent.to_status, DockingEvent.created_at)
            .where(DockingEvent.docking_id == docking.id)
            .order_by(col(DockingEvent.id))
        ).all()
        assert timeline[0][0] == DockingStatus.requested and timeline[-1][0] == docking.status
        assert [when for _, when in timeline] == sorted(when for _, when in timeline)  # back-dated in order
        assert docking.created_at >= db.get(Need, docking.need_id).created_at
    assert set(db.exec(select(MatchFeedback.verdict))) == {"useful", "irrelevant"}

    today = date.today()
    assert db.exec(select(Provider).where(col(Provider.rectify_by).is_not(None))).all()
    assert db.exec(select(Appeal).where(Appeal.status == AppealStatus.pending)).all()
    expiring = db.exec(
        select(Provider).where(
            Provider.status == ProviderStatus.approved, col(Provider.approved_until) <= today + timedelta(days=30)
        )
    ).all()
    assert len(expiring) == 2

    period = stats.Period.months_ending(today)
    good = float(app.config["MATCHMAKER_BAND_GOOD"])  # the dashboard's good match (web/admin/dashboard.py)
    coverage = stats.match_coverage(db, period, good)
    assert coverage.unranked == 0 and coverage.covered > 0 and coverage.unmet > 0
    assert stats.unmet_demand(db, period, good)
    assert all(count > 0 for _, count in stats.docking_funnel(db, period))
    assert stats.contract_value(db, period).amount > 0
    assert stats.satisfaction(db, period).count > 0

    # the past event: check-ins, held meetings, a no-show, outcomes and the dockings that followed
    past = db.exec(select(Event).where(Event.title == PAST_TITLE)).one()
    assert past.event_date < today and past.status == "closed"
    figures = event_report.figures(db, past.id)
    assert (figures.requested, figures.held, figures.no_shows, figures.interested) == (6, 5, 1, 4)
    assert (figures.dockings, figures.contracts) == (3, 1) and figures.amount == 42
    assert figures.checked_in == figures.enterprises + figures.providers - 1
    assert first.created["event"] == 1
    upcoming = db.exec(select(Event).where(Event.status == "published")).one()
    assert upcoming.event_date > today
    # one past quarter's ratings, published, from the seeded dockings
    quarter = last_quarter(today)
    rated = db.exec(select(ProviderRating).where(ProviderRating.period == quarter)).all()
    assert rated and {r.status for r in rated} == {"published"} and first.created["ratings"] == 1
    assert {r.provider_id for r in rated} >= {p.id for p in db.exec(select(Provider)) if p.status == "approved"}


def test_the_demo_rates_the_quarter_before_today():
    assert last_quarter(date(2026, 12, 4)) == "2026Q3"
    assert last_quarter(date(2027, 1, 1)) == "2026Q4"
    assert last_quarter(date(2027, 4, 1)) == "2027Q1"
