"""Benchmark: per-ticket routing latency without LLM in a warm process, against the embedding time.

    python -m evals.bench_route [--dataset it_incidents --label assignment_group]
                                [--cases 5000 --tickets 300]

Seeds a knowledge base in a temporary data directory with real tickets from ../shared/datasets and
fits the router in a child process (as `triage kb ingest` + `kb refit` would), then, in this fresh
process, loads it as the service does and routes unseen tickets through the full graph with
checkpoints on disk. Per ticket, in rotating order: the raw embedding of its text by the agent's
own embedding session (a service process runs one; ``--separate-embedder`` uses a second one, whose
alternation with the agent's leaves both with cold caches), a run with the default checkpoint
durability (``auto``: no LLM here, so checkpoints when the run ends or waits), and a run
checkpointing before every step (``sync``). Reports p50/p99 of each, the embedding time, and the
routing process's memory. It prints figures; it does not judge them.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.models import Ticket
from agent.policy import neutral_policy
from agent.settings import Settings
from agent.triager import Triager, sqlite_checkpointer
from knowledge.cases import Case
from knowledge.embeddings import MiniLMEmbedder
from knowledge.ingest import read_cases
from knowledge.kb import KnowledgeBase

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc (Linux), in MB: VmRSS now, VmHWM its peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _split(args: argparse.Namespace) -> tuple[list[Case], list[Case]]:
    cases = list(read_cases(args.datasets / args.dataset / "dev.jsonl", label=args.label))
    random.Random(args.seed).shuffle(cases)
    return cases[: args.cases], cases[args.cases : args.cases + args.tickets]


def _teams(cases: list[Case]) -> list[str]:
    return sorted({c.team for c in cases if c.team})


def _seed(args: argparse.Namespace, data_dir: Path) -> None:
    """Child process: ingest the knowledge-base cases and fit the router, saved under data_dir."""
    train, _ = _split(args)
    kb = KnowledgeBase.open(Settings(data_dir=data_dir))
    started = time.perf_counter()
    kb.ingest(train)
    kb.describe_teams(neutral_policy(_teams(train)).team_texts())  # as the service refits
    kb.refit()
    kb.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"seeded {len(train)} cases in {time.perf_counter() - started:.1f} s (peak {peak:.0f} MB)"
    )


def _route(args: argparse.Namespace, data_dir: Path) -> None:
    train, test = _split(args)
    teams = _teams(train)
    del train
    settings = Settings(data_dir=data_dir)
    loaded_at = time.perf_counter()
    kb = KnowledgeBase.open(settings)
    if kb.router is None or not kb.router.is_fitted:
        raise SystemExit("the seeding process saved no router")
    triagers = {
        mode: Triager(
            settings=settings.model_copy(update={"checkpoint_durability": mode}),
            policy=neutral_policy(teams),
            kb=kb,
            checkpointer=sqlite_checkpointer(settings),
        )
        for mode in ("auto", "sync")
    }
    print(f"loaded the knowledge base and router in {time.perf_counter() - loaded_at:.1f} s")
    tickets = [Ticket(id=c.id, subject=c.subject, body=c.body, requester=c.requester) for c in test]
    # the agent's own query embedder, uncached: the same session the graph's retrieve step runs
    raw = MiniLMEmbedder() if args.separate_embedder else triagers["auto"].deps.query_embedder
    for ticket in tickets[:20]:  # warm-up
        raw.embed([ticket.text])
        for mode, triager in triagers.items():
            triager.triage(ticket.model_copy(update={"id": f"warm-{mode}-{ticket.id}"}))
    times: dict[str, list[float]] = {"embedding": [], "auto": [], "sync": []}
    steps: list[str] = ["embedding", *triagers]
    for number, ticket in enumerate(tickets):
        # rotate the order: whichever runs right after another ONNX session pays its cold caches
        shift = number % len(steps)
        for step in steps[shift:] + steps[:shift]:
            t0 = time.perf_counter()
            if step == "embedding":
                raw.embed([ticket.text])
            else:
                triagers[step].triage(ticket.model_copy(update={"id": f"{step}-{ticket.id}"}))
            times[step].append((time.perf_counter() - t0) * 1000)
    rss, hwm = _status_mb("VmRSS"), _status_mb("VmHWM")
    e50 = statistics.median(times["embedding"])
    print(f"tickets routed: {len(tickets)} per mode (knowledge base {args.cases} cases, no LLM)")
    e99 = _percentile(times["embedding"], 0.99)
    session = "a separate session" if args.separate_embedder else "the agent's own session"
    print(f"embedding one ticket ({session}): p50 {e50:.1f} ms, p99 {e99:.1f} ms")
    for mode, label in (
        ("auto", "default durability (auto -> exit: no LLM)"),
        ("sync", "checkpoint before every step (sync)"),
    ):
        p50, p99 = _percentile(times[mode], 0.5), _percentile(times[mode], 0.99)
        print(
            f"routing, {label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean "
            f"{statistics.mean(times[mode]):.1f} ms; p50 - embedding p50 = {p50 - e50:.1f} ms "
            "(target <= 15 ms; p99 target < 250 ms)"
        )
    print(
        f"routing process memory: {rss:.0f} MB resident now, peak {hwm:.0f} MB (target < 1536 MB)"
    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--dataset", default="it_incidents")
    parser.add_argument("--label", default="assignment_group")
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, help="keep the seeded data here (reused if there)")
    parser.add_argument(
        "--separate-embedder",
        action="store_true",
        help="time the raw embedding on a second ONNX session instead of the agent's own",
    )
    parser.add_argument("--seed-into", type=Path, help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args()
    if args.seed_into:
        _seed(args, args.seed_into)
        return
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp)
        if not (Settings(data_dir=data_dir).model_dir / "router.joblib").exists():
            child = [sys.executable, "-m", "evals.bench_route", "--seed-into", str(data_dir)]
            child += [f"--{k}={getattr(args, k)}" for k in ("datasets", "dataset", "label")]
            child += [f"--cases={args.cases}", f"--tickets={args.tickets}", f"--seed={args.seed}"]
            subprocess.run(child, check=True)
        _route(args, data_dir)


if __name__ == "__main__":
    main()
