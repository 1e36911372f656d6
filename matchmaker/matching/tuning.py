"""Choosing the fusion weights by cross-validation over several labelled sets, never over one.

Every need of every set is turned into a table: its candidates (all the set's solutions) with their
signals normalised as `fusion.rank` normalises them. A weight vector then scores every need at once
(a matrix product), so a grid over the simplex is searched in seconds. The needs of each file are
dealt round-robin into folds, so that every fold holds needs of every file; for each fold the grid
point with the best macro average (the mean over files of their mean NDCG@10) on the other folds is
chosen and scored on the held-out one. Only those held-out figures are reported. The weights to
adopt are then the grid point best over all needs, reported with the held-out figures of the
procedure that chose them.

The search ranks without the exposure cap (one provider at most a few places in the top ten), which
the evaluation applies; its figures can differ from `evaluate`'s in the third decimal.

    flask tune-weights seed_data/dev_set.json seed_data/real_dev_set.json [--folds 5] [--step 0.1]
"""

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings import Encoder
from matchmaker.matching.capabilities import NEAREST_THRESHOLD
from matchmaker.matching.evaluation import CUTOFF, LabelledSet, build_engine, load_labelled_set
from matchmaker.matching.fusion import DEFAULT_WEIGHTS, SIGNALS, Scale, Weights, need_terms
from matchmaker.matching.signals import signals
from matchmaker.matching.taxonomy import Taxonomy

_DISCOUNT = 1.0 / np.log2(np.arange(2, CUTOFF + 2))


@dataclass(frozen=True)
class NeedTable:
    source: str  # the labelled set the need comes from
    key: str
    values: np.ndarray  # (candidates, SIGNALS): normalised signals; rows in ascending solution id
    gains: np.ndarray  # (candidates,): 2^grade - 1 of each candidate
    ideal: float  # DCG@10 of the best possible order


def need_tables(
    path: str | Path, encoder: Encoder, taxonomy: Taxonomy, nearest: float | None = NEAREST_THRESHOLD
) -> list[NeedTable]:
    """A table per judged need of the labelled set at `path`; `nearest` as `MatchEngine` takes it."""
    return labelled_tables(str(path), load_labelled_set(path, taxonomy), encoder, taxonomy, nearest)


def labelled_tables(
    source: str,
    labelled: LabelledSet,
    encoder: Encoder,
    taxonomy: Taxonomy,
    nearest: float | None = NEAREST_THRESHOLD,
) -> list[NeedTable]:
    """A table per judged need of `labelled` (a file's set, or one built from the platform's outcomes)."""
    engine = build_engine(labelled, encoder, taxonomy, DEFAULT_WEIGHTS, nearest)
    tables = []
    for need in labelled.needs:
        if not any(grade >= 1 for grade in need.relevant.values()):
            continue
        candidates = engine.all_candidates(need.profile)  # ascending id
        terms = need_terms(need.profile, taxonomy)
        raw = np.array([[signals(need.profile, terms, c, taxonomy)[name] for name in SIGNALS] for c in candidates])
        gains = np.array([2.0 ** need.relevant.get(c.solution_id, 0) - 1 for c in candidates])
        ideal = float(np.sort(gains)[::-1][:CUTOFF] @ _DISCOUNT[: min(CUTOFF, len(gains))])
        tables.append(NeedTable(source, need.key, Scale.of(raw).apply(raw), gains, ideal))
    return tables


def weight_grid(step: float = 0.1) -> np.ndarray:
    """Every weight vector on the simplex with entries in multiples of `step`: (points, SIGNALS)."""
    parts = round(1 / step)
    points = [
        (*head, parts - sum(head))
        for head in itertools.product(range(parts + 1), repeat=len(SIGNALS) - 1)
        if sum(head) <= parts
    ]
    return np.asarray(points, dtype=np.float64) / parts


