"""Run intake workers in their own process (scale-out, crash tests), optionally with the API.

    python -m api.intake.worker_main [--data-dir DIR] [--queue rabbitmq] [--threads 2]
        [--stand-in-delay-ms 5] [--listener-log FILE] [--serve PORT]

Settings and intake options come from the environment and ``.env`` (TRIAGE_*) as in the API, so
both processes share the database, queue, retries and leases; an option given on the command
line overrides its setting. ``--threads`` defaults to TRIAGE_INTAKE_WORKERS, or 1 where that is
0 (an API process that leaves its workers to this one).

Without ``--stand-in-delay-ms`` the real agent triages; with it the CheapStandInEngine does
(load tests only). ``--listener-log`` adds a DecisionListener that appends one line per call,
so a test can count effects. With a helpdesk configured (TRIAGE_HELPDESK_URL/TOKEN) decisions
get outbox rows and tickets are enriched as in the API, whose delivery loop applies the rows.
SIGTERM stops cleanly; SIGKILL is what the crash test sends.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import TriageError
from agent.models import Ticket
from agent.policy import load_policy
from agent.settings import Settings, read_settings
from agent.triager import TriageResult
from api.deps import Services
from api.engine import TriageEngine
from api.intake.options import IntakeOptions
from api.intake.setup import Intake, build_intake
from api.intake.standin import CheapStandInEngine
from api.main import build_services, create_app, settle_heap
from api.options import ServiceOptions
from api.serve import quiet_client_logs

if TYPE_CHECKING:
    from api.helpdesk.base import Helpdesk


class FileListener:
    """A DecisionListener appending ``ticket_id decided_at`` lines (one write, O_APPEND).

    Idempotent like any real listener must be (the service tells listeners at least once: a
    worker killed between telling and marking tells again): the pair (ticket id, decided_at)
    identifies a decision, and one already in the file is not written twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[str] = set()
        self.skipped = 0
        if path.exists():
            self.seen = set(path.read_text(encoding="utf-8").splitlines())

    def on_decision(self, ticket_id: str, ticket: Ticket, result: TriageResult) -> None:
        key = f"{ticket_id} {result.decision.decided_at.isoformat()}"
        if key in self.seen:
            self.skipped += 1
            return
        self.seen.add(key)
        line = f"{key}\n".encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; those left out (None) come from the settings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="TRIAGE_DATA_DIR")
    parser.add_argument("--database-url", default=None, help="TRIAGE_DATABASE_URL")
    parser.add_argument("--queue", choices=["embedded", "rabbitmq"], default=None)
    parser.add_argument("--broker-queue", default=None, help="TRIAGE_BROKER_QUEUE")
    parser.add_argument("--threads", type=int, default=None, help="TRIAGE_INTAKE_WORKERS")
    parser.add_argument("--lease-s", type=float, default=None, help="TRIAGE_INTAKE_LEASE_S")
    parser.add_argument("--queue-size", type=int, default=None, help="TRIAGE_INTAKE_QUEUE_SIZE")
    parser.add_argument("--stand-in-delay-ms", type=float, default=None)
    parser.add_argument("--listener-log", type=Path, default=None)
    parser.add_argument("--serve", type=int, default=None, help="also serve the API on this port")
    return parser.parse_args(argv)


def _given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def worker_settings(args: argparse.Namespace) -> Settings:
    """The API's settings (environment, .env), with the data dir and database URL if given."""
    return read_settings(**_given(data_dir=args.data_dir, database_url=args.database_url))


def worker_options(args: argparse.Namespace, settings: Settings) -> IntakeOptions:
    """The API's intake options, overridden by the command-line options given."""
    values = IntakeOptions.from_settings(settings).model_dump()
    values["intake_workers"] = values["intake_workers"] or 1  # this process exists to run them
    values.update(
        _given(
            intake_queue=args.queue,
            broker_queue=args.broker_queue,
            intake_workers=args.threads,
            intake_lease_s=args.lease_s,
            intake_queue_size=args.queue_size,
        )
    )
    return IntakeOptions.model_validate(values)


def service_options(settings: Settings, serving: bool) -> ServiceOptions:
    """The API's service options (adoption bound, replay wait, ...); its background jobs (SLA
    watch, refit, adoption) run only in a process that also serves the API."""
    options = ServiceOptions.from_settings(settings)
    return options if serving else options.model_copy(update={"start_background": False})


def build_worker(
    settings: Settings,
    engine: TriageEngine | None,
    options: IntakeOptions,
    helpdesk: Helpdesk | None = None,
) -> tuple[Services, Intake]:
    """The service and intake of a worker process, connected to the helpdesk when there is one."""
    services = build_services(settings, engine, service_options(settings, serving=False))
    intake = build_intake(services, options)
    if helpdesk is not None or settings.helpdesk_url:
        from api.helpdesk.plugin import install_worker

        install_worker(services, helpdesk=helpdesk)
    return services, intake


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM or SIGINT; a setting that cannot be used is one line on stderr, exit 1."""
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    quiet_client_logs()
    try:
        return run(args)
    except TriageError as exc:
        print(f"worker: error: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    """The worker process (or, with ``--serve``, the API with workers) until stopped."""
    settings = worker_settings(args)
    settings.ensure_dirs()
    engine: TriageEngine | None = None
    if args.stand_in_delay_ms is not None:
        engine = CheapStandInEngine(
            load_policy(settings.policy_path), args.stand_in_delay_ms / 1000
        )
    options = worker_options(args, settings)
    listener = FileListener(args.listener_log) if args.listener_log else None
    if args.serve is not None:
        import uvicorn

        app = create_app(
            settings, engine, service_options(settings, serving=True), intake_options=options
        )
        if listener is not None:
            app.state.decision_listeners.append(listener)
        uvicorn.run(app, host="127.0.0.1", port=args.serve, log_level="warning", access_log=False)
        return 0
    services, intake = build_worker(settings, engine, options)
    if listener is not None:
        services.service.listeners.append(listener)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    intake.start()
    services.db.start_checkpoints()
    settle_heap()
    stop.wait()
    intake.stop()
    services.db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
