"""The ranker: signals, weights, fair exposure, explanations, stable order."""

import dataclasses
import random
from dataclasses import replace
from pathlib import Path

import pytest

from matchmaker.matching import explanation as explanation_module
from matchmaker.matching.explanation import UNCOVERED, solution_scans, split_points
from matchmaker.matching.exposure import EXPOSURE_TOP
from matchmaker.matching.fusion import DEFAULT_WEIGHTS, PARTS, SIGNALS, Weights, need_terms, rank
from matchmaker.matching.signals import NEUTRAL, Candidate, NeedProfile, signals, size_fit
from matchmaker.matching.tagging import finders, industry_in_text
from matchmaker.matching.taxonomy import load_taxonomy
from tests.matching.test_taxonomy import tiny_taxonomy

TAXONOMY = tiny_taxonomy()
SEED_TAXONOMY = Path(__file__).resolve().parents[2] / "seed_data" / "taxonomy.json"


def candidate(solution_id: int, provider_id: int | None = None, **overrides) -> Candidate:
    fields = {
        "solution_id": solution_id,
        "provider_id": solution_id if provider_id is None else provider_id,
        "title": f"方案{solution_id}",
        "domain": "software",
        "industries": (),
        "sizes": (),
        "modules": (),
        "tags": (),
        "semantic": 0.5,
        "lexical": 0.5,
        "text": "",
    }
    return Candidate(**fields | overrides)


def test_default_weights_are_non_negative_and_normalise_to_one():
    share = DEFAULT_WEIGHTS.normalised()
    assert set(share) == set(SIGNALS) == {"semantic", "lexical", "industry", "size", "tags", "domain", "maturity"}
    assert sum(share.values()) == pytest.approx(1.0)
    assert all(v >= 0 for v in share.values())
    assert all(share[name] > 0 for name in ("semantic", "lexical", "industry", "tags"))
    assert Weights(2, 2, 0, 0, 0, 0, 0).normalised()["semantic"] == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [Weights(0, 0, 0, 0, 0, 0, 0), Weights(1, -1, 0, 0, 0, 0, 0)])
def test_weights_must_be_non_negative_with_a_positive_sum(bad):
    with pytest.raises(ValueError):
        bad.normalised()


def test_every_signal_is_in_unit_range_even_for_out_of_range_retrieval_scores():
    need = NeedProfile(text="家具厂想上MES和排产", industry="furniture", size="small")
    terms = need_terms(need, TAXONOMY)
    rng = random.Random(7)
    industries = ["furniture", "C21", "auto_parts", "general", "unknown"]
    for i in range(200):
        c = candidate(
            i,
            semantic=rng.uniform(-1.5, 1.5),
            lexical=rng.uniform(-0.5, 1.5),
            industries=tuple(rng.sample(industries, rng.randint(0, 2))),
            sizes=tuple(rng.sample(["large", "medium", "small", "micro"], rng.randint(0, 2))),
            tags=tuple(rng.sample(["MES", "WMS", "排产", "5G专网"], rng.randint(0, 3))),
            domain=rng.choice(["software", "network", "security"]),
        )
        values = signals(need, terms, c, TAXONOMY)
        assert set(values) == set(SIGNALS)
        assert all(0.0 <= v <= 1.0 for v in values.values()), values


def test_parts_are_weighted_normalised_signals_that_sum_to_the_score():
    """Each signal is min-max normalised over the need's candidates; one equal for all is NEUTRAL."""
    need = NeedProfile(text="家具厂想上MES", industry="furniture")
    best = candidate(1, industries=("furniture",), tags=("MES",), semantic=0.8, lexical=0.3)
    middle = candidate(2, industries=("auto_parts",), semantic=0.6, lexical=0.1)
    worst = candidate(3, industries=("auto_parts",), semantic=0.4, lexical=0.2)
    matches = rank(need, [worst, best, middle], TAXONOMY)
    assert [m.solution_id for m in matches] == [1, 2, 3]
    share = DEFAULT_WEIGHTS.normalised()
    top, second, _ = matches
    assert top.parts["semantic"] == pytest.approx(share["semantic"])  # the highest cosine maps to 1
    assert second.parts["semantic"] == pytest.approx(share["semantic"] * 0.5)  # halfway between
    assert second.parts["lexical"] == pytest.approx(0.0)  # the lowest maps to 0
    assert top.parts["industry"] == pytest.approx(share["industry"])
    assert top.parts["size"] == pytest.approx(share["size"] * NEUTRAL)  # unstated: equal for all
    for match in matches:
        assert match.score == pytest.approx(sum(match.parts.values()))
        assert 0.0 <= match.score <= 1.0


