"""release_free_memory gives freed heap back: the resident memory falls where glibc would keep it."""

import sys

import numpy as np
import pytest

from embeddings.memory import release_free_memory


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_heap_below_a_live_allocation_is_returned():
    # 1,600 blocks of 64 KB (below the mmap threshold: on the heap), each followed by a small one that
    # stays alive, so free() alone cannot give the big ones back (they are holes, not the heap's top).
    blocks, keepers = [], []
    for _ in range(1600):
        blocks.append(np.ones(8192))
        keepers.append(np.ones(600))  # 4.8 KB: from malloc too (not Python's small-object arenas)
    del blocks
    before = _rss_mb()
    assert release_free_memory()
    after = _rss_mb()
    assert before - after > 50, (before, after)
    assert len(keepers) == 1600
