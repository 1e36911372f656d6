"""The matching engine: an in-memory corpus of solutions that retrieves and ranks them for a need.

Retrieve with the indexes, then re-rank in plain code: the candidates are the union of the vector
index's and the lexical index's top k, every candidate gets all its signals (also the one that did
not retrieve it), and `ranking.rank` orders them. `match` gives exactly what `rank` over all the
candidates gives, but scores them all at once (`ranking.BatchScorer`) and hands `rank` only the best.
The web app feeds the engine from database rows (with the vectors it stored), the evaluation from
the labelled file; both match through this class.
"""

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, replace

import numpy as np

from embeddings import Encoder, LexicalIndex, VectorIndex
from matchmaker.matching.capabilities import NEAREST_THRESHOLD, CapabilityVectors, uncaught_sentences
from matchmaker.matching.explanation import solution_scans
from matchmaker.matching.exposure import EXPOSURE_PER_PROVIDER, EXPOSURE_TOP
from matchmaker.matching.fusion import DEFAULT_WEIGHTS, BatchScorer, RankedMatch, Weights, need_terms, rank
from matchmaker.matching.signals import FEATURES, NEUTRAL, Candidate, NeedProfile, NeedTerms, solution_features
from matchmaker.matching.tagging import suggest
from matchmaker.matching.taxonomy import Taxonomy

# Candidates taken from each index. On the development set (60 solutions) the union holds 98% of the
# labelled answers at k = 20, 99% at 30 and all at 50; 100 leaves room for a larger corpus while a
# match stays fast (benchmarks/bench_matching.py, USE, 2 cores: ~7 ms at 10 000 solutions, of which
# 3 ms encoding the need, and ~27 ms at 100 000, of which 16 ms the vector search).
DEFAULT_K = 100
_SPARE_ROWS = 4096  # rows of replaced or removed solutions tolerated beyond as many as there are live ones
_MARGIN = 1e-8  # rank compares scores rounded to 9 places: a candidate left out must score clearly below


class FoldedTexts:
    """Texts by id, case-folded and kept joined in one string: the ids whose text contains a term come
    from one `str.find` per such text rather than a test of every text (2-7 ms instead of 8-10 at
    10 000 solutions, the more texts contain the term the more). The joined string is rebuilt on the
    first search after a change."""

    _END = "\0"  # between texts; no term contains it, so no hit runs from one text into the next

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}
        self._joined: tuple[str, list[int], list[int]] | None = None  # (string, ids ascending, start of each)

    def put(self, id_: int, text: str) -> None:
        self._texts[id_] = text.lower()
        self._joined = None

    def discard(self, id_: int) -> None:
        if self._texts.pop(id_, None) is not None:
            self._joined = None

    def containing(self, terms: Sequence[str]) -> list[int]:
        """Ids, ascending, of the texts that contain every term, ignoring case."""
        folded = sorted({term.lower() for term in terms}, key=len, reverse=True)
        if not folded:
            return sorted(self._texts)
        if any(self._END in term for term in folded):
            return []
        joined, ids, starts = self._join()
        longest, others = folded[0], folded[1:]
        found = []
        at = joined.find(longest)
        while at >= 0:
            index = bisect_right(starts, at) - 1
            if all(term in self._texts[ids[index]] for term in others):
                found.append(ids[index])
            at = joined.find(longest, starts[index + 1]) if index + 1 < len(starts) else -1
        return found

    def _join(self) -> tuple[str, list[int], list[int]]:
        if self._joined is None:
            ids = sorted(self._texts)
            starts, at = [], 0
            for id_ in ids:
                starts.append(at)
                at += len(self._texts[id_]) + 1
            self._joined = ("".join(self._texts[id_] + self._END for id_ in ids), ids, starts)
        return self._joined


@dataclass(frozen=True)
class SolutionDoc:
    id: int
    provider_id: int
    title: str
    summary: str
    description: str
    domain: str  # domain code
    industries: tuple[str, ...] = ()  # industry codes; empty means any industry
    sizes: tuple[str, ...] = ()  # size classes; empty means not limited
    modules: tuple[str, ...] = ()  # 核心功能模块
    tags: tuple[str, ...] = ()  # capability tag names; suggested from the text when empty
    maturity: str = ""  # the maturity band served, "lowest-highest"; "" = unstated
    rating: float = NEUTRAL  # `signals.rating_prior` of the provider's published stars


