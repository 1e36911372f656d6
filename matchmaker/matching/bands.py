"""Match bands (高度匹配 / 较匹配 / 部分匹配): where their score cut-offs come from.

A band tells a factory owner in words how far to trust a result. Its cut-off is derived from labelled
sets, so it can be derived again whenever the ranker (and with it the score scale) changes:

1. Every need of each labelled set is matched through the same MatchEngine the app uses; the first
   10 results are kept with their score and label (relevant: graded 1 or 2 in the set; else not).
2. For a band with target precision P, the cut-off is the lowest score t at which the results scoring
   >= t, pooled over all the sets, are relevant at least P of the time, and stay so for every higher t
   (precision is read from the top down, so one lucky pair low down cannot open the band).
3. TARGETS: 高度匹配 0.9, 较匹配 0.7, 部分匹配 0.4. Below 部分匹配 more than 60% of results are not
   relevant: the page does not recommend them.

    flask --app matchmaker match-bands seed_data/dev_set.json /work/shared/eval/real_dev_set.json

prints the cut-offs and the figures behind them; put them into MATCHMAKER_BAND_* (plumbing/config.py)
and the README.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from embeddings import Encoder
from matchmaker.matching.evaluation import CUTOFF, build_engine, load_labelled_set
from matchmaker.matching.fusion import DEFAULT_WEIGHTS
from matchmaker.matching.taxonomy import Taxonomy

TARGETS = (("high", 0.9), ("good", 0.7), ("partial", 0.4))
BAND_LABELS = {"high": "高度匹配", "good": "较匹配", "partial": "部分匹配"}


@dataclass(frozen=True)
class ScoredPair:
    score: float
    relevant: bool


def labelled_pairs(paths: Iterable[str | Path], encoder: Encoder, taxonomy: Taxonomy) -> list[ScoredPair]:
    """The first CUTOFF results of every need in every set, with their score and whether labelled relevant."""
    pairs = []
    for path in paths:
        labelled = load_labelled_set(path, taxonomy)
        engine = build_engine(labelled, encoder, taxonomy, DEFAULT_WEIGHTS)
        for need in labelled.needs:
            for match in engine.match(need.profile, top_n=CUTOFF):
                pairs.append(ScoredPair(match.score, need.relevant.get(match.solution_id, 0) >= 1))
    return pairs


def cutoff(pairs: Sequence[ScoredPair], precision: float) -> float | None:
    """The lowest score from which upwards every prefix of the ranking by score is at least `precision`
    relevant; None when not even the best pair is."""
    ordered = sorted(pairs, key=lambda p: -p.score)
    found, relevant = None, 0
    for count, pair in enumerate(ordered, start=1):
        relevant += pair.relevant
        if relevant / count < precision:
            break
        found = pair.score
    return found


@dataclass(frozen=True)
class BandReport:
    band: str
    target: float
    cutoff: float | None
    share_relevant: float  # of the pairs scoring >= cutoff
    pairs: int  # scoring >= cutoff


def derive(pairs: Sequence[ScoredPair]) -> list[BandReport]:
    """Each band's cut-off, never above the band before it (a lower band starts where a higher one ends)."""
    reports, ceiling = [], None
    for band, target in TARGETS:
        value = cutoff(pairs, target)
        if value is not None and ceiling is not None:
            value = min(value, ceiling)
        inside = [p for p in pairs if value is not None and p.score >= value]
        share = sum(p.relevant for p in inside) / len(inside) if inside else 0.0
        reports.append(BandReport(band, target, value, share, len(inside)))
        ceiling = value if value is not None else ceiling
    return reports


def configured_cutoffs(config) -> dict[str, float]:
    """The cut-offs in use: MATCHMAKER_BAND_HIGH / _GOOD / _PARTIAL."""
    return {band: float(config[f"MATCHMAKER_BAND_{band.upper()}"]) for band, _ in TARGETS}


def band_of(score: float, cutoffs: dict[str, float]) -> str | None:
    """The band a score falls in ("high" | "good" | "partial"), or None below the partial cut-off."""
    for band, _ in TARGETS:
        if score >= cutoffs[band]:
            return band
    return None


def format_bands(pairs: Sequence[ScoredPair], reports: Sequence[BandReport]) -> str:
    relevant = sorted(p.score for p in pairs if p.relevant)
    other = sorted(p.score for p in pairs if not p.relevant)

    def median(values: list[float]) -> str:
        return f"{values[len(values) // 2]:.3f}" if values else "—"

    lines = [
        f"{len(pairs)} results (top {CUTOFF}): {len(relevant)} relevant (median score {median(relevant)}), "
        f"{len(other)} not relevant (median {median(other)})",
    ]
    for r in reports:
        shown = "—" if r.cutoff is None else f"{r.cutoff:.2f}"
        lines.append(
            f"{BAND_LABELS[r.band]} ({r.band}): cut-off {shown}  target precision {r.target:.0%}, "
            f"measured {r.share_relevant:.0%} over {r.pairs} results"
        )
    return "\n".join(lines)
