"""Names the intake tests share with their conftest (imported by module name, never as `conftest`,
which another test folder's conftest may already hold)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx
from api_support import Api
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.engine import TriageEngine
from api.intake.options import IntakeOptions
from api.main import create_app
from api.options import ServiceOptions
from api.tables import DecisionRow

SECRET = "test-webhook-secret"
IntakeFactory = Callable[..., Api]
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"  # the RabbitMQ on loopback
# Put in the names of the broker queues tests make, to tell apart runs sharing one RabbitMQ.
QUEUE_TAG = os.environ.get("TRIAGE_TEST_QUEUE_TAG", "")


def broker_up() -> bool:
    """Whether RabbitMQ listens on its loopback port (its tests skip where it does not)."""
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


def another_app(
    before: Api, engine: TriageEngine, adopt_after_s: float = 120.0, **fields: Any
) -> Api:
    """Another app (a restart, a second process) on the same data directory.

    Not started until its client is entered."""
    options = IntakeOptions(intake_backoff_base_s=0.05, **fields)
    service = ServiceOptions(adopt_after_s=adopt_after_s)
    app = create_app(before.services.settings, engine, service, intake_options=options)
    return Api(app=app, client=TestClient(app), keys=before.keys, triager=before.triager)


def decisions(api: Api, ticket_id: str) -> int:
    """How many decisions the database holds for the ticket."""
    with api.services.db.session() as session:
        query = select(func.count()).where(DecisionRow.ticket_id == ticket_id)
        return int(session.scalar(query) or 0)


def triage_meanwhile(
    api: Api, body: dict[str, Any]
) -> tuple[threading.Thread, list[httpx.Response]]:
    """POST /v1/triage as the helpdesk, in a thread of its own (started): its answer lands in
    the list once the thread is joined."""
    answers: list[httpx.Response] = []

    def triage() -> None:
        answers.append(api.client.post("/v1/triage", json=body, headers=api.auth("helpdesk")))

    thread = threading.Thread(target=triage)
    thread.start()
    return thread, answers
