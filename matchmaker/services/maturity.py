"""Where the district's manufacturers stand in 智能制造能力成熟度 and 智能工厂 tier, and how that moved:
the figures of the dashboard's maturity section (the plan counts its progress in these levels)."""

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from matchmaker.services.stats import LOCAL_OFFSET, MonthlyCounts, Period
from models import Enterprise, MaturityChange, Need, NeedStatus

LevelTier = tuple[int, str]  # (maturity level 0-5, 智能工厂 tier code or "")


@dataclass(frozen=True)
class Standing:
    """Counts per (level, tier): enterprises, and open needs by their enterprise's current standing."""

    enterprises: Counter[LevelTier]
    open_needs: Counter[LevelTier]


def standing(session: Session) -> Standing:
    enterprises = session.exec(
        select(Enterprise.maturity_level, Enterprise.factory_tier, func.count()).group_by(
            Enterprise.maturity_level, Enterprise.factory_tier
        )
    )
    needs = session.exec(
        select(Enterprise.maturity_level, Enterprise.factory_tier, func.count())
        .join(Need, col(Need.enterprise_id) == Enterprise.id)
        .where(Need.status == NeedStatus.open)
        .group_by(Enterprise.maturity_level, Enterprise.factory_tier)
    )
    return Standing(
        Counter({(level, tier): n for level, tier, n in enterprises}),
        Counter({(level, tier): n for level, tier, n in needs}),
    )


def levels_over_time(session: Session, period: Period) -> tuple[MonthlyCounts, list[int]]:
    """Per level (as "1".."5"), how many enterprises stood at it at the end of each month of the period,
    from the history rows; and per month how many moved up a level. An enterprise counts from its first
    stated level on; one never stated is not counted."""
    rows = session.exec(
        select(
            MaturityChange.enterprise_id, MaturityChange.from_level, MaturityChange.to_level, MaturityChange.created_at
        )
        .where(col(MaturityChange.created_at) < period.utc_end)
        .order_by(col(MaturityChange.created_at), col(MaturityChange.id))
    ).all()
    months = period.months
    current: dict[int, int] = {}
    counts = {str(level): [0] * len(months) for level in range(1, 6)}
    upgrades = [0] * len(months)
    position = 0
    for index, month in enumerate(months):
        while position < len(rows):
            enterprise_id, before, after, at = rows[position]
            changed_in = (at + LOCAL_OFFSET).strftime("%Y-%m")
            if changed_in > month:
                break
            current[enterprise_id] = after
            if changed_in == month and 0 < before < after:
                upgrades[index] += 1
            position += 1
        for level in current.values():
            if level:
                counts[str(level)][index] += 1
    return MonthlyCounts(months, {key: values for key, values in counts.items() if any(values)}), upgrades
