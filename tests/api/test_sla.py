"""SLA watch: tickets near or past their due times get the protocol, recorded on the ticket."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from api_support import TICKET_DB, TICKET_REVIEW, Api, free_port, wait_for
from fastapi.testclient import TestClient
from sqlalchemy import event

from agent.settings import EXAMPLES_DIR
from agent.triager import TriageResult
from api.main import create_app
from api.options import ServiceOptions
from api.serve import URL_LOGGERS, configure_logging
from api.tables import TicketRow

EXAMPLE = (EXAMPLES_DIR / "policy.yaml").read_text(encoding="utf-8")


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def _with_webhook(url: str) -> str:
    return EXAMPLE.replace("\npriorities:\n", f"\npriorities:\n  oncall_webhook: {url}\n", 1)


def test_breached_ticket_gets_the_protocol_and_the_webhook(api: Api) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        put = api.client.put(
            "/v1/policy", json={"yaml": _with_webhook(url)}, headers=api.auth("admin")
        )
        assert put.status_code == 200
        made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
        ticket_id = made["ticket_id"]
        due = datetime.fromisoformat(made["sla"]["resolution_due"])
        acted = api.services.sla.check(now=due + timedelta(minutes=1))
        assert acted == [ticket_id]
        assert api.services.sla.check(now=due + timedelta(minutes=2)) == []  # once per step
    finally:
        server.shutdown()
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).json()
    sla = view["sla"]
    assert sla["state"] == "breached"
    assert sla["front_of_queue"] is True
    actions = sla["events"][-1]["actions"]
    assert f"raise_priority {made['priority']}->" in actions[0]
    assert "notify_oncall ok" in actions
    assert _Hook.received and _Hook.received[-1]["ticket_id"] == ticket_id


def test_failed_webhook_is_recorded_and_review_queue_puts_it_first(api: Api) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    api.client.put("/v1/policy", json={"yaml": _with_webhook(dead)}, headers=api.auth("admin"))
    first = api.client.post("/v1/triage", json=TICKET_REVIEW, headers=api.auth("helpdesk")).json()
    second = api.client.post(
        "/v1/triage",
        json={**TICKET_REVIEW, "body": "The scanner is broken too."},
        headers=api.auth("helpdesk"),
    ).json()
    assert first["needs_review"] and second["needs_review"]
    due = datetime.fromisoformat(second["sla"]["first_response_due"])
    with api.services.db.session() as session:
        # Only the second ticket is near its due time: it was received long ago.
        session.get(TicketRow, second["ticket_id"]).first_response_due = datetime.now(
            UTC
        ) - timedelta(minutes=1)
    assert due  # the agent set a first-response target
    acted = api.services.sla.check()
    assert acted == [second["ticket_id"]]
    queue = api.client.get("/v1/review", headers=api.auth("reviewer")).json()
    assert queue[0]["id"] == second["ticket_id"]
    assert queue[0]["front_of_queue"] is True
    view = api.client.get(f"/v1/tickets/{second['ticket_id']}", headers=api.auth("reviewer")).json()
    assert any(a.startswith("notify_oncall failed") for a in view["sla"]["events"][-1]["actions"])
    at_risk = api.client.get("/v1/sla/at-risk", headers=api.auth("specialist")).json()
    assert [(t["id"], t["state"], t["deadline"]) for t in at_risk] == [
        (second["ticket_id"], "breached", "first_response")
    ]
    metrics = api.client.get("/metrics").text
    assert 'triage_errors_total{kind="oncall_webhook"} 1.0' in metrics


def test_a_priority_whose_protocol_notifies_oncall_pages_at_decision_time(api: Api) -> None:
    _Hook.received.clear()
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        api.client.put("/v1/policy", json={"yaml": _with_webhook(url)}, headers=api.auth("admin"))
        outage = {
            "subject": "Production outage",
            "body": "Major outage: the customer portal is down for all users since 10:02.",
            "severity": "critical",
        }
        made = api.client.post("/v1/triage", json=outage, headers=api.auth("helpdesk")).json()
        assert made["priority"] == "P1"
        assert "notify_oncall" in made["sla"]["actions"]
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while not _Hook.received and datetime.now(UTC) < deadline:
            threading.Event().wait(0.05)
        routine = {"subject": "Wallpaper", "body": "How do I change my desktop wallpaper?"}
        quiet = api.client.post("/v1/triage", json=routine, headers=api.auth("helpdesk")).json()
        assert "notify_oncall" not in (quiet["sla"] or {}).get("actions", [])
    finally:
        server.shutdown()
    assert [e["ticket_id"] for e in _Hook.received] == [made["ticket_id"]]
    assert _Hook.received[0]["state"] == "decided"
    # the pager is told the whole protocol (page_team_lead among it), and jump_queue is done
    assert {"notify_oncall", "page_team_lead"} <= set(_Hook.received[0]["protocol"])
    with api.services.db.session() as session:
        assert session.get(TicketRow, made["ticket_id"]).front_of_queue
        assert not session.get(TicketRow, quiet["ticket_id"]).front_of_queue
    # The outcome is written once the webhook has answered: wait for it, a bounded while.
    actions: list[str] = []
    for _ in range(100):
        view = api.client.get(f"/v1/tickets/{made['ticket_id']}", headers=api.auth("specialist"))
        actions = view.json()["sla"]["events"][-1]["actions"]
        if "notify_oncall ok" in actions:
            break
        threading.Event().wait(0.05)
    assert "notify_oncall ok" in actions


def test_a_late_arriving_ticket_warns_from_when_its_clock_started(api: Api) -> None:
    # Received at 18:40 but stored only now (a mail queue, a helpdesk catch-up): the warning
    # window is a fraction of the whole time from arrival, not of what was left at storage.
    outage = {
        "subject": "Outage EU",
        "body": "platform outage in the EU region",
        "received_at": "2026-11-29T18:40:00Z",
    }
    made = api.client.post("/v1/triage", json=outage, headers=api.auth("helpdesk")).json()
    assert made["priority"] == "P1" and made["escalate"] is True
    due = datetime.fromisoformat(made["sla"]["resolution_due"])
    received = datetime.fromisoformat(outage["received_at"])
    assert due - received > timedelta(hours=1)
    at_risk = api.services.sla.at_risk(now=due - timedelta(minutes=12))
    assert [(t.id, t.state, t.deadline) for t in at_risk] == [
        (made["ticket_id"], "at_risk", "resolution")
    ]
    assert api.services.sla.at_risk(now=due - (due - received) / 2) == []


class _ScriptedHook(BaseHTTPRequestHandler):
    """Answers each POST with the next scripted status (the last one repeats), after a delay."""

    statuses: ClassVar[list[int]] = [204]
    delay_s: ClassVar[float] = 0.0
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _ScriptedHook.received.append(json.loads(self.rfile.read(length)))
        threading.Event().wait(self.delay_s)
        script = _ScriptedHook.statuses
        self.send_response(script.pop(0) if len(script) > 1 else script[0])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def _scripted_hook(api: Api, statuses: list[int], delay_s: float = 0.0) -> ThreadingHTTPServer:
    _ScriptedHook.statuses, _ScriptedHook.delay_s = list(statuses), delay_s
    _ScriptedHook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/page"
    put = api.client.put("/v1/policy", json={"yaml": _with_webhook(url)}, headers=api.auth("admin"))
    assert put.status_code == 200
    return server


def _events_once_paged(api: Api, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's SLA events once no page is in flight (bounded wait)."""
    events: list[dict[str, Any]] = []
    for _ in range(200):
        view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).json()
        events = view["sla"]["events"]
        if events and all(e.get("oncall") != "pending" for e in events):
            break
        threading.Event().wait(0.05)
    return events


