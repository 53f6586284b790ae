"""POST /v1/triage: the decision JSON, idempotent replays, strict payloads (422) and size (413)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import TICKET_DB, Api, AppFactory, TriagerEngine
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from agent.errors import UpstreamError
from agent.models import Ticket
from agent.triager import Triager, TriageResult
from api.main import create_app
from api.options import ServiceOptions
from api.tables import DecisionRow


def _decisions(api: Api) -> int:
    with api.services.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(DecisionRow)) or 0)


def test_triage_returns_the_decision_with_evidence_and_brief(api: Api) -> None:
    response = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk"))
    assert response.status_code == 200
    body = response.json()
    assert body["team"] == "database"
    assert body["escalate"] is True
    assert body["evidence"], "every decision carries its evidence"
    assert body["brief"]["ticket_id"] == body["ticket_id"]
    assert body["policy_version"] == api.triager.policy.fingerprint
    stored = api.client.get(
        f"/v1/tickets/{body['ticket_id']}", headers=api.auth("specialist")
    ).json()
    assert stored["status"] == "decided"
    assert stored["decision"]["team"] == "database"


def test_same_external_id_twice_is_triaged_once_with_the_same_answer(api: Api) -> None:
    ticket = {**TICKET_DB, "external_id": "RT-1001"}
    first = api.client.post("/v1/triage", json=ticket, headers=api.auth("helpdesk"))
    again = api.client.post("/v1/triage", json=ticket, headers=api.auth("helpdesk"))
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    assert _decisions(api) == 1


def test_idempotency_key_header_replays_and_rejects_different_content(api: Api) -> None:
    headers = {**api.auth("helpdesk"), "Idempotency-Key": "abc-123"}
    first = api.client.post("/v1/triage", json=TICKET_DB, headers=headers)
    again = api.client.post("/v1/triage", json=TICKET_DB, headers=headers)
    assert again.json() == first.json()
    changed = api.client.post("/v1/triage", json={**TICKET_DB, "body": "other"}, headers=headers)
    assert changed.status_code == 409
    assert changed.json()["error"] == "conflict"
    assert _decisions(api) == 1


def test_async_submission_and_sync_replay_share_one_decision(api: Api) -> None:
    ticket = {**TICKET_DB, "external_id": "RT-2002"}
    accepted = api.client.post("/v1/tickets", json=ticket, headers=api.auth("helpdesk"))
    assert accepted.status_code == 202
    now = api.client.post("/v1/triage", json=ticket, headers=api.auth("helpdesk"))
    assert now.status_code == 200
    assert now.json()["ticket_id"] == accepted.json()["id"]
    assert _decisions(api) == 1


def test_bad_payloads_get_422_with_the_field_named(api: Api) -> None:
    c, headers = api.client, api.auth("helpdesk")
    extra = c.post("/v1/triage", json={**TICKET_DB, "colour": "red"}, headers=headers)
    assert extra.status_code == 422
    assert "body.colour" in extra.json()["detail"]
    empty = c.post("/v1/triage", json={"subject": " ", "body": ""}, headers=headers)
    assert empty.status_code == 422
    assert "subject or a body" in empty.json()["detail"]
    wrong_type = c.post("/v1/triage", json={"subject": "x", "reopen_count": -1}, headers=headers)
    assert wrong_type.status_code == 422
    assert "reopen_count" in wrong_type.json()["detail"]
    not_json = c.post(
        "/v1/triage", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    not_object = c.post("/v1/triage", json=["a"], headers=headers)
    assert not_object.status_code == 422
    too_long_key = c.post(
        "/v1/triage", json=TICKET_DB, headers={**headers, "Idempotency-Key": "k" * 300}
    )
    assert too_long_key.status_code == 422
    assert _decisions(api) == 0


def test_an_arrival_time_in_the_future_gets_422_and_one_in_the_past_starts_the_clock(
    api: Api,
) -> None:
    c, headers = api.client, api.auth("helpdesk")
    future = c.post(
        "/v1/triage", json={**TICKET_DB, "received_at": "2099-01-01T00:00:00Z"}, headers=headers
    )
    assert future.status_code == 422
    assert "received_at" in future.json()["detail"]
    assert "ahead of this service's clock" in future.json()["detail"]
    assert _decisions(api) == 0
    skewed = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    assert c.post(
        "/v1/triage", json={**TICKET_DB, "received_at": skewed}, headers=headers
    ).is_success
    late = c.post(
        "/v1/triage",
        json={**TICKET_DB, "external_id": "late-1", "received_at": "2026-01-05T09:00:00Z"},
        headers=headers,
    ).json()
    assert datetime.fromisoformat(late["sla"]["resolution_due"]) < datetime.now(UTC)


def _nested(levels: int) -> dict[str, Any]:
    """A ticket whose custom field ``a`` is a list nested ``levels`` deep."""
    return {"subject": "x", "custom_fields": {"a": json.loads("[" * levels + "]" * levels)}}


def _nested_body(levels: int) -> bytes:
    # Built as text: deep enough JSON is more than the client's own encoder can nest.
    return b'{"subject": "x", "custom_fields": {"a": ' + b"[" * levels + b"]" * levels + b"}}"


@pytest.mark.parametrize("levels", [300, 3_000])
@pytest.mark.parametrize("path", ["/v1/triage", "/v1/tickets"])
def test_deeply_nested_custom_fields_get_422_naming_the_field_and_limit(
    api: Api, path: str, levels: int
) -> None:
    headers = {**api.auth("helpdesk"), "Content-Type": "application/json"}
    answer = api.client.post(path, content=_nested_body(levels), headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_input"
    detail = answer.json()["detail"]
    # Past ~1,000 levels FastAPI's own JSON reader gives up before the ticket is validated.
    field = "body.custom_fields: " if levels < 1_000 else "body: custom_fields.a: "
    assert detail.startswith(field) and "nested more than 16 levels deep" in detail
    assert _decisions(api) == 0 and api.services.store.unfinished() == []


def test_custom_fields_as_deep_and_as_many_as_allowed_pass_and_one_more_is_422(api: Api) -> None:
    c, headers = api.client, api.auth("helpdesk")
    # The field's own object is the first of its 16 levels.
    assert c.post("/v1/tickets", json=_nested(15), headers=headers).status_code == 202
    deeper = c.post("/v1/tickets", json=_nested(16), headers=headers)
    assert deeper.status_code == 422 and "under 'a'" in deeper.json()["detail"]
    many = {"subject": "y", "custom_fields": {f"f{i}": [i] for i in range(2_500)}}
    assert c.post("/v1/tickets", json=many, headers=headers).status_code == 202
    too_many = {"subject": "z", "custom_fields": {f"f{i}": [i] for i in range(2_501)}}
    answer = c.post("/v1/tickets", json=too_many, headers=headers)
    assert answer.status_code == 422
    assert "body.custom_fields" in answer.json()["detail"]
    assert "5,000 keys and items" in answer.json()["detail"]


def test_body_that_is_not_utf8_gets_422_saying_so(api: Api) -> None:
    headers = {**api.auth("helpdesk"), "Content-Type": "application/json"}
    latin1 = '{"subject": "Café printer jammed"}'.encode("latin-1")
    answer = api.client.post("/v1/triage", content=latin1, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_input"
    assert answer.json()["detail"].startswith("body: not valid UTF-8 JSON")
    assert _decisions(api) == 0


def test_body_over_the_limit_gets_413(make_api: AppFactory) -> None:
    api = make_api()
    limit = api.services.settings.max_body_bytes
    big = {"subject": "x", "body": "y" * (limit + 10)}
    response = api.client.post("/v1/triage", json=big, headers=api.auth("helpdesk"))
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the limit must hold on the streamed body too.
        for _ in range(limit // 50_000 + 2):
            yield b" " * 50_000

    streamed = api.client.post(
        "/v1/triage",
        content=chunks(),
        headers={**api.auth("helpdesk"), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413


def test_unknown_ticket_is_404_and_unknown_route_is_json(api: Api) -> None:
    missing = api.client.get("/v1/tickets/nope", headers=api.auth("specialist"))
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert api.client.get("/v1/nothing-here").json()["error"] == "not_found"


def test_a_ticket_id_another_key_used_is_taken_not_replayed(api: Api) -> None:
    ticket = {**TICKET_DB, "id": "ACME-42", "body": "BSOD 0x7B, jane@acme.com"}
    first = api.client.post("/v1/triage", json=ticket, headers=api.auth("helpdesk"))
    assert first.status_code == 200
    again = api.client.post("/v1/triage", json=ticket, headers=api.auth("helpdesk"))
    assert again.json() == first.json()  # the same key's resend is a replay
    for path in ("/v1/triage", "/v1/tickets"):
        other = api.client.post(path, json=ticket, headers=api.auth("helpdesk2"))
        assert other.status_code == 409, other.text
        assert "jane" not in other.text and "is taken" in other.json()["detail"]


def test_a_ticket_id_that_cannot_name_a_url_is_422(api: Api) -> None:
    for bad in ("a/b", "x?y=1", " ", "a b", "50%"):
        answer = api.client.post(
            "/v1/triage", json={**TICKET_DB, "id": bad}, headers=api.auth("helpdesk")
        )
        assert answer.status_code == 422, bad
        assert "body.id" in answer.json()["detail"]
    ok = api.client.post(
        "/v1/triage", json={**TICKET_DB, "id": "rt:7-a.b_c"}, headers=api.auth("helpdesk")
    )
    assert ok.status_code == 200
    assert api.client.get("/v1/tickets/rt:7-a.b_c", headers=api.auth("helpdesk")).status_code == 200
    assert _decisions(api) == 1


class _FailsFirst(TriagerEngine):
    """The real triager, whose first run fails as an unreachable LLM would."""

    def __init__(self, triager: Triager) -> None:
        super().__init__(triager)
        self.failed = False

    def triage(self, ticket: Ticket, thread_id: str | None = None) -> TriageResult:
        if not self.failed:
            self.failed = True
            raise UpstreamError("the LLM endpoint timed out")
        return self.triager.triage(ticket, thread_id=thread_id)


def test_a_failed_ticket_sent_again_by_two_processes_at_once_is_triaged_once(api: Api) -> None:
    headers = {**api.auth("helpdesk"), "Idempotency-Key": "retry-1"}
    # a second API process on the same database, whose first run fails
    other = create_app(  # type: ignore[arg-type]
        api.services.settings, _FailsFirst(api.triager), ServiceOptions()
    )
    with TestClient(other) as second:
        failed = second.post("/v1/triage", json=TICKET_DB, headers=headers)
        assert failed.status_code == 502
        decided_before = _decisions(api)
        looked_up = threading.Event()

        def found_here(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            if "tickets.idempotency_key =" in statement:
                looked_up.wait(2)  # until the other process has read it too

        def found_there(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            if "tickets.idempotency_key =" in statement:
                looked_up.set()

        answers: dict[str, Any] = {}

        def retry(name: str, client: TestClient) -> None:
            answers[name] = client.post("/v1/triage", json=TICKET_DB, headers=headers)

        # each retry reads the failed ticket before either runs it again
        hooks = [
            (api.services.db.engine, found_here),
            (other.state.services.db.engine, found_there),
        ]
        for engine, hook in hooks:
            event.listen(engine, "after_cursor_execute", hook)
        try:
            retries = [
                threading.Thread(target=retry, args=("first", api.client)),
                threading.Thread(target=retry, args=("second", second)),
            ]
            for thread in retries:
                thread.start()
            for thread in retries:
                thread.join(60)
        finally:
            for engine, hook in hooks:
                event.remove(engine, "after_cursor_execute", hook)
        other.state.services.db.close()
    first, again = answers["first"], answers["second"]
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    assert first.json() == again.json()
    replayed = sorted(r.headers.get("idempotent-replayed", "false") for r in (first, again))
    assert replayed == ["false", "true"]
    assert _decisions(api) == decided_before + 1
