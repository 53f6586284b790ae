"""Spike benchmark (loopback only, bounded): sustained rate, then 20x for a burst of tickets.

    .venv/bin/python -m api.intake.bench_spike [--burst 10000] [--rate 5] [--queue embedded]
        [--threads 2] [--worker-process] [--stand-in-delay-ms 5] [--real-agent]
        [--database-url URL]

Starts the service (``worker_main --serve``) on 127.0.0.1 with intake workers in it (or, with
``--worker-process``, in a second ``worker_main`` process beside an API process), measures
P1 time-to-decision unloaded, then sends ``rate`` tickets/s for ``--sustain-s`` and a burst of
``--burst`` tickets at 20x that rate (honouring 429 + Retry-After), waits for the queue to
drain and reads the database: every accepted ticket decided (zero lost), one decision each
(zero triaged twice), P1 time-to-decision p99 under the spike vs unloaded, and its two halves
(sent -> stored, stored -> decided). By default the
workers run the CheapStandInEngine (NOT the agent); ``--real-agent`` uses full triage.
Prints figures; asserts nothing about time. ``--database-url`` puts the service database on
PostgreSQL (a fresh schema for the run, dropped afterwards) instead of a SQLite file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from agent.settings import Settings
from api.auth import create_key
from api.db import Database
from api.tables import DecisionRow, TicketRow

REPO = Path(__file__).resolve().parents[2]
QUEUE_LEAD_S = 0.5


def _ticket(n: int, p1: bool) -> dict[str, Any]:
    subject = f"Production down at site {n}" if p1 else f"Printer {n} prints blank pages"
    return {"external_id": f"bench-{n}", "subject": subject, "body": f"Ticket {n} of the bench."}


class Sender:
    """Posts tickets, retries 429 after Retry-After, remembers when each was first sent."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key
        self.sent: dict[str, tuple[float, bool]] = {}  # ticket id -> (first send time, is P1)
        self.throttled = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        if not hasattr(self._local, "client"):
            headers = {"Authorization": f"Bearer {self.key}"}
            self._local.client = httpx.Client(base_url=self.base, headers=headers, timeout=30)
        return self._local.client

    def send(self, n: int, p1: bool) -> None:
        first = time.time()
        for _ in range(60):  # bounded: 60 tries of at most a few seconds each
            answer = self._client().post("/v1/intake/api", json=_ticket(n, p1))
            if answer.status_code == 429:
                with self._lock:
                    self.throttled += 1
                time.sleep(float(answer.headers.get("retry-after", "1")))
                continue
            if answer.status_code in (200, 202):
                with self._lock:
                    self.sent[answer.json()["ticket_id"]] = (first, p1)
                return
            break
        with self._lock:
            self.errors += 1

    def run(self, start: int, count: int, rate: float, p1_every: int, threads: int) -> float:
        """Send count tickets at rate/s; returns the achieved rate."""
        began = 0.0

        def one(i: int) -> None:
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.send(start + i, i % p1_every == 0)

        with ThreadPoolExecutor(threads) as pool:
            # Every sender thread builds its HTTP client before the clock starts: building one
            # costs ~30 ms of CPU (httpx loads the CA bundle), thirty of them at once far more,
            # and that is the bench's start-up, not the service's time to decide the first ticket.
            ready = threading.Barrier(threads)
            list(pool.map(lambda _: (self._client(), ready.wait()), range(threads)))
            # The first send is due once all are queued (queuing 10,000 takes the bench ~0.1 s
            # of CPU, more under load), so the first tickets' senders do not compete with it.
            began = time.monotonic() + QUEUE_LEAD_S
            list(pool.map(one, range(count)))
        return count / (time.monotonic() - began)


def _decisions(db: Database) -> tuple[Counter[str], dict[str, datetime]]:
    with db.session() as session:
        rows = session.execute(select(DecisionRow.ticket_id, DecisionRow.decided_at)).all()
    return Counter(r[0] for r in rows), {r[0]: r[1] for r in rows}


def _stored_at(db: Database, ids: set[str]) -> dict[str, datetime]:
    """When the service stored each of these tickets (its half of the time to decision)."""
    with db.session() as session:
        rows = session.execute(select(TicketRow.id, TicketRow.created_at)).all()
    return {r[0]: r[1] for r in rows if r[0] in ids}


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _fresh_schema(url: str) -> tuple[str, str | None]:
    """A PostgreSQL URL gets a new schema (reruns never see earlier tickets); others as given."""
    if make_url(url).get_backend_name() != "postgresql":
        return url, None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}", schema