def ndcg_matrix(tables: Sequence[NeedTable], grid: np.ndarray) -> np.ndarray:
    """NDCG@10 of each need (rows) under each weight vector (columns); ties go to the lower id."""
    out = np.zeros((len(tables), len(grid)))
    for row, table in enumerate(tables):
        scores = np.round(table.values @ grid.T, 9)  # (candidates, points)
        top = np.argsort(-scores, axis=0, kind="stable")[:CUTOFF]
        dcg = (table.gains[top] * _DISCOUNT[: len(top), None]).sum(axis=0)
        out[row] = dcg / table.ideal if table.ideal > 0 else 0.0
    return out


def macro(ndcg: np.ndarray, sources: Sequence[str]) -> np.ndarray:
    """The mean over sources of each source's mean over its needs, per weight vector."""
    labels = np.asarray(sources)
    return np.mean([ndcg[labels == source].mean(axis=0) for source in dict.fromkeys(sources)], axis=0)


@dataclass(frozen=True)
class CrossValidation:
    grid: np.ndarray
    chosen: list[np.ndarray]  # per fold, the weights chosen on the other folds
    held_out: dict[str, float]  # per source, the mean held-out NDCG@10 of the chosen weights
    baselines: dict[str, dict[str, float]]  # name -> source -> NDCG@10 of fixed weights (nothing fitted)
    best: np.ndarray  # the grid point best over all needs: the weights to adopt


def folds_of(tables: Sequence[NeedTable], folds: int, seed: int = 0) -> np.ndarray:
    """A fold per need: each source's needs shuffled and dealt round-robin, so every fold has some of each."""
    rng = random.Random(seed)
    fold = np.zeros(len(tables), dtype=int)
    for source in dict.fromkeys(t.source for t in tables):
        rows = [i for i, t in enumerate(tables) if t.source == source]
        rng.shuffle(rows)
        for position, row in enumerate(rows):
            fold[row] = position % folds
    return fold


def cross_validate(
    tables: Sequence[NeedTable], *, folds: int = 5, step: float = 0.1, fixed: dict[str, Weights] | None = None
) -> CrossValidation:
    """Choose weights on all folds but one, score them on that one, for every fold (see the module doc)."""
    grid = weight_grid(step)
    sources = [t.source for t in tables]
    ndcg = ndcg_matrix(tables, grid)
    fold = folds_of(tables, folds)
    held = np.zeros(len(tables))
    chosen = []
    for k in range(folds):
        train = fold != k
        pick = int(np.argmax(macro(ndcg[train], [s for s, t in zip(sources, train, strict=True) if t])))
        chosen.append(grid[pick])
        held[~train] = ndcg[~train, pick]
    labels = np.asarray(sources)
    per_source = {source: float(held[labels == source].mean()) for source in dict.fromkeys(sources)}
    baselines = {}
    for name, weights in (fixed or {}).items():
        vector = np.array([[weights.normalised()[s] for s in SIGNALS]])
        scores = ndcg_matrix(tables, vector)[:, 0]
        baselines[name] = {source: float(scores[labels == source].mean()) for source in dict.fromkeys(sources)}
    best = grid[int(np.argmax(macro(ndcg, sources)))]
    return CrossValidation(grid, chosen, per_source, baselines, best)


@dataclass(frozen=True)
class SettingValidation:
    """Cross-validation of a setting (e.g. the nearest-capability threshold) chosen with the weights."""

    alone: dict[str, dict[str, float]]  # setting -> source -> held-out NDCG@10, weights chosen per fold
    joint: dict[str, float]  # source -> held-out NDCG@10, setting and weights chosen per fold together
    picks: list[str]  # per fold, the setting chosen on the other folds
    best: str  # the setting of the grid point best over all needs: the one to adopt


