"""The matching engine: an in-memory corpus of solutions that retrieves and ranks them for a need.

Retrieve with the indexes, then re-rank in plain code: the candidates are the union of the vector
index's and the lexical index's top k, every candidate gets all its signals (also the one that did
not retrieve it), and `ranking.rank` orders them. The web app feeds the engine from database rows
(with the vectors it stored), the evaluation from the labelled file; both match through this class.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from embeddings import Encoder, LexicalIndex, VectorIndex
from matchmaker.ranking import DEFAULT_WEIGHTS, Candidate, NeedProfile, RankedMatch, Weights, rank
from matchmaker.tagging import suggest
from matchmaker.taxonomy import Taxonomy

# Candidates taken from each index. On the development set (60 solutions) the union holds 98% of the
# labelled answers at k = 20, 99% at 30 and all at 50; 100 leaves room for a larger corpus while a
# match stays fast (measured with USE on one core: ~8 ms at 60 solutions, ~22 ms at 50 000).
DEFAULT_K = 100


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


def doc_text(doc: SolutionDoc) -> str:
    """The text a solution is encoded and indexed by: title, summary, description, modules.

    Deterministic (fields in a fixed order, one per line, empty ones skipped) so that a hash of it
    tells whether a stored vector is still current.
    """
    modules = "、".join(m.strip() for m in doc.modules if m.strip())
    lines = (doc.title, doc.summary, doc.description, f"核心功能模块：{modules}" if modules else "")
    return "\n".join(line.strip() for line in lines if line and line.strip())


class MatchEngine:
    """Solutions held in a vector index, a lexical index and a dict; `match` ranks them for a need.

    Not thread-safe for writes (the indexes are not): callers serialise upsert/remove against match.
    """

    def __init__(self, encoder: Encoder, taxonomy: Taxonomy, weights: Weights = DEFAULT_WEIGHTS) -> None:
        self.encoder = encoder
        self.taxonomy = taxonomy
        self.weights = weights
        self._vectors = VectorIndex(encoder.dim)
        self._lexical = LexicalIndex()
        self._docs: dict[int, SolutionDoc] = {}

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
        the web form would.
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
        for doc in docs:
            self._docs[doc.id] = self._tagged(doc)

    def _tagged(self, doc: SolutionDoc) -> SolutionDoc:
        if doc.tags:
            return doc
        return replace(doc, tags=suggest(doc_text(doc), self.taxonomy).tags)

    def remove(self, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        self._vectors.remove(ids)
        self._lexical.remove(ids)
        for id_ in ids:
            self._docs.pop(id_, None)

    def candidates(self, need: NeedProfile, k: int = DEFAULT_K) -> list[Candidate]:
        """The union of both indexes' top `k` for the need, each with both retrieval scores."""
        if not self._docs:
            return []
        query = self.encoder.encode([need.text])[0]
        semantic_ids = [i for i, _ in self._vectors.search(query, k)]
        lexical_hits, lexical = self._lexical.lookup(need.text, k, semantic_ids)
        lexical.update(lexical_hits)
        return self._scored(need, query, sorted(lexical), lexical)

    def all_candidates(self, need: NeedProfile) -> list[Candidate]:
        """Every solution as a candidate (what the evaluation's single-signal baselines rank)."""
        query = self.encoder.encode([need.text])[0]
        return self.score(need, query, sorted(self._docs))

    def score(self, need: NeedProfile, query: np.ndarray, ids: Sequence[int]) -> list[Candidate]:
        """`ids` as candidates for the need whose text encodes to `query`."""
        return self._scored(need, query, ids, self._lexical.scores(need.text, ids))

    def _scored(
        self, need: NeedProfile, query: np.ndarray, ids: Sequence[int], lexical: dict[int, float]
    ) -> list[Candidate]:
        query = np.asarray(query, dtype=np.float32)
        semantic = (self._vectors.vectors(ids) @ query / (float(np.linalg.norm(query)) or 1.0)).tolist()
        docs = self._docs
        out = []
        for id_, cosine in zip(ids, semantic, strict=True):
            doc = docs[id_]
            summary, description = doc.summary, doc.description
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
                    f"{summary}\n{description}" if summary and description else summary or description,
                )
            )
        return out

    def match(self, need: NeedProfile, top_n: int = 10, k: int = DEFAULT_K) -> list[RankedMatch]:
        """The top `top_n` solutions for `need`, ranked and explained."""
        return rank(need, self.candidates(need, k), self.taxonomy, self.weights, top_n)
