"""Choosing fusion weights by cross-validation over several labelled sets."""

import numpy as np
import pytest

from embeddings import load_encoder
from matchmaker.matching.fusion import SIGNALS, Weights
from matchmaker.matching.tuning import (
    NeedTable,
    cross_validate,
    folds_of,
    format_cross_validation,
    macro,
    ndcg_matrix,
    need_tables,
    weight_grid,
)
from tests.matching.test_evaluation import labelled_set
from tests.matching.test_taxonomy import tiny_taxonomy

SEMANTIC, LEXICAL = SIGNALS.index("semantic"), SIGNALS.index("lexical")


def table(source: str, key: str, answer_by: int, rng: np.random.Generator) -> NeedTable:
    """Ten candidates with random signals; candidate 0 is the answer and has the top value of signal
    `answer_by` only, so only weights on that signal find it."""
    values = rng.uniform(0.0, 0.3, size=(10, len(SIGNALS)))
    values[0] = 0.0
    values[0, answer_by] = 1.0
    gains = np.zeros(10)
    gains[0] = 3.0
    return NeedTable(source, key, values, gains, ideal=3.0)


def test_weight_grid_covers_the_simplex():
    grid = weight_grid(0.5)
    assert grid.shape[1] == len(SIGNALS)
    assert np.allclose(grid.sum(axis=1), 1.0) and (grid >= 0).all()
    assert len(grid) == len(SIGNALS) * (len(SIGNALS) + 1) // 2  # two halves among six signals


def test_ndcg_matrix_rewards_the_weights_that_put_the_answer_first():
    rng = np.random.default_rng(1)
    tables = [table("a", "n1", SEMANTIC, rng)]
    grid = np.eye(len(SIGNALS))
    ndcg = ndcg_matrix(tables, grid)[0]
    assert ndcg[SEMANTIC] == pytest.approx(1.0)
    assert ndcg[LEXICAL] < 1.0


def test_folds_hold_needs_of_every_file():
    rng = np.random.default_rng(2)
    tables = [table("a", f"a{i}", SEMANTIC, rng) for i in range(10)] + [
        table("b", f"b{i}", LEXICAL, rng) for i in range(5)
    ]
    fold = folds_of(tables, 5)
    for k in range(5):
        assert {t.source for t, f in zip(tables, fold, strict=True) if f == k} == {"a", "b"}


def test_cross_validation_finds_what_both_files_need_and_reports_held_out_figures():
    """File a's answers need semantic, file b's lexical: the weights chosen on any four folds carry
    both, and score every held-out need perfectly; a file alone would pick one signal."""
    rng = np.random.default_rng(3)
    tables = [table("a", f"a{i}", SEMANTIC, rng) for i in range(10)] + [
        table("b", f"b{i}", LEXICAL, rng) for i in range(10)
    ]
    result = cross_validate(tables, folds=5, step=0.5, fixed={"semantic only": Weights(1, 0, 0, 0, 0, 0, 0)})
    assert result.held_out == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    for chosen in [*result.chosen, result.best]:
        assert chosen[SEMANTIC] == chosen[LEXICAL] == 0.5
    assert result.baselines["semantic only"]["a"] == pytest.approx(1.0)
    assert result.baselines["semantic only"]["b"] < 1.0
    one_file = macro(ndcg_matrix(tables[:10], weight_grid(0.5)), ["a"] * 10)
    assert weight_grid(0.5)[int(np.argmax(one_file))][LEXICAL] == 0.0
    report = format_cross_validation(result)
    assert "held-out" in report and "semantic=0.50, lexical=0.50" in report


def test_need_tables_normalise_signals_over_the_candidates(tmp_path):
    tables = need_tables(labelled_set(tmp_path), load_encoder("hash"), tiny_taxonomy())
    assert [t.key for t in tables] == ["N1", "N2", "N3", "N4"]
    for t in tables:
        assert t.values.shape == (4, len(SIGNALS))
        assert t.values.min() >= 0.0 and t.values.max() <= 1.0
        assert t.ideal > 0 and t.gains.max() == 3.0
