"""RT transactions read back over REST2 become the very payload the scrip posts."""

from __future__ import annotations

import json
import re
import runpy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from rt_support import REPO, RigFactory
from sqlalchemy import select

from agent.errors import InputError
from api.helpdesk.catchup import OVERLAP, CatchUp
from api.helpdesk.rt import RTHelpdesk
from api.helpdesk.rt_events import RTEventReader
from api.helpdesk.tables import EventRow
from api.intake.signature import signed_headers
from api.intake.tables import EventSeenRow
from api.intake.webhooks import adapt_rt

# The scrip's body as the intake tests know it (INTEGRATION.md contract).
rt_payload = runpy.run_path(str(REPO / "tests" / "api" / "intake" / "intake_samples.py"))[
    "rt_payload"
]

BODY = "The VPN drops every five minutes for the whole Berlin office."
TXN = {
    "id": "456",
    "Type": "Create",
    "Field": "",
    "OldValue": "",
    "NewValue": "",
    "Creator": {"id": "root", "type": "user"},
    "Created": "2026-11-27T10:00:00Z",
    "ObjectId": "123",
    "ObjectType": "RT::Ticket",
}
STATUS = {**TXN, "id": "457", "Type": "Status", "Field": "Status", "OldValue": "new"}
TICKET = {
    "id": 123,
    "Subject": "VPN drops",
    "Queue": {"id": "1", "type": "queue"},
    "Owner": {"id": "Nobody", "type": "user"},
    "Status": "new",
    "Priority": "0",
    "Requestor": [{"id": "alice@example.com", "type": "user"}],
    "Created": "2026-11-27T10:00:00Z",
    "Resolved": "1970-01-01T00:00:00Z",
    "CustomFields": [
        {"id": "2", "name": "Tags", "values": ["vpn"]},
        {"id": "3", "name": "Account", "values": ["ACME"]},
    ],
}


def _reader(
    rows: list[dict[str, Any]],
    calls: list[str],
    body: dict[str, str] | None = None,
    meanwhile: Callable[[], object] | None = None,
    ticket: dict[str, Any] | None = None,
) -> RTEventReader:
    """RT with these transactions; ``meanwhile`` runs as RT is asked for the ones after an id."""

    def answer(request: httpx.Request) -> httpx.Response:
        path, page = request.url.path, request.url.params.get("page", "1")
        calls.append(path)
        json: Any
        if path.endswith("/transactions"):
            # as RT answers: newest first when asked so, and only ids above the one given
            found = re.search(r"id > (\d+)", request.url.params.get("query", ""))
            if found and meanwhile is not None and page == "1":
                meanwhile()
            items = [r for r in rows if not found or int(r["id"]) > int(found.group(1))]
            if request.url.params.get("order") == "DESC":
                items = sorted(items, key=lambda r: -int(r["id"]))
            json = {"items": items if page == "1" else []}
        elif path.endswith("/ticket/123"):
            json = ticket or TICKET
        elif path.endswith("/queue/1"):
            json = {"Name": "General"}
        elif path.endswith("/customfield/2"):
            json = {"Name": "Tags", "MaxValues": "0"}
        elif path.endswith("/customfield/3"):
            json = {"Name": "Account", "MaxValues": "1"}
        elif path.endswith("/transaction/456/attachments"):
            json = {"items": [body or {"ContentType": "text/plain", "Content": BODY}]}
        else:
            return httpx.Response(404, json={"message": "Not Found"})
        return httpx.Response(200, json=json)

    transport = httpx.MockTransport(answer)
    return RTEventReader(RTHelpdesk("http://rt.test", "tok", transport=transport))


def test_a_missed_create_is_the_scrip_payload() -> None:
    calls: list[str] = []
    reader = _reader([TXN], calls)
    (payload,) = reader.payloads(reader.rows(455))
    expected = rt_payload()
    expected["transaction"]["content"] = BODY
    assert payload == expected
    event = adapt_rt(payload)
    assert event.type == "created" and event.ticket is not None
    assert event.ticket.account.name == "ACME"  # single-valued field: a value, not a list


