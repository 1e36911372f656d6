"""Rows to response models: the one place that decides what of a row the API shows."""

from matchmaker.api.schemas import (
    CaseOut,
    ExplanationOut,
    ProviderOut,
    ProviderRef,
    ScoreParts,
    SolutionBrief,
    SolutionOut,
)
from matchmaker.services.catalogue import BriefRow, ProviderName
from models import Provider, ProviderRating, Solution, SuccessCase

_BRIEF_FIELDS = tuple(name for name in SolutionBrief.model_fields if name != "provider")
_EXPLANATION_FIELDS = tuple(ExplanationOut.model_fields)


def solution_brief(solution: Solution | BriefRow, provider: Provider | ProviderName) -> dict:
    """A SolutionBrief as plain data, read from a row or from only its shown columns (`BriefRow`)."""
    return {name: getattr(solution, name) for name in _BRIEF_FIELDS} | {
        "provider": {"id": provider.id, "name": provider.name}
    }


def solution_out(solution: Solution, provider: Provider) -> SolutionOut:
    return SolutionOut.model_validate(solution.model_dump() | {"provider": ProviderRef.model_validate(provider)})


def match_item(
    rank: int,
    score: float,
    parts: dict,
    explanation: dict,
    solution: Solution | BriefRow,
    provider: Provider | ProviderName,
) -> dict:
    """One ranked solution as a MatchItem in plain data (built per result of every match call, so not
    validated each time: tests/api check it against the schema); `parts` and `explanation` as stored in
    a snapshot (or `as_dict()` of a live one)."""
    return {
        "rank": rank,
        "score": round(score, 4),
        "parts": {name: round(float(parts.get(name, 0.0)), 4) for name in ScoreParts.model_fields},
        "explanation": {name: explanation[name] for name in _EXPLANATION_FIELDS},
        "solution": solution_brief(solution, provider),
    }


def provider_out(
    provider: Provider, cases: list[SuccessCase], solution_count: int, rating: ProviderRating | None = None
) -> ProviderOut:
    """`rating`: the provider's newest published rating (评星评级), if any."""
    standing = {
        "stars": rating.stars if rating else None,
        "tier": rating.tier if rating else None,
        "rating_period": rating.period if rating else None,
    }
    return ProviderOut.model_validate(
        provider.model_dump()
        | {"cases": [CaseOut.model_validate(case) for case in cases], "solution_count": solution_count}
        | standing
    )
