"""The ranker: how the signals of a (need, solution) pair combine into one ordered, explained list.

A pure function of the need, the candidates (with their retrieval scores already computed), the
taxonomy and the weights: no I/O, no model, no database, so the web app, the evaluation and the
tests all rank through the same code.

Signals, each in [0, 1]:

- semantic: cosine of the two embeddings (clipped at 0), from the vector index;
- lexical:  TF-IDF cosine over characters and words, from the lexical index;
- industry: `Taxonomy.industry_fit` (same 1, related 0.6, 通用 0.5, unknown need 0.5, other 0);
- size:     the need's size class among the solution's (1), adjacent class or either side unknown (0.5), else 0;
- tags:     the share of the need's capability tags (given, or suggested from its text) that the
            solution has, compared through the taxonomy's synonyms; 0.5 when the need has none;
- domain:   1 when the solution's domain is one of the need's domains, else 0; 0.5 when the need has none.

Neutral values are the same for every candidate of a need, so they never change an order; they only
keep the score of a thinly described need in the middle of the scale instead of at the bottom.

Speed (a match must stay within twice the cost of encoding the need and a brute-force vector search;
see benchmarks/bench_matching.py): `rank` scores every candidate but builds parts and explanations
only for those it returns; `BatchScorer` gives the same scores for a whole candidate list from
per-solution bit sets, so the engine ranks only the best few; taxonomy terms are found with one
compiled regex per taxonomy (`tagging.finders`); a solution's term scans can be worked out when it
is indexed (`solution_scans`), and the analysed modules and sentences of the solutions explained last
are kept (HAYSTACKS).
"""

import math
import re
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache

import numpy as np

from matchmaker.tagging import Finders, finders, suggest
from matchmaker.taxonomy import INDUSTRY_FIT, SIZE_LABELS, SIZE_ORDER, Taxonomy

NEUTRAL = 0.5
EXPOSURE_TOP = 5  # fair exposure: in the first EXPOSURE_TOP places ...
EXPOSURE_PER_PROVIDER = 2  # ... at most this many solutions of one provider
UNCOVERED = "未覆盖"


@dataclass(frozen=True)
class Weights:
    semantic: float
    lexical: float
    industry: float
    size: float
    tags: float
    domain: float

    def normalised(self) -> dict[str, float]:
        """Each weight over their sum, so that a weighted sum of [0, 1] signals stays in [0, 1]."""
        values = asdict(self)
        if any(v < 0 for v in values.values()) or sum(values.values()) <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum, got {values}")
        total = sum(values.values())
        return {name: v / total for name, v in values.items()}


SIGNALS = tuple(f.name for f in fields(Weights))

# The one place the default weights live. Tuned on seed_data/dev_set.json by grid search, checked both
# ways (NDCG@10, USE): weights tuned on the plain needs score 0.973 plain / 0.761 reworded, tuned on the
# reworded needs 0.945 / 0.786; these score 0.970 / 0.773, and e5 0.940 / 0.751. The surface is flat
# near them (neighbours within 0.01), so they are kept round. Text carries 0.7: semantic more, since
# reworded needs share few words with their answers; lexical a firm quarter, since brochure-like text
# shares exact terms (MES, SECS/GEM, 等保三级). Industry fit is the strongest structured signal; size,
# tags and domain are tie-breakers (size is never stated in the development set, so it cannot be tuned
# there; suggested tags and domains are noisy, user-confirmed ones in the app less so).
DEFAULT_WEIGHTS = Weights(semantic=0.45, lexical=0.25, industry=0.15, size=0.05, tags=0.05, domain=0.05)


@dataclass(frozen=True)
class NeedProfile:
    text: str
    industry: str | None = None  # industry code
    size: str | None = None  # size class: large | medium | small | micro
    domains: tuple[str, ...] = ()  # domain codes; suggested from the text when empty
    tags: tuple[str, ...] = ()  # tag names; suggested from the text when empty


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


@dataclass(frozen=True)
class PointCoverage:
    point: str  # one clause of the need
    module: str  # the module (or sentence of the solution) that covers it best, or 未覆盖
    covered: bool


