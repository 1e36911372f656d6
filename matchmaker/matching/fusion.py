"""Fusion: how the signals of a (need, solution) pair combine into one ordered, explained list.

A pure function of the need, the candidates (with their retrieval scores already computed), the
taxonomy and the weights: no I/O, no model, no database, so the web app, the evaluation and the
tests all rank through the same code. The signals are in `signals`, the exposure cap in `exposure`,
the explanation in `explanation`.

Scale-free: every signal is min-max normalised over the need's candidates before it is weighted
(`Scale`), so a weight means the same for every need: raw cosines of USE sit in 0.3-0.8 and TF-IDF
cosines in 0.0-0.3, and their spread differs from need to need. A signal equal for every candidate
(an unstated size, an unknown industry) becomes NEUTRAL for all and so changes no order. Measured on
both public sets against raw sums, z-scores (plain and squashed) and ranks: min-max and z-score were
level and best, min-max keeps the score and its parts in [0, 1].

Speed (a match must stay within twice the cost of encoding the need and a brute-force vector search;
see benchmarks/bench_matching.py): `rank` scores every candidate but builds parts and explanations
only for those it returns; `BatchScorer` gives the same scores for a whole candidate list from
per-solution bit sets, so the engine ranks only the best few; taxonomy terms are found with one
compiled regex per taxonomy (`tagging.finders`).
"""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from matchmaker.matching.explanation import Explanation, explain, need_points
from matchmaker.matching.exposure import cap_exposure
from matchmaker.matching.signals import (
    NEUTRAL,
    SIZE_FIT,
    Candidate,
    NeedProfile,
    NeedTerms,
    StructuredSignals,
    clip01,
    maturity_fit,
)
from matchmaker.matching.tagging import finders, suggest
from matchmaker.matching.taxonomy import INDUSTRY_FIT, SIZE_ORDER, Taxonomy


@dataclass(frozen=True)
class Weights:
    semantic: float
    lexical: float
    industry: float
    size: float
    tags: float
    domain: float
    maturity: float

    def normalised(self) -> dict[str, float]:
        """Each weight over their sum, so that a weighted sum of [0, 1] signals stays in [0, 1]."""
        values = asdict(self)
        if any(v < 0 for v in values.values()) or sum(values.values()) <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum, got {values}")
        total = sum(values.values())
        return {name: v / total for name, v in values.items()}


SIGNALS = tuple(f.name for f in fields(Weights))
PARTS = (*SIGNALS, "rating")  # what a match's score is made of: the weighted signals and the rating prior

# The one place the default weights live. Chosen by `flask tune-weights seed_data/dev_set.json
# seed_data/real_dev_set.json` (USE, 5 folds over the needs of both files, grid step 0.1): the grid
# point with the best macro NDCG@10 over all needs of both files (every fold chose nearly the same).
# The procedure that chose it scored 0.857 / 0.738 NDCG@10 on held-out folds (dev / real); before
# this (raw sums, weights grid-searched on dev_set.json alone) `evaluate` gave 0.871 / 0.630, and the
# old weights on the normalised signals without capability phrases 0.840 / 0.687. Size gets 0: the
# development set never states one and the real needs' stated sizes barely separate answers; it stays
# a named signal for the explanation and for a re-fit when labels say otherwise. Rerun the command
# after changing a signal.
#
# Maturity (智能制造能力成熟度 level within the solution's band) is a small tie-breaker: neither labelled
# set states levels yet, so it is NEUTRAL for every candidate there (its weight changes no figure and
# the grid cannot tune it); 0.03 lets a fitting band decide between near-equal answers without
# outweighing the text (see README "Maturity").
DEFAULT_WEIGHTS = Weights(semantic=0.3, lexical=0.2, industry=0.2, size=0.0, tags=0.2, domain=0.1, maturity=0.03)