def test_scaling_a_retrieval_signal_changes_no_order():
    """Scale-free: cosines from another encoder, on another range, rank the same way."""
    need = NeedProfile(text="家具厂想上MES", industry="furniture")
    rng = random.Random(3)
    many = [
        candidate(
            i,
            semantic=rng.uniform(0.3, 0.8),
            lexical=rng.uniform(0, 0.3),
            industries=(rng.choice(["furniture", "C36"]),),
        )
        for i in range(1, 40)
    ]
    squeezed = [replace(c, semantic=0.5 + (c.semantic - 0.3) / 10, lexical=c.lexical * 3) for c in many]
    order = [m.solution_id for m in rank(need, many, TAXONOMY, top_n=39)]
    assert order == [m.solution_id for m in rank(need, squeezed, TAXONOMY, top_n=39)]


def test_each_structured_signal_moves_a_candidate_up():
    base = candidate(2)
    need = NeedProfile(text="家具厂想上MES", industry="furniture", size="small", domains=("software",))
    for better in (
        replace(base, solution_id=1, industries=("furniture",)),
        replace(base, solution_id=1, sizes=("small",)),
        replace(base, solution_id=1, tags=("制造执行系统",)),  # a synonym of the need's tag
    ):
        worse = replace(base, industries=("auto_parts",), sizes=("large",), tags=("WMS",))
        better = replace(better, industries=better.industries or ("auto_parts",), sizes=better.sizes or ("large",))
        order = [m.solution_id for m in rank(need, [worse, better], TAXONOMY)]
        assert order == [1, 2], better
    other_domain = replace(base, solution_id=3, domain="network")
    assert [m.solution_id for m in rank(need, [other_domain, base], TAXONOMY)] == [2, 3]


def test_size_fit():
    assert size_fit("small", ["small", "medium"]) == 1.0
    assert NEUTRAL < size_fit("small", ["medium"]) < 1.0  # adjacent class: partial
    assert 0.0 < size_fit("micro", ["large"]) < NEUTRAL  # a stated, distant class: below neutral
    assert size_fit(None, ["large"]) == NEUTRAL
    assert size_fit("small", []) == NEUTRAL


def test_need_tags_are_suggested_from_its_text_unless_given():
    suggested = need_terms(NeedProfile(text="想做设备数据采集"), TAXONOMY)
    assert suggested.tags == {"设备联网"} and suggested.domains == ("data_collection",)
    given = need_terms(NeedProfile(text="想做设备数据采集", tags=("WMS",), domains=("software",)), TAXONOMY)
    assert given.tags == {"WMS"} and given.domains == ("software",)


def test_exposure_cap_pushes_a_providers_third_solution_out_of_the_top_five():
    # provider 9 owns the three best-scoring solutions
    crowd = [candidate(i, provider_id=9, semantic=0.99, lexical=0.99) for i in (1, 2, 3)]
    others = [candidate(i, semantic=0.5 - i / 100, lexical=0.5) for i in range(4, 10)]
    ranked = rank(NeedProfile(text="随便什么需求"), crowd + others, TAXONOMY)
    top5 = [m.solution_id for m in ranked[:5]]
    assert sum(1 for i in top5 if i in (1, 2, 3)) == 2
    assert [m.solution_id for m in ranked[:2]] == [1, 2]
    assert ranked[5].solution_id == 3  # pushed down, not dropped
    assert [m.rank for m in ranked] == list(range(1, len(ranked) + 1))


def test_exposure_cap_still_fills_the_list_when_one_provider_is_all_there_is():
    ranked = rank(NeedProfile(text="需求"), [candidate(i, provider_id=1) for i in range(1, 5)], TAXONOMY)
    assert [m.solution_id for m in ranked] == [1, 2, 3, 4]


def test_ties_break_by_solution_id_whatever_the_input_order():
    cands = [candidate(i, semantic=0.5, lexical=0.5) for i in range(1, 13)]
    expected = [m.solution_id for m in rank(NeedProfile(text="需求"), cands, TAXONOMY, top_n=12)]
    assert expected == list(range(1, 13))
    for seed in range(5):
        shuffled = cands[:]
        random.Random(seed).shuffle(shuffled)
        assert [m.solution_id for m in rank(NeedProfile(text="需求"), shuffled, TAXONOMY, top_n=12)] == expected


