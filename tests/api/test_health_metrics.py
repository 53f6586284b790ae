"""Liveness, readiness with each dependency named, and Prometheus metrics."""

from __future__ import annotations

from api_support import TICKET_DB, Api


def test_readyz_names_each_dependency(api: Api) -> None:
    response = api.client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert set(body["checks"]) == {"store", "knowledge_base", "llm", "helpdesk", "intake"}
    assert body["checks"]["llm"]["detail"].startswith("not configured")
    assert body["checks"]["helpdesk"]["detail"] == "not configured"
    assert body["checks"]["intake"]["detail"].startswith("embedded queue 0/10000")


def test_readyz_is_503_when_the_workers_are_gone(api: Api) -> None:
    api.app.state.intake.workers.stop()
    response = api.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["intake"]["ok"] is False
    assert response.json()["checks"]["store"]["ok"] is True


def test_metrics_count_requests_decisions_and_errors(api: Api) -> None:
    api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk"))
    api.client.post("/v1/triage", json={"nope": 1}, headers=api.auth("helpdesk"))
    api.client.get("/v1/tickets/abc", headers=api.auth("specialist"))
    text = api.client.get("/metrics").text
    assert 'triage_http_requests_total{method="POST",route="/v1/triage",status="200"} 1.0' in text
    assert 'route="/v1/tickets/{ticket_id}",status="404"' in text
    assert 'triage_decisions_total{path="rule",review="false",team="database"} 1.0' in text
    assert 'triage_errors_total{kind="invalid_input"} 1.0' in text
    assert 'triage_intake_queue_depth{source="api"} 0.0' in text
    assert "triage_http_request_seconds_bucket" in text
    assert "triage_llm_calls_total 0.0" in text


def test_made_up_methods_share_one_label(api: Api) -> None:
    # Anyone may send any method token without a key; each one was a new series kept for the
    # life of the process, so a loop of them grew memory and /metrics without bound.
    for i in range(50):
        assert api.client.request(f"X{i}", "/v1/anything").status_code in (404, 405)
    api.client.get("/healthz")
    text = api.client.get("/metrics").text
    assert 'method="X1"' not in text
    assert 'triage_http_requests_total{method="other",route="unmatched",status="404"} 50.0' in text
    assert 'triage_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
