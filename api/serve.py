"""`triage serve`: the app on uvicorn, optionally seeding an empty knowledge base with demo data."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import uvicorn

from agent.settings import EXAMPLES_DIR, Settings
from api.auth import create_key, list_keys
from api.db import Database
from api.main import create_app

log = logging.getLogger(__name__)

DEMO_TICKETS = EXAMPLES_DIR / "demo_tickets.jsonl"
DEMO_LABEL = "team"


def seed_demo(kb_object: object, path: Path = DEMO_TICKETS) -> int:
    """Ingest the demo tickets into an empty knowledge base; returns the number added."""
    from knowledge.ingest import read_cases
    from knowledge.kb import KnowledgeBase

    if not isinstance(kb_object, KnowledgeBase):
        raise TypeError("demo seeding needs the agent's KnowledgeBase")
    kb = kb_object
    if kb.store.count():
        log.info("knowledge base already has %d cases: demo data not loaded", kb.store.count())
        return 0
    report = kb.ingest(read_cases(path, label=DEMO_LABEL), progress=False)
    if kb.router is not None:
        kb.refit()
    log.info("demo: %d cases ingested from %s", report.added, path.name)
    return report.added


def _first_key(db: Database) -> None:
    """With no key at all, make one admin key so a demo can be tried; shown this once."""
    if list_keys(db):
        return
    info, secret = create_key(db, "admin", "demo")
    print(
        f"triage serve: no API keys yet, created admin key {info.id} (shown once):\n  {secret}\n"
        "  use it as 'Authorization: Bearer <key>'; `triage keys create --role ROLE` makes more",
        file=sys.stderr,
        flush=True,
    )


URL_LOGGERS = ("httpx", "httpcore")
"""HTTP clients that log each request's URL at INFO or DEBUG: the on-call webhook's URL may carry
its token (a Slack or Teams hook is one), and the LLM's base URL its credentials."""


QUIET_LOGGERS = ("pika",)
"""Clients that log each failed connection step with a traceback; the service's own error
(a one-line UpstreamError naming the broker) says what went wrong instead."""


def quiet_client_logs() -> None:
    """Leave the connection-step tracebacks of the clients in QUIET_LOGGERS out of the logs."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def configure_logging(level: str) -> None:
    """The service's log level, with the HTTP clients' request lines left out at any level."""
    logging.getLogger().setLevel(level.upper())
    for name in URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet_client_logs()


def serve(
    settings: Settings, host: str | None = None, port: int | None = None, demo: bool = False
) -> int:
    """Run the service until interrupted; returns the exit status."""
    configure_logging(settings.log_level)
    app = create_app(settings)
    if demo:
        added = seed_demo(app.state.services.engine.triager.kb)
        if added:
            print(f"triage serve: demo knowledge base seeded with {added} cases")
        _first_key(app.state.services.db)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        # Access logs would repeat paths only; never headers, so keys stay out of the logs.
        access_log=False,
    )
    return 0
