"""Free text -> suggested tags, domains and industry (一键发布)."""

from matchmaker.matching.tagging import Suggestion, suggest
from tests.matching.test_taxonomy import tiny_taxonomy


def test_synonyms_become_canonical_tags_in_order_of_mention():
    s = suggest("想上制造执行系统，顺便把设备数据采集和排产做了", tiny_taxonomy())
    assert s.tags == ("MES", "设备联网", "APS排产")


def test_ascii_terms_match_case_insensitively_and_as_whole_words():
    taxonomy = tiny_taxonomy()
    assert suggest("准备上mes和iot", taxonomy).tags == ("MES", "设备联网")
    assert suggest("SYSTEMS and TIMESTAMPS", taxonomy).tags == ()


def test_domains_are_ranked_by_evidence():
    taxonomy = tiny_taxonomy()
    # two distinct software tags against one data-collection tag mentioned twice
    s = suggest("数采平台，数采网关，再加MES和APS", taxonomy)
    assert s.domains == ("software", "data_collection")
    # equal distinct tags: more mentions wins
    assert suggest("等保三级整改，等级保护测评，上5G", taxonomy).domains == ("security", "network")


def test_a_domain_named_outright_counts_as_evidence():
    assert suggest("需要工业互联网安全服务", tiny_taxonomy()).domains == ("security",)


def test_industry_prefers_a_cluster_and_is_none_when_unnamed():
    taxonomy = tiny_taxonomy()
    assert suggest("家具制造企业，主要做沙发", taxonomy).industry == "furniture"
    assert suggest("汽车制造整车厂", taxonomy).industry == "C36"
    assert suggest("仓库出入库靠手写", taxonomy).industry is None


def test_nothing_found_suggests_nothing():
    assert suggest("今天天气很好", tiny_taxonomy()) == Suggestion(domains=(), tags=(), industry=None)


def test_suggestion_is_deterministic():
    text = "我们是手机厂，想上5G专网和MES，实现用电监测，出入库管理"
    taxonomy = tiny_taxonomy()
    first = suggest(text, taxonomy)
    assert all(suggest(text, taxonomy) == first for _ in range(5))
    assert first.industry == "smart_terminal"
    assert set(first.tags) == {"5G专网", "MES", "能耗监测", "WMS"}
    assert first.domains[0] == "software"  # MES and WMS
