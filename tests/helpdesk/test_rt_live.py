"""Against a real Request Tracker 5 (`.ci/rt up`): events out of RT, decisions into RT, history,
outage and the resolution back-flow. Run with `pytest -m helpdesk`."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from rt_support import (
    DB_TEXT,
    REPO,
    REVIEW_TEXT,
    VPN_TEXT,
    RigFactory,
    RootClient,
    free_port,
    rt_ticket,
    served,
    wait_for,
)

from agent.state import HumanReview
from api.helpdesk.accounts import load_accounts
from api.helpdesk.history import Enricher
from api.helpdesk.names import TAGS_FIELD, priority_map, user_map
from api.helpdesk.options import HelpdeskOptions
from api.helpdesk.rt import RTHelpdesk
from api.helpdesk.rt_events import RTEventReader
from api.helpdesk.rt_setup.hookfile import read_hook, write_hook

pytestmark = [pytest.mark.helpdesk, pytest.mark.slow]
SECRET = "test-webhook-secret"
OUTAGE_S = float(os.environ.get("TRIAGE_RT_OUTAGE_S", "30"))


@pytest.fixture
def rt(rt_env: dict[str, str]) -> Iterator[RTHelpdesk]:
    client = RTHelpdesk(rt_env["RT_URL"], rt_env["RT_TOKEN"], timeout_s=5)
    yield client
    client.close()


@pytest.fixture
def root(rt_env: dict[str, str]) -> RootClient:
    return RootClient(rt_env["RT_URL"])


@pytest.fixture
def hook(rt_env: dict[str, str]) -> Any:
    """Point RT's scrip somewhere for one test; restore the previous target afterwards."""
    path = Path(rt_env["RT_HOOK_FILE"])
    before = read_hook(path)

    def point(url: str) -> None:
        write_hook(path, url, SECRET, timeout_s=5)

    yield point
    if before is not None:
        write_hook(path, before.url, before.secret.get_secret_value(), before.timeout_s)


def _options() -> HelpdeskOptions:
    return HelpdeskOptions(helpdesk_retry_base_s=0.2, helpdesk_retry_cap_s=2.0, helpdesk_poll_s=0.5)