def cross_validate_settings(
    tables: dict[str, Sequence[NeedTable]], *, folds: int = 5, step: float = 0.1
) -> SettingValidation:
    """For settings that change the tables (the same needs in the same order under each), the held-out
    NDCG@10 of each setting with weights chosen per fold, and of choosing setting and weights together
    on the training folds: the figure that says whether the setting can be chosen without overfitting."""
    grid = weight_grid(step)
    names = list(tables)
    first = tables[names[0]]
    sources = [t.source for t in first]
    labels = np.asarray(sources)
    fold = folds_of(first, folds)
    matrices = {name: ndcg_matrix(tables[name], grid) for name in names}

    def held_out(ndcg: np.ndarray) -> tuple[dict[str, float], list[int]]:
        held, picks = np.zeros(len(first)), []
        for k in range(folds):
            train = fold != k
            picks.append(int(np.argmax(macro(ndcg[train], list(labels[train])))))
            held[~train] = ndcg[~train, picks[-1]]
        return {source: float(held[labels == source].mean()) for source in dict.fromkeys(sources)}, picks

    alone = {name: held_out(matrix)[0] for name, matrix in matrices.items()}
    together = np.concatenate([matrices[name] for name in names], axis=1)
    joint, picks = held_out(together)
    best = names[int(np.argmax(macro(together, sources))) // len(grid)]
    return SettingValidation(alone, joint, [names[p // len(grid)] for p in picks], best)


def format_settings(result: SettingValidation) -> str:
    sources = list(result.joint)
    header = f"{'setting':<34}" + "".join(f"{Path(s).name:>22}" for s in sources) + f"{'macro':>9}"
    lines = ["NDCG@10 on held-out folds, weights chosen per fold", header]

    def row(label: str, figures: dict[str, float]) -> str:
        values = [figures[s] for s in sources]
        return f"{label:<34}" + "".join(f"{v:>22.3f}" for v in values) + f"{np.mean(values):>9.3f}"

    lines += [row(name, figures) for name, figures in result.alone.items()]
    lines.append(row("setting chosen per fold too", result.joint))
    lines.append("settings chosen per fold: " + ", ".join(result.picks))
    lines.append(f"best over all needs (to adopt): {result.best}")
    return "\n".join(lines)


def single_signals() -> dict[str, Weights]:
    """One signal each, for the report."""
    zero = dict.fromkeys(SIGNALS, 0.0)
    return {f"{name} only": Weights(**zero | {name: 1.0}) for name in SIGNALS}


def format_cross_validation(result: CrossValidation) -> str:
    sources = list(result.held_out)
    names = [Path(s).name for s in sources]
    header = f"{'weights':<34}" + "".join(f"{n:>22}" for n in names) + f"{'macro':>9}"
    lines = [f"NDCG@10 on held-out folds ({len(result.chosen)} folds, grid of {len(result.grid)} points)", header]

    def row(label: str, figures: dict[str, float]) -> str:
        values = [figures[s] for s in sources]
        return f"{label:<34}" + "".join(f"{v:>22.3f}" for v in values) + f"{np.mean(values):>9.3f}"

    lines.append(row("chosen per fold (cross-validated)", result.held_out))
    if result.baselines:
        lines.append("fixed weights, fitted to nothing in this run, on all needs:")
        lines += [row(name, figures) for name, figures in result.baselines.items()]
    lines.append("weights chosen per fold (" + ", ".join(SIGNALS) + "):")
    lines += [f"  fold {k + 1}: " + " ".join(f"{w:.2f}" for w in chosen) for k, chosen in enumerate(result.chosen)]
    lines.append(
        "best over all needs (to adopt): "
        + ", ".join(f"{s}={w:.2f}" for s, w in zip(SIGNALS, result.best, strict=True))
    )
    return "\n".join(lines)


def refusals(result: CrossValidation, current: str, public: Sequence[str]) -> list[str]:
    """Why the weights `result` would adopt must not replace the fixed weights `current` (one of
    `result.baselines`); empty when they may. The rule: on held-out folds the procedure's macro
    NDCG@10 over the `public` sets is above the current weights' and no public set is below them.
    The current weights were fitted to none of these needs, so their figures on all needs are
    held-out figures too."""
    before, after = result.baselines[current], result.held_out
    reasons = [
        f"{Path(source).name}：留出折 NDCG@10 {after[source]:.3f} 低于当前权重的 {before[source]:.3f}"
        for source in public
        if after[source] < before[source] - 1e-9
    ]
    old, new = np.mean([before[s] for s in public]), np.mean([after[s] for s in public])
    if new <= old + 1e-9:
        reasons.append(f"公开标注集宏平均 NDCG@10 {new:.3f} 未高于当前权重的 {old:.3f}")
    return reasons