def _drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5.0, help="sustained tickets/s")
    parser.add_argument("--sustain-s", type=float, default=15.0)
    parser.add_argument("--queue", choices=["embedded", "rabbitmq"], default="embedded")
    parser.add_argument("--threads", type=int, default=2, help="intake worker threads")
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="run the workers in their own process (worker_main) beside the API process",
    )
    parser.add_argument("--stand-in-delay-ms", type=float, default=5.0)
    parser.add_argument("--real-agent", action="store_true")
    parser.add_argument("--port", type=int, default=18731)
    parser.add_argument("--client-threads", type=int, default=32)
    parser.add_argument("--drain-timeout-s", type=float, default=900.0)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="bench-spike-"))
    database_url, schema = _fresh_schema(args.database_url) if args.database_url else (None, None)
    settings = Settings(data_dir=data_dir, database_url=database_url)
    settings.ensure_dirs()
    db = Database(settings.sqlalchemy_url)
    db.migrate()
    key = create_key(db, "helpdesk", "bench")[1]
    command = [
        sys.executable,
        "-m",
        "api.intake.worker_main",
        "--data-dir",
        str(data_dir),
        "--serve",
        str(args.port),
        "--threads",
        str(args.threads),
        "--queue",
        args.queue,
        "--broker-queue",
        f"bench.{data_dir.name}",
        "--queue-size",
        str(args.burst + 1000),
    ]
    if database_url:
        command += ["--database-url", database_url]
    if not args.real_agent:
        command += ["--stand-in-delay-ms", str(args.stand_in_delay_ms)]
    worker = None
    if args.worker_process:
        # the same command without the API is the worker process; the API runs no workers
        serve_at = command.index("--serve")
        worker = subprocess.Popen(command[:serve_at] + command[serve_at + 2 :], cwd=REPO)
        command[command.index("--threads") + 1] = "0"
    server = subprocess.Popen(command, cwd=REPO)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        sender = Sender(base, key)
        for n in range(5):  # warm-up: first-use costs (language model, rule compile) excluded
            sender.send(90_000 + n, False)
        time.sleep(2)
        sender.sent.clear()
        # Unloaded: P1 tickets alone, one every 0.25 s.
        for n in range(40):
            sender.send(n, True)
            time.sleep(0.25)
        time.sleep(2)
        unloaded = dict(sender.sent)
        sustained_rate = sender.run(1_000, int(args.rate * args.sustain_s), args.rate, 20, 8)
        before_spike = set(sender.sent)
        spike_started = time.time()
        spike_rate = sender.run(100_000, args.burst, args.rate * 20, 100, args.client_threads)
        sent_at_end = time.time()
        deadline = time.monotonic() + args.drain_timeout_s
        while time.monotonic() < deadline:
            counts, _ = _decisions(db)
            if all(t in counts for t in sender.sent):
                break
            time.sleep(1)
        drained = time.time()
        counts, decided_at = _decisions(db)

        def ttd(ids: set[str], only_p1: bool) -> list[float]:
            return [
                decided_at[t].timestamp() - sender.sent[t][0]
                for t in ids
                if t in decided_at and (sender.sent[t][1] or not only_p1)
            ]

        spike_ids = set(sender.sent) - before_spike
        p1_ids = {t for t, (_, p1) in sender.sent.items() if p1}
        stored_at = _stored_at(db, p1_ids)

        def parts(ids: set[str]) -> dict[str, float]:
            """P1 p50s of the two halves: sent -> stored (client, HTTP, admission) and
            stored -> decided (queue, triage)."""
            p1 = [t for t in ids & p1_ids if t in decided_at and t in stored_at]
            door = [stored_at[t].timestamp() - sender.sent[t][0] for t in p1]
            work = [decided_at[t].timestamp() - stored_at[t].timestamp() for t in p1]
            return {
                "send_to_stored_p50_s": round(_p(door, 0.5), 4),
                "stored_to_decided_p50_s": round(_p(work, 0.5), 4),
                "stored_to_decided_p99_s": round(_p(work, 0.99), 4),
            }

        report = {
            "engine": "agent (full triage)"
            if args.real_agent
            else f"CheapStandInEngine (NOT the agent), {args.stand_in_delay_ms} ms per ticket",
            "queue": args.queue,
            "database": make_url(settings.sqlalchemy_url).get_backend_name(),
            "worker_threads": args.threads,
            "workers": "own process" if args.worker_process else "in the API process",
            "sustained_rate_per_s": round(sustained_rate, 1),
            "spike_rate_target_per_s": args.rate * 20,
            "spike_rate_achieved_per_s": round(spike_rate, 1),
            "burst": args.burst,
            "accepted": len(sender.sent),
            "throttled_429": sender.throttled,
            "client_errors": sender.errors,
            "lost": sum(1 for t in sender.sent if t not in counts),
            "triaged_twice": sum(1 for n in counts.values() if n > 1),
            "drain_s_after_last_send": round(drained - sent_at_end, 1),
            "spike_throughput_per_s": round(len(spike_ids) / max(1e-9, drained - spike_started), 1),
            "p1_ttd_unloaded_p50_s": round(_p(ttd(set(unloaded), True), 0.5), 3),
            "p1_ttd_unloaded_p99_s": round(_p(ttd(set(unloaded), True), 0.99), 3),
            "p1_ttd_spike_p50_s": round(_p(ttd(spike_ids, True), 0.5), 3),
            "p1_ttd_spike_p99_s": round(_p(ttd(spike_ids, True), 0.99), 3),
            "p1_in_spike": len(ttd(spike_ids, True)),
            "all_ttd_spike_p99_s": round(_p(ttd(spike_ids, False), 0.99), 1),
            "p1_unloaded_parts": parts(set(unloaded)),
            "p1_spike_parts": parts(spike_ids),
        }
        report["p1_p99_ratio"] = round(
            report["p1_ttd_spike_p99_s"] / max(1e-9, report["p1_ttd_unloaded_p99_s"]), 2
        )
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    finally:
        for process in (server, worker):
            if process is not None:
                process.terminate()
                process.wait(30)
        db.close()
        if args.database_url and schema:
            _drop_schema(args.database_url, schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