def doc_text(doc: SolutionDoc) -> str:
    """The text a solution is encoded and indexed by: title, summary, description, modules.

    Deterministic (fields in a fixed order, one per line, empty ones skipped) so that a hash of it
    tells whether a stored vector is still current.
    """
    modules = "、".join(m.strip() for m in doc.modules if m.strip())
    lines = (doc.title, doc.summary, doc.description, f"核心功能模块：{modules}" if modules else "")
    return "\n".join(line.strip() for line in lines if line and line.strip())


def _text(doc: SolutionDoc) -> str:
    """What a Candidate carries as the solution's text: summary and description."""
    summary, description = doc.summary, doc.description
    return f"{summary}\n{description}" if summary and description else summary or description


class MatchEngine:
    """Solutions held in a vector index, a lexical index and a dict; `match` ranks them for a need.

    Not thread-safe for writes (the indexes are not): callers serialise upsert/remove against match.
    """

    def __init__(
        self,
        encoder: Encoder,
        taxonomy: Taxonomy,
        weights: Weights = DEFAULT_WEIGHTS,
        nearest: float | None = NEAREST_THRESHOLD,
    ) -> None:
        """`nearest`: the cosine at which a solution's sentence no tag phrase catches is given its
        nearest capability tag (`capabilities`); None maps none."""
        self.encoder = encoder
        self.taxonomy = taxonomy
        self.weights = weights
        self.nearest = nearest
        self._vectors = VectorIndex(encoder.dim)
        self._lexical = LexicalIndex()
        self._docs: dict[int, SolutionDoc] = {}
        self._texts = FoldedTexts()  # for `listing`
        # Per solution, a row: its structured attributes as a FEATURES row (for scoring all candidates
        # at once) and where its `ranking.solution_scans` lie in one buffer (no object per solution).
        self._row_of: dict[int, int] = {}
        self._rows = 0
        self._features = np.zeros(0, dtype=FEATURES)
        self._scan_spans = np.zeros((0, 2), dtype=np.int64)
        self._scan_bytes = bytearray()
        self._batch = True  # False once a solution's features do not fit (a taxonomy too large)

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, solution_id: object) -> bool:
        return solution_id in self._docs

    def doc(self, solution_id: int) -> SolutionDoc:
        return self._docs[solution_id]

    def encode_docs(self, docs: Sequence[SolutionDoc]) -> np.ndarray:
        """The vectors of `docs`, in order, as float32 (len(docs), dim): what the app stores per solution."""
        if not docs:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.asarray(self.encoder.encode([doc_text(doc) for doc in docs]), dtype=np.float32)

    def upsert(self, docs: Sequence[SolutionDoc], vectors: np.ndarray | None = None) -> None:
        """Add or replace solutions; `vectors` (one row per doc) are encoded here when not given.

        A solution without tags gets the tags suggested from its text, as a solution published through
        the web form would; then the nearest capabilities of its sentences that name none are added
        (one batch encoding for all the docs).
        """
        if not docs:
            return
        if vectors is None:
            vectors = self.encode_docs(docs)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(docs), self.encoder.dim):
            raise ValueError(f"expected vectors of shape ({len(docs)}, {self.encoder.dim}), got {vectors.shape}")
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        ids = [doc.id for doc in docs]
        self._vectors.upsert(ids, vectors)
        self._lexical.upsert(ids, [doc_text(doc) for doc in docs])
        for doc in self._with_nearest([self._tagged(doc) for doc in docs]):
            self._docs[doc.id] = doc
            self._texts.put(doc.id, "\n".join((doc.title, doc.summary, doc.description)))
            self._add_row(doc)

    def _add_row(self, doc: SolutionDoc) -> None:
        self._row_of.pop(doc.id, None)
        if self._rows > 2 * len(self._row_of) + _SPARE_ROWS:  # rows of replaced and removed solutions: compact
            live = list(self._row_of.items())
            rows = [row for _, row in live]
            self._features = self._features[rows]
            scans = [self._scans_at(row) for row in rows]
            self._scan_bytes = bytearray(b"".join(scans))
            ends = np.cumsum([len(b) for b in scans], dtype=np.int64)
            self._scan_spans = np.stack([ends - [len(b) for b in scans], ends], axis=1).reshape(-1, 2)
            self._row_of = {id_: row for row, (id_, _) in enumerate(live)}
            self._rows = len(live)
        if self._rows == len(self._features):
            size = max(1024, 2 * self._rows)
            self._features = np.resize(self._features, size)
            self._scan_spans = np.resize(self._scan_spans, (size, 2))
        row = self._rows
        features = (
            solution_features(doc.industries, doc.sizes, doc.tags, doc.domain, self.taxonomy, doc.maturity, doc.rating)
            if self._batch
            else None
        )
        if features is None:
            self._batch = False
        else:
            self._features[row] = features
        scans = solution_scans(doc.modules, doc.title, _text(doc), self.taxonomy)
        self._scan_spans[row] = (len(self._scan_bytes), len(self._scan_bytes) + len(scans))
        self._scan_bytes += scans
        self._row_of[doc.id] = row
        self._rows += 1

    def _scans_at(self, row: int) -> bytes:
        start, end = self._scan_spans[row].tolist()
        return bytes(self._scan_bytes[start:end])

    def _tagged(self, doc: SolutionDoc) -> SolutionDoc:
        if doc.tags:
            return doc
        return replace(doc, tags=suggest(doc_text(doc), self.taxonomy).tags)

    def _with_nearest(self, docs: list[SolutionDoc]) -> list[SolutionDoc]:
        """`docs` with the nearest capability tags of their uncaught sentences added to their tags."""
        if self.nearest is None or not docs:
            return docs
        sentences = [uncaught_sentences(doc.description, doc.modules, self.taxonomy) for doc in docs]
        flat = [text for texts in sentences for text in texts]
        if not flat:
            return docs
        vectors = self.encoder.encode(flat)  # unit rows, as every Encoder returns
        capabilities = CapabilityVectors.of(self.taxonomy, self.encoder)
        out, start = [], 0
        for doc, texts in zip(docs, sentences, strict=True):
            found = capabilities.nearest(vectors[start : start + len(texts)], self.nearest)
            start += len(texts)
            known = self.taxonomy.canonical_tags(doc.tags)
            extra = tuple(name for name in found if name not in known)
            out.append(replace(doc, tags=doc.tags + extra) if extra else doc)
        return out

    def remove(self, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        self._vectors.remove(ids)
        self._lexical.remove(ids)
        for id_ in ids:
            self._docs.pop(id_, None)
            self._texts.discard(id_)
            self._row_of.pop(id_, None)

    def listing(
        self,
        terms: Sequence[str] = (),
        domain: str | None = None,
        industries: Set[str] | None = None,
        size: str | None = None,
    ) -> list[int]:
        """Ids, ascending, of the solutions that contain every term (ignoring case) in their title,
        summary or description, are of `domain`, list one of `industries` and fit `size`; a filter left
        out does not filter. The catalogue's keyword search, from memory: a LIKE over every row's text
        was the database's largest cost under load."""
        found = []
        for id_ in self._texts.containing(terms):
            doc = self._docs[id_]
            if domain and doc.domain != domain:
                continue
            if industries is not None and industries.isdisjoint(doc.industries):
                continue
            if size and size not in doc.sizes:
                continue
            found.append(id_)
        return found

    def candidates(self, need: NeedProfile, k: int = DEFAULT_K) -> list[Candidate]:
        """The union of both indexes' top `k` for the need, each with both retrieval scores."""
        if not self._docs:
            return []
        ids, semantic, lexical = self._retrieve(need, k)
        return self._candidates(ids, semantic, lexical)

    def _retrieve(
        self, need: NeedProfile, k: int, query: np.ndarray | None = None
    ) -> tuple[list[int], list[float], dict[int, float]]:
        """The ids `candidates` returns, in order, with their cosines (a list in that order) and lexical scores.

        `query` is the need text's vector when the caller has it already (encoded outside the caller's
        lock). The vector index's own scores are kept; only the lexical index's extra candidates get
        their cosines computed here."""
        if query is None:
            query = self.encoder.encode([need.text])[0]
        query = np.asarray(query, dtype=np.float32)
        found = dict(self._vectors.search(query, k))
        lexical_hits, lexical = self._lexical.lookup(need.text, k, list(found))
        lexical.update(lexical_hits)
        ids = sorted(lexical)
        missing = [i for i in ids if i not in found]
        if missing:
            found.update(zip(missing, self._cosines(query, missing), strict=True))
        return ids, [found[i] for i in ids], lexical

    def all_candidates(self, need: NeedProfile) -> list[Candidate]:
        """Every solution as a candidate (what the evaluation's single-signal baselines rank)."""
        query = self.encoder.encode([need.text])[0]
        return self.score(need, query, sorted(self._docs))

    def score(self, need: NeedProfile, query: np.ndarray, ids: Sequence[int]) -> list[Candidate]:
        """`ids` as candidates for the need whose text encodes to `query`."""
        query = np.asarray(query, dtype=np.float32)
        return self._candidates(ids, self._cosines(query, ids), self._lexical.scores(need.text, ids))

    def _cosines(self, query: np.ndarray, ids: Sequence[int]) -> list[float]:
        return (self._vectors.vectors(ids) @ query / (float(np.linalg.norm(query)) or 1.0)).tolist()

    def _candidates(self, ids: Sequence[int], semantic: Sequence[float], lexical: dict[int, float]) -> list[Candidate]:
        docs, row_of, scans_at = self._docs, self._row_of, self._scans_at
        out = []
        for id_, cosine in zip(ids, semantic, strict=True):
            doc = docs[id_]
            out.append(
                Candidate(
                    id_,
                    doc.provider_id,
                    doc.title,
                    doc.domain,
                    doc.industries,
                    doc.sizes,
                    doc.modules,
                    doc.tags,
                    cosine,
                    lexical[id_],
                    _text(doc),
                    scans_at(row_of[id_]),
                    doc.maturity,
                    doc.rating,
                )
            )
        return out

    def match(
        self, need: NeedProfile, top_n: int = 10, k: int = DEFAULT_K, query: np.ndarray | None = None
    ) -> list[RankedMatch]:
        """The top `top_n` solutions for `need`, ranked and explained: `rank` over `candidates`.
        `query`: the need text's vector, if the caller encoded it already."""
        if not self._docs:
            return []
        ids, semantic, lexical = self._retrieve(need, k, query)
        terms = need_terms(need, self.taxonomy)
        ranked = self._rank_the_best(need, terms, ids, semantic, lexical, top_n)
        if ranked is not None:
            return ranked
        candidates = self._candidates(ids, semantic, lexical)
        return rank(need, candidates, self.taxonomy, self.weights, top_n, terms=terms)

    def match_among(self, need: NeedProfile, ids: Iterable[int], top_n: int = 10) -> list[RankedMatch]:
        """`match` restricted to the solutions ``ids`` (e.g. those an event's providers bring): the
        same signals, ranking, exposure cap and explanation, over those candidates only. Ids that
        are not matchable (withdrawn, or their provider off the whitelist) are left out."""
        known = sorted({i for i in ids if i in self._docs})
        if not known:
            return []
        query = self.encoder.encode([need.text])[0]
        candidates = self.score(need, query, known)
        return rank(need, candidates, self.taxonomy, self.weights, top_n, terms=need_terms(need, self.taxonomy))

    def _rank_the_best(
        self,
        need: NeedProfile,
        terms: NeedTerms,
        ids: list[int],
        semantic: list[float],
        lexical: dict[int, float],
        top_n: int,
    ) -> list[RankedMatch] | None:
        """`rank` over only the best-scoring candidates, when that gives the same answer; else None.

        All candidates are scored at once (`BatchScorer`: the same floats as `rank`), and only those
        scoring at least the (top_n + 2 * EXPOSURE_TOP)-th best become Candidates and are ranked. Those
        left out score below every one kept, so they could only matter if the exposure cap ran out of
        solutions of other providers for the first places: kept only when the kept ones can fill them.
        """
        kept = top_n + 2 * EXPOSURE_TOP
        if not self._batch or top_n <= 0 or len(ids) <= 2 * kept:
            return None
        scorer = BatchScorer(need, terms, self.taxonomy, self.weights)
        if not scorer.usable:
            return None
        docs = self._docs
        features = self._features[[self._row_of[i] for i in ids]]
        in_domains = scorer.in_domains(features, lambda position: docs[ids[position]].domain)
        scores = scorer.scores(
            np.asarray(semantic, dtype=np.float64),
            np.fromiter((lexical[i] for i in ids), dtype=np.float64, count=len(ids)),
            features,
            in_domains,
            lambda position: docs[ids[position]].tags,
        )
        threshold = np.partition(scores, len(scores) - kept)[len(scores) - kept]
        chosen = np.flatnonzero(scores >= threshold - _MARGIN).tolist()
        providers = Counter(docs[ids[position]].provider_id for position in chosen)
        if sum(min(count, EXPOSURE_PER_PROVIDER) for count in providers.values()) < EXPOSURE_TOP:
            return None
        candidates = self._candidates([ids[p] for p in chosen], [semantic[p] for p in chosen], lexical)
        return rank(need, candidates, self.taxonomy, self.weights, top_n, terms=terms, scale=scorer.scale)
