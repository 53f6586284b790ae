"""Fixtures of the intake tests: the real app and agent with intake options chosen per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import Api
from fastapi.testclient import TestClient
from intake_support import BROKER_URL, QUEUE_TAG, SECRET, IntakeFactory

from agent.policy import Policy
from agent.settings import Settings
from agent.triager import Triager, memory_checkpointer
from api.auth import create_key
from api.engine import TriageEngine
from api.intake.options import IntakeOptions
from api.intake.rabbit import RabbitQueue
from api.main import create_app
from api.options import ServiceOptions
from knowledge.embeddings import Embedder
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter

ROLES = ("helpdesk", "specialist", "reviewer", "admin")


@pytest.fixture
def make_intake_api(
    tmp_path: Path, embedder: Embedder, example_policy: Policy
) -> Iterator[IntakeFactory]:
    """Build apps with the given IntakeOptions fields (and optionally another engine)."""
    opened: list[TestClient] = []

    def build(engine: TriageEngine | None = None, start: bool = True, **fields: object) -> Api:
        settings = Settings(data_dir=tmp_path / uuid.uuid4().hex[:8])
        settings.ensure_dirs()
        kb = KnowledgeBase(
            InMemoryCaseStore(), embedder, LearnedRouter(model_dir=settings.model_dir)
        )
        triager = Triager(
            settings=settings, policy=example_policy, kb=kb, checkpointer=memory_checkpointer()
        )
        values = {"intake_backoff_base_s": 0.05, "webhook_secret": SECRET, **fields}
        options = IntakeOptions.model_validate(values)
        app = create_app(
            settings,
            engine or triager,
            ServiceOptions(start_background=start),
            intake_options=options,
        )
        db = app.state.services.db
        keys = {role: create_key(db, role, f"test-{role}")[1] for role in ROLES}
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return Api(app=app, client=client, keys=keys, triager=triager)

    yield build
    for client in opened:
        client.__exit__(None, None, None)
        client.app.state.services.db.close()  # type: ignore[attr-defined]


@pytest.fixture
def queue_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh RabbitMQ queue name per test, deleted afterwards with the queues beside it."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"test.{module}.{QUEUE_TAG}{uuid.uuid4().hex[:8]}"
    yield name
    cleanup = RabbitQueue(BROKER_URL, name, 10, 10)
    channel = cleanup._channel()
    for queue in cleanup.queues:
        channel.queue_delete(queue)
    cleanup.close()
