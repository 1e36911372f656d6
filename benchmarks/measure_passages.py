"""Measure scoring a solution by its best passage against its whole text, by cross-validation.

    python benchmarks/measure_passages.py seed_data/dev_set.json seed_data/real_dev_set.json [--encoder use]

The semantic signal today is the cosine of the need to the solution's whole text. The alternatives
score each passage (the title, each module, each clause of the description) and take the best one
(max), or a soft-max over them (temperature tau, log-mean-exp), mixed with the whole-text cosine:
a * whole + (1 - a) * passage. Every setting gets the same tables as `flask tune-weights` (signals
normalised per need, the same folds and grid), and `tuning.cross_validate_settings` reports the
held-out NDCG@10 of each with weights chosen per fold, and of choosing the setting with the weights.
Measured (USE) and not adopted: see the README next to `evaluate`.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embeddings import load_encoder  # noqa: E402
from matchmaker.matching.engine import doc_text  # noqa: E402
from matchmaker.matching.evaluation import DEFAULT_TAXONOMY, load_labelled_set  # noqa: E402
from matchmaker.matching.explanation import split_points  # noqa: E402
from matchmaker.matching.fusion import SIGNALS, Scale  # noqa: E402
from matchmaker.matching.taxonomy import load_taxonomy  # noqa: E402
from matchmaker.matching.tuning import NeedTable, cross_validate_settings, format_settings, labelled_tables  # noqa: E402

SEMANTIC = SIGNALS.index("semantic")


def max_of(cosines: np.ndarray) -> float:
    return float(cosines.max())


def soft_max(tau: float) -> Callable[[np.ndarray], float]:
    return lambda cosines: float(tau * np.log(np.mean(np.exp(cosines / tau))))


SETTINGS: dict[str, tuple[float, Callable[[np.ndarray], float] | None]] = {
    "whole text": (1.0, None),
    "best passage (max)": (0.0, max_of),
    "0.25 whole + 0.75 max": (0.25, max_of),
    "0.5 whole + 0.5 max": (0.5, max_of),
    "0.75 whole + 0.25 max": (0.75, max_of),
    "0.5 whole + 0.5 soft-max tau 0.05": (0.5, soft_max(0.05)),
    "0.5 whole + 0.5 soft-max tau 0.1": (0.5, soft_max(0.1)),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--encoder", default="use")
    args = parser.parse_args(argv)
    encoder, taxonomy = load_encoder(args.encoder), load_taxonomy(DEFAULT_TAXONOMY)
    tables: dict[str, list[NeedTable]] = {name: [] for name in SETTINGS}
    for path in args.paths:
        labelled = load_labelled_set(path, taxonomy)
        base = labelled_tables(str(path), labelled, encoder, taxonomy)  # rows in ascending solution id
        docs = sorted(labelled.solutions, key=lambda doc: doc.id)
        passages = [
            encoder.encode([p for p in (doc.title, *doc.modules, *split_points(doc.description)) if p.strip()])
            for doc in docs
        ]
        texts = encoder.encode([doc_text(doc) for doc in docs])
        judged = [n for n in labelled.needs if any(grade >= 1 for grade in n.relevant.values())]
        queries = encoder.encode([need.profile.text for need in judged])
        for table, query in zip(base, queries, strict=True):
            whole = np.clip(texts @ query, 0.0, 1.0)
            cosines = [vectors @ query for vectors in passages]
            for name, (share, pick) in SETTINGS.items():
                if pick is None:
                    tables[name].append(table)
                    continue
                raw = table.values.copy()  # normalised already; min-max again leaves those columns be
                best = np.array([pick(c) if len(c) else 0.0 for c in cosines])
                raw[:, SEMANTIC] = np.clip(share * whole + (1 - share) * best, 0.0, 1.0)
                tables[name].append(
                    NeedTable(table.source, table.key, Scale.of(raw).apply(raw), table.gains, table.ideal)
                )
    print(format_settings(cross_validate_settings(tables)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
