"""Source health in /readyz and /metrics; a source that keeps failing is reported."""

from __future__ import annotations

from api_support import wait_for
from intake_fakes import CuedEngine
from intake_samples import chat
from intake_support import IntakeFactory

from agent.policy import Policy


def test_sources_in_readyz_and_metrics(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy), intake_max_attempts=1, intake_failing_after=2
    )
    api.client.post("/v1/intake/chat", json=chat("ok-1"), headers=api.auth("helpdesk"))
    for n in range(2):
        body = {"subject": f"POISON {n}", "external_id": f"x{n}"}
        api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    health = api.app.state.intake.health
    assert wait_for(lambda: {s.source: s for s in health.snapshot()}["api"].failed == 2, 20)
    assert wait_for(lambda: {s.source: s for s in health.snapshot()}["chat"].succeeded == 1, 20)
    ready = api.client.get("/readyz").json()
    sources = {s["source"]: s for s in ready["sources"]}
    assert sources["chat"]["last_success_at"] is not None
    assert sources["chat"]["error_rate"] == 0.0
    assert sources["api"]["failing"] is True and sources["api"]["error_rate"] == 1.0
    assert sources["api"]["queue_depth"] == 0  # dead-lettered: no worker will take them
    assert "failing sources: api" in ready["checks"]["intake"]["detail"]
    assert "2 dead letters" in ready["checks"]["intake"]["detail"]
    metrics = api.client.get("/metrics").text
    assert 'triage_intake_failing{source="api"} 1.0' in metrics
    assert 'triage_intake_queue_depth{source="api"} 0.0' in metrics
    assert 'triage_intake_error_rate{source="chat"} 0.0' in metrics


def test_counts_reach_the_database_within_a_second_and_at_close(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.db import Database
    from api.intake.health import SourceHealth

    db = Database(f"sqlite:///{tmp_path / 'h.sqlite'}")
    db.migrate()
    here, elsewhere = SourceHealth(db), SourceHealth(db)  # e.g. a worker and the API process

    def seen(source: str) -> tuple[int, int]:
        state = {s.source: s for s in elsewhere.snapshot()}[source]
        return state.received, state.succeeded

    for _ in range(3):
        here.received("chat")
    here.success("chat")
    assert seen("chat") == (0, 0)  # counted in memory, not one write per ticket
    assert wait_for(lambda: seen("chat") == (3, 1), 5)
    here.received("email")
    here.close()
    assert seen("email") == (1, 0)
    here.failure("chat", "boom")
    assert {s.source: s for s in elsewhere.snapshot()}["chat"].consecutive_failures == 1
