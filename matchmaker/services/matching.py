"""Needs meet solutions: rank through the search index, keep the ranking as a snapshot, read it back.

The snapshot (rank, score, signal parts, explanation per solution) is what the enterprise saw when it
published; it is read back filtered to solutions that are still matchable, so a withdrawn solution or
a suspended provider disappears from it at once.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from matchmaker.matching.fusion import RankedMatch
from matchmaker.matching.search_index import SearchIndex
from matchmaker.matching.signals import NeedProfile
from matchmaker.services import ratings
from models import MatchResult, Need, Provider, ProviderRating, ProviderStatus, Solution, SolutionStatus


def need_profile(need: Need) -> NeedProfile:
    """What the ranker sees of a need: its words, its company's industry and size, the confirmed tags."""
    title = need.title.rstrip("…")
    # A title taken from the description's first sentence would count that sentence twice.
    text = need.description if need.description.startswith(title) else f"{need.title}\n{need.description}"
    return NeedProfile(
        text=text,
        industry=need.industry or None,
        size=need.size_class or None,
        domains=tuple(need.domains),
        tags=tuple(need.tags),
        maturity=need.target_maturity,
    )


def match_need(session: Session, db: Engine, index: SearchIndex, need: Need) -> list[MatchResult]:
    """Rank the solutions for `need` now and replace its stored snapshot with the result."""
    rows = store_snapshot(session, need, rank(db, index, need))
    session.commit()
    return rows


def rank(db: Engine, index: SearchIndex, need: Need) -> list[RankedMatch]:
    """The live ranking for `need` (which need not be saved yet). The index reads, and may store
    missing solution vectors, through a session of its own: call this before the caller's
    transaction writes, since on SQLite that session would wait for the caller's write lock."""
    return index.match(db, need_profile(need))


def rank_among(
    db: Engine, index: SearchIndex, need: Need, solution_ids: Iterable[int], top_n: int
) -> list[RankedMatch]:
    """`rank` over the solutions ``solution_ids`` only (an event's registered providers' solutions)."""
    return index.match_among(db, need_profile(need), solution_ids, top_n)


def store_snapshot(session: Session, need: Need, ranked: list[RankedMatch]) -> list[MatchResult]:
    """Replace the stored snapshot of the (flushed) `need` with `ranked`, in the caller's transaction."""
    session.exec(delete(MatchResult).where(col(MatchResult.need_id) == need.id))
    rows = [
        MatchResult(
            need_id=need.id,
            solution_id=match.solution_id,
            rank=match.rank,
            score=round(match.score, 4),
            parts={name: round(value, 4) for name, value in match.parts.items()},
            explanation=match.explanation.as_dict(),
        )
        for match in ranked
    ]
    session.add_all(rows)
    return rows


def has_snapshot(session: Session, need_id: int) -> bool:
    return session.exec(select(MatchResult.id).where(MatchResult.need_id == need_id).limit(1)).first() is not None


@dataclass(frozen=True)
class ShownMatch:
    result: MatchResult
    solution: Solution
    provider: Provider
    rating: ProviderRating | None = None  # the provider's newest published rating (评星评级, 梯队)


def stored_matches(session: Session, need_id: int) -> list[ShownMatch]:
    """The need's snapshot in rank order, without solutions that are no longer matchable."""
    rows = session.exec(
        select(MatchResult, Solution, Provider)
        .join(Solution, col(Solution.id) == MatchResult.solution_id)
        .join(Provider, col(Provider.id) == Solution.provider_id)
        .where(
            MatchResult.need_id == need_id,
            Solution.status == SolutionStatus.published,
            Provider.status == ProviderStatus.approved,
        )
        .order_by(col(MatchResult.rank))
    )
    rows = list(rows)
    standing = ratings.standing(session, list({provider.id for _, _, provider in rows}))
    return [ShownMatch(result, solution, provider, standing.get(provider.id)) for result, solution, provider in rows]


SHOWN_FIRST = 5  # results on a need page at once
SHOWN_MORE = 5  # behind 查看更多


@dataclass(frozen=True)
class Recommendations:
    """What a need page recommends: the first results, the next ones on demand, and how many results
    scored below the partial band (matching/bands.py) and are not recommended at all."""

    first: list[ShownMatch]
    more: list[ShownMatch]
    withheld: int


def recommendations(shown: list[ShownMatch], partial_cutoff: float) -> Recommendations:
    kept = [m for m in shown if m.result.score >= partial_cutoff]
    return Recommendations(kept[:SHOWN_FIRST], kept[SHOWN_FIRST : SHOWN_FIRST + SHOWN_MORE], len(shown) - len(kept))
