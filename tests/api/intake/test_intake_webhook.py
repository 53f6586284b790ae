"""The signed helpdesk webhook: signatures (bad, missing, stale: 401), RT mapping, dedupe."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from api_support import Api
from intake_samples import rt_payload
from intake_support import SECRET, IntakeFactory

from api.hooks import HelpdeskEvent
from api.intake.signature import sign, signed_headers
from api.intake.webhooks import adapt_rt

URL = "/v1/intake/helpdesk"


class Handler:
    """A HelpdeskEventHandler that records the events it gets."""

    def __init__(self) -> None:
        self.events: list[HelpdeskEvent] = []

    def handle(self, event: HelpdeskEvent) -> None:
        self.events.append(event)


def _post(api: Api, payload: dict[str, Any], secret: str = SECRET, **headers: str) -> Any:
    body = json.dumps(payload).encode()
    signed = {**signed_headers(secret, body), "Content-Type": "application/json", **headers}
    return api.client.post(URL, content=body, headers=signed)


@pytest.mark.parametrize(
    ("kind", "txn", "expected"),
    [
        ("Create", {}, "created"),
        ("Status", {"field": "Status", "old_value": "open", "new_value": "resolved"}, "resolved"),
        ("Status", {"field": "Status", "old_value": "resolved", "new_value": "open"}, "reopened"),
        ("Status", {"field": "Status", "old_value": "new", "new_value": "open"}, "status"),
        ("Correspond", {}, "commented"),
        ("Comment", {}, "commented"),
        ("Set", {"field": "Queue", "old_value": "General", "new_value": "DBA"}, "updated"),
        ("AddWatcher", {}, "updated"),
    ],
)
def test_rt_transactions_map_to_event_types(kind: str, txn: dict, expected: str) -> None:
    event = adapt_rt(rt_payload(kind=kind, **txn))
    assert event.type == expected and event.external_id == "rt:123"
    if expected == "created":
        assert event.ticket is not None
        assert event.ticket.channel == "helpdesk" and event.ticket.external_id == "rt:123"
        assert event.ticket.requester == "alice@example.com"
        assert event.ticket.body.startswith("The VPN drops")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("open", "cancelled", "status"),
        ("cancelled", "open", "reopened"),
        ("rejected", "open", "status"),
    ],
)
def test_the_statuses_that_close_a_ticket_are_the_ones_given(
    old: str, new: str, expected: str
) -> None:
    """A custom lifecycle's closing status (cancelled): leaving it is a reopen; leaving one no
    longer given is not. By default RT's own: resolved, rejected, deleted."""
    payload = rt_payload(kind="Status", field="Status", old_value=old, new_value=new)
    assert adapt_rt(payload, closed=["resolved", "cancelled"]).type == expected
    default = "reopened" if old in ("resolved", "rejected", "deleted") else "status"
    assert adapt_rt(payload).type == default


