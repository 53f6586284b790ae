"""Two API processes on one database and one knowledge base (a Chroma server in production)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import Api
from fastapi.testclient import TestClient

from agent.policy import Policy
from agent.settings import Settings
from agent.triager import Triager, memory_checkpointer
from api.auth import create_key
from api.main import create_app
from api.options import ServiceOptions
from api.serve import DEMO_LABEL, DEMO_TICKETS
from knowledge.embeddings import Embedder
from knowledge.ingest import read_cases
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter

pytestmark = pytest.mark.postgres

VAT = {
    "subject": "Change the VAT ID on invoices",
    "body": "Hello, please put our new VAT ID on all future invoices from next month. Thanks, Kim",
}


@pytest.fixture
def two_processes(
    pg_url: str, tmp_path: Path, embedder: Embedder, example_policy: Policy
) -> Iterator[tuple[Api, Api]]:
    """Two apps with their own data directories and routers, sharing the database and store."""
    store = InMemoryCaseStore()
    KnowledgeBase(store, embedder).ingest(read_cases(DEMO_TICKETS, label=DEMO_LABEL))
    apis: list[Api] = []
    for name in ("a", "b"):
        settings = Settings(data_dir=tmp_path / name, database_url=pg_url)
        settings.ensure_dirs()
        kb = KnowledgeBase(store, embedder, LearnedRouter(model_dir=settings.model_dir))
        triager = Triager(
            settings=settings,
            policy=example_policy,
            kb=kb,
            checkpointer=memory_checkpointer(),
        )
        kb.refit()
        app = create_app(settings, triager, ServiceOptions(policy_check_s=0))
        keys = {
            r: create_key(app.state.services.db, r, f"{name}-{r}")[1]
            for r in ("helpdesk", "specialist")
        }
        client = TestClient(app)
        client.__enter__()
        apis.append(Api(app=app, client=client, keys=keys, triager=triager))
    yield apis[0], apis[1]
    for api in apis:
        api.client.__exit__(None, None, None)
        api.services.db.close()


def test_a_correction_given_to_one_process_routes_the_next_near_duplicate_in_the_other(
    two_processes: tuple[Api, Api],
) -> None:
    first, second = two_processes
    routed = first.client.post("/v1/triage", json=VAT, headers=first.auth("helpdesk")).json()
    assert (routed["team"], routed["decided_by"], routed["needs_review"]) == (
        "billing",
        "learned",
        False,
    )
    corrected = first.client.post(
        f"/v1/tickets/{routed['ticket_id']}/feedback",
        json={"correct_team": "erp_applications", "resolution": "VAT IDs are SAP master data"},
        headers=first.auth("specialist"),
    )
    assert corrected.status_code == 200
    again = {**VAT, "body": VAT["body"] + "!"}
    for api in (first, second):
        decision = api.client.post("/v1/triage", json=again, headers=api.auth("helpdesk")).json()
        assert decision["team"] == "erp_applications", decision["evidence"][:3]
