"""Load benchmark: sustained triage req/s and p50/p99 over real HTTP at 1, 8 and 32 clients, no LLM,
against Triager.triage in-process in the same run (target: HTTP >= 0.8x in-process, zero errors).

    .venv/bin/python -m api.bench_load [--seconds 8] [--max-requests 400] [--seed-cases 240]

Everything is bounded: each phase stops at --seconds or --max-requests, whichever comes first.
The server is uvicorn in a child process on a free loopback port, on a fresh data directory whose
knowledge base is seeded from agent/examples/demo_tickets.jsonl; the benchmark tickets are the other
demo tickets, made unique per phase so no phase profits from another's embedding cache.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from itertools import count
from pathlib import Path
from typing import Any

import httpx

from agent.settings import EXAMPLES_DIR, Settings

DEMO = EXAMPLES_DIR / "demo_tickets.jsonl"


def app_factory() -> Any:
    """The app on the environment's settings (uvicorn --factory entry point of the child)."""
    from api.main import create_app

    return create_app(Settings())


def _tickets(seed_cases: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line]
    return rows[:seed_cases], rows[seed_cases:]


def _payload(row: dict[str, Any], tag: str) -> dict[str, Any]:
    return {"subject": row.get("subject", ""), "body": f"{row.get('body', '')}\n(ref {tag})"}


def _seed(settings: Settings, rows: list[dict[str, Any]]) -> None:
    from knowledge.cases import Case
    from knowledge.kb import KnowledgeBase

    kb = KnowledgeBase.open(settings)
    cases = [
        Case(
            id=str(r["id"]),
            subject=r.get("subject", ""),
            body=r.get("body", ""),
            team=r["labels"]["team"],
            label_source="import",
        )
        for r in rows
    ]
    kb.ingest(cases)


def _in_process(
    settings: Settings, rows: list[dict[str, Any]], seconds: float, cap: int
) -> dict[str, Any]:
    from agent.models import Ticket
    from agent.triager import Triager

    triager = Triager.from_settings(settings)
    triager.triage(Ticket.model_validate(_payload(rows[0], "warm-inproc")))
    latencies: list[float] = []
    started = time.perf_counter()
    for i in count():
        if i >= cap or time.perf_counter() - started > seconds:
            break
        ticket = Ticket.model_validate(_payload(rows[i % len(rows)], f"inproc-{i}"))
        t0 = time.perf_counter()
        triager.triage(ticket)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return _figures(latencies, elapsed, errors=0)


def _figures(latencies: list[float], elapsed: float, errors: int) -> dict[str, Any]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "req_per_s": round(len(latencies) / elapsed, 2) if elapsed else 0.0,
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p99_ms": round(p99 * 1000, 1) if p99 is not None else None,
    }


def _http_phase(
    base: str, key: str, rows: list[dict[str, Any]], clients: int, seconds: float, cap: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    issued = count()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
            while time.perf_counter() < deadline:
                i = next(issued)
                if i >= cap:
                    return
                body = _payload(rows[i % len(rows)], f"http{clients}-{i}")
                t0 = time.perf_counter()
                try:
                    ok = http.post("/v1/triage", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    if ok:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _figures(latencies, time.perf_counter() - started, errors)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(seconds: float, cap: int, seed_cases: int, levels: list[int]) -> dict[str, Any]:
    """The whole benchmark; returns the figures."""
    from api.auth import create_key
    from api.db import Database

    seed_rows, rows = _tickets(seed_cases)
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        env = {**os.environ, "TRIAGE_DATA_DIR": tmp, "TRIAGE_LLM_WHEN": "never"}
        env.pop("TRIAGE_DATABASE_URL", None)
        settings = Settings(data_dir=Path(tmp), llm_when="never", database_url=None)
        settings.ensure_dirs()
        _seed(settings, seed_rows)
        inproc = _in_process(settings, rows, seconds, cap)
        db = Database(settings.sqlalchemy_url)
        db.migrate()
        _, key = create_key(db, "helpdesk", "bench")
        db.close()
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.bench_load:app_factory",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, server)
            _http_phase(base, key, rows, 1, 2.0, 5)  # warm-up
            http = {str(n): _http_phase(base, key, rows, n, seconds, cap) for n in levels}
        finally:
            server.terminate()
            server.wait(20)
    best = max(v["req_per_s"] for v in http.values())
    return {
        "cpu_count": os.cpu_count(),
        "llm": "off",
        "in_process": inproc,
        "http": http,
        "best_http_req_per_s": best,
        "ratio_best_http_to_in_process": round(best / inproc["req_per_s"], 3)
        if inproc["req_per_s"]
        else None,
        "errors": sum(v["errors"] for v in http.values()),
    }


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.25)
    raise RuntimeError("the server did not become ready within 120 s")


def main(argv: list[str] | None = None) -> int:
    """Run and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase (bounded)")
    parser.add_argument("--max-requests", type=int, default=400, help="per phase (bounded)")
    parser.add_argument(
        "--seed-cases", type=int, default=240, help="demo cases in the knowledge base"
    )
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.clients.split(",")]
    figures = run(args.seconds, args.max_requests, args.seed_cases, levels)
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