def test_created_event_is_triaged_once(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    first = _post(api, rt_payload())
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "queued"
    again = _post(api, rt_payload())
    assert again.json()["outcome"] == "duplicate"
    assert api.app.state.intake.queue.depth() == 1


def test_other_events_go_to_the_source_handler_once(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    handler = Handler()
    api.app.state.helpdesk_handlers["rt"] = handler
    payload = rt_payload("rt-txn-900", "Correspond", content="Any news?")
    assert _post(api, payload).json()["outcome"] == "handled"
    assert _post(api, payload).json()["outcome"] == "duplicate"
    assert [e.type for e in handler.events] == ["commented"]
    assert handler.events[0].changes["comment"] == "Any news?"


def test_generic_shape_is_accepted(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    event = {
        "source": "zammad",
        "event_id": "z-1",
        "type": "created",
        "external_id": "Z-77",
        "ticket": {"subject": "Mail server down", "body": "No mail since 9:00"},
    }
    answer = _post(api, event)
    assert answer.json()["outcome"] == "queued"
    ticket_id = answer.json()["ticket"]["ticket_id"]
    assert api.services.store.ticket(ticket_id).external_id == "Z-77"
    unhandled = {**event, "event_id": "z-2", "type": "resolved", "ticket": None}
    assert _post(api, unhandled).json()["outcome"] == "unhandled"
    # the event's external id is the ticket's, whatever the ticket body claims
    claimed = {**event, "event_id": "z-3", "external_id": "Z-78"}
    claimed["ticket"] = {**event["ticket"], "external_id": "Z-77"}
    second = _post(api, claimed).json()
    assert second["outcome"] == "queued", second
    assert api.services.store.ticket(second["ticket"]["ticket_id"]).external_id == "Z-78"


def test_bad_missing_and_stale_signatures_are_401(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    body = json.dumps(rt_payload()).encode()
    assert api.client.post(URL, content=body).status_code == 401
    assert _post(api, rt_payload(), secret="wrong").status_code == 401
    stale = str(int(time.time()) - 301)
    headers = {"X-Triage-Timestamp": stale, "X-Triage-Signature": sign(SECRET, stale, body)}
    assert api.client.post(URL, content=body, headers=headers).status_code == 401
    tampered = signed_headers(SECRET, body)
    answer = api.client.post(URL, content=body + b" ", headers=tampered)
    assert answer.status_code == 401 and "signature" in answer.json()["detail"]
    assert api.app.state.intake.queue.depth() == 0


@pytest.mark.parametrize("stamp", ["9" * 400, "-" + "9" * 400])
def test_a_timestamp_no_clock_can_hold_is_401_not_500(
    make_intake_api: IntakeFactory, stamp: str
) -> None:
    # Unix seconds far past what a float holds: the signature is checked against it all the same.
    api = make_intake_api(start=False)
    body = json.dumps(rt_payload()).encode()
    headers = {"X-Triage-Timestamp": stamp, "X-Triage-Signature": sign(SECRET, stamp, body)}
    answer = api.client.post(URL, content=body, headers=headers)
    assert answer.status_code == 401, answer.text
    assert "stale webhook" in answer.json()["detail"]
    assert api.app.state.intake.queue.depth() == 0


def test_webhook_is_closed_without_a_secret(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False, webhook_secret=None)
    assert _post(api, rt_payload()).status_code == 401


def _nested_rt(levels: int) -> bytes:
    """An RT Create whose custom field ``Deep`` is a list nested ``levels`` deep."""
    payload = rt_payload()
    payload["ticket"]["custom_fields"]["Deep"] = "DEEP"
    return json.dumps(payload).replace('"DEEP"', "[" * levels + "]" * levels).encode()


@pytest.mark.parametrize("levels", [300, 3_000])
def test_deeply_nested_custom_fields_get_422_naming_the_limit(
    make_intake_api: IntakeFactory, levels: int
) -> None:
    api = make_intake_api(start=False)
    body = _nested_rt(levels)
    headers = {**signed_headers(SECRET, body), "Content-Type": "application/json"}
    answer = api.client.post(URL, content=body, headers=headers)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "ticket.custom_fields" in detail and "nested more than 16 levels deep" in detail
    assert api.app.state.intake.queue.depth() == 0
    # Refused before its event id was taken: the helpdesk's corrected retry is applied.
    assert _post(api, rt_payload()).json()["outcome"] == "queued"


def test_body_that_is_not_utf8_gets_422_saying_so(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    body = json.dumps(rt_payload()).replace("VPN drops", "VPN stürzt ab").encode("latin-1")
    headers = {**signed_headers(SECRET, body), "Content-Type": "application/json"}
    answer = api.client.post(URL, content=body, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("helpdesk webhook: body: not valid UTF-8 JSON: ")


def test_event_ids_are_deduplicated_whole_and_an_overlong_one_is_422(
    make_intake_api: IntakeFactory,
) -> None:
    api = make_intake_api(start=False)
    handler = Handler()
    api.app.state.helpdesk_handlers["zammad"] = handler
    # Two ids alike in their first 190 characters are two events. A helpdesk posting the generic
    # shape chooses its ids; RT's are "rt-txn-" and the transaction's id, far shorter.
    stem = "z-" + "7" * 188
    for event_id in (stem + "-1", stem + "-2"):
        event = {"source": "zammad", "event_id": event_id, "type": "commented", "external_id": "Z"}
        assert _post(api, event).json()["outcome"] == "handled"
    assert [e.event_id for e in handler.events] == [stem + "-1", stem + "-2"]
    overlong = _post(api, rt_payload("rt-txn-" + "7" * 300, "Correspond"))
    assert overlong.status_code == 422
    assert "event_id" in overlong.json()["detail"] and "200" in overlong.json()["detail"]
    generic = {"source": "zammad", "event_id": "z" * 201, "type": "resolved", "external_id": "Z"}
    assert _post(api, generic).status_code == 422


@pytest.mark.parametrize(
    ("part", "field", "value"),
    [
        ("transaction", "created", "2026-11-27T10:00:00"),  # no zone: which 10:00 was it?
        ("ticket", "resolved", "2026-11-27 10:00:00"),
        ("transaction", "id", "abc"),
        ("transaction", "id", "0456"),  # rt-txn-0456 would be a second id for 456
        ("ticket", "id", ""),  # the external id would be "rt:"
        ("ticket", "id", "12abc"),
    ],
)
def test_an_rt_body_not_as_the_scrip_writes_it_is_422_naming_the_field(
    make_intake_api: IntakeFactory, part: str, field: str, value: str
) -> None:
    api = make_intake_api(start=False)
    payload = rt_payload()
    payload[part][field] = value
    answer = _post(api, payload)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(f"rt webhook: {part}.{field}: should ")
    assert api.app.state.intake.queue.depth() == 0
    # Nothing of it was taken: the transaction as the scrip writes it is still applied.
    assert _post(api, rt_payload()).json()["outcome"] == "queued"


@pytest.mark.parametrize(
    ("event_id", "txn_id"),
    [
        ("rt-txn-999", "456"),  # would mark 999 seen: the catch-up applies 456 again, skips 999
        ("rt-txn-456-1", "456"),
        ("rt-txn-0456", "456"),
        ("RT-TXN-456", "456"),
        ("456", "456"),
        ("rt-txn-456 ", "456"),
    ],
)
def test_an_rt_event_id_not_the_transactions_is_422_naming_it(
    make_intake_api: IntakeFactory, event_id: str, txn_id: str
) -> None:
    api = make_intake_api(start=False)
    payload = rt_payload(event_id)
    payload["transaction"]["id"] = txn_id
    answer = _post(api, payload)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == (
        "rt webhook: event_id: should be rt-txn-456, the transaction's id as the scrip writes it"
    )
    assert api.app.state.intake.queue.depth() == 0
    # Nothing of it was taken: the transaction under its own id is still applied, once.
    assert _post(api, rt_payload("rt-txn-456")).json()["outcome"] == "queued"
    assert _post(api, rt_payload("rt-txn-456")).json()["outcome"] == "duplicate"


def test_rt_dates_in_any_zone_are_taken() -> None:
    created = "2026-11-27T11:00:00+01:00"
    event = adapt_rt(rt_payload(created=created))
    assert event.occurred_at is not None and event.occurred_at.isoformat() == created
