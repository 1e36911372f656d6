"""Offline evaluation of the matcher on a labelled set: NDCG@10, MRR@10, Recall@10.

The labelled file (seed_data/dev_set.json is the public development set) holds solutions and needs
written as a person would, with free-text industries and sizes, and per need the relevant solutions
graded 2 (solves it) or 1 (partly). Optional: a need's "maturity" (the 智能制造能力成熟度 level, 1-5, it
aims for) and a solution's "maturity" (the band it serves, e.g. "1-2"); where a set has none the
maturity signal is neutral, and `--no-maturity` ranks with its weight at 0 to measure its effect.
The set is turned into what the app has — codes where the taxonomy knows the name, suggested tags
for untagged solutions and needs — and matched through the same `MatchEngine` the app uses. Each
single-signal family is ranked over all solutions as a baseline, so the full ranker has to beat
every part of itself.

Several files give a table each and their macro average (the mean of each figure over the files).

    python -m matchmaker.matching.evaluation seed_data/dev_set.json [more.json ...] [--encoder use]
        [--no-maturity] [--json]
"""

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from embeddings import Encoder, load_encoder
from matchmaker.matching.capabilities import NEAREST_THRESHOLD
from matchmaker.matching.engine import MatchEngine, SolutionDoc, doc_text
from matchmaker.matching.fusion import DEFAULT_WEIGHTS, SIGNALS, Weights, rank
from matchmaker.matching.signals import NeedProfile, maturity_range
from matchmaker.matching.tagging import suggest
from matchmaker.matching.taxonomy import Taxonomy, load_taxonomy, resolve_sizes

CUTOFF = 10
METRICS = ("ndcg@10", "mrr@10", "recall@10")
DEFAULT_TAXONOMY = Path(__file__).resolve().parents[2] / "seed_data" / "taxonomy.json"


@dataclass(frozen=True)
class LabelledNeed:
    key: str  # the id in the file, e.g. "N01"
    profile: NeedProfile
    relevant: dict[int, int]  # solution id -> grade (2 solves it, 1 partly)


@dataclass(frozen=True)
class LabelledSet:
    solutions: tuple[SolutionDoc, ...]
    needs: tuple[LabelledNeed, ...]
    solution_keys: dict[int, str]  # solution id -> the id in the file


# --- reading the file ----------------------------------------------------------------------


def _solution(row: Mapping[str, Any], id_: int, provider_id: int, taxonomy: Taxonomy) -> SolutionDoc:
    """A solution row as the app would hold it: codes for names the taxonomy knows, the rest as text."""
    industries, unknown_industries = [], []
    for name in row.get("industries") or ():
        code = taxonomy.resolve_industry(name)
        if code is None:
            unknown_industries.append(name)
        elif code not in industries:
            industries.append(code)
    sizes, unknown_sizes = [], []
    for name in row.get("sizes") or ():
        found = resolve_sizes(name)
        sizes.extend(s for s in found if s not in sizes)
        if not found:
            unknown_sizes.append(name)
    notes = [f"适用行业：{'、'.join(unknown_industries)}" if unknown_industries else ""]
    notes.append(f"适用规模：{'、'.join(unknown_sizes)}" if unknown_sizes else "")
    domain = str(row.get("domain") or "")
    doc = SolutionDoc(
        id=id_,
        provider_id=provider_id,
        title=str(row.get("title") or ""),
        summary="；".join(n for n in notes if n),
        description=str(row.get("description") or ""),
        domain=taxonomy.domain_code(domain) or domain,
        industries=tuple(industries),
        sizes=tuple(sizes),
        modules=tuple(str(m) for m in row.get("modules") or ()),
        maturity=_band(row.get("maturity")),
    )
    return replace(doc, tags=suggest(doc_text(doc), taxonomy).tags)  # as MatchEngine tags an untagged solution


def _band(value: Any) -> str:
    """A solution's maturity band as the app stores it; "" when absent or not a band of levels 1-5."""
    band = str(value or "").strip()
    return band if maturity_range(band) else ""


def _level(value: Any) -> int:
    """A need's maturity level, 1-5; 0 when absent or out of range."""
    return value if isinstance(value, int) and 1 <= value <= 5 else 0


