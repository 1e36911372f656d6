"""The maturity signal: a solution's band against a need's 智能制造能力成熟度 level, never punishing the unknown."""

from dataclasses import replace

import pytest

from matchmaker.matching.fusion import DEFAULT_WEIGHTS, rank
from matchmaker.matching.signals import NEUTRAL, NeedProfile, maturity_fit, maturity_range
from tests.matching.test_ranking import TAXONOMY, candidate


@pytest.mark.parametrize(
    ("level", "band", "fit"),
    [
        (1, "1-2", 1.0),
        (2, "1-2", 1.0),
        (3, "1-2", 0.25),  # one level above the band
        (2, "3-5", 0.25),  # one level below
        (5, "1-2", 0.0),
        (1, "3-5", 0.0),
        (0, "1-2", NEUTRAL),  # the need states no level
        (3, "", NEUTRAL),  # the solution states no band
        (3, "5-1", NEUTRAL),  # a malformed band counts as unstated
        (3, "0-9", NEUTRAL),
        (7, "3-5", NEUTRAL),
    ],
)
def test_maturity_fit(level, band, fit):
    assert maturity_fit(level, band) == fit


def test_maturity_range_reads_only_bands_of_levels_one_to_five():
    assert list(maturity_range("3-5")) == [3, 4, 5]
    assert maturity_range("2-2") == range(2, 3)
    assert maturity_range("") is maturity_range("1-") is maturity_range("1-6") is maturity_range("a-b") is None


def test_unknown_is_never_below_a_stated_band():
    """For every need level, a solution without a band scores at least as well as a stated misfit."""
    for level in range(0, 6):
        for band in ("1-2", "2-3", "3-5", "4-5"):
            assert maturity_fit(level, "") >= min(maturity_fit(level, band), NEUTRAL)
            if maturity_fit(level, band) < NEUTRAL:
                assert maturity_fit(level, "") > maturity_fit(level, band)


def test_a_fitting_band_breaks_a_tie_and_an_unstated_need_changes_no_order():
    base = candidate(3)
    fitting, unstated, misfit = (
        replace(base, solution_id=3, maturity="1-2"),
        candidate(1),
        replace(base, solution_id=2, maturity="4-5"),
    )
    need = NeedProfile(text="小厂先把设备联网", maturity=1)
    assert [m.solution_id for m in rank(need, [unstated, misfit, fitting], TAXONOMY)] == [3, 1, 2]
    neutral_need = replace(need, maturity=0)
    assert [m.solution_id for m in rank(neutral_need, [unstated, misfit, fitting], TAXONOMY)] == [1, 2, 3]


def test_maturity_is_a_small_weight_that_never_outweighs_clearly_better_text():
    assert DEFAULT_WEIGHTS.normalised()["maturity"] < 0.05
    need = NeedProfile(text="MES 排产", maturity=1)
    better_text = candidate(1, semantic=0.8, maturity="4-5")  # far from the need's level
    fitting = candidate(2, semantic=0.7, maturity="1-2")
    assert [m.solution_id for m in rank(need, [fitting, better_text], TAXONOMY)] == [1, 2]
    parts = {m.solution_id: m.parts["maturity"] for m in rank(need, [fitting, better_text], TAXONOMY)}
    assert parts == {2: pytest.approx(DEFAULT_WEIGHTS.normalised()["maturity"]), 1: 0.0}