@dataclass(frozen=True)
class Explanation:
    industry: str
    size: str
    tags: tuple[str, ...]  # capability tags shared by need and solution
    points: tuple[PointCoverage, ...]

    def as_dict(self) -> dict:
        """What `dataclasses.asdict` gives, without its recursive deep copy: this runs for every
        result of every match the API answers, and asdict was a tenth of such a call's time."""
        points = tuple({"point": p.point, "module": p.module, "covered": p.covered} for p in self.points)
        return {"industry": self.industry, "size": self.size, "tags": self.tags, "points": points}


@dataclass(frozen=True)
class RankedMatch:
    solution_id: int
    rank: int  # 1-based
    score: float  # in [0, 1]
    parts: dict[str, float] = field(hash=False)  # signal -> weighted contribution; they sum to score
    explanation: Explanation = field(hash=False)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _NeedTerms:
    """What rank() derives once per need: canonical tags, domains, clauses."""

    tags: frozenset[str]
    domains: tuple[str, ...]
    points: tuple[tuple[str, "_Evidence"], ...]  # each clause with its evidence


# --- signals ---------------------------------------------------------------------------------


def clip01(value: float) -> float:
    return 0.0 if not math.isfinite(value) else min(1.0, max(0.0, value))


def size_fit(need_size: str | None, solution_sizes: Iterable[str]) -> float:
    sizes = [s for s in solution_sizes if s in SIZE_ORDER]
    if need_size not in SIZE_ORDER or not sizes:
        return NEUTRAL
    if need_size in sizes:
        return 1.0
    position = SIZE_ORDER.index(need_size)
    if any(abs(SIZE_ORDER.index(s) - position) == 1 for s in sizes):
        return NEUTRAL
    return 0.0


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


def signals(need: NeedProfile, terms: _NeedTerms, candidate: Candidate, taxonomy: Taxonomy) -> dict[str, float]:
    return {
        "semantic": clip01(candidate.semantic),
        "lexical": clip01(candidate.lexical),
        "industry": taxonomy.industry_fit(need.industry, candidate.industries),
        "size": size_fit(need.size, candidate.sizes),
        "tags": tag_overlap(terms.tags, taxonomy.canonical_tags(candidate.tags)),
        "domain": domain_fit(terms.domains, candidate.domain),
    }


# --- explanation -----------------------------------------------------------------------------

_CLAUSE_BREAK = re.compile(r"[，。；;,！？!?：:\n\r]+")
_LIST_BREAK = re.compile(r"[，。；;、,！？!?：:\n\r]+")  # also splits 顿号 lists: a solution's items
_CONTENT = re.compile(r"[\u3400-\u9fff\uf900-\ufaffA-Za-z0-9]")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:[./\-+][a-z0-9]+)*")
MIN_POINT_CHARS = 4  # a clause with fewer letters/characters than this says too little to cover
# Character pairs that occur in any need or solution and so prove no coverage.
_STOP_PAIRS = frozenset(
    "我们 想要 希望 需要 现在 目前 一个 一套 一家 可以 能够 进行 通过 实现 提供 支持 解决 方案 服务 "
    "系统 平台 管理 企业 公司 工厂 厂里 问题 情况 自己 如何 怎么 什么 以及 还是 并且 没有 不能 所有 "
    "全部 每个 每台 各个 经常 一直 已经 之后 之前 用于 面向 帮助 满足 要求 数据 信息".split()
)
_FUNCTION_CHARS = "的了和与及或把被"
# Every pair of adjacent Chinese characters, overlapping, neither of them a function character.
_PAIR = re.compile(rf"(?=((?:(?![{_FUNCTION_CHARS}])[\u3400-\u9fff\uf900-\ufaff]){{2}}))")
MIN_COVER_EVIDENCE = 2  # shared character pairs, or 2 per shared word / tag
HAYSTACKS = 2048  # solutions whose modules and sentences stay analysed (a few kB each)


def split_points(text: str, min_chars: int = MIN_POINT_CHARS, breaks: re.Pattern = _CLAUSE_BREAK) -> tuple[str, ...]:
    """The need's points: its clauses, each once, minus fragments too short to mean anything. A 顿号
    list ("开料机、封边机、排钻都是单机作业") stays one point: its items share one predicate."""
    enough = _at_least(min_chars)
    return tuple(dict.fromkeys(p for p in map(str.strip, breaks.split(text)) if enough(p)))


@lru_cache(maxsize=8)
def _at_least(count: int) -> Callable[[str], re.Match[str] | None]:
    """A test for: `count` or more letters, digits or Chinese characters."""
    content = _CONTENT.pattern[1:-1]
    return re.compile(rf"(?:[^{content}]*[{content}]){{{max(count, 0)}}}").match


