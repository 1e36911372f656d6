"""The demo's funding data: enterprises at several maturity levels with their history and tiers, bands on
solutions; loading again adds nothing."""

from collections import Counter

from sqlalchemy import func
from sqlmodel import select

from matchmaker.commands import seed_funding
from matchmaker.commands.seed import load_demo
from models import Enterprise, MaturityChange, Solution, SuccessCase
from models.schemas import EnterpriseProfile


def test_the_demo_has_enterprises_at_several_levels_with_history_and_loads_once(db):
    load_demo(db)
    enterprises = db.exec(select(Enterprise)).all()
    levels = Counter(e.maturity_level for e in enterprises)
    assert {1, 2, 3, 4} <= set(levels) and levels[0] >= 1
    assert {e.factory_tier for e in enterprises} >= {"", "basic", "advanced"}
    for enterprise in enterprises:  # every seeded standing is one the profile form accepts
        EnterpriseProfile.model_validate(enterprise.model_dump())
    history = db.exec(select(MaturityChange)).all()
    assert {h.enterprise_id for h in history} == {e.id for e in enterprises if e.maturity_level}
    assert any(0 < h.from_level < h.to_level for h in history)  # some moved up a level
    bands = Counter(db.exec(select(Solution.maturity_band)))
    assert bands["1-2"] and bands["3-5"] and bands[""]
    scenarios = [c.ai_scenarios for c in db.exec(select(SuccessCase))]
    assert any("视觉质检" in s for s in scenarios) and [] in scenarios

    seed_funding.load(db)
    db.commit()
    assert db.exec(select(func.count()).select_from(MaturityChange)).one() == len(history)