# The provider's published star rating (评星评级) is a prior, not a signal of the pair: it is added to the
# weighted sum as RATING_PRIOR * (rating_prior - NEUTRAL), so 3 stars and no rating add exactly 0 (a
# provider without history is never below average, and where no candidate is rated, as in the labelled
# sets, every score is what it was without the prior), 5 stars add +0.015 and 1 star -0.015. It is on
# the stars' own scale, not normalised over the candidates, so one star's difference never weighs more
# than 0.0075: a tie-breaker between near-equal answers, which the exposure cap still reorders. It is
# not tuned: no labelled set holds ratings.
RATING_PRIOR = 0.03


@dataclass(frozen=True)
class Scale:
    """Per signal (in SIGNALS order), the lowest value among a need's candidates and the range above it."""

    low: np.ndarray
    span: np.ndarray

    @classmethod
    def of(cls, raw: np.ndarray) -> "Scale":
        """The scale of `raw` (one row per candidate, one column per signal)."""
        if len(raw) == 0:
            return cls(np.zeros(len(SIGNALS)), np.zeros(len(SIGNALS)))
        low = raw.min(axis=0)
        return cls(low, raw.max(axis=0) - low)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Each column mapped onto [0, 1] by the scale; NEUTRAL where the candidates all had one value."""
        flat = self.span <= 1e-12
        scaled = (raw - self.low) / np.where(flat, 1.0, self.span)
        return np.where(flat, NEUTRAL, np.clip(scaled, 0.0, 1.0))


def fused(normalised: np.ndarray, share: dict[str, float]) -> np.ndarray:
    """The weighted sum per row, added column by column in SIGNALS order: the same floats for a row
    whichever other rows come with it (a matrix product may sum in another order)."""
    score = np.zeros(len(normalised))
    for column, name in enumerate(SIGNALS):
        score = score + share[name] * normalised[:, column]
    return score


def with_prior(scores: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """The scores with each candidate's rating prior added (see RATING_PRIOR)."""
    return scores + RATING_PRIOR * (priors - NEUTRAL)


@dataclass(frozen=True)
class RankedMatch:
    solution_id: int
    rank: int  # 1-based
    score: float  # in [0, 1]
    parts: dict[str, float] = field(hash=False)  # signal (and "rating", the prior) -> contribution; they sum to score
    explanation: Explanation = field(hash=False)

    def as_dict(self) -> dict:
        return asdict(self)


def need_terms(need: NeedProfile, taxonomy: Taxonomy) -> NeedTerms:
    """The need's tags and domains as given, or as suggested from its text when not given."""
    suggestion = suggest(need.text, taxonomy) if not (need.tags and need.domains) else None
    tags = need.tags or (suggestion.tags if suggestion else ())
    domains = need.domains or (suggestion.domains if suggestion else ())
    return NeedTerms(
        tags=taxonomy.canonical_tags(tags), domains=tuple(domains), points=need_points(need.text, taxonomy)
    )


