"""MatchEngine: the in-memory corpus the app and the evaluation match through (hash encoder: no model)."""

import random

import numpy as np
import pytest

from embeddings import load_encoder
from matchmaker.matching import engine as matching_module
from matchmaker.matching.engine import MatchEngine, SolutionDoc, doc_text
from matchmaker.matching.fusion import rank
from matchmaker.matching.signals import NeedProfile
from tests.matching.test_taxonomy import tiny_taxonomy

DOCS = [
    SolutionDoc(1, 10, "设备联网采集", "", "家具厂开料机、封边机联网，数采网关实时采集运行状态", "data_collection"),
    SolutionDoc(2, 10, "仓库管理WMS", "", "扫码出入库、库位管理、先进先出", "software", modules=("出入库", "库位")),
    SolutionDoc(3, 20, "等保测评", "", "网络安全等级保护测评与整改，帮助通过等保三级", "security"),
    SolutionDoc(
        4, 30, "5G专网", "", "园区5G虚拟专网建设，AGV与视觉终端无线接入", "network", industries=("auto_parts",)
    ),
]


@pytest.fixture
def engine() -> MatchEngine:
    engine = MatchEngine(load_encoder("hash"), tiny_taxonomy())
    engine.upsert(DOCS)
    return engine


def test_doc_text_is_deterministic_and_skips_empty_fields():
    doc = SolutionDoc(1, 1, " 标题 ", "", "描述", "software", modules=("模块一", " ", "模块二"))
    assert doc_text(doc) == "标题\n描述\n核心功能模块：模块一、模块二"
    assert doc_text(doc) == doc_text(SolutionDoc(1, 1, " 标题 ", "", "描述", "software", modules=("模块一", "模块二")))
    assert doc_text(doc) != doc_text(SolutionDoc(1, 1, "标题", "摘要", "描述", "software"))


def test_match_finds_the_solution_that_answers_the_need(engine):
    for text, expected in [
        ("公司今年要通过等保三级测评", 3),
        ("仓库出入库靠手写，想上WMS", 2),
        ("开料机和封边机想联网采集", 1),
    ]:
        matches = engine.match(NeedProfile(text=text), top_n=3)
        assert matches[0].solution_id == expected, text
        assert [m.rank for m in matches] == [1, 2, 3]
        assert matches[0].score >= matches[1].score >= matches[2].score


def test_untagged_solutions_get_suggested_tags(engine):
    assert engine.doc(3).tags == ("等保测评",)
    assert "WMS" in engine.doc(2).tags
    tagged = SolutionDoc(5, 40, "x", "", "等保三级", "security", tags=("自定义",))
    engine.upsert([tagged])
    assert engine.doc(5).tags == ("自定义",)


def test_remove_and_replace(engine):
    need = NeedProfile(text="公司今年要通过等保三级测评")
    engine.remove([3, 999])
    assert 3 not in engine and len(engine) == 3
    assert 3 not in [m.solution_id for m in engine.match(need)]
    replaced = SolutionDoc(2, 10, "等保三级测评整改", "", "等级保护测评", "security")
    engine.upsert([replaced])
    assert len(engine) == 3
    assert engine.match(need)[0].solution_id == 2
    assert engine.doc(2).title == "等保三级测评整改"


def test_listing_filters_by_every_term_ignoring_case_and_by_the_attributes(engine):
    assert engine.listing() == [1, 2, 3, 4]
    assert engine.listing(["wms"]) == [2]  # case folded
    assert engine.listing(["联网", "封边机"]) == [1]  # every term, in any of title, summary, description
    assert engine.listing(["采集家具厂"]) == []  # a term does not run from the title into the description
    assert engine.listing(domain="security") == [3]
    assert engine.listing(industries={"auto_parts", "general"}) == [4]  # lists one of the fitting codes
    assert engine.listing(["专网"], size="large") == []
    engine.upsert([SolutionDoc(5, 40, "大型工厂5G专网", "", "5G专网建设", "network", sizes=("large",))])
    engine.remove([4])
    assert engine.listing(["专网"], size="large") == [5]
    assert engine.listing(["5g"]) == [5]


def test_given_vectors_are_used_instead_of_encoding(engine):
    need = NeedProfile(text="完全无关的一句话")
    query = engine.encoder.encode([need.text])
    vectors = engine.encode_docs(DOCS)
    vectors[3] = query[0]  # solution 4 now sits exactly on the need
    fresh = MatchEngine(engine.encoder, engine.taxonomy)
    fresh.upsert(DOCS, vectors)
    top = fresh.match(need, top_n=1)[0]
    assert top.solution_id == 4
    assert top.parts["semantic"] == pytest.approx(fresh.weights.normalised()["semantic"], abs=1e-3)
    with pytest.raises(ValueError):
        fresh.upsert(DOCS, vectors[:2])


