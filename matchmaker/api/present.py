"""Rows to response models: the one place that decides what of a row the API shows."""

from matchmaker.api.schemas import (
    CaseOut,
    ExplanationOut,
    MatchItem,
    ProviderOut,
    ProviderRef,
    ScoreParts,
    SolutionBrief,
    SolutionOut,
)
from models import Provider, Solution, SuccessCase


def solution_brief(solution: Solution, provider: Provider) -> SolutionBrief:
    return SolutionBrief.model_validate(solution.model_dump() | {"provider": ProviderRef.model_validate(provider)})


def solution_out(solution: Solution, provider: Provider) -> SolutionOut:
    return SolutionOut.model_validate(solution.model_dump() | {"provider": ProviderRef.model_validate(provider)})


def match_item(
    rank: int, score: float, parts: dict, explanation: dict, solution: Solution, provider: Provider
) -> MatchItem:
    """One ranked solution; `parts` and `explanation` as stored in a snapshot (or `as_dict()` of a live one)."""
    return MatchItem(
        rank=rank,
        score=round(score, 4),
        parts=ScoreParts(**{name: round(float(parts.get(name, 0.0)), 4) for name in ScoreParts.model_fields}),
        explanation=ExplanationOut.model_validate(explanation),
        solution=solution_brief(solution, provider),
    )


def provider_out(provider: Provider, cases: list[SuccessCase], solution_count: int) -> ProviderOut:
    return ProviderOut.model_validate(
        provider.model_dump()
        | {"cases": [CaseOut.model_validate(case) for case in cases], "solution_count": solution_count}
    )
