"""Nearest capability: a solution's sentences that no capability phrase catches, mapped by embedding.

A vendor describes what it offers in its own words ("老旧机床也能接入", "异常停机即时提醒"); the tag
phrases catch many of them, not all. Each sentence of a solution's description and each module that
names no tag phrase is encoded and given the capability tag whose phrases (its name and synonyms,
each encoded once per taxonomy and encoder) lie nearest: the highest cosine over the tag's phrases,
kept when it reaches the threshold. One matrix product per solution, worked out when it is indexed.

Measured by cross-validation over both public sets (`flask tune-weights ... --nearest`, the threshold
chosen with the weights on the training folds): mapping the solutions' sentences raised the held-out
NDCG@10 on both sets; mapping the needs' sentences as well lowered it on real text, and would cost
an encoding per clause on every match, so needs are left to their phrases.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embeddings import Encoder
from matchmaker.matching.explanation import split_points
from matchmaker.matching.tagging import finders
from matchmaker.matching.taxonomy import Taxonomy

# The cosine (USE) a sentence must reach to count as the nearest capability's. `flask tune-weights
# seed_data/dev_set.json seed_data/real_dev_set.json --nearest 0.4,0.45,0.5,0.55,0.6,0.65` chose it.
NEAREST_THRESHOLD = 0.65


@dataclass(frozen=True)
class CapabilityVectors:
    """Every tag's phrases encoded, grouped by tag: rows starts[i]:starts[i + 1] are names[i]'s."""

    names: tuple[str, ...]
    starts: np.ndarray  # (tags,) first row of each tag's phrases
    phrases: np.ndarray  # (phrases, dim) unit rows

    @classmethod
    def of(cls, taxonomy: Taxonomy, encoder: Encoder) -> "CapabilityVectors":
        """The taxonomy's tag phrases encoded once per taxonomy and encoder (kept with its finders)."""
        memo = finders(taxonomy).memo
        key = ("capability vectors", encoder.name)
        cached = memo.get(key)
        if isinstance(cached, cls):
            return cached
        texts, starts = [], []
        for tag in taxonomy.tags:
            starts.append(len(texts))
            texts.extend(dict.fromkeys(t for t in (tag.name, *tag.synonyms) if t.strip()))
        vectors = encoder.encode(texts) if texts else np.zeros((0, encoder.dim), dtype=np.float32)  # unit rows
        made = cls(tuple(tag.name for tag in taxonomy.tags), np.asarray(starts, dtype=np.intp), vectors)
        if len(memo) < 1024:
            memo[key] = made
        return made

    def nearest(self, sentences: np.ndarray, threshold: float) -> tuple[str, ...]:
        """The nearest tag of each sentence vector (rows of `sentences`) whose cosine reaches
        `threshold`, each once, in order of the sentences."""
        if len(sentences) == 0 or len(self.names) == 0:
            return ()
        cosines = np.asarray(sentences, dtype=np.float32) @ self.phrases.T  # (sentences, phrases)
        per_tag = np.maximum.reduceat(cosines, self.starts, axis=1)  # the best phrase of each tag
        best = per_tag.argmax(axis=1)
        reached = per_tag[np.arange(len(best)), best] >= threshold
        return tuple(dict.fromkeys(self.names[i] for i in best[reached].tolist()))


def uncaught_sentences(description: str, modules: Sequence[str], taxonomy: Taxonomy) -> list[str]:
    """The description's clauses and the modules that name no capability phrase."""
    tags = finders(taxonomy).tags
    texts = (*split_points(description), *(m.strip() for m in modules if m.strip()))
    return [text for text in dict.fromkeys(texts) if not tags.find(text.lower())]
