"""The ticket store on both databases: writes that read the row first, under concurrent writers;
values longer than their columns refused alike."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from api_support import TICKET_DB, AppFactory, wait_for
from sqlalchemy import event

from api.intake.signature import signed_headers

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _api_on(backend: str, make_api: AppFactory, request: pytest.FixtureRequest) -> Any:
    return make_api(request.getfixturevalue("pg_url") if backend == "postgres" else None)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str | None:
    """SQLite (None), or a fresh PostgreSQL schema set up before the app and dropped after it."""
    return request.getfixturevalue("pg_url") if request.param == "postgres" else None


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_replies_threaded_at_once_both_join_the_ticket(
    backend: str, make_api: AppFactory, request: pytest.FixtureRequest
) -> None:
    api = _api_on(backend, make_api, request)
    made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
    ticket_id, store = made["ticket_id"], api.services.store
    first_read, second_done = threading.Event(), threading.Event()

    def second_reply_lands_meanwhile(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        # The first reply has read the ticket; the second one is stored before it writes
        # (or, while the first holds the row, waits for it: the gate gives up after a while).
        if threading.current_thread().name != "first reply" or first_read.is_set():
            return
        if statement.lstrip().upper().startswith("SELECT") and "FROM tickets" in statement:
            first_read.set()
            second_done.wait(2)

    def reply(body: str) -> dict[str, Any]:
        return {"role": "customer", "author": "a@example.com", "body": body}

    def second() -> None:
        store.append_message(ticket_id, reply("second reply"))
        second_done.set()

    engine = api.services.db.engine
    event.listen(engine, "after_cursor_execute", second_reply_lands_meanwhile)
    try:
        one = threading.Thread(
            target=store.append_message, args=(ticket_id, reply("first reply")), name="first reply"
        )
        one.start()
        assert first_read.wait(10)
        two = threading.Thread(target=second)
        two.start()
        one.join(30)
        two.join(30)
    finally:
        event.remove(engine, "after_cursor_execute", second_reply_lands_meanwhile)
    bodies = [m.body for m in store.ticket(ticket_id).messages]
    assert sorted(bodies) == ["first reply", "second reply"]


def test_an_external_id_longer_than_its_column_is_refused_alike_on_both_databases(
    db_url: str | None, make_api: AppFactory
) -> None:
    api = make_api(db_url)
    helpdesk = api.auth("helpdesk")
    longest = api.client.post(
        "/v1/triage", json={**TICKET_DB, "external_id": "E" * 200}, headers=helpdesk
    )
    assert longest.status_code == 200
    assert api.services.store.view(longest.json()["ticket_id"]).external_id == "E" * 200
    too_long = {**TICKET_DB, "external_id": "E" * 201}
    for path in ("/v1/triage", "/v1/tickets"):
        refused = api.client.post(path, json=too_long, headers=helpdesk)
        assert refused.status_code == 422, refused.text
        assert "external_id" in refused.text


def test_a_nul_in_an_id_is_refused_alike_on_both_databases(
    db_url: str | None, make_api: AppFactory
) -> None:
    """PostgreSQL cannot store a NUL in a text column; SQLite can: both refuse it up front."""
    api = make_api(db_url)
    helpdesk = api.auth("helpdesk")
    for field, value in (("id", "T\x00-1"), ("external_id", "E\x00-1"), ("id", "T\x1b-1")):
        refused = api.client.post("/v1/triage", json={**TICKET_DB, field: value}, headers=helpdesk)
        assert refused.status_code == 422, refused.text
        assert field in refused.text
    kept = api.client.post("/v1/triage", json={**TICKET_DB, "body": "a\x00b"}, headers=helpdesk)
    assert kept.status_code == 200  # in the ticket's JSON a NUL is an escape, stored alike
    assert api.services.store.ticket(kept.json()["ticket_id"]).body == "a\x00b"


def test_an_account_tier_longer_than_its_column_is_kept_cut_alike_on_both_databases(
    db_url: str | None, make_api: AppFactory
) -> None:
    """The intake keeps a ticket's tier beside it in 40 characters: PostgreSQL refuses more,
    SQLite would keep them; both keep a longer tier cut, and the ticket keeps it whole."""
    api = make_api(db_url)
    helpdesk, tier = api.auth("helpdesk"), "t" * 39 + "-and-more"
    accepted = api.client.post(
        "/v1/tickets", json={**TICKET_DB, "account": {"tier": tier}}, headers=helpdesk
    )
    assert accepted.status_code == 202, accepted.text
    ticket_id = accepted.json()["id"]
    assert api.services.store.ticket(ticket_id).account.tier == tier
    record = api.app.state.intake.records.get(ticket_id)
    assert record is not None and record.tier == tier[:40]
    unadaptable = {"description": "VPN is down", "account": {"tier": tier}}  # no submission_id
    kept = api.client.post("/v1/intake/web", json=unadaptable, headers=helpdesk)
    assert kept.status_code == 422, kept.text  # rejected, and the payload kept with the reason
    [reject] = api.app.state.intake.rejects.list(None, 10, None)
    assert reject.tier == tier[:40]
    assert wait_for(lambda: api.services.store.status(ticket_id) == "decided", 30)


def test_helpdesk_names_and_ids_longer_than_their_columns_are_refused_alike_on_both_databases(
    db_url: str | None, make_api: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "webhook-secret-of-the-column-test"
    monkeypatch.setenv("TRIAGE_WEBHOOK_SECRET", secret)
    api = make_api(db_url)

    def post(event: dict[str, Any]) -> Any:
        body = json.dumps(event).encode()
        headers = {**signed_headers(secret, body), "Content-Type": "application/json"}
        return api.client.post("/v1/intake/helpdesk", content=body, headers=headers)

    new = {"type": "created", "ticket": {"subject": "Mail server down", "body": "since 9:00"}}
    fits = post({**new, "source": "s" * 40, "event_id": "e-1", "external_id": "E" * 200})
    assert fits.json()["outcome"] == "queued", fits.text
    for field, value in (("source", "s" * 41), ("external_id", "E" * 201)):
        event = {**new, "source": "zammad", "event_id": f"e-{field}", "external_id": "Z-1"}
        refused = post({**event, field: value})
        assert refused.status_code == 422, refused.text
        assert field in refused.text
    ticket_id = fits.json()["ticket"]["ticket_id"]
    done = ("decided", "review")  # its run over before the schema goes
    assert wait_for(lambda: api.services.store.status(ticket_id) in done, 30)
