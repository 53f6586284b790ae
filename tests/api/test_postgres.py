"""The same flows on PostgreSQL (a fresh schema per test): migrations, replays, review, KPIs."""

from __future__ import annotations

import threading

import pytest
from api_support import TICKET_DB, TICKET_REVIEW, AppFactory, wait_for
from sqlalchemy import func, select

from api.tables import DecisionRow, TicketRow

pytestmark = pytest.mark.postgres


def test_full_flow_on_postgres(pg_url: str, make_api: AppFactory) -> None:
    api = make_api(pg_url)
    helpdesk = api.auth("helpdesk")
    ticket = {**TICKET_DB, "external_id": "PG-1"}
    first = api.client.post("/v1/triage", json=ticket, headers=helpdesk)
    again = api.client.post("/v1/triage", json=ticket, headers=helpdesk)
    assert first.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"

    waiting = api.client.post("/v1/triage", json=TICKET_REVIEW, headers=helpdesk).json()
    reviewed = api.client.post(
        f"/v1/review/{waiting['ticket_id']}",
        json={"team": "hardware"},
        headers=api.auth("reviewer"),
    )
    assert reviewed.status_code == 200
    assert reviewed.json()["decision"]["decided_by"] == "human"

    feedback = api.client.post(
        f"/v1/tickets/{first.json()['ticket_id']}/feedback",
        json={"team_correct": True, "first_contact_resolved": True, "handling_hours": 4},
        headers=api.auth("specialist"),
    )
    assert feedback.status_code == 200
    kpis = api.client.get("/v1/kpis", headers=api.auth("specialist")).json()
    assert kpis["n"] == 2
    assert kpis["escalation_accuracy_rate"] == 1.0
    assert kpis["review_rate"] == 0.5

    accepted = api.client.post("/v1/tickets", json={**TICKET_DB, "body": "async"}, headers=helpdesk)
    ticket_id = accepted.json()["id"]
    assert wait_for(lambda: api.services.store.status(ticket_id) == "decided", 30)
    view = api.client.get(f"/v1/tickets/{accepted.json()['id']}", headers=helpdesk).json()
    assert view["status"] == "decided"
    assert api.client.get("/readyz").json()["checks"]["store"]["detail"].startswith("postgresql")


def test_concurrent_replays_triage_once_on_postgres(pg_url: str, make_api: AppFactory) -> None:
    api = make_api(pg_url)
    headers = {**api.auth("helpdesk"), "Idempotency-Key": "race-1"}
    answers: list[dict[str, object]] = []

    def call() -> None:
        answers.append(api.client.post("/v1/triage", json=TICKET_DB, headers=headers).json())

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 6
    assert all(a == answers[0] for a in answers)
    with api.services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(DecisionRow)) == 1


def test_concurrent_resends_of_a_quarantined_ticket_keep_it_once_on_postgres(
    pg_url: str, make_api: AppFactory
) -> None:
    api = make_api(pg_url)
    headers = {**api.auth("helpdesk"), "Idempotency-Key": "held-1"}
    held = {"subject": "\x01\x02\x03\x04\x05\x06 x", "account": {"tier": "vip"}}
    urls: list[str] = []

    def call() -> None:
        urls.append(api.client.post("/v1/tickets", json=held, headers=headers).json()["url"])

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(urls) == 6 and len(set(urls)) == 1
    assert len(api.app.state.intake.rejects.list(None, 100, None)) == 1


def test_migrations_are_idempotent_on_postgres(pg_url: str, make_api: AppFactory) -> None:
    make_api(pg_url)
    again = make_api(pg_url)  # a restart runs `alembic upgrade head` again on the same schema
    assert again.client.get("/v1/policy", headers=again.auth("admin")).json()["version"] == 1


def test_a_failed_page_is_found_again_on_postgres(pg_url: str, make_api: AppFactory) -> None:
    """The watch finds pages to retry by the bookkeeping key in the events' JSON text."""
    api = make_api(pg_url)
    made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
    with api.services.db.session() as session:
        row = session.get(TicketRow, made["ticket_id"])
        failed = {"state": "breached", "actions": [], "oncall": "failed", "oncall_attempts": 1}
        row.sla_events = [failed]
    with api.services.db.session() as session:
        [page] = api.services.sla.pages.claim_retries(session)
    assert (page.ticket_id, page.index, page.attempt) == (made["ticket_id"], 0, 2)


def test_a_channel_name_longer_than_any_source_is_422_on_postgres(
    pg_url: str, make_api: AppFactory
) -> None:
    """An unknown channel is kept as a reject under its name, which must fit the source column."""
    api = make_api(pg_url)
    headers = {**api.auth("helpdesk"), "Content-Type": "application/json"}
    kept = api.client.post("/v1/intake/fax", content=b"{}", headers=headers)
    assert kept.status_code == 422 and kept.json()["status"] == "rejected"
    answer = api.client.post("/v1/intake/" + "f" * 41, content=b"{}", headers=headers)
    assert answer.status_code == 422, answer.text
    assert "channel" in answer.json()["detail"]
    assert len(api.app.state.intake.rejects.list(None, 100, None)) == 1
