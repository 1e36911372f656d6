"""The published star rating (评星评级) as a small ranking prior: a provider without history is neutral
and never below average, the fair-exposure cap still holds, and a new provider whose solution fits
best still reaches the top five."""

import pytest

from matchmaker.matching.exposure import EXPOSURE_PER_PROVIDER, EXPOSURE_TOP
from matchmaker.matching.fusion import RATING_PRIOR, SIGNALS, rank
from matchmaker.matching.signals import NEUTRAL, NeedProfile, rating_prior
from tests.matching.test_ranking import TAXONOMY, candidate

NEED = NeedProfile(text="家具厂想上MES，管好排产和报工", industry="furniture")


def test_the_prior_maps_stars_onto_the_unit_range_and_no_rating_onto_the_middle():
    assert [rating_prior(stars) for stars in (1, 2, 3, 4, 5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert rating_prior(None) == NEUTRAL == rating_prior(3)
    assert rating_prior(0) == NEUTRAL  # nothing that is not a star count moves anyone


def test_a_provider_without_history_is_neutral_and_never_below_average():
    """Three identical solutions: no rating, three stars (the average), two stars. The unrated one adds
    nothing to its score, ranks level with the average provider and above the below-average one."""
    same = {"semantic": 0.7, "lexical": 0.3, "industries": ("furniture",), "tags": ("MES",)}
    unrated = candidate(1, **same)
    average = candidate(2, rating=rating_prior(3), **same)
    below = candidate(3, rating=rating_prior(2), **same)
    weaker = candidate(4, semantic=0.4, lexical=0.1)  # so the signals are not all flat
    scores = {m.solution_id: m for m in rank(NEED, [below, average, unrated, weaker], TAXONOMY)}
    assert scores[1].parts["rating"] == 0.0
    assert scores[1].score == sum(scores[1].parts[name] for name in SIGNALS)  # the prior adds exactly nothing
    assert scores[1].score == scores[2].score
    assert scores[3].score == pytest.approx(scores[1].score - RATING_PRIOR * 0.25)
    assert [m.solution_id for m in rank(NEED, [below, average, unrated, weaker], TAXONOMY)][:3] == [1, 2, 3]


def test_without_any_rating_the_prior_changes_no_score():
    """Where no candidate is rated (the labelled sets) every score is the weighted signal sum, as before."""
    candidates = [candidate(i, semantic=0.1 * i, lexical=0.05 * (i % 4), tags=("MES",) * (i % 2)) for i in range(1, 9)]
    for match in rank(NEED, candidates, TAXONOMY):
        assert match.parts["rating"] == 0.0
        assert match.score == sum(match.parts[name] for name in SIGNALS)


def test_the_fair_exposure_cap_holds_for_a_five_star_provider():
    """A five-star provider with the four best solutions still gets at most two of the first five places."""
    starred = [
        candidate(i, provider_id=100, semantic=0.9 - i / 100, lexical=0.4, tags=("MES",), rating=rating_prior(5))
        for i in range(1, 5)
    ]
    others = [candidate(10 + i, semantic=0.5 - i / 100, lexical=0.2) for i in range(1, 6)]
    ranked = rank(NEED, [*starred, *others], TAXONOMY)
    head = [m.solution_id for m in ranked[:EXPOSURE_TOP]]
    assert sum(1 for i in head if i < 10) == EXPOSURE_PER_PROVIDER
    assert {m.solution_id for m in ranked} >= {1, 2, 3, 4}  # pushed down, never dropped


def test_a_new_provider_whose_solution_fits_best_reaches_the_top_five():
    """Six five-star providers with fitting solutions, and a new provider (no rating) whose solution fits
    a little better on every signal: the prior does not keep it out; it comes first."""
    rated = [
        candidate(
            i,
            semantic=0.72 - i / 200,
            lexical=0.30,
            industries=("furniture",),
            tags=("MES",),
            rating=rating_prior(5),
        )
        for i in range(1, 7)
    ]
    new = candidate(50, semantic=0.76, lexical=0.32, industries=("furniture",), tags=("MES",))
    ranked = [m.solution_id for m in rank(NEED, [*rated, new], TAXONOMY)]
    assert 50 in ranked[:EXPOSURE_TOP]
    assert ranked[0] == 50
    # and the prior does decide between otherwise equal answers: the five-star ones before an equal unrated one
    equal = candidate(60, semantic=0.72 - 1 / 200, lexical=0.30, industries=("furniture",), tags=("MES",))
    ranked = [m.solution_id for m in rank(NEED, [*rated, equal], TAXONOMY)]
    assert ranked.index(1) < ranked.index(60)
