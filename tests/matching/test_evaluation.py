"""Evaluation: reading a labelled set, the metrics, the report and the command line."""

import json
import math
from dataclasses import replace

import pytest

from embeddings import load_encoder
from matchmaker.matching.evaluation import (
    METRICS,
    build_engine,
    evaluate,
    format_report,
    load_labelled_set,
    main,
    metrics,
    mrr_at,
    ndcg_at,
    recall_at,
    run,
)
from matchmaker.matching.fusion import DEFAULT_WEIGHTS
from tests.matching.test_taxonomy import TINY, tiny_taxonomy

SOLUTIONS = [
    ("S1", "数据采集", "家具厂设备联网：开料机、封边机运行状态实时采集，统计稼动率", ["家具"]),
    ("S2", "工业软件与APP服务", "智能仓储WMS：扫码出入库、库位管理、先进先出", []),
    ("S3", "工业互联网安全服务", "网络安全等级保护测评与整改，帮助企业通过等保三级", []),
    ("S4", "工业互联网网络服务", "汽车零部件园区5G虚拟专网，AGV和视觉检测终端无线接入", ["汽车零部件"]),
]
NEEDS = [
    ("N1", "家具", "开料机封边机想联网，统计稼动率", {"S1": 2}),
    ("N2", "", "仓库出入库靠手写台账，想上WMS扫码出入库", {"S2": 2}),
    ("N3", "", "公司今年必须通过等保三级测评", {"S3": 2, "S2": 1}),
    ("N4", "汽车零部件", "AGV和视觉检测终端无线网老断，想上5G专网", {"S4": 2}),
]


def labelled_set(tmp_path, providers=("", "", "", "")):
    data = {
        "about": "tiny",
        "solutions": [
            {
                "id": sid,
                "provider": provider,
                "domain": domain,
                "title": "",
                "description": text,
                "industries": industries,
                "sizes": [],
                "modules": [],
            }
            for (sid, domain, text, industries), provider in zip(SOLUTIONS, providers, strict=True)
        ],
        "needs": [
            {"id": nid, "industry": industry, "size": "", "text": text, "relevant": relevant}
            for nid, industry, text, relevant in NEEDS
        ],
    }
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_metrics_of_a_perfect_ranking_are_one():
    relevant = {7: 2, 3: 1}
    assert ndcg_at([7, 3, 5], relevant) == pytest.approx(1.0)
    assert mrr_at([7, 3, 5], relevant) == 1.0
    assert recall_at([7, 3, 5], relevant) == 1.0


def test_metrics_follow_their_definitions():
    relevant = {7: 2, 3: 1}
    ranked = [5, 3, 9, 7]  # grade 1 at rank 2, grade 2 at rank 4
    ideal = (2**2 - 1) / math.log2(2) + (2**1 - 1) / math.log2(3)
    got = (2**1 - 1) / math.log2(3) + (2**2 - 1) / math.log2(5)
    assert ndcg_at(ranked, relevant) == pytest.approx(got / ideal)
    assert mrr_at(ranked, relevant) == pytest.approx(0.5)
    assert recall_at(ranked[:2], relevant) == pytest.approx(0.5)
    assert ndcg_at([1, 2], relevant) == mrr_at([1, 2], relevant) == recall_at([1, 2], relevant) == 0.0
    # only the first ten count
    late = [100 + i for i in range(10)] + [7]
    assert ndcg_at(late, relevant) == mrr_at(late, relevant) == recall_at(late, relevant) == 0.0