def _need(row: Mapping[str, Any], solution_ids: Mapping[str, int], taxonomy: Taxonomy) -> LabelledNeed:
    """A need row as the app would hold it: industry and size codes when known, suggested tags and domains."""
    text = str(row.get("text") or "")
    industry_name = str(row.get("industry") or "").strip()
    industry = taxonomy.resolve_industry(industry_name)
    sizes = resolve_sizes(str(row.get("size") or ""))
    extra = [f"行业：{industry_name}" if industry_name and not industry else ""]
    if len(sizes) != 1 and str(row.get("size") or "").strip():
        extra.append(f"规模：{row['size']}")
    text = "\n".join(t for t in (text, *extra) if t)
    suggestion = suggest(text, taxonomy)
    profile = NeedProfile(
        text=text,
        industry=industry,
        size=sizes[0] if len(sizes) == 1 else None,
        domains=suggestion.domains,
        tags=suggestion.tags,
        maturity=_level(row.get("maturity")),
    )
    labels = row.get("relevant") or {}
    relevant = {solution_ids[key]: int(grade) for key, grade in labels.items() if key in solution_ids}
    return LabelledNeed(key=str(row["id"]), profile=profile, relevant=relevant)


def load_labelled_set(path: str | Path, taxonomy: Taxonomy) -> LabelledSet:
    """Read a labelled set. String ids become 1-based ints in file order; a solution with no provider
    is its own provider, so the exposure cap never groups unrelated solutions. Unknown names never fail."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rows = data.get("solutions") or []
    solution_ids = {str(row["id"]): position for position, row in enumerate(rows, start=1)}
    named = sorted({str(row.get("provider") or "") for row in rows} - {""})
    provider_ids = {name: position for position, name in enumerate(named, start=1)}
    solutions = tuple(
        _solution(row, id_, provider_ids.get(str(row.get("provider") or ""), len(named) + id_), taxonomy)
        for row, id_ in zip(rows, solution_ids.values(), strict=True)
    )
    needs = tuple(_need(row, solution_ids, taxonomy) for row in data.get("needs") or [])
    return LabelledSet(solutions=solutions, needs=needs, solution_keys={v: k for k, v in solution_ids.items()})


# --- metrics -------------------------------------------------------------------------------


def ndcg_at(ranked: Sequence[int], relevant: Mapping[int, int], k: int = CUTOFF) -> float:
    """NDCG@k with gain 2^grade - 1; the ideal ranking is built from all the need's labels."""

    def dcg(grades: Sequence[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:k]))

    ideal = dcg(sorted(relevant.values(), reverse=True))
    return dcg([relevant.get(i, 0) for i in ranked]) / ideal if ideal > 0 else 0.0


def mrr_at(ranked: Sequence[int], relevant: Mapping[int, int], k: int = CUTOFF) -> float:
    return next((1.0 / (i + 1) for i, s in enumerate(ranked[:k]) if relevant.get(s, 0) >= 1), 0.0)


def recall_at(ranked: Sequence[int], relevant: Mapping[int, int], k: int = CUTOFF) -> float:
    wanted = {s for s, g in relevant.items() if g >= 1}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def metrics(rankings: Mapping[str, Sequence[int]], needs: Sequence[LabelledNeed]) -> dict[str, float]:
    """Mean of each metric over the needs that have at least one relevant solution."""
    judged = [n for n in needs if any(g >= 1 for g in n.relevant.values())]
    if not judged:
        return dict.fromkeys(METRICS, 0.0)
    functions = {"ndcg@10": ndcg_at, "mrr@10": mrr_at, "recall@10": recall_at}
    return {name: sum(fn(rankings[n.key], n.relevant) for n in judged) / len(judged) for name, fn in functions.items()}


# --- running -------------------------------------------------------------------------------


def baseline_weights(weights: Weights = DEFAULT_WEIGHTS) -> dict[str, Weights]:
    """One signal family each; the structured one keeps the full ranker's proportions between its parts."""
    zero = dict.fromkeys(SIGNALS, 0.0)
    return {
        "semantic": Weights(**zero | {"semantic": 1.0}),
        "lexical": Weights(**zero | {"lexical": 1.0}),
        "structured": replace(weights, semantic=0.0, lexical=0.0),
    }


def build_engine(
    labelled: LabelledSet,
    encoder: Encoder,
    taxonomy: Taxonomy,
    weights: Weights,
    nearest: float | None = NEAREST_THRESHOLD,
) -> MatchEngine:
    engine = MatchEngine(encoder, taxonomy, weights, nearest)
    engine.upsert(labelled.solutions)
    return engine


