"""A person sends a quarantined (or wrongly rejected) payload on to triage, once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from api_support import Api
from intake_samples import chat
from intake_support import IntakeFactory

from api.auth import create_key


def _api(make_intake_api: IntakeFactory, tmp_path: Path) -> Api:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("channels:\n  web: {min_chars: 30}\n", encoding="utf-8")
    return make_intake_api(start=False, intake_profiles_path=profiles)


def test_a_quarantined_payload_is_released_once_and_belongs_to_its_sender(
    make_intake_api: IntakeFactory, tmp_path: Path
) -> None:
    api = _api(make_intake_api, tmp_path)
    form = {"submission_id": "s1", "description": "ORA-00600 db", "account": {"tier": "vip"}}
    held = api.client.post("/v1/intake/web", json=form, headers=api.auth("helpdesk")).json()
    assert held["status"] == "quarantined"
    url = f"/v1/intake/rejects/{held['reject_id']}/release"
    assert api.client.post(url, headers=api.auth("helpdesk")).status_code == 403
    released = api.client.post(url, headers=api.auth("reviewer"))
    assert released.status_code == 202, released.text
    ticket_id = released.json()["ticket_id"]
    assert released.json()["status"] == "queued"
    assert api.app.state.intake.queue.depth() == 1
    again = api.client.post(url, headers=api.auth("reviewer"))
    assert again.status_code == 409
    kept = api.client.get(
        f"/v1/intake/rejects/{held['reject_id']}", headers=api.auth("reviewer")
    ).json()
    assert (kept["released_by"], kept["ticket_id"]) == ("test-reviewer", ticket_id)
    assert kept["released_at"] is not None
    own = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("helpdesk"))
    assert own.status_code == 200 and own.json()["ticket"]["account"]["tier"] == "vip"
    other = {"Authorization": f"Bearer {create_key(api.services.db, 'helpdesk', 'o')[1]}"}
    assert api.client.get(f"/v1/tickets/{ticket_id}", headers=other).status_code == 403


def test_an_unreadable_payload_is_released_only_with_a_fixed_ticket(
    make_intake_api: IntakeFactory, tmp_path: Path
) -> None:
    api = _api(make_intake_api, tmp_path)
    empty = {**chat("c-empty"), "messages": []}
    refused = api.client.post("/v1/intake/chat", json=empty, headers=api.auth("helpdesk"))
    assert refused.status_code == 422
    url = f"/v1/intake/rejects/{refused.json()['reject_id']}/release"
    bare = api.client.post(url, headers=api.auth("reviewer"))
    assert bare.status_code == 422 and "send the fixed ticket" in bare.json()["detail"]
    wrong = api.client.post(url, json={"ticket": {"subject": ""}}, headers=api.auth("reviewer"))
    assert wrong.status_code == 422
    fixed = {"subject": "VPN drops", "body": "The VPN drops every hour.", "channel": "chat"}
    released = api.client.post(url, json={"ticket": fixed}, headers=api.auth("reviewer"))
    assert released.status_code == 202, released.text
    assert api.app.state.intake.queue.depth() == 1
    # the failed tries left it open: it is released once, now
    assert api.client.post(url, headers=api.auth("reviewer")).status_code == 409


def test_a_fixed_release_keeps_what_the_fix_leaves_out(
    make_intake_api: IntakeFactory, tmp_path: Path
) -> None:
    api = _api(make_intake_api, tmp_path)
    form = {
        "submission_id": "s2",
        "email": "vera@bigcorp.example",
        "description": "ORA-00600 db",
        "account": {"name": "Bigcorp", "tier": "vip"},
    }
    held = api.client.post("/v1/intake/web", json=form, headers=api.auth("helpdesk")).json()
    assert held["status"] == "quarantined"
    kept = api.app.state.intake.rejects.get(held["reject_id"]).ticket
    # The reviewer completes the text; the sender, account, source and arrival stay.
    fixed = {"body": "ORA-00600 on the production database since the patch last night"}
    url = f"/v1/intake/rejects/{held['reject_id']}/release"
    released = api.client.post(url, json={"ticket": fixed}, headers=api.auth("reviewer"))
    assert released.status_code == 202, released.text
    ticket = api.services.store.ticket(released.json()["ticket_id"])
    assert ticket.body == fixed["body"]
    assert (ticket.channel, ticket.external_id) == ("web", "s2")
    assert (ticket.requester, ticket.account.name, ticket.account.tier) == (
        "vera@bigcorp.example",
        "Bigcorp",
        "vip",
    )
    assert ticket.received_at == datetime.fromisoformat(kept["received_at"])
