"""Taxonomy lookups: industry resolution and fit, term matching, size names.

TINY is the small taxonomy the matcher's other tests share (tagging, ranking, matching, evaluation).
"""

import json

import pytest

from matchmaker.matching.signals import NEUTRAL
from matchmaker.matching.taxonomy import (
    INDUSTRY_FIT,
    SIZE_LABELS,
    Taxonomy,
    TermMatcher,
    load_taxonomy,
    resolve_sizes,
)

TINY = {
    "domains": [
        {"code": "data_collection", "name": "数据采集", "description": ""},
        {"code": "network", "name": "工业互联网网络服务", "description": ""},
        {"code": "software", "name": "工业软件与APP服务", "description": ""},
        {"code": "security", "name": "工业互联网安全服务", "description": ""},
    ],
    "industries": [
        {"code": "C21", "name": "家具制造业", "kind": "division", "gbt": ["C21"], "synonyms": ["家具制造"]},
        {"code": "C36", "name": "汽车制造业", "kind": "division", "gbt": ["C36"], "synonyms": ["汽车制造"]},
        {"code": "C39", "name": "计算机、通信和其他电子设备制造业", "kind": "division", "gbt": ["C39"]},
        {"code": "furniture", "name": "家具", "kind": "cluster", "gbt": ["C21"], "synonyms": ["沙发", "橱柜"]},
        {"code": "auto_parts", "name": "汽车零部件", "kind": "cluster", "gbt": ["C36"], "synonyms": ["汽配", "Tier1"]},
        {"code": "ic", "name": "集成电路", "kind": "cluster", "gbt": ["C39"], "synonyms": ["芯片", "半导体"]},
        {"code": "smart_terminal", "name": "智能终端", "kind": "cluster", "gbt": ["C39"], "synonyms": ["手机"]},
        {"code": "general", "name": "通用", "kind": "general", "gbt": [], "synonyms": ["各行业"]},
    ],
    "tags": [
        {"name": "设备联网", "domain": "data_collection", "synonyms": ["数采", "IoT", "设备数据采集"]},
        {"name": "能耗监测", "domain": "data_collection", "synonyms": ["能源管理", "用电监测"]},
        {"name": "MES", "domain": "software", "synonyms": ["制造执行系统", "生产管理系统"]},
        {"name": "APS排产", "domain": "software", "synonyms": ["APS", "排产", "排程"]},
        {"name": "WMS", "domain": "software", "synonyms": ["仓库管理", "出入库"]},
        {"name": "5G专网", "domain": "network", "synonyms": ["5G", "专网"]},
        {"name": "等保测评", "domain": "security", "synonyms": ["等级保护", "等保三级"]},
    ],
}


def tiny_taxonomy() -> Taxonomy:
    return Taxonomy.from_dict(TINY)


def test_load_taxonomy_reads_the_json_shape(tmp_path):
    path = tmp_path / "taxonomy.json"
    path.write_text(json.dumps(TINY, ensure_ascii=False), encoding="utf-8")
    taxonomy = load_taxonomy(path)
    assert taxonomy == tiny_taxonomy()
    assert [d.code for d in taxonomy.domains] == [d["code"] for d in TINY["domains"]]
    furniture = taxonomy.industry("furniture")
    assert furniture is not None and furniture.gbt == ("C21",) and furniture.synonyms == ("沙发", "橱柜")
    assert taxonomy.tag("MES").domain == "software"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("C21", "C21"),  # a code
        ("汽车零部件", "auto_parts"),  # a name
        ("汽配", "auto_parts"),  # a synonym
        ("tier1", "auto_parts"),  # ASCII synonyms ignore case
        ("家具制造", "C21"),  # a division's own synonym
        ("我们是做沙发和床的工厂", "furniture"),  # a text mentioning a synonym
        ("家具制造企业，做橱柜", "furniture"),  # a cluster is preferred to a division
        ("手机 手机 芯片", "smart_terminal"),  # the most mentioned of two clusters
        ("适用于各行业", "general"),
        ("汽车", "C36"),  # a generic word inside exactly one division's name
        ("电子设备", "C39"),
        ("制造业", None),  # inside every division's name: too vague
        ("纺织", None),  # unknown: None, no exception
        ("", None),
        (None, None),
    ],
)
def test_resolve_industry(given, expected):
    assert tiny_taxonomy().resolve_industry(given) == expected