OUTAGE = {"subject": "Outage EU", "body": "platform outage in the EU region"}


def test_each_page_outcome_is_recorded_on_the_event_that_asked_for_it(api: Api) -> None:
    server = _scripted_hook(api, [204], delay_s=0.5)
    try:
        # Received long ago: the watch breaches it while the decision-time page is in flight.
        old = {**OUTAGE, "received_at": "2020-01-06T09:00:00Z"}
        made = api.client.post("/v1/triage", json=old, headers=api.auth("helpdesk")).json()
        assert made["priority"] == "P1" and made["escalate"] is True
        assert api.services.sla.check() == [made["ticket_id"]]
        events = _events_once_paged(api, made["ticket_id"])
    finally:
        server.shutdown()
    assert [e["state"] for e in events] == ["decided", "breached"]
    assert events[0]["actions"] == ["protocol P1", "notify_oncall ok"]
    assert events[1]["actions"].count("notify_oncall ok") == 1
    assert sorted(p["state"] for p in _ScriptedHook.received) == ["breached", "decided"]


def test_a_failed_page_is_retried_on_later_passes_until_it_goes_through(api: Api) -> None:
    server = _scripted_hook(api, [503, 503, 204])
    try:
        made = api.client.post("/v1/triage", json=OUTAGE, headers=api.auth("helpdesk")).json()
        assert made["priority"] == "P1"
        assert _events_once_paged(api, made["ticket_id"])[0]["oncall"] == "failed"
        assert api.services.sla.check() == []  # not due: only the page is re-sent
        api.services.sla.check()
        api.services.sla.check()
        events = _events_once_paged(api, made["ticket_id"])
    finally:
        server.shutdown()
    assert len(_ScriptedHook.received) == 3
    assert {p["ticket_id"] for p in _ScriptedHook.received} == {made["ticket_id"]}
    assert events[0]["actions"] == [
        "protocol P1",
        "notify_oncall failed: HTTPStatusError (attempt 1 of 3)",
        "notify_oncall failed: HTTPStatusError (attempt 2 of 3)",
        "notify_oncall ok",
    ]
    assert events[0]["oncall"] == "ok"


