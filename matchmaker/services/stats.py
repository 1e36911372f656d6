"""Figures for the docking service centre's dashboard (数据看板), computed by SQL over a Session.

Every function is a pure read of the database for a `Period` of whole months in Beijing time, so the
same call gives the same figures in a test, a page or a report, on SQLite and on PostgreSQL. Dates are
stored in UTC; a month is bucketed in Beijing time (UTC+8, no daylight saving) because the district
reports by its own calendar.

Match figures read the stored ranking snapshots (MatchResult) and count only solutions that are still
matchable (published, provider approved): what an enterprise would see if it opened its need now.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, exists, func, or_, true
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col, select

from models import (
    Docking,
    DockingEvent,
    DockingStatus,
    Industry,
    MatchResult,
    Need,
    NeedStatus,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
)

LOCAL_OFFSET = timedelta(hours=8)  # 北京时间

COVERAGE_MIN_GOOD = 3  # a need is covered with at least this many good matches
NO_DOMAIN = ""  # the gap bucket of needs that name no domain

# Docking funnel: a docking has reached a stage when its status, or any status its timeline passed
# through, is that stage or a later one on the way to acceptance.
FUNNEL = (
    (DockingStatus.requested, (DockingStatus.requested,)),
    (DockingStatus.accepted, (DockingStatus.accepted, DockingStatus.negotiating)),
    (DockingStatus.contracted, (DockingStatus.contracted,)),
    (DockingStatus.completed, (DockingStatus.completed,)),
)
_CONTRACT_STATUSES = (DockingStatus.contracted, DockingStatus.completed)


@dataclass(frozen=True)
class Period:
    """Whole months in Beijing time: from the first day of `start`'s month up to, not including, `end`."""

    start: date
    end: date

    @classmethod
    def months_ending(cls, today: date, months: int = 12) -> "Period":
        """The `months` calendar months ending with the month of `today`."""
        end = _add_months(today.replace(day=1), 1)
        return cls(_add_months(end, -months), end)

    @classmethod
    def of_months(cls, first: str, last: str) -> "Period":
        """From month `first` to month `last` inclusive, both written YYYY-MM."""
        start = date.fromisoformat(f"{first}-01")
        return cls(start, _add_months(date.fromisoformat(f"{last}-01"), 1))

    @property
    def months(self) -> list[str]:
        """The months covered, as YYYY-MM, oldest first."""
        out, month = [], self.start
        while month < self.end:
            out.append(month.strftime("%Y-%m"))
            month = _add_months(month, 1)
        return out

    @property
    def first_month(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def last_month(self) -> str:
        return _add_months(self.end, -1).strftime("%Y-%m")

    @property
    def utc_start(self) -> datetime:
        """The period's first instant, in UTC."""
        return datetime.combine(self.start, time(), UTC) - LOCAL_OFFSET

    @property
    def utc_end(self) -> datetime:
        return datetime.combine(self.end, time(), UTC) - LOCAL_OFFSET

    def holds(self, column) -> ColumnElement[bool]:
        """SQL: the timestamp `column` lies in the period."""
        return and_(column >= self.utc_start, column < self.utc_end)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def local_month(session: Session, column) -> ColumnElement[str]:
    """SQL: the Beijing-time month (YYYY-MM) of a UTC timestamp column."""
    if _dialect(session) == "postgresql":
        return func.to_char(column + LOCAL_OFFSET, "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def json_values(session: Session, column):
    """A table-valued SQL function yielding each element of a JSON list column as `.c.value`, to join
    against the row holding the list (json_each on SQLite, json_array_elements_text on PostgreSQL)."""
    if _dialect(session) == "postgresql":
        return func.json_array_elements_text(column).table_valued("value")
    return func.json_each(column).table_valued("value")


# --- needs over time ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthlyCounts:
    """Counts per key and month: rows[key][i] is the count for months[i]; keys by total, largest first."""

    months: list[str]
    rows: dict[str, list[int]]

    def total(self, key: str) -> int:
        return sum(self.rows.get(key, ()))

    @property
    def per_month(self) -> list[int]:
        return [sum(values) for values in zip(*self.rows.values(), strict=True)] if self.rows else []


def _monthly(period: Period, counted: Iterable[tuple[str, str, int]]) -> MonthlyCounts:
    index = {month: i for i, month in enumerate(period.months)}
    rows: dict[str, list[int]] = {}
    for key, month, count in counted:
        if month in index:
            rows.setdefault(key, [0] * len(index))[index[month]] += count
    ordered = sorted(rows, key=lambda key: (-sum(rows[key]), key))
    return MonthlyCounts(period.months, {key: rows[key] for key in ordered})


def industry_groups(session: Session) -> dict[str, str]:
    """Industry code -> the code needs are reported under: a GB/T division that exactly one plan
    cluster maps onto is reported as that cluster (C21 家具制造业 -> 家具), everything else as itself."""
    industries = list(session.exec(select(Industry)))
    clusters_of: dict[str, list[str]] = {}
    for industry in industries:
        if industry.kind == "cluster":
            for division in industry.gbt:
                clusters_of.setdefault(division, []).append(industry.code)
    groups = {}
    for industry in industries:
        clusters = clusters_of.get(industry.code, [])
        groups[industry.code] = clusters[0] if industry.kind == "division" and len(clusters) == 1 else industry.code
    return groups


def needs_by_industry(session: Session, period: Period) -> MonthlyCounts:
    month = local_month(session, Need.created_at)
    rows = session.exec(
        select(Need.industry, month, func.count()).where(period.holds(Need.created_at)).group_by(Need.industry, month)
    )
    groups = industry_groups(session)
    return _monthly(period, ((groups.get(code, code), m, n) for code, m, n in rows))


def needs_by_size(session: Session, period: Period) -> MonthlyCounts:
    month = local_month(session, Need.created_at)
    rows = session.exec(
        select(Need.size_class, month, func.count())
        .where(period.holds(Need.created_at))
        .group_by(Need.size_class, month)
    )
    return _monthly(period, rows)


def needs_by_domain(session: Session, period: Period) -> MonthlyCounts:
    """A need naming two domains counts once in each, so the rows may add up to more than the needs."""
    month = local_month(session, Need.created_at)
    domain = json_values(session, Need.domains)
    rows = session.exec(
        select(domain.c.value, month, func.count())
        .select_from(Need)
        .join(domain, true())
        .where(period.holds(Need.created_at))
        .group_by(domain.c.value, month)
    )
    return _monthly(period, rows)


def need_count(session: Session, period: Period, status: NeedStatus | None = None) -> int:
    query = select(func.count()).select_from(Need).where(period.holds(Need.created_at))
    if status is not None:
        query = query.where(Need.status == status)
    return session.exec(query).one()


# --- match coverage and unmet demand --------------------------------------------------------------


def _good_counts(threshold: float):
    """Subquery (need_id, good): matchable stored matches scoring >= threshold, per need."""
    return (
        select(MatchResult.need_id, func.count().label("good"))
        .join(Solution, col(Solution.id) == MatchResult.solution_id)
        .join(Provider, col(Provider.id) == Solution.provider_id)
        .where(
            MatchResult.score >= threshold,
            Solution.status == SolutionStatus.published,
            Provider.status == ProviderStatus.approved,
        )
        .group_by(MatchResult.need_id)
        .subquery()
    )


def _has_snapshot():
    return exists().where(MatchResult.need_id == Need.id)


@dataclass(frozen=True)
class Coverage:
    threshold: float
    open_needs: int  # open needs posted in the period
    unranked: int  # of those, never ranked (no stored snapshot): neither covered nor a gap yet
    covered: int  # with at least COVERAGE_MIN_GOOD good matches
    unmet: int  # ranked, and not one good match

    @property
    def ranked(self) -> int:
        return self.open_needs - self.unranked

    @property
    def share(self) -> float | None:
        """Covered over ranked open needs; None when nothing is ranked."""
        return self.covered / self.ranked if self.ranked else None


def match_coverage(session: Session, period: Period, threshold: float) -> Coverage:
    good = _good_counts(threshold)
    good_count = func.coalesce(good.c.good, 0)
    ranked = _has_snapshot()
    row = session.exec(
        select(
            func.count(),
            func.sum(case((~ranked, 1), else_=0)),
            func.sum(case((and_(ranked, good_count >= COVERAGE_MIN_GOOD), 1), else_=0)),
            func.sum(case((and_(ranked, good_count == 0), 1), else_=0)),
        )
        .select_from(Need)
        .outerjoin(good, good.c.need_id == Need.id)
        .where(Need.status == NeedStatus.open, period.holds(Need.created_at))
    ).one()
    total, unranked, covered, unmet = (int(value or 0) for value in row)
    return Coverage(threshold, total, unranked, covered, unmet)


@dataclass(frozen=True)
class Gap:
    """Open needs of one industry group and domain with no good match (供需缺口)."""

    industry: str
    domain: str  # NO_DOMAIN when the needs name none
    needs: int


def unmet_demand(session: Session, period: Period, threshold: float) -> list[Gap]:
    """Ranked open needs without a good match, by industry group x named domain, largest gap first."""
    good = _good_counts(threshold)
    domain = json_values(session, Need.domains)
    rows = session.exec(
        select(Need.industry, domain.c.value, func.count())
        .select_from(Need)
        .outerjoin(good, good.c.need_id == Need.id)
        .outerjoin(domain, true())
        .where(
            Need.status == NeedStatus.open,
            period.holds(Need.created_at),
            _has_snapshot(),
            func.coalesce(good.c.good, 0) == 0,
        )
        .group_by(Need.industry, domain.c.value)
    )
    groups = industry_groups(session)
    cells: dict[tuple[str, str], int] = {}
    for industry, domain_code, count in rows:
        key = (groups.get(industry, industry), domain_code or NO_DOMAIN)
        cells[key] = cells.get(key, 0) + count
    return [Gap(i, d, n) for (i, d), n in sorted(cells.items(), key=lambda item: (-item[1], item[0]))]


def providers_by_domain(session: Session) -> dict[str, int]:
    """Approved providers with at least one published solution in each domain: the supply a gap is
    measured against."""
    rows = session.exec(
        select(Solution.domain, func.count(func.distinct(Solution.provider_id)))
        .join(Provider, col(Provider.id) == Solution.provider_id)
        .where(Solution.status == SolutionStatus.published, Provider.status == ProviderStatus.approved)
        .group_by(Solution.domain)
    )
    return dict(rows.all())


# --- dockings -------------------------------------------------------------------------------------


def docking_funnel(session: Session, period: Period) -> list[tuple[DockingStatus, int]]:
    """Dockings requested in the period and how many of them reached each later stage."""
    cohort = period.holds(Docking.created_at)
    stages: list[tuple[DockingStatus, int]] = []
    for position, (stage, _) in enumerate(FUNNEL):
        reached = [status for _, statuses in FUNNEL[position:] for status in statuses]
        passed = exists().where(DockingEvent.docking_id == Docking.id, col(DockingEvent.to_status).in_(reached))
        query = select(func.count()).select_from(Docking).where(cohort)
        if position:  # every docking in the cohort was requested
            query = query.where(or_(col(Docking.status).in_(reached), passed))
        stages.append((stage, session.exec(query).one()))
    return stages


@dataclass(frozen=True)
class Contracts:
    count: int
    amount: float  # 万元


def contract_value(session: Session, period: Period) -> Contracts:
    """Contracts signed in the period (by contract date) and still standing: contracted or completed."""
    row = session.exec(
        select(func.count(), func.coalesce(func.sum(Docking.contract_amount), 0.0)).where(
            col(Docking.status).in_(_CONTRACT_STATUSES),
            col(Docking.contract_amount).is_not(None),
            Docking.contract_date >= period.start,
            Docking.contract_date < period.end,
        )
    ).one()
    return Contracts(int(row[0]), float(row[1]))


@dataclass(frozen=True)
class Satisfaction:
    ratings: dict[int, int]  # satisfaction 1-5 -> dockings

    @property
    def count(self) -> int:
        return sum(self.ratings.values())

    @property
    def average(self) -> float | None:
        return sum(k * v for k, v in self.ratings.items()) / self.count if self.count else None


def satisfaction(session: Session, period: Period) -> Satisfaction:
    """Ratings given on acceptance (验收) of dockings accepted in the period."""
    accepted_in_period = exists().where(
        DockingEvent.docking_id == Docking.id,
        DockingEvent.to_status == DockingStatus.completed,
        period.holds(DockingEvent.created_at),
    )
    rows = session.exec(
        select(Docking.satisfaction, func.count())
        .where(Docking.status == DockingStatus.completed, col(Docking.satisfaction).is_not(None), accepted_in_period)
        .group_by(Docking.satisfaction)
    )
    found = {int(score): count for score, count in rows}
    return Satisfaction({score: found.get(score, 0) for score in range(1, 6)})
