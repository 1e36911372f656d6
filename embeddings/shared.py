"""One encoder shared by a process's request threads: a bounded cache of recent texts, and one thread
that encodes every text the request threads are waiting for in a single batched call.

Under load several threads of a worker want a need text encoded at the same moment. Encoded one by
one each call pays the model's fixed cost (USE: ~3 ms a text alone, ~2 ms a text in a batch of five,
same vectors to float precision); queued, the encoder thread takes all that waits into one call.
The cache holds vectors by normalised text (whitespace runs collapsed, ends stripped): the match API
asks callers to send the same text again with the confirmed industry, which then costs no encoding.
Both are per process (gunicorn forks workers; the thread is started in the process that uses it).
"""

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from embeddings.encoders import Encoder

CACHE_SIZE = 4096  # vectors kept (USE: 2 KB each, so ~8 MB)
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The cache key, and the text actually encoded, so a hit gives what a miss would have."""
    return _SPACE.sub(" ", text).strip()


@dataclass
class EncoderStats:
    hits: int = 0
    misses: int = 0
    batches: int = 0  # encoder calls made by the encoder thread
    largest_batch: int = 0


class SharedEncoder:
    """Wraps an Encoder: `encode` passes through (indexing batches), `encode_one` is cached and batched."""

    def __init__(self, encoder: Encoder, cache_size: int = CACHE_SIZE) -> None:
        self.inner = encoder
        self.name, self.dim = encoder.name, encoder.dim
        self.stats = EncoderStats()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._waiting: dict[str, Future] = {}  # texts queued for the encoder thread
        self._wake = threading.Condition(self._lock)
        self._owner_pid: int | None = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode(texts)

    def encode_one(self, text: str) -> tuple[np.ndarray, bool]:
        """The vector of `text` (normalised), and whether it came from the cache."""
        key = normalise(text)
        with self._lock:
            vector = self._cache.get(key)
            if vector is not None:
                self._cache.move_to_end(key)
                self.stats.hits += 1
                return vector, True
            self.stats.misses += 1
            if self._owner_pid != os.getpid():  # first use in this process (a fork has no threads)
                self._owner_pid = os.getpid()
                self._waiting = {}
                threading.Thread(target=self._run, name="shared-encoder", daemon=True).start()
            future = self._waiting.get(key)
            if future is None:
                future = self._waiting[key] = Future()
                self._wake.notify()
        return future.result(), False

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._wake.wait()
                batch, self._waiting = self._waiting, {}
                self.stats.batches += 1
                self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
            texts = list(batch)
            try:
                vectors = self.inner.encode(texts)
            except Exception as error:  # the waiting requests fail with it; the thread goes on
                for future in batch.values():
                    future.set_exception(error)
                continue
            with self._lock:
                for text, vector in zip(texts, vectors, strict=True):
                    vector.flags.writeable = False  # shared by every caller that gets it from the cache
                    self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            for text, vector in zip(texts, vectors, strict=True):
                batch[text].set_result(vector)