@dataclass(frozen=True)
class _Evidence:
    """What a short text says, for coverage: content words, capability tags, industries named."""

    pairs: tuple[str, ...]  # distinct pairs of adjacent Chinese characters, industry names left out
    words: frozenset[str]  # ASCII words ("w:mes")
    tags: frozenset[str]
    industries: frozenset[str]


def _blanked(text: str, taxonomy: Taxonomy) -> tuple[str, frozenset[str], frozenset[str]]:
    """`text` folded with the industry names in it blanked, the industries named, the tags named."""
    folded = text.lower()
    found = finders(taxonomy)
    tags = frozenset(name for _, _, names in found.tags.find(folded) for name in names)
    industries: set[str] = set()
    for start, end, codes in reversed(found.industries.find(folded)):
        # The industry has its own verdict; its name must not make a clause look covered.
        industries.update(codes)
        folded = folded[:start] + " " + folded[end:]
    return folded, frozenset(industries), tags


def _evidence(text: str, taxonomy: Taxonomy) -> _Evidence:
    folded, industries, tags = _blanked(text, taxonomy)
    pairs = set(_PAIR.findall(folded))
    pairs.difference_update(_STOP_PAIRS)
    words = frozenset(f"w:{w}" for w in _ASCII_WORD.findall(folded))
    return _Evidence(tuple(sorted(pairs)), words, tags, industries)


_SEPARATOR = "\x00"  # between the texts of a _Haystack: in no term, no word, no character pair


class _Haystack:
    """A solution's modules and sentences, read in one pass, to find which of them covers a point.

    The same analysis as `_evidence` applied to each text on its own (so the same verdicts), but the
    texts are folded, blanked and scanned for tags and ASCII words as one string with a separator
    that no term, word or pair can span; a point's character pairs are then looked up in that
    string. A point shares with a text: its pairs found in it (1 each), its ASCII words and tags the
    text has too (2 each).
    """

    def __init__(
        self, modules: Sequence[str], sentences: Sequence[str], found: Finders, scans: bytes | None = None
    ) -> None:
        self.texts = (*modules, *sentences)
        self.modules = len(modules)
        self.starts, joined = _joined(self.texts)
        spans = _read_scans(scans, joined, found) if scans else None
        if spans is None:
            spans = _scan(joined, found)
        tag_spans, industry_spans = spans
        self.tags: dict[str, set[int]] = {}
        for start, end in tag_spans:
            segment = bisect_right(self.starts, start) - 1
            for name in found.tags.keys_of(joined[start:end]):
                self.tags.setdefault(name, set()).add(segment)
        for start, end in reversed(industry_spans):
            joined = joined[:start] + " " * (end - start) + joined[end:]  # same length: offsets hold
        self.blob = joined
        self.words: dict[str, set[int]] = {}
        for match in _ASCII_WORD.finditer(joined):
            self.words.setdefault(f"w:{match.group()}", set()).add(bisect_right(self.starts, match.start()) - 1)

    def best(self, point: _Evidence) -> str | None:
        """The first module sharing the most with the point, if it shares enough; else the first such
        sentence; else None."""
        if not self.texts:
            return None
        shared = [0] * len(self.texts)
        blob, starts = self.blob, self.starts
        for pair in point.pairs:
            at = blob.find(pair)
            last = -1
            while at >= 0:
                segment = bisect_right(starts, at) - 1
                if segment != last:
                    shared[segment] += 1
                    last = segment
                at = blob.find(pair, at + 1)
        for word in point.words:
            for segment in self.words.get(word, ()):
                shared[segment] += 2
        for tag in point.tags:
            for segment in self.tags.get(tag, ()):
                shared[segment] += 2
        for first, last in ((0, self.modules), (self.modules, len(self.texts))):
            best_at, best = None, MIN_COVER_EVIDENCE - 1
            for i in range(first, last):
                if shared[i] > best:
                    best_at, best = i, shared[i]
            if best_at is not None:
                return self.texts[best_at]
        return None