def test_a_page_that_keeps_failing_is_tried_a_bounded_number_of_times(api: Api) -> None:
    dead = f"http://127.0.0.1:{free_port()}/page"
    api.client.put("/v1/policy", json={"yaml": _with_webhook(dead)}, headers=api.auth("admin"))
    made = api.client.post("/v1/triage", json=OUTAGE, headers=api.auth("helpdesk")).json()
    _events_once_paged(api, made["ticket_id"])
    for _ in range(4):
        api.services.sla.check()
    events = _events_once_paged(api, made["ticket_id"])
    failures = [a for a in events[0]["actions"] if a.startswith("notify_oncall failed")]
    assert failures == [f"notify_oncall failed: ConnectError (attempt {n} of 3)" for n in (1, 2, 3)]
    assert events[0]["oncall"] == "failed" and events[0]["oncall_attempts"] == 3
    metrics = api.client.get("/metrics").text
    assert 'triage_errors_total{kind="oncall_webhook"} 3.0' in metrics


def test_a_page_lost_with_its_process_is_sent_again(api: Api) -> None:
    """A page claimed (pending) but never answered, e.g. the service died mid-send."""
    server = _scripted_hook(api, [204, 204])
    try:
        made = api.client.post("/v1/triage", json=OUTAGE, headers=api.auth("helpdesk")).json()
        ticket_id = made["ticket_id"]
        assert _events_once_paged(api, ticket_id)[0]["oncall"] == "ok"
        with api.services.db.session() as session:
            row = session.get(TicketRow, ticket_id)
            claimed = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
            fresh = {**row.sla_events[0], "oncall": "pending", "oncall_claimed_at": claimed}
            lost = {**fresh, "state": "at_risk", "actions": ["front_of_queue"]}
            lost.pop("oncall_claimed_at")  # claimed by a release that did not stamp claims
            row.sla_events = [
                {**fresh, "oncall_claimed_at": datetime.now(UTC).isoformat()},  # in flight
                {**fresh, "state": "breached"},
                lost,
            ]
        api.services.sla.check()
        api.services.sla.check()
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while len(_ScriptedHook.received) < 3 and datetime.now(UTC) < deadline:
            threading.Event().wait(0.05)
        view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).json()
    finally:
        server.shutdown()
    events = view["sla"]["events"]
    assert [e["oncall"] for e in events] == ["pending", "ok", "ok"]
    states = [p["state"] for p in _ScriptedHook.received]
    assert states[0] == "decided" and sorted(states[1:]) == ["at_risk", "breached"]
    assert events[1]["oncall_attempts"] == 2


