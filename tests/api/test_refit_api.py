"""The service refits its router in the background: on demand (admin) and when cases pile up."""

from __future__ import annotations

import time
from typing import Any

from api_support import Api, AppFactory, wait_for

from agent.policy import Policy
from agent.settings import EXAMPLES_DIR
from agent.triager import Triager, memory_checkpointer
from api.intake.options import IntakeOptions
from api.intake.worker_main import build_worker
from knowledge.embeddings import Embedder
from knowledge.ingest import read_cases
from knowledge.kb import KnowledgeBase
from knowledge.router import LearnedRouter


def _wait_for_refit(api: Api, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status: dict[str, Any] = api.client.get("/v1/kb/router", headers=api.auth("admin")).json()
        if status["last"] is not None and not status["running"]:
            return status
        time.sleep(0.2)
    raise AssertionError("no refit finished in time")


def test_refit_on_demand_is_admin_only_and_swaps_in_a_fitted_router(api: Api) -> None:
    for role in ("helpdesk", "specialist", "reviewer"):
        assert api.client.post("/v1/kb/refit", headers=api.auth(role)).status_code == 403
    assert api.client.post("/v1/kb/refit").status_code == 401
    before = api.client.get("/v1/kb/router", headers=api.auth("admin")).json()
    assert before["fitted"] is False and before["last"] is None
    api.triager.kb.ingest(read_cases(EXAMPLES_DIR / "demo_tickets.jsonl", label="team"))
    answer = api.client.post("/v1/kb/refit", headers=api.auth("admin"))
    assert answer.status_code == 202
    status = _wait_for_refit(api)
    assert status["fitted"] is True
    assert status["last"]["cases"] == 360 and "error" not in status["last"]
    assert status["version"] == status["last"]["version"] != before["version"]


def test_failed_refit_is_reported_not_hidden(api: Api) -> None:
    assert api.client.post("/v1/kb/refit", headers=api.auth("admin")).status_code == 202
    status = _wait_for_refit(api)
    assert "knowledge base is empty" in status["last"]["error"]
    assert status["fitted"] is False


def test_scheduled_check_refits_once_enough_cases_arrived(make_api: AppFactory) -> None:
    api = make_api(refit_check_s=0.2)
    assert api.client.get("/v1/kb/router", headers=api.auth("admin")).json()["check_every_s"] == 0.2
    api.triager.kb.ingest(read_cases(EXAMPLES_DIR / "demo_tickets.jsonl", label="team"))
    status = _wait_for_refit(api)
    assert status["fitted"] is True and status["needs_refit"] is False


def test_a_worker_process_routes_with_the_router_the_api_process_refitted(
    make_api: AppFactory, embedder: Embedder, example_policy: Policy
) -> None:
    api = make_api()
    settings = api.services.settings
    kb = api.triager.kb
    # An intake worker process on the same data directory and knowledge base (a Chroma server),
    # started before the refit: it runs no refits of its own.
    worker_kb = KnowledgeBase(kb.store, embedder, LearnedRouter(model_dir=settings.model_dir))
    worker = Triager(
        settings=settings, policy=example_policy, kb=worker_kb, checkpointer=memory_checkpointer()
    )
    services, _intake = build_worker(settings, worker, IntakeOptions.from_settings(settings))
    try:
        kb.ingest(read_cases(EXAMPLES_DIR / "demo_tickets.jsonl", label="team"))
        assert api.client.post("/v1/kb/refit", headers=api.auth("admin")).status_code == 202
        refitted = _wait_for_refit(api)["version"]
        assert worker_kb.router is not None and not worker_kb.router.is_fitted
        services.service.follow_policy()  # as before each of its tickets
        assert wait_for(lambda: worker_kb.router.version == refitted, timeout=30)
        assert worker_kb.router.is_fitted and worker_kb.router is not kb.router
        services.service.follow_policy()  # the same router: not loaded again
        assert worker_kb.router.version == refitted
    finally:
        services.db.close()