def _joined(texts: Sequence[str]) -> tuple[list[int], str]:
    """The texts folded and joined by _SEPARATOR, with the offset each starts at."""
    folded = [t.replace(_SEPARATOR, "\x01").lower() for t in texts]
    starts = [0] * len(folded)
    position = 0
    for i, text in enumerate(folded):
        starts[i] = position
        position += len(text) + 1
    return starts, _SEPARATOR.join(folded)


_Spans = list[tuple[int, int]]


def _scan(joined: str, found: Finders) -> tuple[_Spans, _Spans]:
    """Where `joined` names capability tags, and where industries: the two term scans of a haystack."""
    return [(s, e) for s, e, _ in found.tags.find(joined)], [(s, e) for s, e, _ in found.industries.find(joined)]


def _sentences(title: str, text: str) -> tuple[str, ...]:
    # A solution's short list items ("封边机") still name what it covers.
    return split_points("\n".join(t for t in (title, text) if t), min_chars=2, breaks=_LIST_BREAK)


def solution_scans(modules: Sequence[str], title: str, text: str, taxonomy: Taxonomy) -> bytes:
    """The term scans of a solution's explanation, worked out ahead of time (when it is indexed), for
    its Candidate's `scans`: a few dozen bytes that spare `rank` the slowest part of explaining it.
    They carry the length and checksum of the text they were made from and are ignored on another."""
    _, joined = _joined((*modules, *_sentences(title, text)))
    found = finders(taxonomy)
    tags, industries = _scan(joined, found)
    numbers = [found.fingerprint, len(joined), zlib.crc32(joined.encode("utf-8", "surrogatepass")), len(tags)]
    for start, end in (*tags, *industries):
        numbers += (start, end)
    return array("I", numbers).tobytes()


def _read_scans(scans: bytes, joined: str, found: Finders) -> tuple[_Spans, _Spans] | None:
    """The spans in `scans` if they were made from `joined` with `found`'s vocabulary, else None."""
    numbers = array("I")
    if len(scans) % numbers.itemsize:
        return None
    numbers.frombytes(scans)
    if len(numbers) < 4 or len(numbers) % 2 or numbers[0] != found.fingerprint or numbers[1] != len(joined):
        return None
    if numbers[2] != zlib.crc32(joined.encode("utf-8", "surrogatepass")):
        return None
    spans = list(zip(numbers[4::2], numbers[5::2], strict=True))
    if numbers[3] > len(spans) or any(not 0 <= s < e <= len(joined) for s, e in spans):
        return None
    return spans[: numbers[3]], spans[numbers[3] :]


@lru_cache(maxsize=HAYSTACKS)
def _haystack(found: Finders, modules: tuple[str, ...], title: str, text: str, scans: bytes | None = None) -> _Haystack:
    """A solution's haystack, kept for the solutions explained most recently: the same solutions
    come up for need after need, and reading one costs about as much as scoring 20 candidates."""
    return _Haystack(modules, _sentences(title, text), found, scans)


def point_coverages(
    points: Sequence[tuple[str, _Evidence]],
    need: NeedProfile,
    candidate: Candidate,
    verdict: str,
    taxonomy: Taxonomy,
) -> tuple[PointCoverage, ...]:
    """For each point of the need, what of the solution covers it, first found of: the module sharing
    most words or tags with it; the sentence of the solution's text that does; a capability tag of the
    solution the point asks for; for a point naming the need's industry ("我们是一家家具厂"), the
    industry verdict when the solution fits that industry. Else 未覆盖."""
    found = finders(taxonomy)
    haystack = _haystack(found, tuple(candidate.modules), candidate.title, candidate.text, candidate.scans)
    solution_tags = found.canonical_tags(candidate.tags)
    own_industry = {need.industry, *taxonomy.related_industries(need.industry)} if need.industry else set()
    industry_fits = verdict.startswith(("行业匹配", "相关行业", "通用"))
    out = []
    for point, wanted in points:
        covering = haystack.best(wanted)
        shared = sorted(wanted.tags & solution_tags)
        if covering is None and shared:
            covering = f"能力标签：{'、'.join(shared)}"
        if covering is None and industry_fits and wanted.industries & own_industry:
            covering = verdict
        out.append(PointCoverage(point=point, module=covering or UNCOVERED, covered=covering is not None))
    return tuple(out)