def run(labelled: LabelledSet, engine: MatchEngine) -> dict[str, dict[str, list[int]]]:
    """Rankings (solution ids, best first) per system and need: "full" through `engine.match`, each
    baseline by ranking all solutions on its signal family alone."""
    baselines = baseline_weights(engine.weights)
    systems: dict[str, dict[str, list[int]]] = {"full": {}} | {name: {} for name in baselines}
    for need in labelled.needs:
        systems["full"][need.key] = [m.solution_id for m in engine.match(need.profile, top_n=CUTOFF)]
        everything = engine.all_candidates(need.profile)
        for name, weights in baselines.items():
            ranked = rank(need.profile, everything, engine.taxonomy, weights, top_n=CUTOFF)
            systems[name][need.key] = [m.solution_id for m in ranked]
    return systems


def evaluate(
    path: str | Path,
    encoder: Encoder,
    taxonomy: Taxonomy,
    *,
    weights: Weights = DEFAULT_WEIGHTS,
    only: Callable[[str], bool] | None = None,
    nearest: float | None = NEAREST_THRESHOLD,
) -> dict:
    """Metrics of the full ranker and of each baseline; `only` keeps the needs whose file id it accepts,
    `nearest` is the nearest-capability threshold (None: phrases only).

    Returns {"full": {metric: value}, "baselines": {"semantic" | "lexical" | "structured": {metric: value}}}.
    """
    labelled = load_labelled_set(path, taxonomy)
    if only is not None:
        labelled = replace(labelled, needs=tuple(n for n in labelled.needs if only(n.key)))
    systems = run(labelled, build_engine(labelled, encoder, taxonomy, weights, nearest))
    return {
        "full": metrics(systems["full"], labelled.needs),
        "baselines": {name: metrics(systems[name], labelled.needs) for name in baseline_weights()},
    }


def macro_average(results: Sequence[Mapping[str, Any]]) -> dict:
    """Each figure of several `evaluate` results averaged over them, in the same shape."""

    def mean(pick: Callable[[Mapping[str, Any]], Mapping[str, float]]) -> dict[str, float]:
        return {m: sum(pick(r)[m] for r in results) / len(results) for m in METRICS}

    names = results[0]["baselines"]
    return {
        "full": mean(lambda r: r["full"]),
        "baselines": {name: mean(lambda r, name=name: r["baselines"][name]) for name in names},
    }


def report(results: Mapping[str, Mapping[str, Any]]) -> tuple[str, dict]:
    """The tables of results by file name (and their macro average when there are several), and what
    `--json` prints: a single file's result as it is, else {"files": {...}, "macro": {...}}."""
    if len(results) == 1:
        (result,) = results.values()
        return format_report(result), dict(result)
    average = macro_average(list(results.values()))
    tables = [f"{name}\n{format_report(result)}" for name, result in results.items()]
    tables.append(f"macro average over {len(results)} files\n{format_report(average)}")
    return "\n\n".join(tables), {"files": dict(results), "macro": average}


def format_report(result: Mapping[str, Any]) -> str:
    """A fixed-width table: one row per system, one column per metric."""
    rows = [("full", result["full"])] + [(f"{name} only", m) for name, m in result["baselines"].items()]
    header = f"{'system':<18}" + "".join(f"{m:>11}" for m in METRICS)
    lines = [header, "-" * len(header)]
    lines += [f"{name:<18}" + "".join(f"{values[m]:>11.3f}" for m in METRICS) for name, values in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m matchmaker.matching.evaluation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("paths", nargs="+", help="labelled sets (JSON: solutions, needs with relevant labels)")
    parser.add_argument("--encoder", default="use", help="encoder spec: use (default), e5, st:<path>, hash")
    parser.add_argument("--taxonomy", default=str(DEFAULT_TAXONOMY), help="taxonomy JSON (default: %(default)s)")
    parser.add_argument("--only", metavar="REGEX", help="evaluate only the needs whose id matches REGEX")
    parser.add_argument("--no-maturity", action="store_true", help="rank with the maturity signal's weight at 0")
    parser.add_argument("--json", action="store_true", help="also print the result as JSON on the last line")
    args = parser.parse_args(argv)

    only = re.compile(args.only).search if args.only else None
    weights = replace(DEFAULT_WEIGHTS, maturity=0.0) if args.no_maturity else DEFAULT_WEIGHTS
    encoder, taxonomy = load_encoder(args.encoder), load_taxonomy(args.taxonomy)
    results = {path: evaluate(path, encoder, taxonomy, weights=weights, only=only) for path in args.paths}
    text, figures = report(results)
    print(text)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