def rank(
    need: NeedProfile,
    candidates: Sequence[Candidate],
    taxonomy: Taxonomy,
    weights: Weights = DEFAULT_WEIGHTS,
    top_n: int = 10,
    *,
    terms: "NeedTerms | None" = None,
    scale: Scale | None = None,
) -> list[RankedMatch]:
    """The top `top_n` candidates by weighted normalised signal sum, with the exposure cap and explanations.

    `scale`: the normalisation, when worked out over a larger candidate list than the one given (the
    engine ranks only the best of its candidates); by default the candidates' own. Ties are broken by
    solution id so the same input always gives the same order. Every candidate gets its score (the
    structured signals of equal industries, sizes or tags are worked out once per call), only the
    ones returned get their parts and explanation.
    """
    share = weights.normalised()
    if terms is None:
        terms = need_terms(need, taxonomy)
    structured = StructuredSignals(need, terms.tags, taxonomy)
    maturity_of: dict[str, float] = {}  # band -> fit, worked out once per call
    industry_of, size_of, tags_value = structured.industry, structured.size, structured.tags_value
    domains, domain_neutral = terms.domains, NEUTRAL if not terms.domains else None
    raw = np.empty((len(candidates), len(SIGNALS)))
    for position, candidate in enumerate(candidates):
        # `signals`, inlined (in SIGNALS order): this loop runs for every candidate.
        sem, lex = candidate.semantic, candidate.lexical
        sem = sem if 0.0 <= sem <= 1.0 else clip01(sem)
        lex = lex if 0.0 <= lex <= 1.0 else clip01(lex)
        ind = industry_of.get(candidate.industries)
        if ind is None:
            ind = structured.industry_value(candidate.industries)
        size = size_of.get(candidate.sizes)
        if size is None:
            size = structured.size_value(candidate.sizes)
        tags = tags_value(candidate.tags)
        dom = domain_neutral if domain_neutral is not None else 1.0 if candidate.domain in domains else 0.0
        mat = maturity_of.get(candidate.maturity)
        if mat is None:
            mat = maturity_of[candidate.maturity] = maturity_fit(need.maturity, candidate.maturity)
        raw[position] = (sem, lex, ind, size, tags, dom, mat)
    values = (scale or Scale.of(raw)).apply(raw)
    priors = np.fromiter((candidate.rating for candidate in candidates), dtype=np.float64, count=len(candidates))
    scores = with_prior(fused(values, share), priors)
    # Rounded keys: sums of the same parts in another order must not reorder ties.
    keys = sorted(
        (-round(float(score), 9), candidate.solution_id, position)
        for position, (score, candidate) in enumerate(zip(scores.tolist(), candidates, strict=True))
    )
    ordered = [candidates[position] for _, _, position in keys]
    row_of = {candidate.solution_id: position for position, candidate in enumerate(candidates)}
    out = []
    for position, candidate in enumerate(cap_exposure(ordered)[:top_n], start=1):
        row = values[row_of[candidate.solution_id]].tolist()
        parts = {name: share[name] * value for name, value in zip(SIGNALS, row, strict=True)}
        parts["rating"] = RATING_PRIOR * (candidate.rating - NEUTRAL)
        out.append(
            RankedMatch(
                solution_id=candidate.solution_id,
                rank=position,
                score=clip01(sum(parts.values())),
                parts=parts,
                explanation=explain(need, terms, candidate, taxonomy),
            )
        )
    return out