def industry_verdict(need: NeedProfile, candidate: Candidate, taxonomy: Taxonomy) -> str:
    relation, code = taxonomy.industry_relation(need.industry, candidate.industries)
    if relation == "same":
        return f"行业匹配：{taxonomy.industry_name(code or '')}"
    if relation == "related":
        return f"相关行业：{taxonomy.industry_name(code or '')}"
    if relation == "general":
        return "通用方案"
    if relation == "unknown":
        return "需求未注明行业"
    return "行业不同"


def size_verdict(need: NeedProfile, candidate: Candidate) -> str:
    sizes = [s for s in candidate.sizes if s in SIZE_LABELS]
    if need.size not in SIZE_LABELS:
        return "需求未注明规模"
    if not sizes:
        return "方案未限定规模"
    label = SIZE_LABELS[need.size]
    if need.size in sizes:
        return f"规模匹配：{label}企业"
    if size_fit(need.size, sizes) > 0:
        return f"规模相近：方案面向{'、'.join(SIZE_LABELS[s] for s in sizes)}企业"
    return f"规模不同：方案面向{'、'.join(SIZE_LABELS[s] for s in sizes)}企业"


def explain(need: NeedProfile, terms: _NeedTerms, candidate: Candidate, taxonomy: Taxonomy) -> Explanation:
    industry = industry_verdict(need, candidate, taxonomy)
    return Explanation(
        industry=industry,
        size=size_verdict(need, candidate),
        tags=tuple(sorted(terms.tags & finders(taxonomy).canonical_tags(candidate.tags))),
        points=point_coverages(terms.points, need, candidate, industry, taxonomy),
    )


# --- ranking ---------------------------------------------------------------------------------


def need_terms(need: NeedProfile, taxonomy: Taxonomy) -> _NeedTerms:
    """The need's tags and domains as given, or as suggested from its text when not given."""
    suggestion = suggest(need.text, taxonomy) if not (need.tags and need.domains) else None
    tags = need.tags or (suggestion.tags if suggestion else ())
    domains = need.domains or (suggestion.domains if suggestion else ())
    points = tuple((p, _evidence(p, taxonomy)) for p in split_points(need.text))
    return _NeedTerms(tags=taxonomy.canonical_tags(tags), domains=tuple(domains), points=points)


def cap_exposure(ordered: Sequence[Candidate]) -> list[Candidate]:
    """Reorder so no provider holds more than EXPOSURE_PER_PROVIDER of the first EXPOSURE_TOP places.

    A capped solution is pushed down behind the next eligible one, never dropped; if only capped
    providers are left the places are filled in score order anyway.
    """
    remaining = list(ordered)
    head: list[Candidate] = []
    shown: dict[int, int] = {}
    while remaining and len(head) < EXPOSURE_TOP:
        pick = next((c for c in remaining if shown.get(c.provider_id, 0) < EXPOSURE_PER_PROVIDER), remaining[0])
        remaining.remove(pick)
        head.append(pick)
        shown[pick.provider_id] = shown.get(pick.provider_id, 0) + 1
    return head + remaining


def rank(
    need: NeedProfile,
    candidates: Sequence[Candidate],
    taxonomy: Taxonomy,
    weights: Weights = DEFAULT_WEIGHTS,
    top_n: int = 10,
    *,
    terms: "_NeedTerms | None" = None,
) -> list[RankedMatch]:
    """The top `top_n` candidates by weighted signal sum, with the exposure cap and explanations.

    Ties are broken by solution id so the same input always gives the same order. Every candidate
    gets its score (the structured signals of equal industries, sizes or tags are worked out once
    per call), only the ones returned get their parts and explanation.
    """
    share = weights.normalised()
    if terms is None:
        terms = need_terms(need, taxonomy)
    structured = _Structured(need, terms, taxonomy)
    values_of: dict[int, tuple[float, ...]] = {}
    keys: list[tuple[float, int, int]] = []
    w_sem, w_lex, w_ind, w_size, w_tags, w_dom = (share[name] for name in SIGNALS)
    industry_of, size_of, tags_value = structured.industry, structured.size, structured.tags_value
    domains, domain_neutral = terms.domains, NEUTRAL if not terms.domains else None
    for position, candidate in enumerate(candidates):
        # `signals`, inlined: this loop runs for every candidate.
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
        # The same additions in the same order as sum(parts.values()): equal scores stay equal.
        score = w_sem * sem + w_lex * lex + w_ind * ind + w_size * size + w_tags * tags + w_dom * dom
        values_of[candidate.solution_id] = (sem, lex, ind, size, tags, dom)
        # Rounded keys: sums of the same parts in another order must not reorder ties.
        keys.append((-round(score if 0.0 <= score <= 1.0 else clip01(score), 9), candidate.solution_id, position))
    keys.sort()
    ordered = [candidates[position] for _, _, position in keys]
    out = []
    for position, candidate in enumerate(cap_exposure(ordered)[:top_n], start=1):
        parts = {
            name: share[name] * value for name, value in zip(SIGNALS, values_of[candidate.solution_id], strict=True)
        }
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


