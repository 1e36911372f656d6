"""The explanation of a match: industry and size verdicts, shared capability tags, and for each point of
the need the module or sentence of the solution that covers it (or 未覆盖).

A need's points are the capabilities it asks for (`need_points`), each with the clause it came from:
"老师傅一个月要一万二还留不住" is the reason for a need, not a requirement, and is no point. Only a
need that names no capability at all has its clauses as points.

Speed: a solution's term scans can be worked out when it is indexed (`solution_scans`), and the
analysed modules and sentences of the solutions explained last are kept (HAYSTACKS).
"""

import re
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from matchmaker.matching.signals import NEUTRAL, Candidate, NeedProfile, NeedTerms, size_fit
from matchmaker.matching.tagging import Finders, finders
from matchmaker.matching.taxonomy import SIZE_LABELS, Taxonomy

UNCOVERED = "未覆盖"


@dataclass(frozen=True)
class PointCoverage:
    point: str  # a capability the need asks for (a tag name); a clause when the need names none
    module: str  # the module (or sentence of the solution) that covers it best, or 未覆盖
    covered: bool
    sentence: str = ""  # the clause of the need the point came from


@dataclass(frozen=True)
class Explanation:
    industry: str
    size: str
    tags: tuple[str, ...]  # capability tags shared by need and solution
    points: tuple[PointCoverage, ...]

    def as_dict(self) -> dict:
        """What `dataclasses.asdict` gives, without its recursive deep copy: this runs for every
        result of every match the API answers, and asdict was a tenth of such a call's time."""
        points = tuple(
            {"point": p.point, "module": p.module, "covered": p.covered, "sentence": p.sentence} for p in self.points
        )
        return {"industry": self.industry, "size": self.size, "tags": self.tags, "points": points}


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
class Evidence:
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


def evidence(text: str, taxonomy: Taxonomy) -> Evidence:
    folded, industries, tags = _blanked(text, taxonomy)
    pairs = set(_PAIR.findall(folded))
    pairs.difference_update(_STOP_PAIRS)
    words = frozenset(f"w:{w}" for w in _ASCII_WORD.findall(folded))
    return Evidence(tuple(sorted(pairs)), words, tags, industries)


@dataclass(frozen=True)
class NeedPoint:
    point: str  # a capability (tag name), or the clause itself when the need names no capability
    sentence: str  # the clause it came from
    evidence: Evidence  # of the clause
    capability: bool


def need_points(text: str, taxonomy: Taxonomy) -> tuple[NeedPoint, ...]:
    """The capabilities the need asks for, each once, in order of first mention, with its clause; the
    clauses themselves when it names none."""
    found = finders(taxonomy)
    clauses = [(clause, evidence(clause, taxonomy)) for clause in split_points(text)]
    points: dict[str, NeedPoint] = {}
    for clause, said in clauses:
        for _, _, names in found.tags.find(clause.lower()):
            for name in names:
                if name not in points:
                    points[name] = NeedPoint(name, clause, said, capability=True)
    if points:
        return tuple(points.values())
    return tuple(NeedPoint(clause, clause, said, capability=False) for clause, said in clauses)


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

    def naming(self, tag: str) -> str | None:
        """The first module naming the capability tag, else the first such sentence, else None."""
        segments = self.tags.get(tag)
        return self.texts[min(segments)] if segments else None

    def best(self, point: Evidence) -> str | None:
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
    points: Sequence[NeedPoint],
    need: NeedProfile,
    candidate: Candidate,
    verdict: str,
    taxonomy: Taxonomy,
) -> tuple[PointCoverage, ...]:
    """For each point of the need, what of the solution covers it, first found of: for a capability,
    the first module (else sentence) naming it; the module sharing most words or tags with the point's
    clause (for a capability, only when its clause asks for nothing else); the sentence of the
    solution's text that does; a capability tag of the solution the point asks for; for a clause naming
    the need's industry ("我们是一家家具厂"), the industry verdict when the solution fits that industry.
    Else 未覆盖."""
    found = finders(taxonomy)
    haystack = _haystack(found, tuple(candidate.modules), candidate.title, candidate.text, candidate.scans)
    solution_tags = found.canonical_tags(candidate.tags)
    own_industry = {need.industry, *taxonomy.related_industries(need.industry)} if need.industry else set()
    industry_fits = verdict.startswith(("行业匹配", "相关行业", "通用"))
    out = []
    for need_point in points:
        wanted = need_point.evidence
        if need_point.capability:
            asked = frozenset((need_point.point,))
            covering = haystack.naming(need_point.point)
            if covering is None and wanted.tags <= asked:
                covering = haystack.best(wanted)
        else:
            asked = wanted.tags
            covering = haystack.best(wanted)
        shared = sorted(asked & solution_tags)
        if covering is None and shared:
            covering = f"能力标签：{'、'.join(shared)}"
        if covering is None and not need_point.capability and industry_fits and wanted.industries & own_industry:
            covering = verdict
        out.append(
            PointCoverage(
                point=need_point.point,
                module=covering or UNCOVERED,
                covered=covering is not None,
                sentence=need_point.sentence,
            )
        )
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
    if size_fit(need.size, sizes) > NEUTRAL:
        return f"规模相近：方案面向{'、'.join(SIZE_LABELS[s] for s in sizes)}企业"
    return f"规模不同：方案面向{'、'.join(SIZE_LABELS[s] for s in sizes)}企业"


def explain(need: NeedProfile, terms: NeedTerms, candidate: Candidate, taxonomy: Taxonomy) -> Explanation:
    industry = industry_verdict(need, candidate, taxonomy)
    return Explanation(
        industry=industry,
        size=size_verdict(need, candidate),
        tags=tuple(sorted(terms.tags & finders(taxonomy).canonical_tags(candidate.tags))),
        points=point_coverages(terms.points, need, candidate, industry, taxonomy),
    )