def test_load_labelled_set_maps_names_and_ids(tmp_path):
    path = labelled_set(tmp_path, providers=("甲公司", "", "甲公司", ""))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["solutions"][1]["industries"] = ["家具", "纺织"]  # one known, one unknown name
    data["solutions"][1]["sizes"] = ["中小企业", "看情况"]
    data["needs"][0]["size"] = "小型"
    data["needs"][1]["industry"] = "纺织"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    labelled = load_labelled_set(path, tiny_taxonomy())
    s1, s2, s3, s4 = labelled.solutions
    assert [s.id for s in labelled.solutions] == [1, 2, 3, 4]
    assert labelled.solution_keys == {1: "S1", 2: "S2", 3: "S3", 4: "S4"}
    assert (s1.domain, s2.domain, s3.domain, s4.domain) == ("data_collection", "software", "security", "network")
    assert s1.provider_id == s3.provider_id  # same named provider
    assert len({s1.provider_id, s2.provider_id, s4.provider_id}) == 3  # no provider: each its own
    assert s1.industries == ("furniture",) and s4.industries == ("auto_parts",)
    assert s2.industries == ("furniture",) and "纺织" in s2.summary  # unknown names stay as text
    assert s2.sizes == ("small", "medium") and "看情况" in s2.summary
    assert "等保测评" in s3.tags  # suggested from the text
    n1, n2, n3, _ = labelled.needs
    assert n1.profile.industry == "furniture" and n1.profile.size == "small"
    assert n2.profile.industry is None and "纺织" in n2.profile.text
    assert "WMS" in n2.profile.tags and n2.profile.domains[0] == "software"
    assert n3.relevant == {3: 2, 2: 1}


def test_unknown_domain_and_missing_fields_do_not_fail(tmp_path):
    path = tmp_path / "odd.json"
    rows = {
        "solutions": [{"id": "X", "domain": "火星服务", "description": "说明"}],
        "needs": [{"id": "Q", "text": "需求"}],
    }
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    labelled = load_labelled_set(path, tiny_taxonomy())
    assert labelled.solutions[0].domain == "火星服务"
    assert labelled.needs[0].relevant == {}


def test_evaluate_returns_full_and_baseline_metrics(tmp_path):
    result = evaluate(labelled_set(tmp_path), load_encoder("hash"), tiny_taxonomy())
    assert set(result) == {"full", "baselines"}
    assert set(result["baselines"]) == {"semantic", "lexical", "structured"}
    for values in [result["full"], *result["baselines"].values()]:
        assert set(values) == set(METRICS)
        assert all(0.0 <= v <= 1.0 for v in values.values())
    # every need shares most of its words with its answer: the full ranker puts it first
    assert result["full"]["mrr@10"] == 1.0
    assert result["full"]["recall@10"] == 1.0


def test_evaluate_can_keep_a_subset_of_needs(tmp_path):
    path = labelled_set(tmp_path)
    encoder, taxonomy = load_encoder("hash"), tiny_taxonomy()
    labelled = load_labelled_set(path, taxonomy)
    systems = run(labelled, build_engine(labelled, encoder, taxonomy, DEFAULT_WEIGHTS))
    n3 = [n for n in labelled.needs if n.key == "N3"]
    only_n3 = evaluate(path, encoder, taxonomy, only=lambda key: key == "N3")
    assert only_n3["full"] == metrics(systems["full"], n3)
    assert only_n3["baselines"]["lexical"] == metrics(systems["lexical"], n3)
    none = evaluate(path, encoder, taxonomy, only=lambda key: False)
    assert none["full"] == dict.fromkeys(METRICS, 0.0)


def test_metrics_skip_needs_without_labels(tmp_path):
    labelled = load_labelled_set(labelled_set(tmp_path), tiny_taxonomy())
    needs = list(labelled.needs)
    rankings = {n.key: sorted(n.relevant, key=lambda s: -n.relevant[s]) for n in needs}
    assert metrics(rankings, needs) == {"ndcg@10": 1.0, "mrr@10": 1.0, "recall@10": 1.0}
    assert metrics({}, []) == dict.fromkeys(METRICS, 0.0)


