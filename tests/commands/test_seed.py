"""The demo data: loads completely, covers what the demo needs, and loads twice without duplicates
(one test: hashing the demo accounts' passwords makes a load take seconds)."""

from collections import Counter

from sqlalchemy import func
from sqlmodel import select

from matchmaker.commands.seed import load_demo
from models import Enterprise, Need, Provider, ProviderStatus, Solution, SuccessCase, User, WhitelistEvent


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