def test_related_industries_share_a_gbt_division():
    taxonomy = tiny_taxonomy()
    assert set(taxonomy.related_industries("ic")) == {"C39", "smart_terminal"}
    assert taxonomy.related_industries("furniture") == ("C21",)
    assert taxonomy.related_industries("general") == ()
    assert taxonomy.related_industries("nope") == ()


@pytest.mark.parametrize(
    ("need", "solution", "relation"),
    [
        ("furniture", ["furniture"], "same"),
        ("furniture", ["auto_parts", "furniture"], "same"),
        ("furniture", ["C21"], "related"),  # cluster and its division
        ("C39", ["ic"], "related"),  # division and a cluster in it
        ("ic", ["smart_terminal"], "related"),  # two clusters in one division
        ("furniture", ["general"], "general"),
        ("furniture", [], "general"),  # a solution naming no industry fits any
        ("furniture", ["auto_parts"], "other"),
        ("furniture", ["unknown-code"], "general"),  # an industry the taxonomy cannot place says nothing
        (None, ["furniture"], "unknown"),
        ("unknown-code", ["furniture"], "unknown"),
        ("general", ["furniture"], "unknown"),
    ],
)
def test_industry_fit(need, solution, relation):
    fit = tiny_taxonomy().industry_fit(need, solution)
    assert fit == INDUSTRY_FIT[relation]
    assert 0.0 <= fit <= 1.0


def test_industry_fit_orders_same_related_general_other():
    taxonomy = tiny_taxonomy()
    same = taxonomy.industry_fit("furniture", ["furniture"])
    related = taxonomy.industry_fit("furniture", ["C21"])
    general = taxonomy.industry_fit("furniture", ["general"])
    other = taxonomy.industry_fit("furniture", ["auto_parts"])
    unknown = taxonomy.industry_fit(None, ["auto_parts"])
    assert same == 1.0 and general == unknown == NEUTRAL
    assert same > related > general > other > 0.0  # only a stated, different industry is below neutral


def test_domain_codes_from_names_or_codes():
    taxonomy = tiny_taxonomy()
    assert taxonomy.domain_code("数据采集") == "data_collection"
    assert taxonomy.domain_code("security") == "security"
    assert taxonomy.domain_code("未知领域") is None
    assert taxonomy.domain_name("network") == "工业互联网网络服务"


def test_canonical_tags_maps_synonyms_and_keeps_unknown_names():
    taxonomy = tiny_taxonomy()
    assert taxonomy.canonical_tags(["数采", "mes", "自定义标签"]) == {"设备联网", "MES", "自定义标签"}


def test_term_matcher_is_leftmost_longest_and_respects_ascii_words():
    matcher = TermMatcher({"数据采集": ["a"], "设备数据采集": ["b"], "MES": ["m"], "IT": ["i"]})
    assert [h.keys for h in matcher.find("做设备数据采集")] == [("b",)]
    assert [h.term for h in matcher.find("上MES系统，TIMES不算，it部门")] == ["mes", "it"]
    assert matcher.find("WiFi、ITEM") == []


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("大型", ("large",)),
        ("中型企业", ("medium",)),
        ("中小企业", ("small", "medium")),
        ("大中型", ("medium", "large")),
        ("中小微", ("micro", "small", "medium")),
        ("small", ("small",)),
        ("Micro / medium", ("micro", "medium")),
        ("不限", ()),
        ("", ()),
    ],
)
def test_resolve_sizes(text, sizes):
    assert resolve_sizes(text) == sizes
    assert all(s in SIZE_LABELS for s in sizes)