# Industry relations, best first: a solution listing several industries fits as well as its best one.
_RELATIONS = ("unknown", "same", "related", "general", "other")


class _Structured:
    """The structured signals of candidates for one need, remembered per distinct industries and
    sizes; the industry relation per industry code, and per tag name the need's tags it stands for."""

    def __init__(self, need: NeedProfile, terms: _NeedTerms, taxonomy: Taxonomy) -> None:
        self.need, self.terms, self.taxonomy = need, terms, taxonomy
        self.found = finders(taxonomy)
        self.relation_of: dict[str, int] = {}  # industry code -> its relation's place in _RELATIONS
        self.industry: dict[tuple[str, ...], float] = {}
        self.size: dict[tuple[str, ...], float] = {}
        self.wanted_of: dict[str, frozenset[str]] = {}  # tag name -> the need's tags among its canonical names

    def industry_value(self, codes: tuple[str, ...]) -> float:
        """`Taxonomy.industry_fit`: the best relation of any listed industry (same > related > 通用 > other)."""
        best = None
        for code in codes:
            if not code:
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
        need_tags = self.terms.tags
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


# --- the same scores for many solutions at once -------------------------------------------------

# A solution's structured attributes as bit sets over the taxonomy (see `solution_features`).
FEATURES = np.dtype(
    [
        ("industries", np.uint64),  # bit i: taxonomy.industries[i] is listed
        ("listed", np.bool_),  # some industry is listed (also one the taxonomy does not know)
        ("sizes", np.uint8),  # bit i: SIZE_ORDER[i]
        ("tags_lo", np.uint64),  # bit i: canonical tag taxonomy.tags[i] (i < 64)
        ("tags_hi", np.uint64),  # ... taxonomy.tags[64 + i]
        ("custom_tags", np.bool_),  # some tag the taxonomy does not know: scored one by one
        ("domain", np.uint16),  # place of the domain in taxonomy.domains; OTHER_DOMAIN if not there
    ]
)
OTHER_DOMAIN = np.iinfo(np.uint16).max


def solution_features(
    industries: Iterable[str], sizes: Iterable[str], tags: Iterable[str], domain: str, taxonomy: Taxonomy
) -> tuple[int, bool, int, int, int, bool, int] | None:
    """A row of FEATURES for a solution; None when the taxonomy has more than 64 industries or 128 tags."""
    found = finders(taxonomy)
    if len(found.industry_bit) > 64 or len(found.tag_bit) > 128:
        return None
    listed = [code for code in industries if code]
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
    return industry_bits, bool(listed), size_bits, tag_bits & (2**64 - 1), tag_bits >> 64, custom, place


class BatchScorer:
    """`rank`'s score for many candidates of one need at once, from their retrieval scores and FEATURES
    rows: the same arithmetic in the same order, so the same floats. `usable` is False when the need
    names a tag the taxonomy does not know (those needs are scored one by one)."""

    def __init__(self, need: NeedProfile, terms: _NeedTerms, taxonomy: Taxonomy, weights: Weights) -> None:
        self.share = weights.normalised()
        self.structured = _Structured(need, terms, taxonomy)
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
        """clip01 of the weighted signal sum per candidate. `in_domains`: whether each candidate's domain
        is one of the need's; `tags_of(i)`: candidate i's tags (asked only for rows with custom tags)."""
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
                1.0,
                np.where((sizes == 0) | (sizes & self.size_adjacent != 0), NEUTRAL, 0.0),
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
        share = self.share
        # The additions of `rank`, in its order.
        score = (
            share["semantic"] * sem
            + share["lexical"] * lex
            + share["industry"] * industry
            + share["size"] * size
            + share["tags"] * tags
            + share["domain"] * domain
        )
        return np.where(np.isfinite(score), np.clip(score, 0.0, 1.0), 0.0)
