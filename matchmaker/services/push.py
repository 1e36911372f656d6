"""Precise push (精准推送): a published need is told to the providers of its best matches, and a
published solution to the enterprises with open needs it now serves well.

Every push is a `PushRecord` row written with its notification and queued email in one commit, so
the caps below are counted from the records and pushing the same pair twice does nothing.

Threshold. A match is pushed when it is among the first PUSH_TOP places and scores at least
MATCHMAKER_PUSH_THRESHOLD, by default the 高度匹配 band's cut-off (0.80): the lowest score from which
the labelled sets' results, read from the top down, stay at least 90 % relevant (`flask match-bands
seed_data/dev_set.json seed_data/real_dev_set.json`, USE encoder, min-max scaled fusion; see the
README's match bands). A provider is thus told only of needs its solution fits very well; the
enterprise still sees every result of the 部分匹配 band or better on its need page and can ask any
provider for docking. Re-run the bands and set the threshold again after the ranker changes.

Caps (all configurable): at most MATCHMAKER_PUSH_PER_PROVIDER_DAY pushed needs per provider and
MATCHMAKER_PUSH_PER_ENTERPRISE_DAY pushed solutions per enterprise in any 24 hours before `now`, and
at most MATCHMAKER_PUSH_PER_NEED pushes of each kind per need in its lifetime; an enterprise hears of
new solutions for one need at most once in 24 hours (the promise a need page makes when it has no
good match yet: "we will tell you when a better-fitting solution is published"). A recipient over its
cap is skipped and the next qualifying match takes its place.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from matchmaker.matching.search_index import SearchIndex, read_taxonomy
from matchmaker.services import matching
from matchmaker.services.errors import ServiceError
from matchmaker.services.notifications import notify
from models import (
    Enterprise,
    Industry,
    MatchResult,
    Need,
    NeedStatus,
    Provider,
    ProviderStatus,
    PushRecord,
    Solution,
    SolutionStatus,
    begin_write,
)
from models.validation import SIZE_LABELS

NEED_TO_PROVIDER = "need_to_provider"
SOLUTION_TO_ENTERPRISE = "solution_to_enterprise"
PUSH_TOP = 5  # only the first places of a ranking are pushed: what a person reads
WINDOW = timedelta(hours=24)  # "per day" is a rolling 24 hours, the same in every time zone
# push_solution re-ranks at most SHORTLIST of the SCAN_LIMIT newest open needs. On the demo data the
# shortlist (industry fits and domain or a tag shared) holds all 169 qualifying (need, solution) pairs;
# cut to the best 30 it still does (to 20: 165). A re-rank costs ~13 ms with USE, so a publish spends
# ~0.3 s (median over 40 demo solutions; at most 0.9 s) telling enterprises.
SCAN_LIMIT = 2000
SHORTLIST = 30


@dataclass(frozen=True)
class PushCaps:
    threshold: float = 0.45
    per_provider_day: int = 5
    per_enterprise_day: int = 5
    per_need: int = 3

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "PushCaps":
        return cls(
            threshold=float(config["MATCHMAKER_PUSH_THRESHOLD"]),
            per_provider_day=int(config["MATCHMAKER_PUSH_PER_PROVIDER_DAY"]),
            per_enterprise_day=int(config["MATCHMAKER_PUSH_PER_ENTERPRISE_DAY"]),
            per_need=int(config["MATCHMAKER_PUSH_PER_NEED"]),
        )


def pushed_need_link(record_id: int) -> str:
    return f"/inbox/pushed/{record_id}"


def need_link(need_id: int) -> str:
    return f"/enterprise/needs/{need_id}"


# --- need -> providers ---------------------------------------------------------------------


def push_need(
    session: Session, need: Need, results: Sequence[MatchResult], now: datetime, caps: PushCaps
) -> list[PushRecord]:
    """Tell the providers of the need's best matches (rank <= PUSH_TOP, score >= threshold), best
    first, one push per provider with its best solution, within the caps. The provider learns the
    need's industry, size, text and why it matched, never which company posted it. The records,
    notifications and emails are added in the caller's transaction, not committed: a publish commits
    them with the need (services/publishing.py)."""
    if need.status != NeedStatus.open:
        return []
    qualifying = sorted((r for r in results if r.rank <= PUSH_TOP and r.score >= caps.threshold), key=lambda r: r.rank)
    if not qualifying:
        return []
    live = {
        solution.id: (solution, provider)
        for solution, provider in session.exec(
            select(Solution, Provider)
            .join(Provider, col(Provider.id) == Solution.provider_id)
            .where(
                col(Solution.id).in_([r.solution_id for r in qualifying]),
                Solution.status == SolutionStatus.published,
                Provider.status == ProviderStatus.approved,
            )
        )
    }
    pushed: list[PushRecord] = []
    room = caps.per_need - _count(session, NEED_TO_PROVIDER, need_id=need.id)
    for result in qualifying:
        if room <= 0:
            break
        if result.solution_id not in live:
            continue
        solution, provider = live[result.solution_id]
        if provider.user_id is None:
            continue
        _lock(session, Provider, provider.id)  # serialise pushes to one provider, so its cap holds
        if _count(session, NEED_TO_PROVIDER, need_id=need.id, provider_id=provider.id):
            continue  # told about this need already (with this or another of its solutions)
        if _count(session, NEED_TO_PROVIDER, provider_id=provider.id, since=now - WINDOW) >= caps.per_provider_day:
            continue
        record = _record(NEED_TO_PROVIDER, need, solution, result.score, result.rank, result.explanation, result.parts)
        record.created_at = now
        session.add(record)
        session.flush()
        notify(
            session,
            provider.user_id,
            "need_pushed",
            f"新需求推送：{need.title}",
            _need_message(session, need, solution, result.score),
            pushed_need_link(record.id),
        )
        pushed.append(record)
        room -= 1
    return pushed


def _need_message(session: Session, need: Need, solution: Solution, score: float) -> str:
    """What a provider is told: industry, size and text of the need, never the enterprise's identity."""
    industry = session.get(Industry, need.industry)
    who = f"一家{industry.name if industry else '制造业'}{SIZE_LABELS.get(need.size_class, '')}企业"
    return (
        f"{who}发布了与您的方案「{solution.title}」匹配的需求，匹配度 {round(score * 100)}%。\n"
        f"需求内容：{need.description}\n"
        "企业名称和联系方式不随推送公开：企业向您发起对接申请、您接受后可见。"
    )