def test_a_missed_create_written_in_html_carries_its_text() -> None:
    """RT's web editor stores the message as text/html only; the scrip posts it as text."""
    html = {"ContentType": "text/html", "Content": f"<p>{BODY}</p>"}
    reader = _reader([TXN], [], html)
    (payload,) = reader.payloads(reader.rows(455))
    assert payload["transaction"]["content"] == BODY
    event = adapt_rt(payload)
    assert event.ticket is not None and event.ticket.body == BODY


def test_a_missed_resolution_carries_no_content_and_reads_the_ticket_once() -> None:
    calls: list[str] = []
    reader = _reader([TXN, {**STATUS, "NewValue": "resolved"}], calls)
    create, status = reader.payloads(reader.rows(455))
    assert status["event_id"] == "rt-txn-457"
    assert status["transaction"]["content"] is None
    assert (status["transaction"]["old_value"], status["transaction"]["new_value"]) == (
        "new",
        "resolved",
    )
    assert status["ticket"] == create["ticket"]
    assert adapt_rt(status).type == "resolved"
    assert calls.count("/REST/2.0/ticket/123") == 1
    assert not any(c.endswith("/transaction/457/attachments") for c in calls)


def test_rt_unreachable_is_retried_next_pass_and_shown(make_rig: RigFactory) -> None:
    down = httpx.MockTransport(lambda request: httpx.Response(503))
    rig = make_rig(RTHelpdesk("http://rt.test", "tok", transport=down))
    catchup = rig.connector.catchup
    assert catchup is not None
    assert catchup.run_pass() == catchup.poll_s
    assert catchup.floor is None and "HTTP 503" in (catchup.last_error or "")
    detail = rig.connector.readiness()
    assert not detail["ok"] and "last pass failed" in detail["detail"]


def test_a_fresh_install_keeps_where_it_started_across_a_restart(make_rig: RigFactory) -> None:
    """Nothing seen yet: the start is RT's newest transaction, and a restart does not move it."""
    calls: list[str] = []
    _, first = _rigged(make_rig)
    first.reader = _reader([TXN], calls)  # RT's newest is 456, before the install
    assert first.catch_up() == 0 and first.floor == 456
    # Restarted before any event: a new catch-up thread, while RT has gained 457.
    restarted = CatchUp(first.db, _reader([TXN, STATUS], calls), first.webhook)
    assert restarted.stored_start() == 456
    applied = restarted.catch_up()
    assert restarted.floor == 456
    assert applied == 1  # 457 only; 456 was RT's state at the install
    assert restarted.catch_up() == 0


def test_a_fresh_install_whose_webhook_came_first_replays_no_older_history(
    database_url: str | None, make_rig: RigFactory
) -> None:
    """The scrip's post of a new transaction lands before the first pass asks RT anything."""
    rig, catchup = _rigged(make_rig, database_url)
    history = [{**STATUS, "id": str(i), "NewValue": "resolved"} for i in range(300, 457)]
    first = {**STATUS, "id": "457"}
    _seen_by_the_webhook(rig, [first])
    catchup.reader = _reader([*history, first], [])
    assert catchup.catch_up() == 0  # nothing of RT's history from before the install
    assert catchup.floor == 456 and catchup.stored_start() == 456
    # A post that failed after the install is still found.
    missed = {**STATUS, "id": "458", "NewValue": "resolved"}
    catchup.reader = _reader([*history, first, missed], [])
    assert catchup.catch_up() == 1
    with rig.services.db.session() as session:
        resolved = session.scalars(select(EventRow.event_id).where(EventRow.type == "resolved"))
        assert list(resolved) == ["rt-txn-458"]


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"items": []})