def test_a_resolution_breach_is_acted_on_after_a_first_response_breach(api: Api) -> None:
    # Held for review past its first-response time, then decided: the resolution deadline is
    # another commitment, and its breach gets the protocol too (not only GET /v1/sla/at-risk).
    made = api.client.post("/v1/triage", json=TICKET_REVIEW, headers=api.auth("helpdesk")).json()
    ticket_id = made["ticket_id"]
    assert made["needs_review"] and made["escalate"]
    first_due = datetime.fromisoformat(made["sla"]["first_response_due"])
    assert api.services.sla.check(now=first_due + timedelta(minutes=1)) == [ticket_id]
    answer = {"team": made["team"], "priority": "P3"}
    done = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    assert done.status_code == 200
    resolution_due = datetime.fromisoformat(done.json()["decision"]["sla"]["resolution_due"])

    late = resolution_due + timedelta(minutes=1)
    assert api.services.sla.check(now=late) == [ticket_id]
    assert api.services.sla.check(now=late + timedelta(minutes=1)) == []  # once per step
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).json()
    steps = [(e["deadline"], e["state"]) for e in view["sla"]["events"]]
    assert steps == [("first_response", "breached"), ("resolution", "breached")]
    assert view["sla"]["state"] == "breached"
    assert view["sla"]["events"][-1]["actions"][0] == "raise_priority P3->P2"


def test_a_level_whose_protocol_does_not_start_the_sla_clock_is_not_watched(api: Api) -> None:
    # P3 keeps its targets but not start_sla_clock: its tickets are not held to them
    policy = EXAMPLE.replace(
        "P3: {first_response_hours: 4, resolution_hours: 24, business_hours: true,\n"
        "         actions: [start_sla_clock]}",
        "P3: {first_response_hours: 4, resolution_hours: 24, business_hours: true, actions: []}",
    )
    assert policy != EXAMPLE
    put = api.client.put("/v1/policy", json={"yaml": policy}, headers=api.auth("admin"))
    assert put.status_code == 200
    made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
    assert (made["priority"], made["escalate"]) == ("P3", True)
    assert any("no SLA clock" in e["detail"] for e in made["evidence"] if e["kind"] == "sla")
    late = datetime.fromisoformat(made["sla"]["resolution_due"]) + timedelta(days=1)
    assert api.services.sla.check(now=late) == []
    assert api.services.sla.at_risk(now=late) == []
    view = api.client.get(f"/v1/tickets/{made['ticket_id']}", headers=api.auth("specialist"))
    assert view.json()["sla"]["resolution_due"] is None

    # the same ticket at P2, whose protocol starts the clock, is watched
    urgent = {**TICKET_DB, "body": TICKET_DB["body"] + " Urgent!"}
    raised = api.client.post("/v1/triage", json=urgent, headers=api.auth("helpdesk")).json()
    assert raised["priority"] == "P2"
    late = datetime.fromisoformat(raised["sla"]["resolution_due"]) + timedelta(minutes=1)
    assert api.services.sla.check(now=late) == [raised["ticket_id"]]


