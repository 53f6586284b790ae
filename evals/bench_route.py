"""Benchmark: per-ticket routing latency without LLM in a warm process, against the embedding time.

    python -m evals.bench_route [--dataset it_incidents --label assignment_group]
                                [--cases 5000 --tickets 300]

Seeds a temporary knowledge base with real tickets from ../shared/datasets, fits the router, then
routes unseen tickets through the full graph (the service's path, checkpoints on disk) and reports
p50/p99 latency, the raw embedding time of one ticket measured on the same tickets in the same run,
and peak memory. It prints figures; it does not judge them.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from agent.policy import neutral_policy
from agent.settings import Settings
from agent.triager import Triager, sqlite_checkpointer
from knowledge.embeddings import MiniLMEmbedder
from knowledge.ingest import read_cases
from knowledge.kb import KnowledgeBase

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rss_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--dataset", default="it_incidents")
    parser.add_argument("--label", default="assignment_group")
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    cases = list(read_cases(args.datasets / args.dataset / "dev.jsonl", label=args.label))
    random.Random(args.seed).shuffle(cases)
    train, test = cases[: args.cases], cases[args.cases : args.cases + args.tickets]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        kb = KnowledgeBase.open(settings)
        started = time.perf_counter()
        kb.ingest(train)
        kb.refit()
        print(f"seeded {len(train)} cases in {time.perf_counter() - started:.1f} s")
        teams = sorted({c.team for c in train if c.team})
        triager = Triager(
            settings=settings,
            policy=neutral_policy(teams),
            kb=kb,
            checkpointer=sqlite_checkpointer(settings),
        )
        from agent.models import Ticket

        tickets = [
            Ticket(id=c.id, subject=c.subject, body=c.body, requester=c.requester) for c in test
        ]
        for ticket in tickets[:20]:  # warm-up
            triager.triage(ticket.model_copy(update={"id": f"warm-{ticket.id}"}))
        route_ms = []
        for ticket in tickets:
            t0 = time.perf_counter()
            triager.triage(ticket)
            route_ms.append((time.perf_counter() - t0) * 1000)
        raw = MiniLMEmbedder()
        raw.embed(["warm up"])
        embed_ms = []
        for ticket in tickets:
            t0 = time.perf_counter()
            raw.embed([ticket.text])
            embed_ms.append((time.perf_counter() - t0) * 1000)
        routing_mb = _rss_mb()  # the warm process, knowledge base and router loaded
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    p50, p99 = _percentile(route_ms, 0.5), _percentile(route_ms, 0.99)
    e50 = statistics.median(embed_ms)
    print(f"tickets routed: {len(route_ms)} (knowledge base {len(train)} cases, no LLM)")
    print(
        f"routing latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"mean {statistics.mean(route_ms):.1f} ms"
    )
    print(f"embedding one ticket p50 {e50:.1f} ms, p99 {_percentile(embed_ms, 0.99):.1f} ms")
    print(
        f"routing p50 minus embedding p50: {p50 - e50:.1f} ms (target <= 15 ms); "
        f"p99 {p99:.1f} ms (target < 250 ms)"
    )
    print(f"memory while routing (RSS): {routing_mb:.0f} MB (target < 1536 MB)")
    print(f"peak memory of the whole run, seeding and fitting included: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
