"""The signals of a (need, solution) pair, each in [0, 1], and what they are computed from.

- semantic: cosine of the two embeddings (clipped at 0), from the vector index;
- lexical:  TF-IDF cosine over characters and words, from the lexical index;
- industry: `Taxonomy.industry_fit` (same 1, related 0.8, 通用 or unknown 0.5, a stated other 0.25);
- size:     SIZE_FIT: the need's size class among the solution's 1, an adjacent class 0.75, either side
            unstated 0.5, a stated class further away 0.25;
- tags:     the share of the need's capability tags (given, or suggested from its text) that the
            solution has, compared through the taxonomy's synonyms; 0.5 when the need has none;
- domain:   1 when the solution's domain is one of the need's domains, else 0; 0.5 when the need has none.
- maturity: `maturity_fit`: the need's 智能制造能力成熟度 level within the band the solution serves 1, one
            level outside 0.25, further 0; 0.5 when either side is unstated, so the unknown is never punished.

Besides the signals, a candidate carries its provider's published star rating as `rating_prior`: not a
signal of the pair but a small prior added by `fusion` (see RATING_PRIOR there), NEUTRAL without a rating.

Neutral values are the same for every candidate of a need, so they never change an order; they only
keep the score of a thinly described need in the middle of the scale instead of at the bottom.
`StructuredSignals` remembers the structured values per distinct industries, sizes and tags of one need's
candidates; `FEATURES` rows hold them as bit sets, for scoring many solutions at once (`fusion.BatchScorer`).
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matchmaker.matching.tagging import finders
from matchmaker.matching.taxonomy import INDUSTRY_FIT, SIZE_ORDER, Taxonomy

if TYPE_CHECKING:
    from matchmaker.matching.explanation import NeedPoint

NEUTRAL = 0.5
SIZE_FIT = {"same": 1.0, "adjacent": 0.75, "unknown": NEUTRAL, "other": 0.25}


@dataclass(frozen=True)
class NeedProfile:
    text: str
    industry: str | None = None  # industry code
    size: str | None = None  # size class: large | medium | small | micro
    domains: tuple[str, ...] = ()  # domain codes; suggested from the text when empty
    tags: tuple[str, ...] = ()  # tag names; suggested from the text when empty
    maturity: int = 0  # the 智能制造能力成熟度 level (1-5) the need aims for; 0 = unstated


@dataclass(slots=True)
class Candidate:
    """A solution retrieved for a need, with its two retrieval scores. A plain record, not frozen: a
    match makes a couple of hundred, and a frozen dataclass costs ~5x as much to construct."""

    solution_id: int
    provider_id: int
    title: str
    domain: str
    industries: tuple[str, ...]
    sizes: tuple[str, ...]
    modules: tuple[str, ...]
    tags: tuple[str, ...]
    semantic: float
    lexical: float
    text: str = ""  # the solution's description, for the per-point explanation
    scans: bytes | None = None  # `solution_scans` of modules, title and text, when worked out beforehand
    maturity: str = ""  # the maturity band the solution serves, "lowest-highest" (e.g. "1-2"); "" = unstated
    rating: float = NEUTRAL  # `rating_prior` of the provider's published stars


@dataclass(frozen=True)
class NeedTerms:
    """What the ranker derives once per need (`fusion.need_terms`): canonical tags, domains, points."""

    tags: frozenset[str]
    domains: tuple[str, ...]
    points: tuple["NeedPoint", ...]  # the capabilities the need asks for, with their clauses


def clip01(value: float) -> float:
    return 0.0 if not math.isfinite(value) else min(1.0, max(0.0, value))


def size_fit(need_size: str | None, solution_sizes: Iterable[str]) -> float:
    sizes = [s for s in solution_sizes if s in SIZE_ORDER]
    if need_size not in SIZE_ORDER or not sizes:
        return SIZE_FIT["unknown"]
    if need_size in sizes:
        return SIZE_FIT["same"]
    position = SIZE_ORDER.index(need_size)
    if any(abs(SIZE_ORDER.index(s) - position) == 1 for s in sizes):
        return SIZE_FIT["adjacent"]
    return SIZE_FIT["other"]


def tag_overlap(need_tags: frozenset[str], solution_tags: frozenset[str]) -> float:
    """The share of the need's tags the solution has. Measured against the Ochiai coefficient, which
    also penalises a solution's other tags: coverage ranked better on the development set, since a
    broad solution (an integration covering ERP, MES and WMS) is no worse an answer for having them."""
    if not need_tags:
        return NEUTRAL
    return len(need_tags & solution_tags) / len(need_tags)


def domain_fit(need_domains: Sequence[str], solution_domain: str) -> float:
    if not need_domains:
        return NEUTRAL
    return 1.0 if solution_domain in need_domains else 0.0


MATURITY_LEVELS = range(1, 6)


def maturity_range(band: str) -> range | None:
    """The levels of a band written "lowest-highest" (e.g. "3-5"); None when unstated or malformed."""
    low, _, high = band.partition("-")
    if not (low.isdigit() and high.isdigit()):
        return None
    levels = range(int(low), int(high) + 1)
    return levels if levels and levels[0] in MATURITY_LEVELS and levels[-1] in MATURITY_LEVELS else None


def maturity_fit(need_level: int, band: str) -> float:
    """How well a solution's maturity band suits a need's level: 1 inside, 0.25 one level outside, 0
    further; NEUTRAL when either is unstated, so a thinly described side is never below average."""
    levels = maturity_range(band)
    if need_level not in MATURITY_LEVELS or levels is None:
        return NEUTRAL
    if need_level in levels:
        return 1.0
    distance = levels[0] - need_level if need_level < levels[0] else need_level - levels[-1]
    return 0.25 if distance == 1 else 0.0


def rating_prior(stars: int | None) -> float:
    """A provider's published stars on [0, 1]: 1 star 0, 3 stars 0.5, 5 stars 1; no rating NEUTRAL, so a
    provider without history counts as an average one, never below it."""
    return NEUTRAL if stars is None or not 1 <= stars <= 5 else (stars - 1) / 4


def maturity_bits(band: str) -> int:
    """The band as a bit set: bit i for level i (0 when unstated), for FEATURES."""
    levels = maturity_range(band)
    return sum(1 << level for level in levels) if levels else 0


def signals(need: NeedProfile, terms: NeedTerms, candidate: Candidate, taxonomy: Taxonomy) -> dict[str, float]:
    return {
        "semantic": clip01(candidate.semantic),
        "lexical": clip01(candidate.lexical),
        "industry": taxonomy.industry_fit(need.industry, candidate.industries),
        "size": size_fit(need.size, candidate.sizes),
        "tags": tag_overlap(terms.tags, taxonomy.canonical_tags(candidate.tags)),
        "domain": domain_fit(terms.domains, candidate.domain),
        "maturity": maturity_fit(need.maturity, candidate.maturity),
    }


# Industry relations, best first: a solution listing several industries fits as well as its best one.
_RELATIONS = ("unknown", "same", "related", "general", "other")


class StructuredSignals:
    """The structured signals of candidates for one need, remembered per distinct industries and
    sizes; the industry relation per industry code, and per tag name the need's tags it stands for."""

    def __init__(self, need: NeedProfile, need_tags: frozenset[str], taxonomy: Taxonomy) -> None:
        self.need, self.need_tags, self.taxonomy = need, need_tags, taxonomy
        self.found = finders(taxonomy)
        self.relation_of: dict[str, int] = {}  # industry code -> its relation's place in _RELATIONS
        self.industry: dict[tuple[str, ...], float] = {}
        self.size: dict[tuple[str, ...], float] = {}
        self.wanted_of: dict[str, frozenset[str]] = {}  # tag name -> the need's tags among its canonical names

    def industry_value(self, codes: tuple[str, ...]) -> float:
        """`Taxonomy.industry_fit`: the best relation of any listed industry (same > related > 通用 > other)."""
        best = None
        for code in codes:
            if self.taxonomy.industry(code) is None:
                continue
            relation = self.relation_of.get(code)
            if relation is None:
                relation = _RELATIONS.index(self.taxonomy.industry_relation(self.need.industry, (code,))[0])
                self.relation_of[code] = relation
            if best is None or relation < best:
                best = relation
        if best is None:
            value = INDUSTRY_FIT[self.taxonomy.industry_relation(self.need.industry, ())[0]]
        else:
            value = INDUSTRY_FIT[_RELATIONS[best]]
        self.industry[codes] = value
        return value

    def size_value(self, sizes: tuple[str, ...]) -> float:
        value = self.size[sizes] = size_fit(self.need.size, sizes)
        return value

    def tags_value(self, tags: Iterable[str]) -> float:
        """`tag_overlap` of the need's tags and the candidate's (canonical) tags."""
        need_tags = self.need_tags
        if not need_tags:
            return NEUTRAL
        shared: frozenset[str] | None = None
        for name in tags:
            wanted = self.wanted_of.get(name)
            if wanted is None:
                wanted = self.wanted_of[name] = need_tags.intersection(self.found.canonical(name))
            if wanted:
                shared = wanted if shared is None else shared | wanted
        return len(shared) / len(need_tags) if shared else 0.0