def test_a_review_without_a_priority_keeps_the_watchs_raise_and_its_due_times(api: Api) -> None:
    made = api.client.post("/v1/triage", json=TICKET_REVIEW, headers=api.auth("helpdesk")).json()
    ticket_id = made["ticket_id"]
    assert made["needs_review"] and made["priority"] == "P3"
    first_due = datetime.fromisoformat(made["sla"]["first_response_due"])
    assert api.services.sla.check(now=first_due + timedelta(minutes=1)) == [ticket_id]

    done = api.client.post(
        f"/v1/review/{ticket_id}", json={"team": made["team"]}, headers=api.auth("reviewer")
    )
    assert done.status_code == 200
    decision = done.json()["decision"]
    assert decision["priority"] == "P2"
    assert decision["sla"] == made["sla"]  # the raise does not restart or tighten the clock
    assert any(
        e["kind"] == "sla" and e["detail"].startswith("P2 kept: the SLA watch raised it from P3")
        for e in decision["evidence"]
    )
    with api.services.db.session() as session:
        row = session.get(TicketRow, ticket_id)
        assert (row.priority, row.resolution_due) == (
            "P2",
            datetime.fromisoformat(made["sla"]["resolution_due"]),
        )
    # the resolution breach raises from where the ticket stands, not from the agent's P3
    late = datetime.fromisoformat(made["sla"]["resolution_due"]) + timedelta(minutes=1)
    assert api.services.sla.check(now=late) == [ticket_id]
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).json()
    assert view["sla"]["events"][-1]["actions"][0] == "raise_priority P2->P1"

    # a reviewer who names a priority still decides it (and its level's SLA)
    again = api.client.post(
        "/v1/triage", json=TICKET_REVIEW | {"body": "Scanner jammed."}, headers=api.auth("helpdesk")
    ).json()
    due = datetime.fromisoformat(again["sla"]["first_response_due"])
    assert api.services.sla.check(now=due + timedelta(minutes=1)) == [again["ticket_id"]]
    answer = {"team": again["team"], "priority": "P3"}
    named = api.client.post(
        f"/v1/review/{again['ticket_id']}", json=answer, headers=api.auth("reviewer")
    ).json()["decision"]
    assert (named["priority"], named["sla"]) == ("P3", again["sla"])


def test_a_watch_pass_that_read_a_ticket_before_a_review_leaves_the_reviewers_priority(
    api: Api,
) -> None:
    made = api.client.post("/v1/triage", json=TICKET_REVIEW, headers=api.auth("helpdesk")).json()
    ticket_id = made["ticket_id"]
    assert made["needs_review"] and made["priority"] == "P3"
    reviewed: list[int] = []

    def review_after_the_watch_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The watch's pass has read the open tickets; a reviewer's answer commits before it writes.
        if reviewed or "resolution_due IS NOT NULL" not in statement:
            return
        answer = {"team": made["team"], "priority": "P4"}
        post = lambda: reviewed.append(  # noqa: E731
            api.client.post(
                f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer")
            ).status_code
        )
        threading.Thread(target=post, daemon=True).start()
        assert wait_for(lambda: api.services.store.status(ticket_id) == "decided", 10)

    engine = api.services.db.engine
    event.listen(engine, "after_cursor_execute", review_after_the_watch_read)
    try:
        first_due = datetime.fromisoformat(made["sla"]["first_response_due"])
        acted = api.services.sla.check(now=first_due + timedelta(minutes=1))
    finally:
        event.remove(engine, "after_cursor_execute", review_after_the_watch_read)
    assert wait_for(lambda: reviewed == [200], 10), reviewed
    assert acted == []
    with api.services.db.session() as session:
        row = session.get(TicketRow, ticket_id)
        assert (row.status, row.priority, row.sla_state) == ("decided", "P4", "ok")
        assert not any(e.get("state") == "breached" for e in row.sla_events)


