"""The platform's vocabularies — domains, industries, capability tags — and lookups over them.

Pure data and functions: the app builds a `Taxonomy` from database rows with `Taxonomy.from_dict`
(the shape of seed_data/taxonomy.json), tests and the evaluation read the JSON file directly.

Industries come in three kinds: GB/T 4754-2017 divisions ("C21"), the plan's clusters ("furniture")
that list the divisions they belong to in `gbt`, and "general" (通用) for solutions that fit any
industry. Two industries are related when they share a GB/T division.
"""

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

GENERAL = "general"
SIZE_LABELS = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}
SIZE_ORDER = ("micro", "small", "medium", "large")

# Industry fit by relation. The same industry fits best, a related one (sharing a GB/T division: a
# cluster and its division, two clusters of one division) nearly as well. What says nothing about the
# industry is neutral: an unknown need industry, a solution for any industry (通用), one listing none
# or only names the taxonomy cannot place. Only a stated, different industry falls below neutral, and
# not to 0: vendors list industries loosely, and a generic MES fits a furniture plant too.
INDUSTRY_FIT = {"same": 1.0, "related": 0.8, "general": 0.5, "unknown": 0.5, "other": 0.25}

_KIND_PRIORITY = {"cluster": 0, "division": 1, GENERAL: 2}


@dataclass(frozen=True)
class Domain:
    code: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Industry:
    code: str
    name: str
    kind: str  # division | cluster | general
    gbt: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()

    @property
    def divisions(self) -> frozenset[str]:
        """The GB/T divisions this industry belongs to (a division belongs to itself)."""
        own = {self.code} if self.kind == "division" else set()
        return frozenset(own | set(self.gbt))


@dataclass(frozen=True)
class Tag:
    name: str
    domain: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class TermHit:
    """One occurrence of a vocabulary term in a text."""

    start: int
    end: int
    term: str
    keys: tuple[str, ...]  # the codes / tag names this term stands for


class TermMatcher:
    """Finds vocabulary terms in text: case-insensitive, leftmost-longest, whole words for ASCII terms.

    Leftmost-longest means a long term hides the shorter terms inside it ("设备数据采集" is one
    hit, not also "数据采集"), and ASCII terms do not match inside longer ASCII words ("MES" does
    not hit "TIMES", "IT" does not hit "WiFi"). Terms are bucketed by first character, so a scan costs
    a few string comparisons per character of text.
    """

    def __init__(self, terms: Mapping[str, Iterable[str]]) -> None:
        self._keys: dict[str, tuple[str, ...]] = {}
        for term, keys in terms.items():
            folded = term.strip().lower()
            if folded:
                known = self._keys.get(folded, ())
                self._keys[folded] = known + tuple(k for k in keys if k not in known)
        self._by_first: dict[str, list[str]] = {}
        for term in sorted(self._keys, key=lambda t: (-len(t), t)):
            self._by_first.setdefault(term[0], []).append(term)

    def find(self, text: str) -> list[TermHit]:
        folded = text.lower()
        hits: list[TermHit] = []
        position = 0
        while position < len(folded):
            term = self._longest_at(folded, position)
            if term is None:
                position += 1
                continue
            hits.append(TermHit(position, position + len(term), term, self._keys[term]))
            position += len(term)
        return hits

    def _longest_at(self, folded: str, position: int) -> str | None:
        for term in self._by_first.get(folded[position], ()):
            if not folded.startswith(term, position):
                continue
            if _is_ascii_word(term[0]) and position > 0 and _is_ascii_word(folded[position - 1]):
                continue
            end = position + len(term)
            if _is_ascii_word(term[-1]) and end < len(folded) and _is_ascii_word(folded[end]):
                continue
            return term
        return None

    def lookup(self, term: str) -> tuple[str, ...]:
        """Keys of an exact term (case-insensitive), or ()."""
        return self._keys.get(term.strip().lower(), ())


def _is_ascii_word(char: str) -> bool:
    return char.isascii() and char.isalnum()