def test_an_event_the_webhook_missed_is_found_however_many_came_after_it(
    make_rig: RigFactory,
) -> None:
    """A failed post (a 429, a locked database) among successful ones, in a busy minute."""
    rig, catchup = _rigged(make_rig)
    missed = {**STATUS, "NewValue": "resolved"}  # 457: its post failed
    later = [{**STATUS, "id": str(i)} for i in range(458, 458 + 2 * OVERLAP)]
    catchup.reader = _reader([TXN], [])
    assert catchup.catch_up() == 0 and catchup.floor == 456
    # Meanwhile the webhook took every later transaction, as RT posted them.
    _seen_by_the_webhook(rig, later)
    catchup.reader = _reader([TXN, missed, *later], [])
    assert catchup.catch_up() == 1
    assert catchup.catch_up() == 0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite under tmp_path; else a fresh PostgreSQL schema."""
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def _rigged(
    make_rig: RigFactory, database_url: str | None = None, webhook_secret: str | None = None
) -> tuple[Any, CatchUp]:
    """A rig on a mocked RT that answers every call, and its catch-up."""
    rig = make_rig(
        RTHelpdesk("http://rt.test", "tok", transport=httpx.MockTransport(_ok)),
        database_url=database_url,
        webhook_secret=webhook_secret,
    )
    catchup = rig.connector.catchup
    assert catchup is not None
    return rig, catchup


def _seen_by_the_webhook(rig: Any, rows: list[dict[str, Any]]) -> None:
    with rig.services.db.session() as session:
        for row in rows:
            session.add(
                EventSeenRow(
                    source="rt", event_id=f"rt-txn-{row['id']}", type="status", outcome="handled"
                )
            )


def test_a_restart_reads_on_from_where_the_last_pass_stopped(
    database_url: str | None, make_rig: RigFactory
) -> None:
    """A failed post, then more than OVERLAP that got through, then a restart."""
    rig, first = _rigged(make_rig, database_url)
    missed = {**STATUS, "NewValue": "resolved"}  # 457: its post failed
    later = [{**STATUS, "id": str(i)} for i in range(458, 458 + 2 * OVERLAP)]
    first.reader = _reader([TXN], [])
    assert first.catch_up() == 0 and first.floor == 456
    _seen_by_the_webhook(rig, later)
    restarted = CatchUp(first.db, _reader([TXN, missed, *later], []), first.webhook)
    assert restarted.catch_up() == 1  # 457
    assert restarted.stored_position() == 457 + 2 * OVERLAP
    assert restarted.catch_up() == 0


def test_a_post_the_catch_up_could_not_make_is_retried_after_a_restart(
    database_url: str | None, make_rig: RigFactory
) -> None:
    """Its own attempt failed too (the intake refused it), then the service restarted."""
    rig, first = _rigged(make_rig, database_url)
    before = {**STATUS, "id": "455"}
    later = [{**STATUS, "id": str(i)} for i in range(457, 457 + 2 * OVERLAP)]
    first.reader = _reader([before], [])
    assert first.catch_up() == 0 and first.floor == 455
    _seen_by_the_webhook(rig, later)
    refused = {"ContentType": "text/plain", "Content": "x" * 200_001}  # over a ticket's body
    first.reader = _reader([before, TXN, *later], [], refused)
    assert first.catch_up() == 0  # 456 not applied
    restarted = CatchUp(first.db, _reader([before, TXN, *later], []), first.webhook)
    assert restarted.catch_up() == 1  # 456
    assert restarted.catch_up() == 0


def test_a_second_process_does_not_move_the_position_back(
    database_url: str | None, make_rig: RigFactory
) -> None:
    """Its pass read less of RT than another's that finished while it ran."""
    _, first = _rigged(make_rig, database_url)
    first.reader = _reader([TXN], [])
    assert first.catch_up() == 0
    later = [{**STATUS, "id": str(i)} for i in range(457, 457 + 2 * OVERLAP)]
    first.reader = _reader([TXN, *later], [])
    # The other process reads RT (up to 466) while the first one's pass reads on and ends.
    other = CatchUp(
        first.db, _reader([TXN, *later[:10]], [], meanwhile=first.catch_up), first.webhook
    )
    assert other.catch_up() == 0
    assert other.stored_position() == 456 + 2 * OVERLAP


