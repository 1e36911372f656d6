"""The public catalogue: what anyone outside may see of the supply side, and stateless matching.

Only approved (入库) providers and their published solutions ever appear here, the same rule the
search index follows. List-valued columns are JSON; "contains code X" is a LIKE on the column's JSON
text for the quoted code, which reads the same on SQLite and PostgreSQL (codes are ASCII, so the
JSON text holds them verbatim).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Row, String, cast, func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from matchmaker.matching.fusion import RankedMatch
from matchmaker.matching.search_index import SearchIndex
from matchmaker.matching.signals import NeedProfile
from matchmaker.matching.tagging import Suggestion
from matchmaker.services import taxonomy
from matchmaker.services.errors import ServiceError
from models import Industry, Provider, ProviderStatus, Solution, SolutionStatus, SuccessCase

MAX_TERMS = 5


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains_code(column, code: str):
    return cast(column, String).like(f'%"{_escape_like(code)}"%', escape="\\")


def _contains_text(columns: Sequence, text: str):
    """Every whitespace-separated term of `text` occurs (case-insensitively) in one of `columns`."""
    terms = text.split()[:MAX_TERMS]
    return [
        or_(*(func.lower(column).like(f"%{_escape_like(term.lower())}%", escape="\\") for column in columns))
        for term in terms
    ]


def _check(session: Session, field: str, **codes: list[str]) -> None:
    """`taxonomy.check_codes`, naming the input field the unknown code came from."""
    try:
        taxonomy.check_codes(session, **codes)
    except ServiceError as error:
        raise ServiceError(error.message, field=field) from None


def fitting_industries(session: Session, code: str) -> set[str]:
    """The industry codes a solution may list to fit an enterprise of industry `code`: the code itself,
    the cluster or divisions it maps onto (shared GB/T divisions), and 通用."""
    rows = list(session.exec(select(Industry)))
    by_code = {row.code: row for row in rows}
    if code not in by_code:
        raise ServiceError(f"未知的行业：{code}", field="industry")
    divisions = set(by_code[code].gbt)
    return {row.code for row in rows if row.code == code or row.kind == "general" or divisions & set(row.gbt)}


def _matchable():
    return (
        select(Solution, Provider)
        .join(Provider, col(Provider.id) == Solution.provider_id)
        .where(Solution.status == SolutionStatus.published, Provider.status == ProviderStatus.approved)
    )


def solutions_page(
    session: Session,
    db: Engine,
    index: SearchIndex,
    page: int,
    per_page: int,
    *,
    text: str | None = None,
    domain: str | None = None,
    industry: str | None = None,
    size: str | None = None,
) -> tuple[list[tuple[Solution, Provider]], int]:
    """Matchable solutions, filtered, oldest first (stable pages). The search index picks the ids (it
    holds every matchable solution's text, see `MatchEngine.listing`); the page's rows come from here."""
    if domain:
        _check(session, "domain", domains=[domain])
    codes = fitting_industries(session, industry) if industry else None
    terms = text.split()[:MAX_TERMS] if text else []
    ids = index.listing(db, terms, domain or None, codes, size or None)
    chosen = ids[(page - 1) * per_page : page * per_page]
    rows = session.exec(_matchable().where(col(Solution.id).in_(chosen))) if chosen else []
    found = {solution.id: (solution, provider) for solution, provider in rows}
    return [found[id_] for id_ in chosen if id_ in found], len(ids)


def solution(session: Session, solution_id: int) -> tuple[Solution, Provider]:
    found = session.exec(_matchable().where(Solution.id == solution_id)).first()
    if found is None:
        raise ServiceError("服务方案不存在")
    return found


def _approved():
    return select(Provider).where(Provider.status == ProviderStatus.approved)


def providers_page(
    session: Session, page: int, per_page: int, *, text: str | None = None, domain: str | None = None
) -> tuple[list[Provider], int]:
    query = _approved()
    if domain:
        _check(session, "domain", domains=[domain])
        query = query.where(_contains_code(Provider.domains, domain))
    if text and text.strip():
        query = query.where(*_contains_text([Provider.name], text))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Provider.id)).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def provider(session: Session, provider_id: int) -> Provider:
    found = session.exec(_approved().where(Provider.id == provider_id)).first()
    if found is None:
        raise ServiceError("服务商不存在")
    return found


def cases_of(session: Session, provider_ids: Iterable[int]) -> dict[int, list[SuccessCase]]:
    ids = list(provider_ids)
    found: dict[int, list[SuccessCase]] = {pid: [] for pid in ids}
    if ids:
        query = select(SuccessCase).where(col(SuccessCase.provider_id).in_(ids)).order_by(col(SuccessCase.id))
        for case in session.exec(query):
            found[case.provider_id].append(case)
    return found


def solution_counts(session: Session, provider_ids: Iterable[int]) -> dict[int, int]:
    ids = list(provider_ids)
    counts = dict.fromkeys(ids, 0)
    if ids:
        rows = session.exec(
            select(Solution.provider_id, func.count())
            .where(col(Solution.provider_id).in_(ids), Solution.status == SolutionStatus.published)
            .group_by(Solution.provider_id)
        )
        counts.update(dict(rows.all()))
    return counts


@dataclass(frozen=True)
class ProviderName:
    id: int
    name: str


# What a result list shows of a solution (the API's SolutionBrief, the embed widget): read as columns,
# not rows, since a solution's description and JSON columns are most of its size.
_BRIEF_COLUMNS = (
    Solution.id,
    Solution.title,
    Solution.summary,
    Solution.domain,
    Solution.industries,
    Solution.sizes,
    Solution.modules,
    Solution.tags,
    Solution.deployment,
    Solution.price_range,
    Solution.delivery_weeks,
    Solution.maturity_band,
)
BriefRow = Row  # a row of _BRIEF_COLUMNS, read by attribute (row.title)


@dataclass(frozen=True)
class LiveMatch:
    match: RankedMatch
    solution: BriefRow
    provider: ProviderName


@dataclass(frozen=True)
class TextMatch:
    matches: list[LiveMatch]
    suggestion: Suggestion  # what the text names: domains, tags, industry
    cached: bool  # the text's vector came from the encoder's cache


def match_text(
    session: Session,
    db: Engine,
    index: SearchIndex,
    text: str,
    industry: str | None = None,
    size: str | None = None,
    top_n: int = 10,
) -> TextMatch:
    """Rank the live solutions for a free-text need; nothing is stored. The suggestion (what the text
    names) is returned for the caller to confirm, never assumed: an industry read off a word in passing
    ("在手机上看" is not a phone maker) would mislead the industry fit. Ranks are renumbered after
    dropping any solution that stopped being matchable since the index last caught up (the query that
    reads the shown columns is that check)."""
    if industry and index.taxonomy(db).industry(industry) is None:  # the worker's taxonomy: no query
        raise ServiceError(f"未知的行业：{industry}", field="industry")
    need = NeedProfile(text=text, industry=industry or None, size=size or None)
    found = index.suggest_and_match(db, need, top_n)
    rows = {}
    if found.ranked:
        query = (
            select(*_BRIEF_COLUMNS, Provider.id.label("provider_id"), Provider.name.label("provider_name"))
            .join(Provider, col(Provider.id) == Solution.provider_id)
            .where(Solution.status == SolutionStatus.published, Provider.status == ProviderStatus.approved)
            .where(col(Solution.id).in_([m.solution_id for m in found.ranked]))
        )
        rows = {row.id: row for row in session.exec(query)}
    live = [m for m in found.ranked if m.solution_id in rows]
    matches = [
        LiveMatch(
            RankedMatch(m.solution_id, rank, m.score, m.parts, m.explanation),
            row := rows[m.solution_id],
            ProviderName(row.provider_id, row.provider_name),
        )
        for rank, m in enumerate(live, start=1)
    ]
    return TextMatch(matches, found.suggestion, found.cached)