@dataclass(frozen=True)
class Taxonomy:
    domains: tuple[Domain, ...]
    industries: tuple[Industry, ...]
    tags: tuple[Tag, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Taxonomy":
        return cls(
            domains=tuple(
                Domain(code=d["code"], name=d["name"], description=d.get("description", ""))
                for d in data.get("domains", ())
            ),
            industries=tuple(
                Industry(
                    code=i["code"],
                    name=i["name"],
                    kind=i.get("kind", "division"),
                    gbt=tuple(i.get("gbt") or ()),
                    synonyms=tuple(i.get("synonyms") or ()),
                )
                for i in data.get("industries", ())
            ),
            tags=tuple(
                Tag(name=t["name"], domain=t["domain"], synonyms=tuple(t.get("synonyms") or ()))
                for t in data.get("tags", ())
            ),
        )

    # --- indexes, built once per taxonomy ---------------------------------------------------

    @cached_property
    def _industry_by_code(self) -> dict[str, Industry]:
        return {i.code: i for i in self.industries}

    @cached_property
    def _domain_by_key(self) -> dict[str, str]:
        keys = {d.name.lower(): d.code for d in self.domains}
        keys.update({d.code.lower(): d.code for d in self.domains})
        return keys

    @cached_property
    def _tag_by_name(self) -> dict[str, Tag]:
        return {t.name: t for t in self.tags}

    @cached_property
    def industry_matcher(self) -> TermMatcher:
        """Industry names and synonyms -> industry codes."""
        terms: dict[str, list[str]] = {}
        for industry in self.industries:
            for term in (industry.name, *industry.synonyms):
                terms.setdefault(term, []).append(industry.code)
        return TermMatcher(terms)

    @cached_property
    def tag_matcher(self) -> TermMatcher:
        """Tag names and synonyms -> canonical tag names."""
        terms: dict[str, list[str]] = {}
        for tag in self.tags:
            for term in (tag.name, *tag.synonyms):
                terms.setdefault(term, []).append(tag.name)
        return TermMatcher(terms)

    # --- lookups -----------------------------------------------------------------------------

    def industry(self, code: str | None) -> Industry | None:
        return self._industry_by_code.get(code) if code else None

    def industry_name(self, code: str) -> str:
        industry = self.industry(code)
        return industry.name if industry else code

    def domain_code(self, name_or_code: str) -> str | None:
        """The domain code for a domain code or name (e.g. "数据采集" -> "data_collection")."""
        return self._domain_by_key.get(name_or_code.strip().lower())

    def domain_name(self, code: str) -> str:
        return next((d.name for d in self.domains if d.code == code), code)

    def tag(self, name: str) -> Tag | None:
        return self._tag_by_name.get(name)

    def canonical_tags(self, names: Iterable[str]) -> frozenset[str]:
        """Canonical tag names for tag names or synonyms; a name the taxonomy does not know stays as given."""
        out: set[str] = set()
        for name in names:
            out.update(self.tag_matcher.lookup(name) or (name.strip(),))
        return frozenset(n for n in out if n)

    def resolve_industry(self, name_or_text: str | None) -> str | None:
        """The industry code meant by a code, a name or synonym, or a text mentioning one; None if none.

        Exact codes and names win; otherwise the industry mentioned in the text, preferring a cluster
        over a division over 通用, then the most mentioned, then the first mentioned; otherwise the one
        division whose name contains the given word.
        """
        if not name_or_text or not name_or_text.strip():
            return None
        text = name_or_text.strip()
        if text in self._industry_by_code:
            return text
        exact = self.industry_matcher.lookup(text)
        if exact:
            return min(exact, key=self._kind_rank)
        return self.industry_in_text(text) or self._division_naming(text)

    def _division_naming(self, word: str) -> str | None:
        """The one GB/T division whose name contains a short generic word ("汽车" -> C36, "医药" ->
        C27); None when no division's or several divisions' names do ("机械", "食品")."""
        folded = word.strip().lower()
        if len(folded) < 2:
            return None
        named = [i.code for i in self.industries if i.kind == "division" and folded in i.name.lower()]
        return named[0] if len(named) == 1 else None

    def industry_in_text(self, text: str) -> str | None:
        """The industry a free text talks about (see `resolve_industry`), or None."""
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for hit in self.industry_matcher.find(text):
            for code in hit.keys:
                counts[code] = counts.get(code, 0) + 1
                first.setdefault(code, hit.start)
        if not counts:
            return None
        return min(counts, key=lambda c: (self._kind_rank(c), -counts[c], first[c], c))

    def _kind_rank(self, code: str) -> int:
        industry = self._industry_by_code[code]
        return _KIND_PRIORITY.get(industry.kind, len(_KIND_PRIORITY))

    @cached_property
    def _related(self) -> dict[str, tuple[str, ...]]:
        return {
            industry.code: tuple(
                other.code
                for other in self.industries
                if other.code != industry.code and other.divisions & industry.divisions
            )
            for industry in self.industries
        }

    def related_industries(self, code: str) -> tuple[str, ...]:
        """Industries sharing a GB/T division with `code` (not `code` itself), in taxonomy order."""
        return self._related.get(code, ())

    def industry_relation(
        self, need_industry: str | None, solution_industries: Iterable[str]
    ) -> tuple[str, str | None]:
        """How well a solution's industries fit the need's: (relation, the solution industry behind it).

        relation is one of INDUSTRY_FIT's keys. A solution naming no industry the taxonomy knows counts as 通用.
        """
        need = self.industry(need_industry)
        if need is None or need.kind == GENERAL:
            return "unknown", None
        listed = [code for code in solution_industries if self.industry(code) is not None]
        if not listed:
            return "general", GENERAL
        if need.code in listed:
            return "same", need.code
        related = self.related_industries(need.code)
        for code in listed:
            if code in related:
                return "related", code
        if any(self._is_general(code) for code in listed):
            return "general", GENERAL
        return "other", None

    def _is_general(self, code: str) -> bool:
        industry = self.industry(code)
        return code == GENERAL or (industry is not None and industry.kind == GENERAL)

    def industry_fit(self, need_industry: str | None, solution_industries: Iterable[str]) -> float:
        """In [0, 1]: INDUSTRY_FIT of `industry_relation`."""
        relation, _ = self.industry_relation(need_industry, solution_industries)
        return INDUSTRY_FIT[relation]


def load_taxonomy(path: str | Path) -> Taxonomy:
    return Taxonomy.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


_SIZE_CHARS = {"大": "large", "中": "medium", "小": "small", "微": "micro"}
_SIZE_RUN = re.compile(r"([大中小微]+)(?:型|企业|规模|工厂|厂|$)")


def resolve_sizes(text: str) -> tuple[str, ...]:
    """Size classes named in a free text ("大型", "中小企业", "大中型", "small"), smallest class first."""
    folded = text.strip().lower()
    found = {code for code in SIZE_LABELS if re.search(rf"(?<![a-z]){code}(?![a-z])", folded)}
    for run in _SIZE_RUN.finditer(folded):
        found.update(_SIZE_CHARS[c] for c in run.group(1))
    return tuple(code for code in SIZE_ORDER if code in found)
