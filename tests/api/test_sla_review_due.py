"""A reviewer who sets a new priority sets new due times; the watch acts on their breach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_support import TICKET_REVIEW, Api


def test_a_breach_of_the_due_time_a_review_set_gets_the_protocol(api: Api) -> None:
    urgent = {**TICKET_REVIEW, "body": TICKET_REVIEW["body"] + " Urgent!"}
    made = api.client.post("/v1/triage", json=urgent, headers=api.auth("helpdesk")).json()
    ticket_id = made["ticket_id"]
    assert made["needs_review"] and made["escalate"] and made["priority"] == "P2"
    # Left in the review queue past both of its P2 due times: both breaches are acted on.
    late = datetime.fromisoformat(made["sla"]["resolution_due"]) + timedelta(minutes=1)
    assert api.services.sla.check(now=late) == [ticket_id]
    assert api.services.sla.check(now=late + timedelta(minutes=1)) == [ticket_id]

    answer = {"team": made["team"], "priority": "P3"}
    done = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    assert done.status_code == 200
    new_due = datetime.fromisoformat(done.json()["decision"]["sla"]["resolution_due"])
    assert new_due > late  # 24 business hours from arrival: the reviewer's new commitment

    assert api.services.sla.check(now=new_due - timedelta(minutes=1)) == [ticket_id]  # at risk
    assert api.services.sla.check(now=new_due + timedelta(minutes=1)) == [ticket_id]
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).json()
    steps = [(e["deadline"], e["state"], e["due"]) for e in view["sla"]["events"]]
    assert steps[-2:] == [
        ("resolution", "at_risk", new_due.isoformat()),
        ("resolution", "breached", new_due.isoformat()),
    ]


def test_the_state_of_a_ticket_follows_the_due_times_a_review_set(api: Api) -> None:
    urgent = {**TICKET_REVIEW, "body": TICKET_REVIEW["body"] + " Urgent!"}
    made = api.client.post("/v1/triage", json=urgent, headers=api.auth("helpdesk")).json()
    ticket_id = made["ticket_id"]
    late = datetime.fromisoformat(made["sla"]["first_response_due"]) + timedelta(minutes=1)
    assert api.services.sla.check(now=late) == [ticket_id]
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).json()
    assert view["sla"]["state"] == "breached"

    answer = {"team": made["team"], "priority": "P4"}  # due days from now
    done = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    assert done.status_code == 200
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).json()
    assert datetime.fromisoformat(view["sla"]["resolution_due"]) > datetime.now(UTC)
    assert view["sla"]["state"] == "ok"
    assert [e["state"] for e in view["sla"]["events"]][:1] == ["breached"]  # kept as history