class BatchScorer:
    """`rank`'s score for many candidates of one need at once, from their retrieval scores and FEATURES
    rows: the same arithmetic in the same order, so the same floats. `usable` is False when the need
    names a tag the taxonomy does not know (those needs are scored one by one). After `scores`,
    `scale` is the normalisation over all the candidates, which `rank` of any few of them must use."""

    def __init__(self, need: NeedProfile, terms: NeedTerms, taxonomy: Taxonomy, weights: Weights) -> None:
        self.share = weights.normalised()
        self.structured = StructuredSignals(need, terms.tags, taxonomy)
        found = finders(taxonomy)
        self.usable = all(name in found.tag_bit for name in terms.tags) and len(found.industry_bit) <= 64
        self.need_tags = len(terms.tags)
        bits = 0
        for name in terms.tags:
            bits |= 1 << found.tag_bit.get(name, 0)
        self.tags_lo, self.tags_hi = np.uint64(bits & (2**64 - 1)), np.uint64(bits >> 64)
        key = ("industry masks", need.industry)
        masks = found.memo.get(key)
        if masks is None:
            masks = {"same": 0, "related": 0, "general": 0, "other": 0, "unknown": 0}
            for code, bit in found.industry_bit.items():
                masks[taxonomy.industry_relation(need.industry, (code,))[0]] |= 1 << bit
            masks["empty"] = taxonomy.industry_relation(need.industry, ())[0]
            if len(found.memo) < 1024:
                found.memo[key] = masks
        self.industry_unknown = masks["empty"] == "unknown"
        self.industry_masks = {relation: np.uint64(masks[relation]) for relation in ("same", "related", "general")}
        self.industry_empty = INDUSTRY_FIT[masks["empty"]]
        self.size_bit = 1 << SIZE_ORDER.index(need.size) if need.size in SIZE_ORDER else 0
        position = SIZE_ORDER.index(need.size) if need.size in SIZE_ORDER else 0
        self.size_adjacent = sum(1 << i for i in (position - 1, position + 1) if 0 <= i < len(SIZE_ORDER))
        self.domains = terms.domains
        # The need's domains by place; None when one is not in the taxonomy (compared as text then).
        places = [found.domain_place.get(domain) for domain in terms.domains]
        self.domain_places = None if None in places else np.asarray(places, dtype=np.uint16)
        self.maturity = need.maturity

    def maturity_values(self, bands: np.ndarray) -> np.ndarray:
        """`signals.maturity_fit` from `maturity_bits` rows: inside the band 1, one level outside 0.25, else 0."""
        level = self.maturity
        if not 1 <= level <= 5:
            return np.full(len(bands), NEUTRAL)
        adjacent = ((1 << (level - 1)) | (1 << (level + 1))) & 0b111110
        return np.where(
            bands == 0,
            NEUTRAL,
            np.where(bands & (1 << level) != 0, 1.0, np.where(bands & adjacent != 0, 0.25, 0.0)),
        )

    def in_domains(self, features: np.ndarray, domain_of: Callable[[int], str]) -> np.ndarray:
        """Whether each candidate's domain is one of the need's (`domain_of(i)`: candidate i's domain)."""
        if self.domain_places is not None:
            return np.isin(features["domain"], self.domain_places)
        return np.fromiter((domain_of(i) in self.domains for i in range(len(features))), dtype=bool)

    def scores(
        self,
        semantic: np.ndarray,
        lexical: np.ndarray,
        features: np.ndarray,
        in_domains: np.ndarray,
        tags_of: Callable[[int], tuple[str, ...]],
    ) -> np.ndarray:
        """The weighted normalised signal sum per candidate (`rank`'s score). `in_domains`: whether each
        candidate's domain is one of the need's; `tags_of(i)`: candidate i's tags (asked only for rows
        with custom tags)."""
        n = len(features)
        sem = np.where(np.isfinite(semantic), np.clip(semantic, 0.0, 1.0), 0.0)
        lex = np.where(np.isfinite(lexical), np.clip(lexical, 0.0, 1.0), 0.0)
        if self.industry_unknown:
            industry = np.full(n, INDUSTRY_FIT["unknown"])
        else:
            bits, m = features["industries"], self.industry_masks
            industry = np.where(
                bits & m["same"] != 0,
                INDUSTRY_FIT["same"],
                np.where(
                    bits & m["related"] != 0,
                    INDUSTRY_FIT["related"],
                    np.where(
                        bits & m["general"] != 0,
                        INDUSTRY_FIT["general"],
                        np.where(features["listed"], INDUSTRY_FIT["other"], self.industry_empty),
                    ),
                ),
            )
        sizes = features["sizes"]
        if not self.size_bit:
            size = np.full(n, NEUTRAL)
        else:
            size = np.where(
                sizes & self.size_bit != 0,
                SIZE_FIT["same"],
                np.where(
                    sizes == 0,
                    SIZE_FIT["unknown"],
                    np.where(sizes & self.size_adjacent != 0, SIZE_FIT["adjacent"], SIZE_FIT["other"]),
                ),
            )
        if not self.need_tags:
            tags = np.full(n, NEUTRAL)
        else:
            shared = np.bitwise_count(features["tags_lo"] & self.tags_lo) + np.bitwise_count(
                features["tags_hi"] & self.tags_hi
            )
            tags = shared.astype(np.float64) / self.need_tags
            for i in np.flatnonzero(features["custom_tags"]).tolist():
                tags[i] = self.structured.tags_value(tags_of(i))
        domain = np.where(in_domains, 1.0, 0.0) if self.domains else np.full(n, NEUTRAL)
        maturity = self.maturity_values(features["maturity"])
        raw = np.column_stack([sem, lex, industry, size, tags, domain, maturity])  # SIGNALS order
        self.scale = Scale.of(raw)
        return with_prior(fused(self.scale.apply(raw), self.share), features["rating"].astype(np.float64))