def test_a_page_outcome_recorded_while_another_process_acts_keeps_that_processs_event(
    api: Api,
) -> None:
    server = _scripted_hook(api, [204])
    # a second API process on the same database, with its own SLA watch
    other = create_app(api.services.settings, api.triager, ServiceOptions(start_background=False))
    try:
        with TestClient(other):
            made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk"))
            ticket_id = made.json()["ticket_id"]
            due = datetime.fromisoformat(made.json()["sla"]["resolution_due"])
            other_pass = threading.Thread(
                target=other.state.services.sla.check, args=(due + timedelta(minutes=1),)
            )

            def breach_while_the_outcome_is_recorded(
                _c: Any, _cur: Any, statement: str, *_: Any
            ) -> None:
                # The page's outcome has read the ticket; the other process's watch acts on the
                # breach before it is written (or, while the ticket is held, waits for it).
                name = threading.current_thread().name
                if other_pass.ident is not None or not name.startswith("oncall-notify"):
                    return
                if statement.lstrip().upper().startswith("SELECT") and "FROM tickets" in statement:
                    other_pass.start()
                    other_pass.join(2)

            engine = api.services.db.engine
            event.listen(engine, "after_cursor_execute", breach_while_the_outcome_is_recorded)
            try:
                assert api.services.sla.check(now=due - timedelta(minutes=1)) == [ticket_id]
            finally:
                event.remove(engine, "after_cursor_execute", breach_while_the_outcome_is_recorded)
            other_pass.join(30)
            api.services.sla.check(now=due + timedelta(minutes=2))  # acts if the breach was lost
            events = _events_once_paged(api, ticket_id)
            other.state.services.db.close()
    finally:
        server.shutdown()
    assert [e["state"] for e in events] == ["at_risk", "breached"]
    assert [e["oncall"] for e in events] == ["ok", "ok"]
    # on-call was paged once per step (before: the lost breach was acted on, and paged, again)
    assert sorted(p["state"] for p in _ScriptedHook.received) == ["at_risk", "breached"]


def test_a_decision_page_stored_while_another_process_acts_keeps_that_processs_event(
    api: Api,
) -> None:
    server = _scripted_hook(api, [204])  # its policy is replaced below, the server kept
    url = f"http://127.0.0.1:{server.server_port}/page"
    # P1's protocol pages without jump_queue: the page's read of the ticket is the only one
    pages_only = EXAMPLE.replace("actions: [jump_queue, notify_oncall,", "actions: [notify_oncall,")
    assert pages_only != EXAMPLE
    admin = api.auth("admin")
    assert api.client.put("/v1/policy", json={"yaml": pages_only}, headers=admin).status_code == 200
    other = create_app(api.services.settings, api.triager, ServiceOptions(start_background=False))
    try:
        with TestClient(other):
            # decided while no webhook was set: its decision-time page is sent below, by hand
            old = {**OUTAGE, "received_at": "2020-01-06T09:00:00Z"}
            made = api.client.post("/v1/triage", json=old, headers=api.auth("helpdesk")).json()
            ticket_id = made["ticket_id"]
            assert made["priority"] == "P1" and "notify_oncall" in made["sla"]["actions"]
            put = {
                "yaml": pages_only.replace(
                    "\npriorities:\n", f"\npriorities:\n  oncall_webhook: {url}\n", 1
                )
            }
            assert api.client.put("/v1/policy", json=put, headers=admin).status_code == 200
            stored = api.services.store.output(ticket_id)
            result = TriageResult.model_validate(
                {
                    "decision": {k: v for k, v in stored.items() if k != "brief"},
                    "brief": stored["brief"],
                }
            )
            other_pass = threading.Thread(target=other.state.services.sla.check)

            def breach_while_the_page_is_stored(
                _c: Any, _cur: Any, statement: str, *_: Any
            ) -> None:
                # The decision's page has read the ticket; the other process's watch acts on the
                # breach before the page is stored (or, while the ticket is held, waits for it).
                name = threading.current_thread().name
                if other_pass.ident is not None or name != "decision page":
                    return
                if statement.lstrip().upper().startswith("SELECT") and "FROM tickets" in statement:
                    other_pass.start()
                    other_pass.join(2)

            ticket = api.services.store.ticket(ticket_id)
            decision_page = threading.Thread(
                target=api.services.sla.on_decision,
                args=(ticket_id, ticket, result),
                name="decision page",
            )
            engine = api.services.db.engine
            event.listen(engine, "after_cursor_execute", breach_while_the_page_is_stored)
            try:
                decision_page.start()
                decision_page.join(30)
            finally:
                event.remove(engine, "after_cursor_execute", breach_while_the_page_is_stored)
            other_pass.join(30)
            api.services.sla.check()  # acts if the breach was lost
            events = _events_once_paged(api, ticket_id)
            other.state.services.db.close()
    finally:
        server.shutdown()
    assert sorted(e["state"] for e in events) == ["breached", "decided"]
    assert sorted(p["state"] for p in _ScriptedHook.received) == ["breached", "decided"]