def test_event_ids_rt_never_gave_do_not_move_the_window(
    database_url: str | None, make_rig: RigFactory
) -> None:
    """Signed events with ids past RT's newest transaction, or not numbers, seen before a pass."""
    rig, catchup = _rigged(make_rig, database_url)
    odd = ["900004", "abc", "12abc", "0457000", "", "9" * 30]
    _seen_by_the_webhook(rig, [TXN, *({"id": ident} for ident in odd)])
    catchup.reader = _reader([TXN, {**STATUS, "NewValue": "resolved"}], [])  # 457: missed
    assert catchup.newest_seen() == 900004  # the bound is RT's: one query asks RT its newest
    assert catchup.catch_up() == 1
    assert catchup.catch_up() == 0
    assert catchup.stored_position() == 457


def test_rt_restored_from_an_older_backup_is_read_on_from_its_newest(
    make_rig: RigFactory,
) -> None:
    """Its ids went back below where the catch-up stood; the new ones are still applied."""
    _, catchup = _rigged(make_rig)
    catchup.reader = _reader([{**STATUS, "id": "1000"}], [])  # RT at the install
    assert catchup.catch_up() == 0 and catchup.stored_position() == 1000
    # Restored from a backup taken before the install: its newest is 600.
    before = [{**STATUS, "id": str(i)} for i in range(590, 601)]
    catchup.reader = _reader(before, [])
    assert catchup.catch_up() == 0  # RT's history from before the install is not replayed
    catchup.reader = _reader([*before, {**STATUS, "id": "601"}, {**STATUS, "id": "602"}], [])
    assert catchup.catch_up() == 2
    assert catchup.catch_up() == 0