def test_candidates_are_the_union_of_vector_and_lexical_hits_with_both_scores(engine):
    need = NeedProfile(text="等保三级测评")
    vectors = engine.encode_docs(DOCS)
    vectors[0] = engine.encoder.encode([need.text])[0]  # vector search now prefers solution 1
    fresh = MatchEngine(engine.encoder, engine.taxonomy)
    fresh.upsert(DOCS, vectors)
    candidates = {c.solution_id: c for c in fresh.candidates(need, k=1)}
    assert set(candidates) == {1, 3}  # 1 from the vector index, 3 from the lexical index
    assert candidates[1].semantic == pytest.approx(1.0, abs=1e-3)  # vectors are held as float16
    assert candidates[3].lexical > candidates[1].lexical
    assert 0.0 < candidates[3].semantic < 1.0  # computed although the vector index did not return it


def test_empty_engine_matches_nothing():
    engine = MatchEngine(load_encoder("hash"), tiny_taxonomy())
    assert engine.match(NeedProfile(text="任何需求")) == []
    assert engine.encode_docs([]).shape == (0, engine.encoder.dim)


def test_matching_is_repeatable(engine):
    need = NeedProfile(text="想做设备联网和5G专网", industry="auto_parts")
    first = [(m.solution_id, m.score) for m in engine.match(need)]
    assert all([(m.solution_id, m.score) for m in engine.match(need)] == first for _ in range(3))
    assert np.isclose(sum(engine.match(need)[0].parts.values()), engine.match(need)[0].score)


def test_match_is_rank_over_all_candidates_though_it_ranks_only_the_best(monkeypatch):
    """match() scores all candidates at once and ranks (and explains) only the best-scoring ones,
    falling back to ranking all when the exposure cap could reach further: the same answer always."""
    rng = random.Random(4)
    words = (
        "设备 联网 数采 网关 排产 MES 仓库 出入库 WMS 等保 测评 5G 专网 能耗 用电 监测 质量 追溯 家具 汽配 芯片".split()
    )
    industries = ["furniture", "C21", "auto_parts", "C36", "ic", "smart_terminal", "general", "no-such-code", ""]
    tags = ["MES", "制造执行系统", "WMS", "排产", "5G专网", "等保三级", "自定义能力", ""]
    docs = [
        SolutionDoc(
            i,
            rng.choice([i, i % 3, i % 11]),  # sometimes a few providers hold most: the exposure cap bites
            "".join(rng.choices(words, k=2)),
            rng.choice(["", "".join(rng.choices(words, k=3))]),
            "".join(rng.choices(words, k=rng.randint(3, 12))),
            rng.choice(["data_collection", "software", "network", "security", "other"]),
            industries=tuple(rng.sample(industries, rng.randint(0, 3))),
            sizes=tuple(rng.sample(["large", "medium", "small", "micro", "huge"], rng.randint(0, 3))),
            modules=tuple(rng.choices(words, k=rng.randint(0, 3))),
            tags=tuple(rng.sample(tags, rng.randint(0, 3))),  # empty: suggested from the text
            maturity=rng.choice(["", "1-2", "2-3", "3-5", "4-5", "5-1", "x"]),
            rating=rng.choice([0.5, 0.5, 0.0, 0.25, 0.75, 1.0]),  # the provider's rating prior
        )
        for i in range(1, 500)
    ]
    monkeypatch.setattr(matching_module, "_SPARE_ROWS", 10)
    engine = MatchEngine(load_encoder("hash"), tiny_taxonomy())
    engine.upsert(docs)
    for start in range(0, 400, 20):
        engine.upsert(docs[start : start + 40])  # replaced: their features get new rows, compacted now and then
    engine.remove(range(450, 470))
    assert engine._rows < 2 * len(engine) + 10 + 40
    ranked_sizes: list[int] = []

    def counting_rank(need, candidates, *args, **kwargs):
        ranked_sizes.append(len(candidates))
        return rank(need, candidates, *args, **kwargs)

    monkeypatch.setattr(matching_module, "rank", counting_rank)
    paths = []
    for n in range(80):
        need = NeedProfile(
            text="".join(rng.choices(words, k=rng.randint(1, 8))),
            industry=rng.choice([None, *industries]),
            size=rng.choice([None, "large", "small", "micro", "huge"]),
            domains=rng.choice([(), ("software",), ("network", "other")]),
            tags=rng.choice([(), ("MES",), ("WMS", "5G专网"), ("自定义能力",)]),
            maturity=rng.choice(range(7)),
        )
        for top_n, k in ((10, 30), (5, 80), (3, 200)):
            ranked_sizes.clear()
            got = [m.as_dict() for m in engine.match(need, top_n=top_n, k=k)]
            every = engine.candidates(need, k=k)
            assert got == [m.as_dict() for m in rank(need, every, engine.taxonomy, engine.weights, top_n)], (n, top_n)
            paths.append("fewer" if ranked_sizes[0] < len(every) else "all")
    assert {"fewer", "all"} <= set(paths)
