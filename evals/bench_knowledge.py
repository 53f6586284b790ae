"""Knowledge-base speed: embedding vs ingest throughput, search latency at scale, peak memory.

    python -m evals.bench_knowledge --n 40000

Real tickets from the shared datasets (the three dev.jsonl files, interleaved). Embeddings of the
search index go through a persistent CachedEmbedder, so reruns are free; ``--real`` below ``--n``
fills the rest with jittered copies of real embeddings. Prints figures, never asserts times.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from itertools import chain, zip_longest
from pathlib import Path

import numpy as np

from agent.settings import Settings
from knowledge.base import CaseStore
from knowledge.cases import Case
from knowledge.embeddings import CachedEmbedder, MiniLMEmbedder
from knowledge.ingest import CaseReader
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.store import ChromaCaseStore

DATASETS = Path(
    os.environ.get("TRIAGE_DATASETS_DIR", Path(__file__).resolve().parents[2] / "shared/datasets")
)


def load_tickets(datasets: Path = DATASETS) -> list[Case]:
    """Every dev.jsonl ticket as a case, files interleaved so any prefix mixes the sources."""
    streams: list[Iterator[Case]] = []
    for path in sorted(datasets.glob("*/dev.jsonl")):
        streams.append(iter(CaseReader(path, "jsonl", label=_first_label(path))))
    mixed = chain.from_iterable(zip_longest(*streams))
    return [case for case in mixed if case is not None and case.text.strip()]


def _first_label(path: Path) -> str | None:
    import json

    with path.open(encoding="utf-8") as handle:
        labels = json.loads(handle.readline()).get("labels") or {}
    return next((key for key, value in labels.items() if isinstance(value, str)), None)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ms(values: list[float]) -> str:
    arr = np.asarray(values) * 1000
    return f"p50 {np.percentile(arr, 50):.2f} ms, p99 {np.percentile(arr, 99):.2f} ms"


def bench_throughput(
    sample: list[Case], model: MiniLMEmbedder, batch: int, rounds: int = 4
) -> dict[str, float]:
    """Raw model vs KnowledgeBase.ingest (cold cache, embedded Chroma), wall and CPU seconds.

    The two alternate on slices of the sample so both see the same machine load.
    """
    model.embed([c.text for c in sample[:16]])  # warm-up: the first run allocates
    spent = {"raw_wall": 0.0, "raw_cpu": 0.0, "ingest_wall": 0.0, "ingest_cpu": 0.0}
    size = -(-len(sample) // rounds)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        embedder = CachedEmbedder(model, Path(tmp) / "cold-cache.sqlite")
        kb = KnowledgeBase(ChromaCaseStore.open(settings), embedder)
        for start in range(0, len(sample), size):
            part = sample[start : start + size]
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(0, len(part), batch):
                model.embed([c.text for c in part[i : i + batch]])
            spent["raw_wall"] += time.perf_counter() - wall
            spent["raw_cpu"] += time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            kb.ingest(part, batch_size=batch)
            spent["ingest_wall"] += time.perf_counter() - wall
            spent["ingest_cpu"] += time.process_time() - cpu
        kb.close()
    return {key: len(sample) / value for key, value in spent.items()}


def index_vectors(cases: list[Case], real: int, cache: Path, model: MiniLMEmbedder) -> np.ndarray:
    """Embeddings for the index: the first ``real`` for real, jittered copies for the rest."""
    embedder = CachedEmbedder(model, cache)
    real_vectors = []
    for i in range(0, real, 1000):
        real_vectors.append(embedder.embed([c.text for c in cases[i : min(real, i + 1000)]]))
        print(f"  embedded {min(real, i + 1000)}/{real} (cache hits {embedder.hits})", flush=True)
    vectors = np.concatenate(real_vectors)
    if len(cases) > real:
        rng = np.random.default_rng(0)
        copies = vectors[np.arange(len(cases) - real) % real]
        copies = copies + rng.normal(0, 0.02, copies.shape).astype(np.float32)
        vectors = np.concatenate([vectors, copies / np.linalg.norm(copies, axis=1, keepdims=True)])
    return vectors.astype(np.float32)


def bench_search(store: CaseStore, queries: np.ndarray, k: int) -> list[float]:
    """Seconds per store.search call, after a warm-up."""
    for query in queries[:20]:
        store.search(query, k)
    times = []
    for query in queries:
        start = time.perf_counter()
        store.search(query, k)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40_000, help="cases in the search index")
    parser.add_argument("--real", type=int, default=None, help="real embeddings (default: n)")
    parser.add_argument("--ingest-n", type=int, default=1000, help="tickets for throughput")
    parser.add_argument("--queries", type=int, default=300, help="search queries timed")
    parser.add_argument("-k", type=int, default=Settings().neighbours, help="neighbours per query")
    parser.add_argument("--batch", type=int, default=256, help="ingest batch size")
    parser.add_argument("--cache", type=Path, default=Settings().data_dir / "bench" / "emb.sqlite")
    args = parser.parse_args()

    tickets = load_tickets()
    index = [c.model_copy(update={"id": f"{c.id}#{i}"}) for i, c in enumerate(tickets[: args.n])]
    while len(index) < args.n:  # more cases than real tickets: reuse texts under new ids
        index.append(tickets[len(index) % len(tickets)].model_copy(update={"id": f"x{len(index)}"}))
    held_out = tickets[args.n :] or tickets
    query_cases = held_out[: args.queries]
    real = min(args.real or args.n, args.n, len(tickets))
    print(f"{len(tickets)} real tickets; index {args.n} cases ({real} real embeddings)")
    model = MiniLMEmbedder()

    rates = bench_throughput(tickets[: args.ingest_n], model, args.batch)
    print(f"throughput over {args.ingest_n} tickets, per wall second / per CPU second:")
    print(f"  raw model embedding:   {rates['raw_wall']:.1f} / {rates['raw_cpu']:.1f} tickets/s")
    print(
        f"  KnowledgeBase.ingest:  {rates['ingest_wall']:.1f} / {rates['ingest_cpu']:.1f} cases/s"
    )
    print(
        f"  ingest / embedding:    {rates['ingest_wall'] / rates['raw_wall']:.2f}x wall, "
        f"{rates['ingest_cpu'] / rates['raw_cpu']:.2f}x CPU (target >= 0.8x)"
    )
    print(f"peak RSS after throughput runs: {_peak_mb():.0f} MB")

    query_times = []
    for case in query_cases:
        start = time.perf_counter()
        model.embed([case.text])
        query_times.append(time.perf_counter() - start)
    print(f"query embedding (one ticket): {_ms(query_times)}")
    queries = model.embed([c.text for c in query_cases])

    vectors = index_vectors(index, real, args.cache, model)
    with tempfile.TemporaryDirectory() as tmp:
        store = ChromaCaseStore.open(Settings(data_dir=Path(tmp)))
        start = time.perf_counter()
        store.upsert(index, vectors)
        load = time.perf_counter() - start
        print(f"chroma bulk load: {args.n} cases in {load:.1f} s ({args.n / load:.0f} cases/s)")
        print(
            f"search k={args.k} over {store.count()} cases, embedded Chroma: "
            f"{_ms(bench_search(store, queries, args.k))}"
        )
        store.close()
    print(f"peak RSS after the Chroma index: {_peak_mb():.0f} MB")
    memory = InMemoryCaseStore()
    memory.upsert(index, vectors)
    print(f"search k={args.k}, InMemoryCaseStore: {_ms(bench_search(memory, queries, args.k))}")
    print(f"peak RSS: {_peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