# --- solution -> enterprises ---------------------------------------------------------------


def push_solution(
    session: Session, engine: Engine, index: SearchIndex, solution: Solution, now: datetime, caps: PushCaps
) -> list[PushRecord]:
    """Tell the enterprises with open needs for which `solution` now ranks in the first PUSH_TOP
    places with a score >= threshold, within the caps; commits, then refreshes those needs' stored
    rankings so the link in the message shows the solution.

    Bounded work: of the SCAN_LIMIT newest open needs, only those the solution plausibly serves are
    re-ranked through the search index: the solution fits the need's industry (same, related, 通用 or
    need industry unknown) and shares a capability tag or the domain with it; at most SHORTLIST of
    them, most shared tags first, then same domain, better industry fit, newest. A need that already
    showed the solution in its first places (at publish or a re-match) is not told again.
    """
    provider = session.get(Provider, solution.provider_id)
    if solution.status != SolutionStatus.published or provider is None or provider.status != ProviderStatus.approved:
        return []
    pushed: list[tuple[PushRecord, Need]] = []
    for need in shortlist(session, solution):
        ranked = index.match(engine, matching.need_profile(need), top_n=PUSH_TOP)
        hit = next((m for m in ranked if m.solution_id == solution.id), None)
        if hit is None or hit.score < caps.threshold or _already_shown(session, need.id, solution.id):
            continue
        enterprise = _lock(session, Enterprise, need.enterprise_id)
        if enterprise is None or enterprise.user_id is None:
            continue
        if _count(session, SOLUTION_TO_ENTERPRISE, need_id=need.id, solution_id=solution.id):
            continue
        if _count(session, SOLUTION_TO_ENTERPRISE, need_id=need.id) >= caps.per_need:
            continue
        if _count(session, SOLUTION_TO_ENTERPRISE, need_id=need.id, since=now - WINDOW):
            continue  # one message per need a day, however many better solutions are published that day
        recent = _count(session, SOLUTION_TO_ENTERPRISE, enterprise_id=enterprise.id, since=now - WINDOW)
        if recent >= caps.per_enterprise_day:
            continue
        parts = {name: round(value, 4) for name, value in hit.parts.items()}
        record = _record(SOLUTION_TO_ENTERPRISE, need, solution, hit.score, hit.rank, hit.explanation.as_dict(), parts)
        record.created_at = now
        session.add(record)
        notify(
            session,
            enterprise.user_id,
            "solution_pushed",
            f"新方案推荐：{solution.title}",
            f"您的需求「{need.title}」有新的匹配方案：{provider.name}的「{solution.title}」，"
            f"匹配度 {round(hit.score * 100)}%，在推荐中排第 {hit.rank} 位。",
            need_link(need.id),
        )
        pushed.append((record, need))
    session.commit()
    for _, need in pushed:
        matching.match_need(session, engine, index, need)
    return [record for record, _ in pushed]