def test_top_n_limits_the_list():
    cands = [candidate(i, semantic=i / 20) for i in range(1, 16)]
    ranked = rank(NeedProfile(text="需求"), cands, TAXONOMY, top_n=3)
    assert [m.solution_id for m in ranked] == [15, 14, 13]


def test_explanation_names_industry_size_and_shared_tags():
    need = NeedProfile(text="我们是家具厂，想上MES和排产", industry="furniture", size="small")
    cands = [
        candidate(1, industries=("furniture",), sizes=("small", "medium"), tags=("MES", "WMS")),
        candidate(2, industries=("C21",), sizes=("medium",), tags=("APS",)),
        candidate(3, industries=(), sizes=()),
        candidate(4, industries=("auto_parts",), sizes=("large",)),
    ]
    by_id = {m.solution_id: m.explanation for m in rank(need, cands, TAXONOMY)}
    assert by_id[1].industry == "行业匹配：家具"
    assert by_id[1].size == "规模匹配：小型企业"
    assert by_id[1].tags == ("MES",)
    assert by_id[2].industry == "相关行业：家具制造业"
    assert by_id[2].size.startswith("规模相近")
    assert by_id[2].tags == ("APS排产",)
    assert by_id[3].industry == "通用方案"
    assert by_id[3].size == "方案未限定规模"
    assert by_id[4].industry == "行业不同"
    assert by_id[4].size.startswith("规模不同")
    unknown = rank(NeedProfile(text="需求"), cands[:1], TAXONOMY)[0].explanation
    assert unknown.industry == "需求未注明行业" and unknown.size == "需求未注明规模"


def test_split_points_uses_clause_breaks_and_drops_short_fragments():
    text = "车间设备都是单机作业，老板想在手机上看稼动率；好的\n还想做排产、报表。"
    assert split_points(text) == ("车间设备都是单机作业", "老板想在手机上看稼动率", "还想做排产、报表")


def test_split_points_keeps_each_point_once():
    assert split_points("开料机、封边机都是单机作业\n开料机、封边机都是单机作业，想上MES") == (
        "开料机、封边机都是单机作业",
        "想上MES",
    )


def test_need_points_are_the_capabilities_asked_for_each_with_its_clause():
    need = NeedProfile(text="老师傅一个月要一万二还留不住，想把车间设备联网采集数据，实现生产排产，还想上WMS")
    solution = candidate(
        1,
        modules=("设备联网采集", "APS智能排程", "质量追溯"),
        text="面向中小企业的云MES。",
    )
    (match,) = rank(need, [solution], TAXONOMY)
    points = {p.point: p for p in match.explanation.points}
    assert list(points) == ["设备联网", "APS排产", "WMS"]  # the reason (留不住) is no point
    assert points["设备联网"].module == "设备联网采集" and points["设备联网"].sentence == "想把车间设备联网采集数据"
    assert points["APS排产"].module == "APS智能排程"  # through the tag's synonyms 排产 / 排程
    assert points["WMS"].module == UNCOVERED and not points["WMS"].covered and points["APS排产"].covered


def test_a_need_naming_no_capability_keeps_its_clauses_as_points():
    need = NeedProfile(text="想给员工发年终奖，年底前完成")
    (match,) = rank(need, [candidate(1, modules=("质量追溯",))], TAXONOMY)
    assert [(p.point, p.sentence, p.module) for p in match.explanation.points] == [
        ("想给员工发年终奖", "想给员工发年终奖", UNCOVERED),
        ("年底前完成", "年底前完成", UNCOVERED),
    ]


def test_a_point_without_a_module_is_covered_by_a_sentence_of_the_solution_text():
    need = NeedProfile(text="仓库出入库全靠手写台账")
    solution = candidate(1, modules=(), text="智能仓储管理软件：扫码出入库、库位管理，先进先出。")
    (match,) = rank(need, [solution], TAXONOMY)
    (point,) = match.explanation.points
    assert point.covered and point.module == "扫码出入库"
    short_item = candidate(2, text="采集开料机、封边机、排钻的运行状态")
    (match,) = rank(NeedProfile(text="封边机都是单机作业"), [short_item], TAXONOMY)
    assert match.explanation.points[0].module == "封边机"


