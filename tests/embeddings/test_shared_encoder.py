"""The shared encoder: request threads' texts encoded together in one call by one thread, with the same
vectors as one by one (the real USE model), and a bounded cache of recent texts."""

import threading

import numpy as np
import pytest

from embeddings import load_encoder
from embeddings.encoders import HashEncoder
from embeddings.shared import SharedEncoder

NEEDS = [
    "我们是家具厂，开料机和封边机都是单机，想做设备联网",
    "汽配厂要上 MES，做工单排产和质量追溯",
    "芯片设计公司需要防止版图外泄，做等保三级",
    "想在手机上看到每台机器的开机率和产量",
    "工厂能耗监测与碳排放管理平台",
    "仓库 WMS 条码管理，和 ERP 对接",
    "注塑车间想做模具寿命管理",
    "电商客服想用智能问答减少人工",
]


class CountingEncoder(HashEncoder):
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return super().encode(texts)


def encode_from_threads(shared: SharedEncoder, texts: list[str], threads: int) -> dict[str, np.ndarray]:
    """Every text encoded by `encode_one` from `threads` threads released at once."""
    start, found, errors = threading.Barrier(threads), {}, []

    def work(mine: list[str]) -> None:
        try:
            start.wait()
            for text in mine:
                found[text] = shared.encode_one(text)[0]
        except Exception as error:  # surfaced below: an assertion in a thread would be lost
            errors.append(error)

    pool = [threading.Thread(target=work, args=(texts[i::threads],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert not errors
    return found


@pytest.fixture(scope="module")
def use():
    return load_encoder("use")


def test_texts_from_several_threads_are_encoded_in_batches_with_the_vectors_of_one_by_one(use):
    texts = [f"{need}（第{round_}轮）" for round_ in range(4) for need in NEEDS]  # 32 distinct texts
    shared = SharedEncoder(use)
    found = encode_from_threads(shared, texts, threads=16)
    alone = np.concatenate([use.encode([text]) for text in texts])
    np.testing.assert_allclose(np.stack([found[text] for text in texts]), alone, atol=1e-5)
    assert shared.stats.misses == len(texts)
    assert shared.stats.largest_batch > 1  # threads that arrived while a call ran went in the next one
    assert shared.stats.batches < len(texts)


def test_a_text_seen_before_is_not_encoded_again_whatever_its_spacing():
    inner = CountingEncoder()
    shared = SharedEncoder(inner)
    first, cached = shared.encode_one("设备联网  数据采集\n")
    again, cached_again = shared.encode_one(" 设备联网 数据采集")
    assert (cached, cached_again) == (False, True)
    assert inner.calls == [["设备联网 数据采集"]]  # the normalised text, once
    np.testing.assert_array_equal(first, again)
    assert not again.flags.writeable  # shared by every caller: nobody may change it in place
    assert (shared.stats.hits, shared.stats.misses) == (1, 1)


def test_the_cache_keeps_the_most_recently_used_texts_only():
    inner = CountingEncoder()
    shared = SharedEncoder(inner, cache_size=2)
    for text in ("甲", "乙", "甲", "丙"):  # 甲 used again, so 乙 is the oldest when 丙 comes
        shared.encode_one(text)
    assert shared.encode_one("甲")[1] and shared.encode_one("丙")[1]
    assert not shared.encode_one("乙")[1]
    assert inner.calls == [["甲"], ["乙"], ["丙"], ["乙"]]


def test_a_failing_encoder_call_fails_its_waiting_requests_and_the_next_call_works():
    class Flaky(HashEncoder):
        fail = True

        def encode(self, texts):
            if self.fail:
                self.fail = False
                raise RuntimeError("model error")
            return super().encode(texts)

    shared = SharedEncoder(Flaky())
    with pytest.raises(RuntimeError, match="model error"):
        shared.encode_one("设备联网")
    vector, cached = shared.encode_one("设备联网")
    assert not cached and vector.shape == (HashEncoder.dim,)