@contextmanager
def _receiving(hook: Any) -> Iterator[list[tuple[dict[str, str], bytes]]]:
    """The scrip's posts (headers, body) while the hook points at a local receiver."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook(f"http://127.0.0.1:{port}/v1/intake/helpdesk")
        yield received
    finally:
        server.shutdown()


def test_scrip_posts_signed_contract_payloads(hook: Any, root: RootClient) -> None:
    with _receiving(hook) as received:
        ticket_id = root.create(*VPN_TEXT, requester="erin@example.com")
        root.put(ticket_id, Status="resolved")
    payloads = []
    for headers, body in received:
        stamp = headers["X-Triage-Timestamp"]
        mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert headers["X-Triage-Signature"] == f"sha256={mac}"
        payloads.append(json.loads(body))
    create = next(p for p in payloads if p["transaction"]["type"] == "Create")
    assert (
        create["source"] == "rt" and create["event_id"] == f"rt-txn-{create['transaction']['id']}"
    )
    assert create["ticket"]["id"] == ticket_id and create["ticket"]["requestors"] == [
        "erin@example.com"
    ]
    assert create["transaction"]["content"].startswith(VPN_TEXT[1][:20])
    status = next(p for p in payloads if p["transaction"]["type"] == "Status")
    assert status["transaction"]["new_value"] == "resolved" and status["ticket"]["resolved"]


def test_catch_up_rebuilds_what_the_scrip_posted(
    hook: Any, root: RootClient, rt: RTHelpdesk
) -> None:
    reader = RTEventReader(rt)
    start = reader.newest()
    with _receiving(hook) as received:
        ticket_id = root.create(*VPN_TEXT, requester="judy@example.com")
        root.reply(ticket_id, "Replaced the firewall's tunnel config.")
        root.put(ticket_id, Queue="network", Status="resolved")
    payloads = [json.loads(body) for _, body in received]
    posted = {p["event_id"]: p for p in payloads if p["ticket"]["id"] == ticket_id}
    rebuilt = {
        p["event_id"]: p
        for p in reader.payloads(reader.rows(start))
        if p["ticket"]["id"] == ticket_id
    }
    assert sorted(rebuilt) == sorted(posted) and len(posted) >= 4
    for event_id, payload in posted.items():
        # Empty old/new values: RT's "" in the scrip, null over REST; the intake reads both alike.
        txn = {k: v or None for k, v in payload["transaction"].items()}
        assert {k: v or None for k, v in rebuilt[event_id]["transaction"].items()} == txn
    last = max(posted, key=lambda e: int(e.rsplit("-", 1)[1]))
    assert rebuilt[last]["ticket"] == posted[last]["ticket"]  # the ticket now, as at its last event


def test_created_in_rt_triaged_applied_then_resolved_back(
    make_rig: RigFactory, rt: RTHelpdesk, root: RootClient, hook: Any
) -> None:
    rig = make_rig(rt, _options(), background=True, webhook_secret=SECRET)
    policy = rig.services.engine.policy
    with served(rig.app) as base:
        hook(f"{base}/v1/intake/helpdesk")
        rt_id = root.create(*DB_TEXT, requester="frank@example.com")
        row = wait_for(
            lambda: [r for r in rig.connector.outbox.rows(rt_id) if r.status != "pending"],
            60,
            "the decision applied in RT",
        )[0]
        assert row.status == "applied", row.last_error
        decision = rig.services.store.output(row.ticket_id)
        now = rt.ticket(rt_id)
        assert now.queue == decision["team"] == "database"
        if decision["assignee"]:
            assert now.owner == user_map(policy)[decision["assignee"]]
        assert now.priority == priority_map(policy.priorities.scale)[decision["priority"]]
        assert sorted(now.custom_fields[TAGS_FIELD]) == sorted(decision["tags"])
        comments = [t.content or "" for t in rt.history(rt_id) if t.type == "Comment"]
        assert len(comments) == 1 and row.update["marker"] in comments[0]
        # A person moves it elsewhere, answers and resolves: a misroute, learned as a case.
        root.put(rt_id, Queue="erp_applications")
        root.reply(rt_id, "Re-ran the posting job; invoices post again.")
        root.put(rt_id, Status="resolved")
        (record,) = wait_for(
            lambda: [r for r in rig.services.ledger.outcomes("service_desk") if r.first_route],
            60,
            "the KPI record of the resolution",
        )
        assert (record.first_route, record.team) == ("database", "erp_applications")
        case = rig.triager.kb.store.get(row.ticket_id)
        assert case is not None and case.label_source == "helpdesk"
        assert case.resolution == "Re-ran the posting job; invoices post again."


def test_a_person_moving_the_ticket_in_rt_moves_it_here_at_once(
    make_rig: RigFactory, rt: RTHelpdesk, root: RootClient, hook: Any
) -> None:
    rig = make_rig(rt, _options(), background=True, webhook_secret=SECRET)
    policy = rig.services.engine.policy
    with served(rig.app) as base:
        hook(f"{base}/v1/intake/helpdesk")
        rt_id = root.create(*DB_TEXT, requester="frank@example.com")
        row = wait_for(
            lambda: [r for r in rig.connector.outbox.rows(rt_id) if r.status != "pending"],
            60,
            "the decision applied in RT",
        )[0]
        ours = rig.services.store.output(row.ticket_id)["assignee"]
        other = next(m.name for m in policy.team("database").members if m.name != ours)
        root.put(rt_id, Owner=user_map(policy)[other])  # a colleague takes it over
        wait_for(
            lambda: rig.services.store.view(row.ticket_id).assignee == other,
            60,
            "the assignee following RT's owner",
        )
        root.put(rt_id, Queue="erp_applications")
        wait_for(
            lambda: rig.services.store.view(row.ticket_id).team == "erp_applications",
            60,
            "the team following RT's queue",
        )
        view = rig.services.store.view(row.ticket_id)
        assert view.status == "decided" and view.assignee == other
        assert view.decision is not None and view.decision["team"] == "database"


def test_a_ticket_merged_into_another_in_rt_is_closed_here(
    make_rig: RigFactory, rt: RTHelpdesk, root: RootClient, hook: Any
) -> None:
    rig = make_rig(rt, _options(), background=True, webhook_secret=SECRET)
    with served(rig.app) as base:
        hook(f"{base}/v1/intake/helpdesk")
        kept, duplicate = (root.create(*DB_TEXT, requester="grace@example.com") for _ in "ab")
        rows = wait_for(
            lambda: [r for r in rig.connector.outbox.rows() if r.status != "pending"][1:],
            60,
            "both decisions applied in RT",
        )
        ours = {r.external_id: r.ticket_id for r in rig.connector.outbox.rows()}
        assert sorted(ours) == sorted([kept, duplicate]) and rows
        root.put(duplicate, MergeInto=kept)  # the customer wrote twice: one ticket in RT now
        wait_for(
            lambda: rig.services.store.status(ours[duplicate]) == "resolved",
            60,
            "the merged ticket closed here",
        )
        assert rig.services.store.status(ours[kept]) == "decided"


def test_history_of_a_requester_is_attached(rt: RTHelpdesk, root: RootClient, hook: Any) -> None:
    hook("http://127.0.0.1:9/nowhere")  # no service needed here
    gina = f"gina-{uuid.uuid4().hex[:8]}@example.com"  # RT's database outlives one run
    old = root.create("Printer offline", "The printer says offline.", gina)
    root.reply(old, "Power-cycled the printer: fixed.")
    root.put(old, Status="resolved")
    new = root.create(*DB_TEXT, requester=gina)
    root.reply(new, "We restarted the listener, no change.")
    ticket = Enricher(rt, load_accounts(None)).enrich(rt_ticket(new, *DB_TEXT, requester=gina))
    (prior,) = ticket.history
    assert prior.id == f"rt:{old}" and prior.resolution == "Power-cycled the printer: fixed."
    assert [m.body.strip() for m in ticket.messages] == ["We restarted the listener, no change."]


def test_outage_every_update_arrives_once_in_order(
    make_rig: RigFactory, rt: RTHelpdesk, root: RootClient, hook: Any, rt_env: dict[str, str]
) -> None:
    hook("http://127.0.0.1:9/nowhere")
    ids = [root.create(*text, requester="hank@example.com") for text in (REVIEW_TEXT, VPN_TEXT)]
    rig = make_rig(rt, _options(), background=True)
    script = REPO / ".ci" / "rt"
    # The session's RT, wherever it runs: the test's environment has no TRIAGE_ variables.
    port = str(urlsplit(rt_env["RT_URL"]).port)
    env = {**os.environ, "TRIAGE_RT_DIR": rt_env["RT_DIR"], "TRIAGE_RT_PORT": port}
    with served(rig.app):
        subprocess.run([script, "stop"], check=True, capture_output=True, env=env)
        try:
            review_id, first = rig.decide(rt_ticket(ids[0], *REVIEW_TEXT, "hank@example.com"))
            rig.decide(rt_ticket(ids[1], *VPN_TEXT, "hank@example.com"))
            reviewed = rig.triager.resume(review_id, HumanReview(team="hardware", reviewer="r"))
            rig.services.store.record(review_id, reviewed, actor="r")
            rig.connector.listener.on_decision(
                review_id, rig.services.store.ticket(review_id), reviewed
            )
            wait_for(lambda: rig.connector.delivery.failures > 0, 10, "a failed delivery")
            threading.Event().wait(OUTAGE_S)
            assert rig.connector.outbox.pending_count() == 3
        finally:
            subprocess.run([script, "start"], check=True, capture_output=True, env=env)
        wait_for(lambda: rig.connector.outbox.pending_count() == 0, 120, "the outbox drained")
    rows = rig.connector.outbox.rows()
    assert [r.status for r in rows] == ["applied"] * 3
    assert first.decision.needs_review
    markers = [r.update["marker"] for r in rows if r.external_id == ids[0]]
    comments = [t.content or "" for t in rt.history(ids[0]) if t.type == "Comment"]
    assert [next(m for m in markers if m in c) for c in comments] == markers  # once, in order
    assert rt.ticket(ids[0]).queue == "hardware"
    assert len([t for t in rt.history(ids[1]) if t.type == "Comment"]) == 1


def test_events_missed_by_the_webhook_are_caught_up_once(
    make_rig: RigFactory, rt: RTHelpdesk, root: RootClient, hook: Any
) -> None:
    hook("http://127.0.0.1:9/nowhere")  # every scrip post fails, as with the service down
    options = _options().model_copy(update={"helpdesk_catchup_s": 3600.0})
    rig = make_rig(rt, options, background=True, webhook_secret=SECRET)
    catchup = rig.connector.catchup
    assert catchup is not None
    ledger = rig.services.ledger

    def applied(rt_id: str) -> list[Any]:
        return [r for r in rig.connector.outbox.rows(rt_id) if r.status != "pending"]

    with served(rig.app):
        # The first pass at start only notes where RT is: RT's earlier history is not replayed.
        # (ended, not only begun: a pass still reading would take the ticket created next)
        wait_for(lambda: catchup.passes > 0, 30, "the catch-up's first pass")
        assert catchup.applied == 0
        old = root.create(*DB_TEXT, requester="ivan@example.com")
        assert catchup.catch_up() == 1
        assert wait_for(lambda: applied(old), 60, "the first ticket written back")[0].status == (
            "applied"
        )
        root.reply(old, "Restarted the listener; the database answers again.")
        root.put(old, Status="resolved")
        new = root.create(*VPN_TEXT, requester="ivan@example.com")
        assert catchup.catch_up() >= 3  # the bot's own changes, the reply, the resolution, new
        assert wait_for(lambda: applied(new), 60, "the new ticket written back")[0].status == (
            "applied"
        )
        (record,) = wait_for(
            lambda: [r for r in ledger.outcomes("service_desk") if r.first_route],
            60,
            "the resolution's record",
        )
        assert record.first_route == "database"
        catchup.catch_up()  # the bot's write-back on the new ticket
        assert catchup.catch_up() == 0
        threading.Event().wait(2)  # give the workers a chance to do anything twice
    for rt_id in (old, new):
        assert len(rig.connector.outbox.rows(rt_id)) == 1
        assert len([t for t in rt.history(rt_id) if t.type == "Comment"]) == 1
    assert len([r for r in ledger.outcomes("service_desk") if r.first_route]) == 1
    case = rig.triager.kb.store.get(applied(old)[0].ticket_id)
    assert case is not None and case.label_source == "helpdesk"
    assert case.resolution == "Restarted the listener; the database answers again."


def test_a_signed_event_id_past_rt_s_newest_does_not_stop_the_catch_up(
    make_rig: RigFactory, rt: RTHelpdesk, root: RootClient, hook: Any
) -> None:
    hook("http://127.0.0.1:9/nowhere")  # every scrip post fails, as with the service down
    rig = make_rig(rt, _options(), webhook_secret=SECRET)
    catchup = rig.connector.catchup
    assert catchup is not None
    made_up = str(RTEventReader(rt).newest() + 900_000)
    body = json.dumps(
        {
            "source": "rt",
            "event_id": f"rt-txn-{made_up}",
            "transaction": {"id": made_up, "type": "Comment", "content": "hello"},
            "ticket": {"id": "1"},
        }
    ).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert catchup.webhook.receive(body, stamp, f"sha256={mac}").outcome == "handled"
    assert catchup.catch_up() == 0  # starts from RT's newest, as a fresh install
    root.create(*DB_TEXT, requester="ivan@example.com")  # its Create: missed by the webhook
    assert catchup.catch_up() == 1
    assert catchup.catch_up() == 0
