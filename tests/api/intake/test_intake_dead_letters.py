"""Retries, dead letters and their way out: replay (fixed or not) and logged discard only."""

from __future__ import annotations

from api_support import Api, wait_for
from intake_fakes import CuedEngine, RecordingListener
from intake_samples import web_form
from intake_support import IntakeFactory

from agent.policy import Policy


def _submit(api: Api, subject: str, external_id: str, tier: str = "standard") -> str:
    body = {
        "subject": subject,
        "body": "details",
        "external_id": external_id,
        "account": {"tier": tier},
    }
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["ticket_id"])


def _status(api: Api, ticket_id: str) -> str:
    return str(api.services.store.status(ticket_id))


def test_transient_failures_retry_then_succeed_once(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    engine = CuedEngine(example_policy)
    api = make_intake_api(engine=engine)
    listener = RecordingListener()
    api.app.state.decision_listeners.append(listener)
    ticket_id = _submit(api, "FLAKY printer", "f1")
    assert wait_for(lambda: _status(api, ticket_id) == "decided", 20)
    assert engine.failures[ticket_id] == 2
    # Listeners are told right after the decision is stored (status "decided"), not with it.
    assert wait_for(lambda: listener.calls != [], 5)
    assert listener.calls == [(ticket_id, example_policy.first_line_team)]
    assert api.app.state.intake.records.get(ticket_id).attempts == 3
    assert api.app.state.intake.dead_letters.list() == []


def test_poison_is_dead_lettered_and_listed_by_impact(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_max_attempts=2)
    small = _submit(api, "POISON printer", "p1")
    big = _submit(api, "POISON printer", "p2", tier="enterprise")
    dead = api.app.state.intake.dead_letters
    assert wait_for(lambda: len(dead.list()) == 2, 20)
    listed = api.client.get("/v1/dead-letters", headers=api.auth("reviewer")).json()
    assert [d["ticket_id"] for d in listed] == [big, small]
    assert listed[0]["attempts"] == 2 and "engine crashed" in listed[0]["error"]
    one = api.client.get(f"/v1/dead-letters/{listed[1]['id']}", headers=api.auth("reviewer")).json()
    assert one["payload"]["external_id"] == "p1" and one["ticket"]["subject"] == "POISON printer"
    assert _status(api, small) == "failed"
    assert api.client.get("/v1/dead-letters", headers=api.auth("helpdesk")).status_code == 403


def test_fixed_replay_decides_and_discard_needs_a_reason(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_max_attempts=1)
    fixed_id = _submit(api, "POISON printer", "r1")
    dropped_id = _submit(api, "POISON again", "r2")
    dead = api.app.state.intake.dead_letters
    assert wait_for(lambda: len(dead.list()) == 2, 20)
    letters = {d.ticket_id: d.id for d in dead.list()}
    fixed = {"subject": "printer jammed", "body": "details", "external_id": "r1"}
    replayed = api.client.post(
        f"/v1/dead-letters/{letters[fixed_id]}/replay",
        json={"ticket": fixed},
        headers=api.auth("reviewer"),
    )
    assert replayed.status_code == 200 and replayed.json()["state"] == "replayed"
    assert wait_for(lambda: _status(api, fixed_id) == "decided", 20)
    assert api.services.store.ticket(fixed_id).subject == "printer jammed"
    url = f"/v1/dead-letters/{letters[dropped_id]}"
    no_reason = api.client.request("DELETE", url, json={}, headers=api.auth("reviewer"))
    assert no_reason.status_code == 422
    gone = api.client.request(
        "DELETE", url, json={"reason": "test spam"}, headers=api.auth("admin")
    )
    assert gone.json()["state"] == "discarded" and gone.json()["reason"] == "test spam"
    assert (
        api.client.request(
            "DELETE", url, json={"reason": "again"}, headers=api.auth("admin")
        ).status_code
        == 409
    )
    assert dead.list() == [] and len(dead.list("discarded")) == 1


def test_a_fixed_replay_keeps_what_the_fix_leaves_out(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_max_attempts=1)
    form = web_form(
        "f-poison",
        description="POISON: the portal rejects my password",
        account={"name": "Bigcorp", "tier": "enterprise"},
    )
    sent = api.client.post("/v1/intake/web", json=form, headers=api.auth("helpdesk"))
    assert sent.status_code == 202, sent.text
    ticket_id = sent.json()["ticket_id"]
    dead = api.app.state.intake.dead_letters
    assert wait_for(lambda: len(dead.list()) == 1, 20)
    before = api.services.store.ticket(ticket_id)
    # The reviewer corrects the text only: where it came from, whose it is and when it arrived
    # (the SLA clock, the helpdesk's ticket the decision goes back to) stay as they were.
    fixed = {"body": "The portal rejects my password since this morning."}
    replayed = api.client.post(
        f"/v1/dead-letters/{dead.list()[0].id}/replay",
        json={"ticket": fixed},
        headers=api.auth("reviewer"),
    )
    assert replayed.status_code == 200, replayed.text
    assert wait_for(lambda: _status(api, ticket_id) == "decided", 20)
    after = api.services.store.ticket(ticket_id)
    assert after.body == fixed["body"]
    assert (after.channel, after.external_id) == ("web", "f-poison")
    assert after.received_at == before.received_at
    assert (after.account.name, after.account.tier) == ("Bigcorp", "enterprise")
    assert (after.requester, after.subject) == (before.requester, before.subject)


def test_a_channel_resend_of_a_dead_lettered_ticket_replays_it_in_the_senders_name(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    """As on POST /v1/tickets: the sender's resend after its triage failed for good tries again
    (it was answered 'duplicate' and the ticket stayed failed, waiting for a reviewer)."""
    api = make_intake_api(engine=CuedEngine(example_policy), intake_max_attempts=2)
    ticket_id = _submit(api, "FLAKY vpn", "T-resend")
    dead = api.app.state.intake.dead_letters
    assert wait_for(lambda: len(dead.list()) == 1, 20)
    letter = dead.list()[0]
    assert _status(api, ticket_id) == "failed"
    body = {
        "subject": "FLAKY vpn",
        "body": "details",
        "external_id": "T-resend",
        "account": {"tier": "standard"},
    }
    again = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert again.status_code == 200 and again.json()["status"] == "duplicate", again.text
    assert again.json()["ticket_id"] == ticket_id
    assert wait_for(lambda: _status(api, ticket_id) == "decided", 20)
    closed = dead.get(letter.id)
    assert (closed.state, closed.resolved_by) == ("replayed", "test-helpdesk")
    assert closed.reason == "resubmitted by its sender"
    assert dead.list() == []