def test_format_report_has_a_row_per_system():
    result = {
        "full": {"ndcg@10": 0.91, "mrr@10": 0.9, "recall@10": 0.95},
        "baselines": {
            name: {"ndcg@10": 0.5, "mrr@10": 0.4, "recall@10": 0.6} for name in ("semantic", "lexical", "structured")
        },
    }
    lines = format_report(result).splitlines()
    assert lines[0].split() == ["system", *METRICS]
    assert lines[2].split() == ["full", "0.910", "0.900", "0.950"]
    assert [line.split()[0] for line in lines[3:]] == ["semantic", "lexical", "structured"]


def test_main_prints_the_table_and_json_last(tmp_path, capsys):
    taxonomy_path = tmp_path / "taxonomy.json"
    taxonomy_path.write_text(json.dumps(TINY, ensure_ascii=False), encoding="utf-8")
    path = labelled_set(tmp_path)
    assert main([str(path), "--encoder", "hash", "--taxonomy", str(taxonomy_path), "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("system")
    result = json.loads(out[-1])
    assert result == evaluate(path, load_encoder("hash"), tiny_taxonomy())


@pytest.mark.slow
def test_evaluate_with_the_real_use_encoder(tmp_path):
    """The default encoder end to end on the tiny set: each need's answer comes first."""
    result = evaluate(labelled_set(tmp_path), load_encoder("use"), tiny_taxonomy())
    assert result["full"]["mrr@10"] == 1.0
    assert result["full"]["ndcg@10"] >= result["baselines"]["structured"]["ndcg@10"]


def test_several_files_give_a_table_each_and_their_macro_average(tmp_path, capsys):
    taxonomy_path = tmp_path / "taxonomy.json"
    taxonomy_path.write_text(json.dumps(TINY, ensure_ascii=False), encoding="utf-8")
    first = labelled_set(tmp_path)
    second = tmp_path / "other.json"
    data = json.loads(first.read_text(encoding="utf-8"))
    data["needs"] = data["needs"][:2]
    second.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main([str(first), str(second), "--encoder", "hash", "--taxonomy", str(taxonomy_path), "--json"]) == 0
    out = capsys.readouterr().out
    figures = json.loads(out.strip().splitlines()[-1])
    each = [evaluate(p, load_encoder("hash"), tiny_taxonomy()) for p in (first, second)]
    assert figures["files"] == {str(first): each[0], str(second): each[1]}
    for metric in METRICS:
        assert figures["macro"]["full"][metric] == pytest.approx(
            (each[0]["full"][metric] + each[1]["full"][metric]) / 2
        )
        lexical = (each[0]["baselines"]["lexical"][metric] + each[1]["baselines"]["lexical"][metric]) / 2
        assert figures["macro"]["baselines"]["lexical"][metric] == pytest.approx(lexical)
    assert out.count("system") == 3 and "macro average over 2 files" in out


def test_the_optional_maturity_fields_are_read_and_bad_ones_count_as_unstated(tmp_path):
    path = labelled_set(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["solutions"][0]["maturity"] = "1-2"
    data["solutions"][1]["maturity"] = "二级"  # not a band: unstated
    data["needs"][0]["maturity"] = 2
    data["needs"][1]["maturity"] = 9  # out of range: unstated
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    labelled = load_labelled_set(path, tiny_taxonomy())
    assert [s.maturity for s in labelled.solutions] == ["1-2", "", "", ""]
    assert [n.profile.maturity for n in labelled.needs][:3] == [2, 0, 0]


def test_a_set_without_maturity_ranks_alike_with_and_without_the_signal(tmp_path):
    """Neutral for every candidate, the signal moves no answer: the metrics are the same either way."""
    path = labelled_set(tmp_path)
    encoder, taxonomy = load_encoder("hash"), tiny_taxonomy()
    with_signal = evaluate(path, encoder, taxonomy)
    without = evaluate(path, encoder, taxonomy, weights=replace(DEFAULT_WEIGHTS, maturity=0.0))
    assert with_signal == without
