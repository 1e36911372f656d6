"""Benchmark of the matching engine on synthetic corpora of 10 000 and 100 000 solutions.

    python benchmarks/bench_matching.py [--sizes 10000,100000] [--encoder use] [--queries 217] [--k 100]

The corpora are Chinese solutions recombined from the seed vocabulary (seed_data/providers.json and
seed_data/taxonomy.json): titles, summaries, description sentences, modules, industries, sizes and tags
of the 132 demo solutions and the taxonomy's tags, shuffled and recombined so that every text differs
while its length stays close to the demo solutions' (about 150 characters of `doc_text`). One in five
solutions comes without tags, so the engine suggests them on upsert, as it does for the web form.

The queries are the needs of seed_data/enterprises.json (title and description, the company's industry
and size class, the confirmed domains and tags) and of the development set (/work/shared/eval/dev_set.json
or seed_data/dev_set.json, read as `matchmaker.matching.evaluation` reads it): 217 needs.

Measured per size, in one run (milliseconds unless named otherwise):

- build: `MatchEngine.upsert` in batches of 1 000 with the encoder encoding (solutions per second);
- encode: encoding one query;
- vector_search: the engine's vector index alone (top k of an encoded query);
- floor: the least a semantic match can cost: encode, then a brute-force numpy inner product over all
  vectors and an argpartition for the top k (numpy on all its BLAS threads and on one: the better p95);
- match: `MatchEngine.match` (encode, retrieve from both indexes, rank, explain), p50 and p95;
- rss_mb: the process's resident memory once built and warmed up (engine, model, corpus, interpreter),
  and peak_rss_mb, the high-water mark up to then (the build included); the benchmark's own copy of
  the vectors for the floor is made after these readings.

The last line printed is one JSON object with all figures, including
``ratio_10k = p95(match) / p95(encode + brute-force search)`` at 10 000 solutions.
Every latency is measured one query at a time on the calling thread, as a web request runs, and per
need all of them back to back, so that other load on the machine disturbs them alike. The 2 048
solutions explained last are kept analysed (see `matchmaker.matching.fusion`), so the needs are matched once
each: repeating them would measure that cache rather than the engine.
"""

import argparse
import gc
import json
import os
import random
import re
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from embeddings import Encoder, load_encoder
from embeddings.memory import release_free_memory
from matchmaker.matching.engine import DEFAULT_K, MatchEngine, SolutionDoc, doc_text
from matchmaker.matching.evaluation import load_labelled_set
from matchmaker.matching.signals import NeedProfile
from matchmaker.matching.taxonomy import Taxonomy, load_taxonomy
from models.validation import size_class

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seed_data"
DEV_SETS = (Path("/work/shared/eval/dev_set.json"), SEED / "dev_set.json")
BATCH = 1000
WARMUP = 5  # needs matched before measuring
TARGETS = {
    "ratio_10k": 2.0,  # at most
    "match_p95_ms": {10000: 15.0, 100000: 60.0},  # at most
    "build_per_s": 500.0,  # at least
    "rss_mb_100k": 800.0,  # at most
}

_SENTENCE = re.compile(r"[^。！？；]+[。！？；]?")
_ORG_NOISE = re.compile(r"（演示）|深圳市?|坪山|有限公司|股份|集团|科技|技术|信息|智能|数字|服务")
_TITLE_ENDS = ("解决方案", "方案", "系统", "平台", "服务", "套餐", "一体化方案", "升级服务", "实施服务", "云平台")
_SUMMARY_LEADS = ("面向{industry}{size}企业的{thing}", "为{industry}{size}工厂提供{thing}", "{thing}，适合{size}企业")
_SIZE_WORDS = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}


# --- the synthetic corpus --------------------------------------------------------------------------


