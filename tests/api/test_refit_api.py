"""The service refits its router in the background: on demand (admin) and when cases pile up."""

from __future__ import annotations

import time
from typing import Any

from api_support import Api, AppFactory

from agent.settings import EXAMPLES_DIR
from knowledge.ingest import read_cases


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