def test_a_failed_page_retried_by_two_processes_at_once_is_sent_once(api: Api) -> None:
    server = _scripted_hook(api, [503, 204])
    other = create_app(api.services.settings, api.triager, ServiceOptions(start_background=False))
    try:
        with TestClient(other):
            made = api.client.post("/v1/triage", json=OUTAGE, headers=api.auth("helpdesk")).json()
            assert made["priority"] == "P1"
            assert _events_once_paged(api, made["ticket_id"])[0]["oncall"] == "failed"
            other_pass = threading.Thread(target=other.state.services.sla.check)

            def other_retries_meanwhile(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
                # This pass has read the failed page; the other process's pass retries it before
                # this one claims it (or, while the ticket is held, waits for it).
                if (
                    other_pass.ident is None
                    and "sla_events AS" in statement
                    and "LIKE" in statement
                ):
                    other_pass.start()
                    other_pass.join(2)

            engine = api.services.db.engine
            event.listen(engine, "after_cursor_execute", other_retries_meanwhile)
            try:
                api.services.sla.check()
            finally:
                event.remove(engine, "after_cursor_execute", other_retries_meanwhile)
            other_pass.join(30)
            events = _events_once_paged(api, made["ticket_id"])
            other.state.services.db.close()
    finally:
        server.shutdown()
    # the decision's page, then one retry (before: each process sent its own)
    assert len(_ScriptedHook.received) == 2
    assert events[0]["oncall"] == "ok" and events[0]["oncall_attempts"] == 2


def test_the_served_logs_never_show_the_oncall_webhooks_url(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    # A Slack or Teams hook carries its token in the URL; at the default INFO level the HTTP
    # client's own request line wrote it to stderr with every page.
    _Hook.received.clear()
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root, levels = logging.getLogger(), {n: logging.getLogger(n).level for n in URL_LOGGERS}
    before = root.level
    try:
        configure_logging("INFO")
        caplog.set_level(logging.INFO, logger="api")
        url = f"http://127.0.0.1:{server.server_port}/services/T0/B0/hook-token-4f9a"
        api.client.put("/v1/policy", json={"yaml": _with_webhook(url)}, headers=api.auth("admin"))
        outage = {"subject": "Production outage", "body": "Major outage: portal down for all."}
        made = api.client.post("/v1/triage", json=outage, headers=api.auth("helpdesk")).json()
        assert made["priority"] == "P1"
        assert wait_for(lambda: _Hook.received, timeout=10)
        assert wait_for(lambda: "notify_oncall ok" in _last_actions(api, made["ticket_id"]))
    finally:
        server.shutdown()
        root.setLevel(before)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    assert caplog.records  # INFO lines were written: the service's own
    assert "hook-token-4f9a" not in caplog.text


def _last_actions(api: Api, ticket_id: str) -> list[str]:
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist"))
    actions: list[str] = view.json()["sla"]["events"][-1]["actions"]
    return actions