def shortlist(session: Session, solution: Solution) -> list[Need]:
    """The open needs worth re-ranking for `solution` (see `push_solution`), best first."""
    taxonomy = read_taxonomy(session)
    own_tags = taxonomy.canonical_tags(solution.tags)
    newest = select(Need).where(Need.status == NeedStatus.open).order_by(col(Need.id).desc()).limit(SCAN_LIMIT)
    keyed = []
    for need in session.exec(newest):
        fit = taxonomy.industry_fit(need.industry or None, solution.industries)
        shared = len(taxonomy.canonical_tags(need.tags) & own_tags)
        in_domain = solution.domain in need.domains
        if fit > 0 and (shared or in_domain):
            keyed.append(((shared, in_domain, fit, need.id), need))
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [need for _, need in keyed[:SHORTLIST]]


def _already_shown(session: Session, need_id: int, solution_id: int) -> bool:
    query = select(MatchResult.id).where(
        MatchResult.need_id == need_id, MatchResult.solution_id == solution_id, MatchResult.rank <= PUSH_TOP
    )
    return session.exec(query.limit(1)).first() is not None


# --- what a provider sees ------------------------------------------------------------------


@dataclass(frozen=True)
class PushedNeed:
    """A need pushed to a provider: the push, the need and the provider's matching solution. Holds
    no Enterprise row, so a page built from it cannot show who posted the need."""

    record: PushRecord
    need: Need
    solution: Solution


def _pushed_query(provider_id: int):
    return (
        select(PushRecord, Need, Solution)
        .join(Need, col(Need.id) == PushRecord.need_id)
        .join(Solution, col(Solution.id) == PushRecord.solution_id)
        .where(PushRecord.kind == NEED_TO_PROVIDER, PushRecord.provider_id == provider_id)
    )


def pushed_needs_page(session: Session, provider_id: int, number: int, per_page: int) -> tuple[list[PushedNeed], int]:
    """The needs pushed to the provider, best match first (then newest), one page, and the total."""
    total = _count(session, NEED_TO_PROVIDER, provider_id=provider_id)
    rows = session.exec(
        _pushed_query(provider_id)
        .order_by(col(PushRecord.score).desc(), col(PushRecord.created_at).desc(), col(PushRecord.id).desc())
        .offset((number - 1) * per_page)
        .limit(per_page)
    )
    return [PushedNeed(*row) for row in rows], total


def pushed_need(session: Session, provider_id: int, record_id: int) -> PushedNeed:
    """One need pushed to this provider; the same error for any other id, so ids reveal nothing."""
    row = session.exec(_pushed_query(provider_id).where(PushRecord.id == record_id)).first()
    if row is None:
        raise ServiceError("推送的需求不存在")
    return PushedNeed(*row)


# --- shared --------------------------------------------------------------------------------


def _record(
    kind: str, need: Need, solution: Solution, score: float, rank: int, explanation: dict, parts: dict
) -> PushRecord:
    """The explanation is stored with the signal parts (key "parts"), so the pushed-need page can
    show why it matched as it was when pushed."""
    return PushRecord(
        kind=kind,
        need_id=need.id,
        solution_id=solution.id,
        provider_id=solution.provider_id,
        enterprise_id=need.enterprise_id,
        score=round(score, 4),
        rank=rank,
        explanation=dict(explanation) | {"parts": dict(parts)},
    )


def _count(session: Session, kind: str, since: datetime | None = None, **equal: int) -> int:
    query = select(func.count()).select_from(PushRecord).where(PushRecord.kind == kind)
    for name, value in equal.items():
        query = query.where(getattr(PushRecord, name) == value)
    if since is not None:
        query = query.where(PushRecord.created_at > since)
    return session.exec(query).one()


def _lock(session: Session, table: type[Provider] | type[Enterprise], row_id: int):
    """Read the row FOR UPDATE (PostgreSQL) after taking SQLite's write lock (`begin_write`): concurrent
    pushes to one recipient then count each other's records, so a cap cannot be overrun by a race."""
    begin_write(session)
    return session.exec(select(table).where(table.id == row_id).with_for_update()).first()