def test_a_point_naming_the_needs_industry_is_covered_by_a_fitting_industry():
    need = NeedProfile(text="我们是一家家具厂，老板想在手机上看报表", industry="furniture")
    fitting = candidate(1, industries=("C21",))
    other = candidate(2, industries=("auto_parts",))
    by_id = {m.solution_id: m.explanation.points for m in rank(need, [fitting, other], TAXONOMY)}
    assert [p.module for p in by_id[1]] == ["相关行业：家具制造业", UNCOVERED]  # 手机 is not the need's industry
    assert [p.module for p in by_id[2]] == [UNCOVERED, UNCOVERED]


def test_a_point_asking_for_a_tag_of_the_solution_is_covered_by_that_tag():
    need = NeedProfile(text="想上制造执行系统")
    (tagged,) = rank(need, [candidate(1, tags=("MES",))], TAXONOMY)
    (untagged,) = rank(need, [candidate(1, tags=("WMS",))], TAXONOMY)
    assert tagged.explanation.points[0].module == "能力标签：MES"
    assert untagged.explanation.points[0].module == UNCOVERED


def test_explanation_serialises_to_plain_data():
    (match,) = rank(NeedProfile(text="想上MES系统，年底前完成"), [candidate(1, tags=("WMS",))], TAXONOMY)
    data = match.as_dict()
    assert data["explanation"]["tags"] == ()
    assert data["explanation"]["points"] == (
        {"point": "MES", "module": UNCOVERED, "covered": False, "sentence": "想上MES系统"},
    )
    assert set(data["parts"]) == set(PARTS)
    (shared,) = rank(NeedProfile(text="想上MES系统，年底前完成"), [candidate(1, tags=("MES",))], TAXONOMY)
    for explanation in (match.explanation, shared.explanation):  # the hand-written copy, as asdict makes it
        assert explanation.as_dict() == dataclasses.asdict(explanation)


# --- fast paths against the plain definitions ------------------------------------------------------


def _texts(rng: random.Random, alphabet: str, count: int) -> list[str]:
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(count)]


@pytest.mark.parametrize("taxonomy", [TAXONOMY, load_taxonomy(SEED_TAXONOMY)], ids=["tiny", "seed"])
def test_term_finder_hits_what_the_term_matcher_hits(taxonomy):
    rng = random.Random(11)
    terms = [t.name for t in taxonomy.tags] + [s for t in taxonomy.tags for s in t.synonyms]
    terms += [i.name for i in taxonomy.industries] + [s for i in taxonomy.industries for s in i.synonyms]
    pieces = terms + list("MESmesIoT5G1数采设备联网 /-.家具芯片")
    texts = ["".join(rng.choices(pieces, k=rng.randint(0, 6))) for _ in range(3000)]
    texts += _texts(rng, "MESIoTmesiot5G数采设备联网家具汽配Tier1tier芯片 /-_.", 3000)
    texts += ["SYSTEMS and TIMESTAMPS", "准备上mes和iot", "AMES", "MES2", "2MES", "Tier12", "xTier1"]
    found = finders(taxonomy)
    for text in texts:
        for matcher, finder in ((taxonomy.tag_matcher, found.tags), (taxonomy.industry_matcher, found.industries)):
            assert finder.find(text.lower()) == [(h.start, h.end, h.keys) for h in matcher.find(text)], text
        assert industry_in_text(text, taxonomy) == taxonomy.industry_in_text(text), text


def test_finders_are_built_once_per_taxonomy():
    assert finders(TAXONOMY) is finders(TAXONOMY)
    assert finders(tiny_taxonomy()) is not finders(TAXONOMY)


def test_canonical_tags_match_the_taxonomys():
    names = ["MES", "制造执行系统", "mes", " 排产 ", "自定义", "", "  ", "IoT", "iot"]
    for k in range(len(names)):
        assert finders(TAXONOMY).canonical_tags(names[:k]) == TAXONOMY.canonical_tags(names[:k])


