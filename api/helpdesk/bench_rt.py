"""Benchmark: time from an RT event (a ticket created in RT) to the decision applied in RT.

Needs `.ci/rt up`. Serves the service (embedded agent, cold-start knowledge base) on loopback,
points RT's scrip at it, creates N tickets in RT at a steady pace, and reports p50/p99 of
create-returned -> outbox row applied (queue, owner, priority, tags and brief all in RT).
    python -m api.helpdesk.bench_rt --tickets 100 --interval 0.5
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from agent.policy import load_policy
from agent.settings import EXAMPLES_DIR, Settings
from agent.triager import Triager, memory_checkpointer
from api.helpdesk.options import HelpdeskOptions
from api.helpdesk.plugin import install
from api.helpdesk.rt import RTHelpdesk
from api.helpdesk.rt_setup.hookfile import read_hook, write_hook
from api.helpdesk.rt_setup.state import read_env
from api.intake.options import IntakeOptions
from api.main import create_app
from knowledge.embeddings import make_embedder
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.5, help="Seconds between creates")
    args = parser.parse_args(argv)
    env = read_env()
    work = Path(tempfile.mkdtemp(prefix="bench-rt-"))
    settings = Settings(data_dir=work)
    settings.ensure_dirs()
    policy = load_policy(EXAMPLES_DIR / "policy.yaml")
    kb = KnowledgeBase(
        InMemoryCaseStore(),
        make_embedder("minilm-int8", settings.embedding_cache_path),
        LearnedRouter(model_dir=settings.model_dir),
    )
    triager = Triager(settings=settings, policy=policy, kb=kb, checkpointer=memory_checkpointer())
    secret = secrets.token_hex(16)
    app = create_app(
        settings, triager, intake_options=IntakeOptions(webhook_secret=SecretStr(secret))
    )
    rt = RTHelpdesk(env["RT_URL"], env["RT_TOKEN"])
    connector = install(app, settings, HelpdeskOptions(helpdesk_poll_s=0.5), rt)
    assert connector is not None
    demo = [json.loads(line) for line in (EXAMPLES_DIR / "demo_tickets.jsonl").open()]
    hook_file = Path(env["RT_HOOK_FILE"])
    before = read_hook(hook_file)
    root = httpx.Client(base_url=f"{env['RT_URL']}/REST/2.0", auth=("root", "password"), timeout=30)
    started = time.monotonic()
    server, base = _serve(app)
    created: dict[str, float] = {}
    try:
        write_hook(hook_file, f"{base}/v1/intake/helpdesk", secret, timeout_s=5)
        for n in range(args.tickets):
            item = demo[n % len(demo)]
            answer = root.post(
                "/ticket",
                json={
                    "Queue": "General",
                    "Subject": item["subject"],
                    "Content": item["body"],
                    "Requestor": f"bench-{n % 20}@example.com",
                },
            )
            answer.raise_for_status()
            created[str(answer.json()["id"])] = time.time()
            time.sleep(args.interval)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = {r.external_id: r for r in connector.outbox.rows() if r.status != "pending"}
            if all(i in done for i in created):
                break
            time.sleep(0.2)
    finally:
        if before is not None:
            write_hook(hook_file, before.url, before.secret.get_secret_value(), before.timeout_s)
        server.should_exit = True
    rows = {r.external_id: r for r in connector.outbox.rows()}
    latencies = []
    for external, at in created.items():
        applied = rows[external].applied_at if external in rows else None
        if applied is not None:
            latencies.append((applied - datetime.fromtimestamp(at, UTC)).total_seconds())
    statuses = [rows[i].status if i in rows else "missing" for i in created]
    report = {
        "tickets": len(created),
        "applied": len(latencies),
        "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
        "interval_s": args.interval,
        "event_to_applied_p50_s": round(percentile(latencies, 50), 3) if latencies else None,
        "event_to_applied_p99_s": round(percentile(latencies, 99), 3) if latencies else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report, indent=2))
    return 0 if len(latencies) == len(created) else 1


def _serve(app: FastAPI) -> tuple[uvicorn.Server, str]:
    """Serve on a free loopback port in a thread (RT's scrip needs a real URL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


if __name__ == "__main__":
    raise SystemExit(main())