def test_a_transaction_that_cannot_be_read_is_skipped_and_the_rest_applied(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """RT returns a date that does not parse: the pass goes on, and the next does not stop there."""
    rig, catchup = _rigged(make_rig)
    catchup.reader = _reader([TXN], [])
    assert catchup.catch_up() == 0 and catchup.floor == 456
    odd = {**STATUS, "Created": "27/11/2026 10:00"}  # 457
    resolved = {**STATUS, "id": "458", "NewValue": "resolved"}
    catchup.reader = _reader([TXN, odd, resolved], [])
    with caplog.at_level("WARNING", logger="api.helpdesk.catchup"):
        assert catchup.catch_up() == 1  # 458
    assert "457" in caplog.text and "27/11/2026 10:00" in caplog.text
    assert catchup.last_error is None and catchup.skipped == 1
    assert "rt-txn-457" in (catchup.last_skipped or "")
    detail = rig.connector.readiness()
    assert detail["ok"] and "skipped 1 unreadable (last: rt-txn-457" in detail["detail"]
    assert catchup.stored_position() == 458  # read: RT will not answer otherwise next time
    assert catchup.catch_up() == 0 and catchup.skipped == 1  # read again (overlap), not recounted
    later = {**STATUS, "id": "459", "NewValue": "open", "OldValue": "resolved"}
    restarted = CatchUp(catchup.db, _reader([TXN, odd, resolved, later], []), catchup.webhook)
    assert restarted.catch_up() == 1  # 459
    assert restarted.stored_position() == 459


def test_a_ticket_that_cannot_be_read_skips_its_transactions(make_rig: RigFactory) -> None:
    """Its priority is not a number: each of its transactions is skipped, the ticket read once."""
    calls: list[str] = []
    odd_ticket = {**TICKET, "Priority": "high"}
    reader = _reader([TXN, STATUS], calls, ticket=odd_ticket)
    payloads, unreadable = reader.read(reader.rows(455))
    assert payloads == [] and [u.txn_id for u in unreadable] == ["456", "457"]
    assert all("ticket 123" in u.reason and "'high'" in u.reason for u in unreadable)
    assert calls.count("/REST/2.0/ticket/123") == 1
    _, catchup = _rigged(make_rig)
    catchup.reader = _reader([{**STATUS, "id": "455"}], [])
    assert catchup.catch_up() == 0 and catchup.floor == 455
    catchup.reader = _reader([TXN, STATUS], [], ticket=odd_ticket)
    assert catchup.catch_up() == 0
    assert catchup.last_error is None and catchup.skipped == 2
    assert catchup.stored_position() == 457


@pytest.mark.parametrize(
    ("created", "stamp"),
    [
        ("20261127T100000Z", "2026-11-27T10:00:00Z"),  # ISO's basic form
        ("2026-11-27T11:00:00+01:00", "2026-11-27T10:00:00Z"),
        ("2026-11-27T10:00:00.250", "2026-11-27T10:00:00Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ],
)
def test_rt_dates_are_written_as_the_scrip_writes_them(created: str, stamp: str) -> None:
    """UTC, YYYY-MM-DDTHH:MM:SSZ: a form the webhook would refuse is never posted as read."""
    reader = _reader([{**STATUS, "Created": created}], [])
    (payload,) = reader.payloads(reader.rows(456))
    assert payload["transaction"]["created"] == stamp
    assert adapt_rt(payload).type == "status"


def test_a_date_past_what_utc_can_hold_is_unreadable() -> None:
    reader = _reader([{**STATUS, "Created": "9999-12-31T23:59:59-12:00"}], [])
    payloads, (unreadable,) = reader.read(reader.rows(456))
    assert payloads == [] and unreadable.txn_id == "457"
    assert unreadable.reason.startswith("OverflowError")


def test_dates_the_webhook_would_refuse_do_not_hold_the_position(make_rig: RigFactory) -> None:
    """A date the reader reads but the webhook's adapter refuses, and one of a ticket's that does
    not parse: each pass posted them, was refused and kept the position at them for good."""
    _, catchup = _rigged(make_rig)
    catchup.reader = _reader([{**STATUS, "id": "455"}], [])
    assert catchup.catch_up() == 0 and catchup.floor == 455
    basic = {**STATUS, "Created": "20261127T100000Z", "NewValue": "resolved"}  # 457
    catchup.reader = _reader([TXN, basic], [], ticket={**TICKET, "Created": "27/11/2026"})
    assert catchup.catch_up() == 0  # ticket 123's transactions cannot be read
    assert catchup.skipped == 2 and "27/11/2026" in (catchup.last_skipped or "")
    assert catchup.stored_position() == 457
    later = {**basic, "id": "458", "ObjectId": "123"}
    catchup.reader = _reader([TXN, basic, later], [])
    # The ticket reads again: 456 and 457 are still in the window, and 457's date and 458's are
    # written as the scrip writes them, so the webhook takes them.
    assert catchup.catch_up() == 3
    assert catchup.stored_position() == 458
    assert catchup.last_error is None


def test_an_event_the_webhook_refused_is_applied_from_rt(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A signed body whose date has no zone: refused (422), not recorded, so the catch-up reads
    the transaction from RT and applies it as the scrip writes it."""
    rig, catchup = _rigged(make_rig, webhook_secret="s3cret")
    catchup.reader = _reader([TXN], [])
    assert catchup.catch_up() == 0 and catchup.floor == 456
    body = rt_payload("rt-txn-457", "Status", field="Status", new_value="resolved")
    body["transaction"]["created"] = "2026-11-27T10:00:00"
    raw = json.dumps(body).encode()
    headers = signed_headers("s3cret", raw)
    with caplog.at_level("WARNING", logger="api.intake.events"), pytest.raises(InputError) as err:
        catchup.webhook.receive(raw, headers["X-Triage-Timestamp"], headers["X-Triage-Signature"])
    assert str(err.value) == (
        "rt webhook: transaction.created: should say its time zone, as the scrip writes it: "
        "2026-11-27T10:00:00Z"
    )
    assert "refused" in caplog.text and "transaction.created" in caplog.text
    catchup.reader = _reader([TXN, {**STATUS, "NewValue": "resolved"}], [])
    assert catchup.catch_up() == 1
    with rig.services.db.session() as session:
        seen = session.get(EventSeenRow, ("rt", "rt-txn-457"))
        assert seen is not None and seen.outcome == "handled"
        event = session.get(EventRow, "rt-txn-457")
        assert event is not None and (event.type, event.external_id) == ("resolved", "123")


def test_a_signed_event_under_another_transactions_id_is_refused_and_applied_once(
    make_rig: RigFactory,
) -> None:
    """Transaction 456 posted as rt-txn-999: taken, it marked 999 seen, so the catch-up applied
    456 a second time (and would skip the real 999). Refused (422), it is applied once from RT."""
    rig, catchup = _rigged(make_rig, webhook_secret="s3cret")
    catchup.reader = _reader([{**STATUS, "id": "455"}], [])
    assert catchup.catch_up() == 0 and catchup.floor == 455
    body = rt_payload("rt-txn-999")
    body["transaction"]["id"] = "456"  # the Create of TXN, under another id
    raw = json.dumps(body).encode()
    headers = {**signed_headers("s3cret", raw), "Content-Type": "application/json"}
    # Without the app's lifespan: nothing runs in the background.
    answer = TestClient(rig.app).post("/v1/intake/helpdesk", content=raw, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("rt webhook: event_id: should be rt-txn-456")
    queue = rig.app.state.intake.queue
    with rig.services.db.session() as session:
        kept = session.scalars(select(EventSeenRow.event_id).where(EventSeenRow.source == "rt"))
        assert not {"rt-txn-999", "rt-txn-456"} & set(kept)
    assert queue.depth() == 0
    catchup.reader = _reader([{**STATUS, "id": "455"}, TXN], [])
    assert catchup.catch_up() == 1
    assert catchup.catch_up() == 0
    assert queue.depth() == 1
    with rig.services.db.session() as session:
        seen = session.get(EventSeenRow, ("rt", "rt-txn-456"))
        assert seen is not None and seen.outcome == "queued"
        assert session.get(EventSeenRow, ("rt", "rt-txn-999")) is None


ODD_ROWS: list[tuple[dict[str, Any], dict[str, Any] | None, bool]] = [
    # (REST2 transaction row, RT's answer for its ticket, made into a body)
    ({**STATUS, "Created": "2026-11-27T10:00:00"}, None, True),  # no zone: REST2's UTC
    ({**STATUS, "Created": "2026-11-27 10:00:00"}, None, True),
    (STATUS, {**TICKET, "Created": "2026-11-27T10:00:00", "Resolved": "2026-11-28"}, True),
    ({**STATUS, "id": "abc"}, None, False),
    ({**STATUS, "id": "0457"}, None, False),
    ({**STATUS, "id": ""}, None, False),
    ({**STATUS, "ObjectId": ""}, None, False),  # RT asked for "/ticket/" would name none
    ({**STATUS, "ObjectId": {"id": "abc", "type": "ticket"}}, None, False),
    (STATUS, {**TICKET, "id": None}, False),
    (STATUS, {**TICKET, "id": ""}, False),
    (STATUS, {**TICKET, "id": "12abc"}, False),
]


@pytest.mark.parametrize(("row", "ticket", "readable"), ODD_ROWS)
def test_the_catch_up_never_posts_a_body_the_webhook_refuses(
    row: dict[str, Any], ticket: dict[str, Any] | None, readable: bool
) -> None:
    """Dates without a zone, ids that are not RT's (abc, 0457, empty): each row is either a body
    the webhook takes or unreadable (skipped with its reason), never one refused pass after pass."""
    calls: list[str] = []
    reader = _reader([row], calls, ticket=ticket)
    payloads, unreadable = reader.read([row])
    assert len(payloads) == int(readable) and len(unreadable) == int(not readable)
    for payload in payloads:
        event = adapt_rt(payload)  # raises InputError on anything the webhook refuses
        assert event.external_id == "rt:123" and event.event_id == "rt-txn-457"
        assert payload["transaction"]["created"].endswith("Z")
    assert "/REST/2.0/ticket/" not in calls
