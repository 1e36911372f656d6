"""Nearest capability: solution sentences no tag phrase catches get the tag nearest by embedding."""

from collections.abc import Sequence

import numpy as np
import pytest

from matchmaker.matching.capabilities import NEAREST_THRESHOLD, CapabilityVectors, uncaught_sentences
from matchmaker.matching.engine import MatchEngine, SolutionDoc
from matchmaker.matching.fusion import SIGNALS, Weights
from matchmaker.matching.signals import NeedProfile
from matchmaker.matching.taxonomy import Taxonomy
from matchmaker.matching.tuning import NeedTable, cross_validate_settings, format_settings

TAXONOMY = Taxonomy.from_dict(
    {
        "domains": [{"code": "software", "name": "工业软件"}, {"code": "data", "name": "数据采集"}],
        "industries": [],
        "tags": [
            {"name": "APS", "domain": "software", "synonyms": ["高级排产"]},
            {"name": "设备联网", "domain": "data", "synonyms": ["机台联网"]},
        ],
    }
)


class MeaningEncoder:
    """A fake with known meanings: axis 0 scheduling (排, 程, "aps"), axis 1 connecting machines (联,
    网, 采), axis 2 canteens (餐) plus a little of every text, so unrelated texts are near nothing."""

    name = "meaning-test"
    dim = 3

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            folded = text.lower()
            row = [
                sum(folded.count(c) for c in "排程") + folded.count("aps"),
                sum(folded.count(c) for c in "联网采"),
                0.1 + folded.count("餐"),
            ]
            rows.append(np.asarray(row, dtype=np.float32) / np.linalg.norm(row))
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)


def doc(id_: int, description: str, modules: tuple[str, ...] = ()) -> SolutionDoc:
    return SolutionDoc(id_, id_, "", "", description, "software", modules=modules)


# Solution 3 offers scheduling in words no phrase of the taxonomy holds; 1 and 2 do not offer it.
DOCS = [doc(1, "食堂订餐与访客登记"), doc(2, "机台联网，看板展示"), doc(3, "插单后计划自动重排，交期可承诺")]


def test_uncaught_sentences_are_the_clauses_and_modules_naming_no_phrase():
    found = uncaught_sentences("机台联网，插单后计划自动重排", ("高级排产模块", "报工"), TAXONOMY)
    assert found == ["插单后计划自动重排", "报工"]


def test_each_sentence_gets_its_nearest_tag_only_when_near_enough():
    capabilities = CapabilityVectors.of(TAXONOMY, MeaningEncoder())
    assert capabilities.names == ("APS", "设备联网")
    vectors = MeaningEncoder().encode(["插单后计划自动重排", "食堂订餐", "数据自动采上来", "重排程序"])
    assert capabilities.nearest(vectors, NEAREST_THRESHOLD) == ("APS", "设备联网")  # each once, in order
    assert capabilities.nearest(vectors[1:2], NEAREST_THRESHOLD) == ()  # a canteen is no capability
    assert capabilities.nearest(vectors[:0], NEAREST_THRESHOLD) == ()
    assert CapabilityVectors.of(TAXONOMY, MeaningEncoder()) is capabilities  # encoded once per taxonomy


def test_a_solution_offering_a_capability_in_its_own_words_is_found_by_the_tags_signal():
    """A need asking for 高级排产 (the tag APS): by tags alone, the solution that describes scheduling
    without naming it comes first once its sentences are mapped, and ties last (by id) without."""
    need = NeedProfile(text="想上高级排产")
    tags_only = Weights(**dict.fromkeys(SIGNALS, 0.0) | {"tags": 1.0})
    mapped = MatchEngine(MeaningEncoder(), TAXONOMY, tags_only)
    mapped.upsert(DOCS)
    assert mapped.doc(3).tags == ("APS",)
    assert mapped.doc(2).tags == ("设备联网",)  # caught by its phrase; nothing added
    assert mapped.doc(1).tags == ()
    assert [m.solution_id for m in mapped.match(need, top_n=3)] == [3, 1, 2]

    phrases_only = MatchEngine(MeaningEncoder(), TAXONOMY, tags_only, nearest=None)
    phrases_only.upsert(DOCS)
    assert phrases_only.doc(3).tags == ()
    assert [m.solution_id for m in phrases_only.match(need, top_n=3)] == [1, 2, 3]


def test_given_tags_are_kept_and_not_repeated():
    engine = MatchEngine(MeaningEncoder(), TAXONOMY)
    engine.upsert([doc(1, "插单后计划自动重排", modules=("高级排产",)), doc(2, "排程优化")])
    assert engine.doc(1).tags == ("APS",)  # suggested from the module; the sentence adds nothing new
    engine.upsert([SolutionDoc(2, 2, "", "", "数据自动采上来", "data", tags=("机台联网",))])
    assert engine.doc(2).tags == ("机台联网",)  # a synonym of 设备联网 given: the mapped tag is no news


def table(source: str, key: str, findable: bool) -> NeedTable:
    """Four candidates; the answer (the last, so it loses ties) tops the tags signal only when `findable`."""
    values = np.full((4, len(SIGNALS)), 0.5)
    values[:, SIGNALS.index("tags")] = [0.5, 0.5, 0.5, 1.0 if findable else 0.0]
    gains = np.array([0.0, 0.0, 0.0, 3.0])
    return NeedTable(source, key, values, gains, ideal=3.0)


def test_a_setting_is_chosen_with_the_weights_on_training_folds_and_scored_held_out():
    keys = [(source, f"{source}{i}") for source in "ab" for i in range(5)]
    tables = {
        "nearest off": [table(s, k, findable=False) for s, k in keys],
        "nearest 0.65": [table(s, k, findable=True) for s, k in keys],
    }
    result = cross_validate_settings(tables, folds=5, step=0.5)
    assert result.alone["nearest 0.65"] == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    assert result.alone["nearest off"]["a"] < 1.0
    assert result.joint == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    assert result.picks == ["nearest 0.65"] * 5 and result.best == "nearest 0.65"
    assert "best over all needs (to adopt): nearest 0.65" in format_settings(result)