class Vocabulary:
    """The pieces synthetic solutions are recombined from, grouped by domain."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        providers = json.loads((SEED / "providers.json").read_text(encoding="utf-8"))
        self.solutions = [s for p in providers for s in p["solutions"]]
        self.brands = sorted({b for p in providers if len(b := _ORG_NOISE.sub("", p["name"])[:4]) >= 2})
        self.sentences: dict[str, list[str]] = defaultdict(list)
        self.summaries: dict[str, list[str]] = defaultdict(list)
        self.modules: dict[str, list[str]] = defaultdict(list)
        self.titles: dict[str, list[str]] = defaultdict(list)
        self.tags: dict[str, list[str]] = defaultdict(list)
        for s in self.solutions:
            domain = s["domain"]
            self.sentences[domain].extend(m.group().strip() for m in _SENTENCE.finditer(s["description"]))
            self.summaries[domain].append(s["summary"])
            self.modules[domain].extend(s["modules"])
            self.titles[domain].append(s["title"])
        for tag in taxonomy.tags:
            self.tags[tag.domain].append(tag.name)
        self.domains = sorted(self.sentences)
        self.industries = [(i.code, i.name) for i in taxonomy.industries if i.kind != "general"]


def synthetic_solutions(n: int, taxonomy: Taxonomy, seed: int = 7) -> list[SolutionDoc]:
    """`n` solutions with ids 1..n, four to a provider; the same arguments give the same corpus."""
    vocab = Vocabulary(taxonomy)
    rng = random.Random(seed)
    docs = []
    for id_ in range(1, n + 1):
        base = rng.choice(vocab.solutions)
        domain = base["domain"] if rng.random() < 0.85 else rng.choice(vocab.domains)
        if rng.random() < 0.35:
            industries: tuple[str, ...] = ()
        elif rng.random() < 0.5:
            industries = tuple(c for c in base["industries"] if c != "general")
        else:
            industries = tuple(c for c, _ in rng.sample(vocab.industries, rng.randint(1, 3)))
        industry_name = taxonomy.industry_name(industries[0]) if industries else "制造"
        chosen = set(rng.sample(list(_SIZE_WORDS), rng.randint(1, 4)))
        sizes = tuple(s for s in _SIZE_WORDS if s in chosen)
        thing = rng.choice(vocab.tags[domain] + vocab.modules[domain])
        title = rng.choice(
            (
                f"{rng.choice(vocab.brands)}{thing}{rng.choice(_TITLE_ENDS)}",
                f"{industry_name}{rng.choice(vocab.modules[domain])}{rng.choice(_TITLE_ENDS)}",
                f"{rng.choice(vocab.titles[domain])}（{industry_name}版）",
            )
        )
        lead = rng.choice(_SUMMARY_LEADS).format(
            industry=industry_name, size="".join(_SIZE_WORDS[s][0] for s in sizes), thing=thing
        )
        summary = f"{lead}。{rng.choice(vocab.summaries[domain])}" if rng.random() < 0.3 else f"{lead}。"
        sentences = rng.sample(vocab.sentences[domain], rng.randint(2, 3))
        modules = tuple(dict.fromkeys(rng.sample(vocab.modules[domain], rng.randint(3, 6))))
        tags = () if rng.random() < 0.2 else tuple(rng.sample(vocab.tags[domain], rng.randint(2, 3)))
        docs.append(
            SolutionDoc(
                id=id_,
                provider_id=1 + (id_ - 1) // 4,
                title=title,
                summary=summary,
                description="".join(sentences),
                domain=domain,
                industries=industries,
                sizes=sizes,
                modules=modules,
                tags=tags,
            )
        )
    return docs


def queries(taxonomy: Taxonomy) -> list[NeedProfile]:
    """The needs of the demo enterprises, then those of the development set."""
    out = []
    for enterprise in json.loads((SEED / "enterprises.json").read_text(encoding="utf-8")):
        size = size_class(enterprise["employees"], enterprise["revenue"])
        for need in enterprise["needs"]:
            out.append(
                NeedProfile(
                    text=f"{need['title']}\n{need['description']}",
                    industry=need.get("industry", enterprise["industry"]),
                    size=size,
                    domains=tuple(need.get("domains") or ()),
                    tags=tuple(need.get("tags") or ()),
                )
            )
    dev_set = next((p for p in DEV_SETS if p.exists()), None)
    if dev_set is not None:
        out.extend(n.profile for n in load_labelled_set(dev_set, taxonomy).needs)
    return out


# --- measuring ---------------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def stats(ms: np.ndarray) -> dict[str, float]:
    return {"p50": round(float(np.percentile(ms, 50)), 3), "p95": round(float(np.percentile(ms, 95)), 3)}


def brute_force(matrix: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    scores = matrix @ query
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    return list(zip(ids[top].tolist(), scores[top].tolist(), strict=True))


def bench_size(
    n: int,
    encoder: Encoder,
    taxonomy: Taxonomy,
    needs: Sequence[NeedProfile],
    *,
    k: int,
    top_n: int,
    cache: Path | None,
    log: Callable[[str], None],
) -> dict:
    docs = synthetic_solutions(n, taxonomy)
    chars = sum(len(doc_text(d)) for d in docs[:2000]) / min(n, 2000)
    log(f"[{n}] corpus ready ({chars:.0f} characters per solution text); building ...")
    engine = MatchEngine(encoder, taxonomy)
    cached = None
    if cache is not None:
        path = cache / f"{re.sub(r'[^A-Za-z0-9.=@-]+', '_', encoder.name)}-{n}.npy"
        if not path.exists():
            log(f"[{n}] encoding the corpus for the cache {path} ...")
            np.save(path, np.concatenate([engine.encode_docs(docs[i : i + BATCH]) for i in range(0, n, BATCH)]))
        cached = np.load(path, mmap_mode="r")
    start = time.perf_counter()
    for i in range(0, n, BATCH):
        # A copy of the batch: pages of a mapped file read so far would count in the resident memory.
        engine.upsert(docs[i : i + BATCH], None if cached is None else np.array(cached[i : i + BATCH]))
        if cached is not None and (i // BATCH) % 10 == 9:
            cached = np.load(path, mmap_mode="r")  # a fresh mapping: the old one's pages leave the RSS
        if (i // BATCH) % 10 == 9:
            log(f"[{n}] {i + BATCH} upserted, {(i + BATCH) / (time.perf_counter() - start):.0f}/s")
    build_s = time.perf_counter() - start
    del docs
    gc.collect()
    release_free_memory()  # as the search index does after a full build (embeddings/memory.py)
    log(f"[{n}] built in {build_s:.1f} s; matching {len(needs)} needs ...")

    # The first search moves the indexes' newest entries into place; then the memory is read, before
    # the benchmark's own copy of the vectors for the floor exists.
    for need in needs[:WARMUP]:
        engine.match(need, top_n=top_n, k=k)
    resident, peak = rss_mb(), peak_rss_mb()
    ids = np.fromiter(engine._docs, dtype=np.int64, count=len(engine))
    matrix = engine._vectors.vectors(ids)

    # One need at a time, every measurement back to back, so that whatever else runs on the machine
    # disturbs them alike. numpy's matrix-vector product runs on all BLAS threads by default, which
    # is fastest on an idle machine and slowest on a busy one: the floor is the better p95 of that
    # and of one thread.
    blas = ThreadpoolController()
    ms: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)

    def measure(name: str, fn: Callable[[], object]) -> object:
        wall, processor = time.perf_counter(), time.thread_time()
        out = fn()
        cpu[name].append(time.thread_time() - processor)
        ms[name].append(time.perf_counter() - wall)
        return out

    for need in needs:
        vector = measure("encode", lambda need=need: encoder.encode([need.text])[0])
        measure("vector_search", lambda vector=vector: engine._vectors.search(vector, k))
        measure("lexical_search", lambda need=need: engine._lexical.search(need.text, k))
        for threads in ("all", "one"):
            with blas.limit(limits=None if threads == "all" else 1, user_api="blas"):
                measure(f"brute_force_search_{threads}", lambda vector=vector: brute_force(matrix, ids, vector, k))
                measure(
                    f"floor_{threads}",
                    lambda need=need: brute_force(matrix, ids, encoder.encode([need.text])[0], k),
                )
        measure("match", lambda need=need: engine.match(need, top_n=top_n, k=k))
    ms_of = {name: np.asarray(values) * 1000 for name, values in ms.items()}
    cpu_of = {name: np.asarray(values) * 1000 for name, values in cpu.items()}
    floor_threads = min(("all", "one"), key=lambda threads: np.percentile(ms_of[f"floor_{threads}"], 95))
    result = {
        "solutions": n,
        "build_per_s": round(n / build_s, 1),
        "build_encodes": cached is None,
        "encode_ms": stats(ms_of["encode"]),
        "vector_search_ms": stats(ms_of["vector_search"]),
        "lexical_search_ms": stats(ms_of["lexical_search"]),
        "brute_force_search_ms": stats(ms_of[f"brute_force_search_{floor_threads}"]),
        "floor_ms": stats(ms_of[f"floor_{floor_threads}"]),
        "floor_blas_threads": floor_threads,
        "match_ms": stats(ms_of["match"]),
        "rss_mb": round(resident, 1),
        "peak_rss_mb": round(peak, 1),
        # CPU time of the calling thread: less disturbed by other processes than the wall clock (not
        # by their use of the memory bus, though). A diagnostic; the targets are on the wall clock.
        # The floor on one BLAS thread here, as the engine runs: other threads' time is not counted.
        "cpu_ms": {
            "encode": stats(cpu_of["encode"]),
            "floor": stats(cpu_of["floor_one"]),
            "match": stats(cpu_of["match"]),
        },
        "load_average": round(os.getloadavg()[0], 2),
    }
    result["ratio"] = round(result["match_ms"]["p95"] / result["floor_ms"]["p95"], 3)
    result["ratio_cpu"] = round(result["cpu_ms"]["match"]["p95"] / result["cpu_ms"]["floor"]["p95"], 3)
    log(f"[{n}] {json.dumps(result)}")
    return result


def verdicts(results: dict[int, dict]) -> list[str]:
    out = []
    if 10000 in results:
        r = results[10000]["ratio"]
        out.append(f"ratio_10k {r} {'<=' if r <= TARGETS['ratio_10k'] else '>'} {TARGETS['ratio_10k']}")
    for n, r in results.items():
        limit = TARGETS["match_p95_ms"].get(n)
        p95 = r["match_ms"]["p95"]
        if limit is not None:
            out.append(f"match p95 at {n}: {p95} ms {'<=' if p95 <= limit else '>'} {limit} ms")
        ok = r["build_per_s"] >= TARGETS["build_per_s"]
        note = "" if r["build_encodes"] else " (vectors from the cache: not comparable)"
        out.append(f"build at {n}: {r['build_per_s']}/s {'>=' if ok else '<'} {TARGETS['build_per_s']}/s{note}")
    if 100000 in results:
        rss = results[100000]["peak_rss_mb"]
        out.append(f"peak RSS at 100000: {rss} MB {'<=' if rss <= TARGETS['rss_mb_100k'] else '>'} 800 MB")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="corpus sizes, comma-separated (default %(default)s)")
    parser.add_argument("--encoder", default="use", help="encoder spec: use (default), e5, st:<path>, hash")
    parser.add_argument("--queries", type=int, default=0, help="use only the first N needs (default: all 217)")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="candidates from each index (default %(default)s)")
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="development aid: keep the corpus vectors in DIR and reuse them; the build then excludes encoding",
    )
    parser.add_argument("--top-n", type=int, default=10, help="matches returned (default %(default)s)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    taxonomy = load_taxonomy(SEED / "taxonomy.json")
    needs = queries(taxonomy)
    if args.queries:
        needs = needs[: args.queries]
    encoder = load_encoder(args.encoder)
    encoder.encode(["预热"])
    log(f"encoder {encoder.name}, {len(needs)} needs, {os.cpu_count()} CPUs, sizes {sizes}")
    cache = Path(args.cache) if args.cache else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    results = {}
    for n in sizes:
        results[n] = bench_size(n, encoder, taxonomy, needs, k=args.k, top_n=args.top_n, cache=cache, log=log)
        gc.collect()

    for line in verdicts(results):
        print(line)
    summary = {
        "encoder": encoder.name,
        "queries": len(needs),
        "k": args.k,
        "cpus": os.cpu_count(),
        "sizes": {str(n): r for n, r in results.items()},
    }
    if 10000 in results:
        summary["ratio_10k"] = results[10000]["ratio"]
    if 100000 in results:
        summary["rss_mb_100k"] = results[100000]["peak_rss_mb"]
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
