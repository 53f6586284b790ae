"""Crash test: SIGKILL a worker process mid-burst, restart it; every ticket decided once,
its effects (stored decision, decision listener call) applied once. Embedded queue and RabbitMQ.

Runs with the CheapStandInEngine (NOT the agent) so the burst takes seconds, not minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from intake_support import QUEUE_TAG, broker_up

from agent.policy import load_policy
from agent.settings import Settings
from api.auth import Principal
from api.intake.options import IntakeOptions
from api.intake.setup import build_intake
from api.intake.standin import CheapStandInEngine
from api.main import build_services
from api.options import ServiceOptions
from api.tables import DecisionRow, TicketRow

REPO = Path(__file__).resolve().parents[3]
BURST = 400
CALLER = Principal(key_id="crash", name="crash test", role="helpdesk")


def _worker(data_dir: Path, log: Path, queue: str, broker_queue: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "api.intake.worker_main",
        "--data-dir",
        str(data_dir),
        "--queue",
        queue,
        "--broker-queue",
        broker_queue,
        "--threads",
        "2",
        "--lease-s",
        "2",
        "--stand-in-delay-ms",
        "3",
        "--listener-log",
        str(log),
    ]
    return subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def _decided(services: object, ids: list[str]) -> int:
    db = services.db  # type: ignore[attr-defined]
    with db.session() as session:
        query = session.query(TicketRow).filter(TicketRow.status == "decided")
        return int(query.filter(TicketRow.id.in_(ids)).count())


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["embedded", "rabbitmq"])
def test_sigkill_mid_burst_loses_nothing_and_applies_effects_once(
    tmp_path: Path, backend: str
) -> None:
    if backend == "rabbitmq" and not broker_up():
        pytest.skip("RabbitMQ not listening on 127.0.0.1:5672")
    broker_queue = f"crash.{QUEUE_TAG}{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp_path / "data")
    settings.ensure_dirs()
    engine = CheapStandInEngine(load_policy(settings.policy_path))
    services = build_services(settings, engine, ServiceOptions(start_background=False))
    options = IntakeOptions(intake_queue=backend, broker_queue=broker_queue, intake_workers=0)
    intake = build_intake(services, options)
    log = tmp_path / "listener.log"
    first = _worker(settings.data_dir, log, backend, broker_queue)
    ids: list[str] = []
    try:
        for n in range(BURST):
            subject = "Production down" if n % 20 == 0 else f"printer {n}"
            body = f'{{"subject": "{subject}", "external_id": "crash-{n}"}}'.encode()
            result = intake.flow.submit("api", body, CALLER)
            assert result.status == "queued"
            ids.append(str(result.ticket_id))
        deadline = time.monotonic() + 60
        while _decided(services, ids) < BURST // 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = _decided(services, ids)
        assert 0 < at_kill < BURST, "the kill must land mid-burst"
        second = _worker(settings.data_dir, log, backend, broker_queue)
        try:
            deadline = time.monotonic() + 120
            while _decided(services, ids) < BURST and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
        assert _decided(services, ids) == BURST
        with services.db.session() as session:
            decisions = Counter(session.query(DecisionRow.ticket_id).all())
            unnotified = (
                session.query(DecisionRow).filter(DecisionRow.notified_at.is_(None)).count()
            )
        assert len(decisions) == BURST and set(decisions.values()) == {1}
        assert unnotified == 0
        calls = Counter(line.split()[0] for line in log.read_text().splitlines())
        assert set(calls) == set(ids)
        assert max(calls.values()) == 1, [t for t, n in calls.items() if n > 1]
        assert intake.dead_letters.list() == []
        print(f"\n{backend}: killed after {at_kill}/{BURST} decided; all {BURST} decided once")
    finally:
        if first.poll() is None:
            first.kill()
        if backend == "rabbitmq":
            from api.intake.rabbit import RabbitQueue

            queue = intake.queue
            assert isinstance(queue, RabbitQueue)
            channel = queue._channel()
            for name in queue.queues:
                channel.queue_delete(name)
        intake.queue.close()
        services.db.close()