# A solution's structured attributes as bit sets over the taxonomy (see `solution_features`).
FEATURES = np.dtype(
    [
        ("industries", np.uint64),  # bit i: taxonomy.industries[i] is listed
        ("listed", np.bool_),  # some industry the taxonomy knows is listed
        ("sizes", np.uint8),  # bit i: SIZE_ORDER[i]
        ("tags_lo", np.uint64),  # bit i: canonical tag taxonomy.tags[i] (i < 64)
        ("tags_hi", np.uint64),  # ... taxonomy.tags[64 + i]
        ("custom_tags", np.bool_),  # some tag the taxonomy does not know: scored one by one
        ("domain", np.uint16),  # place of the domain in taxonomy.domains; OTHER_DOMAIN if not there
        ("maturity", np.uint8),  # `maturity_bits` of the band served
        ("rating", np.float64),  # `rating_prior` of the provider
    ]
)
OTHER_DOMAIN = np.iinfo(np.uint16).max


def solution_features(
    industries: Iterable[str],
    sizes: Iterable[str],
    tags: Iterable[str],
    domain: str,
    taxonomy: Taxonomy,
    maturity: str = "",
    rating: float = NEUTRAL,
) -> tuple[int, bool, int, int, int, bool, int, int, float] | None:
    """A row of FEATURES for a solution; None when the taxonomy has more than 64 industries or 128 tags."""
    found = finders(taxonomy)
    if len(found.industry_bit) > 64 or len(found.tag_bit) > 128:
        return None
    listed = [code for code in industries if taxonomy.industry(code) is not None]
    industry_bits = 0
    for code in listed:
        bit = found.industry_bit.get(code)
        if bit is not None:
            industry_bits |= 1 << bit
    size_bits = 0
    for size in sizes:
        if size in SIZE_ORDER:
            size_bits |= 1 << SIZE_ORDER.index(size)
    tag_bits, custom = 0, False
    for name in found.canonical_tags(tags):
        bit = found.tag_bit.get(name)
        if bit is None:
            custom = True
        else:
            tag_bits |= 1 << bit
    place = found.domain_place.get(domain, OTHER_DOMAIN)
    return (
        industry_bits,
        bool(listed),
        size_bits,
        tag_bits & (2**64 - 1),
        tag_bits >> 64,
        custom,
        place,
        maturity_bits(maturity),
        rating,
    )