def test_rank_scores_every_candidate_by_its_weighted_signals():
    """The ranker's remembered structured signals give what `signals` gives, candidate by candidate."""
    rng = random.Random(5)
    industries = ["furniture", "C21", "auto_parts", "C36", "ic", "C39", "general", "unknown", ""]
    needs = [
        NeedProfile(text="家具厂想上MES和排产", industry="furniture", size="small"),
        NeedProfile(text="芯片封测厂要做设备联网", industry="ic", size="large", domains=("network",)),
        NeedProfile(text="仓库出入库靠手写", industry="general"),
        NeedProfile(text="随便看看", tags=("WMS", "MES"), domains=("software",)),
    ]
    candidates = [
        candidate(
            i,
            provider_id=i,
            semantic=rng.uniform(-0.2, 1.2),
            lexical=rng.choice([0.0, rng.uniform(0, 1), float("nan")]),
            industries=tuple(rng.sample(industries, rng.randint(0, 3))),
            sizes=tuple(rng.sample(["large", "medium", "small", "micro", "huge"], rng.randint(0, 2))),
            tags=tuple(rng.sample(["MES", "WMS", "排产", "5G专网", "制造执行系统", "自定义"], rng.randint(0, 3))),
            domain=rng.choice(["software", "network", "security"]),
        )
        for i in range(1, 121)
    ]
    share = DEFAULT_WEIGHTS.normalised()
    for need in needs:
        terms = need_terms(need, TAXONOMY)
        raw = {c.solution_id: signals(need, terms, c, TAXONOMY) for c in candidates}
        low = {name: min(values[name] for values in raw.values()) for name in SIGNALS}
        high = {name: max(values[name] for values in raw.values()) for name in SIGNALS}
        expected = {}
        for id_, values in raw.items():
            parts = {
                name: share[name]
                * ((values[name] - low[name]) / (high[name] - low[name]) if high[name] > low[name] else NEUTRAL)
                for name in SIGNALS
            }
            parts["rating"] = 0.0  # no candidate is rated: the prior adds nothing
            expected[id_] = (round(sum(parts.values()), 9), parts)
        matches = rank(need, candidates, TAXONOMY, top_n=len(candidates))
        assert len(matches) == len(candidates)
        for m in matches:
            assert m.parts == pytest.approx(expected[m.solution_id][1])
            assert m.score == pytest.approx(expected[m.solution_id][0])
        # Scores never increase down the list except where the exposure cap moved a solution.
        below = [round(m.score, 9) for m in matches[EXPOSURE_TOP:]]
        assert below == sorted(below, reverse=True)


def test_scans_worked_out_beforehand_explain_alike_and_stale_ones_are_ignored():
    need = NeedProfile(text="家具厂开料机、封边机要联网，想上MES排产，汽配客户也要追溯", industry="furniture")
    plain = candidate(
        1,
        title="家具MES与设备联网",
        modules=("开料机联网", "MES排产", "质量追溯"),
        text="面向家具制造企业：封边机、排钻联网采集；汽配行业IATF追溯。\nSECS/GEM 接口可选",
        tags=("MES",),
    )
    fresh = replace(plain, scans=solution_scans(plain.modules, plain.title, plain.text, TAXONOMY))
    stale = replace(
        plain, solution_id=2, scans=solution_scans(("别的模块",), plain.title, plain.text + "。改过", TAXONOMY)
    )
    garbage = replace(plain, solution_id=3, scans=b"\x01\x02")
    seed = load_taxonomy(SEED_TAXONOMY)  # another vocabulary: its scans are not this taxonomy's
    foreign = replace(plain, solution_id=4, scans=solution_scans(plain.modules, plain.title, plain.text, seed))
    explained = {m.solution_id: m.explanation for m in rank(need, [plain], TAXONOMY)}
    for other in (fresh, stale, garbage, foreign):
        got = rank(need, [other], TAXONOMY)[0].explanation
        assert got == explained[1], other.solution_id
    assert any(p.covered for p in explained[1].points)


def test_a_candidate_with_its_scans_is_explained_without_scanning_its_text(monkeypatch):
    need = NeedProfile(text="开料机要联网，想上MES排产", industry="furniture")
    c = candidate(7, title="家具MES", modules=("开料机联网", "MES排产"), text="封边机联网采集")
    c = replace(c, scans=solution_scans(c.modules, c.title, c.text, TAXONOMY))
    explanation_module._haystack.cache_clear()

    def no_scanning(*_):
        raise AssertionError("scanned although the scans were given")

    monkeypatch.setattr(explanation_module, "_scan", no_scanning)
    assert rank(need, [c], TAXONOMY)[0].explanation.points[0].covered
