"""History enrichment against the fake helpdesk: conversation, earlier tickets, account context."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rt_support import DB_TEXT, RigFactory, rt_ticket

from agent.errors import InputError
from api.auth import create_key
from api.helpdesk.accounts import load_accounts
from api.helpdesk.base import Requester
from api.helpdesk.fake import FakeHelpdesk
from api.helpdesk.history import Enricher


def _with_past(fake: FakeHelpdesk) -> str:
    old = fake.create("Printer offline", "The printer says offline.", "alice@example.com")
    fake.record(old.id, "Correspond", "lena.fischer@example.com", content="Power-cycled it: fixed.")
    fake.set_field(old.id, "Status", "resolved", "lena.fischer@example.com")
    fake.set_field(old.id, "Status", "open", "alice@example.com")
    now = fake.create(*DB_TEXT, requester="alice@example.com")
    fake.record(now.id, "Correspond", "alice@example.com", content="Still failing after restart.")
    fake.comment(now.id, "## Triage: an earlier brief")  # our own comment: not history
    return now.id


def test_enrich_attaches_conversation_and_earlier_tickets() -> None:
    fake = FakeHelpdesk()
    current = _with_past(fake)
    ticket = Enricher(fake, load_accounts(None)).enrich(rt_ticket(current, *DB_TEXT))
    assert [(m.role, m.body) for m in ticket.messages] == [
        ("customer", "Still failing after restart.")
    ]
    (prior,) = ticket.history
    assert prior.id == "rt:1" and prior.subject == "Printer offline" and prior.status == "open"


def test_reopens_and_resolution_of_a_closed_prior_ticket() -> None:
    fake = FakeHelpdesk()
    old = fake.create("VPN", "VPN down", "bob@example.com")
    fake.record(old.id, "Correspond", "thomas.berg@example.com", content="Renewed the certificate.")
    fake.set_field(old.id, "Status", "resolved", "thomas.berg@example.com")
    fake.set_field(old.id, "Status", "open", "bob@example.com")
    fake.set_field(old.id, "Status", "resolved", "thomas.berg@example.com")
    now = fake.create("VPN again", "VPN down again", "bob@example.com")
    enricher = Enricher(fake, load_accounts(None))
    ticket = enricher.enrich(rt_ticket(now.id, "VPN again", "VPN down again", "bob@example.com"))
    assert ticket.history[0].resolution == "Renewed the certificate."
    reopened = enricher.enrich(rt_ticket(old.id, "VPN", "VPN down", "bob@example.com"))
    assert reopened.reopen_count == 1


def test_account_from_the_helpdesk_then_the_accounts_file(tmp_path: Path) -> None:
    fake = FakeHelpdesk()
    current = _with_past(fake)
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "accounts:\n  - id: acme\n    name: Acme\n    tier: enterprise\n    region: emea\n"
        "    language: de\n    match: [example.com]\n",
        encoding="utf-8",
    )
    enricher = Enricher(fake, load_accounts(path))
    from_file = enricher.enrich(rt_ticket(current, *DB_TEXT)).account
    assert (from_file.id, from_file.tier, from_file.region) == ("acme", "enterprise", "emea")
    fake.requesters["alice@example.com"] = Requester(
        name="alice@example.com", organization="Acme", custom_fields={"Tier": ["vip"]}
    )
    from_helpdesk = enricher.enrich(rt_ticket(current, *DB_TEXT)).account
    assert from_helpdesk.tier == "vip" and from_helpdesk.region == "emea"
    # the requester's fields are read as a ticket's are: any case, the first value not empty,
    # stripped; a blank one leaves the accounts file's
    fake.requesters["alice@example.com"] = Requester(
        name="alice@example.com",
        organization="Acme",
        custom_fields={"TIER": ["", " gold "], "Region": ["  "]},
    )
    padded = enricher.enrich(rt_ticket(current, *DB_TEXT)).account
    assert (padded.tier, padded.region) == ("gold", "emea")


def test_helpdesk_down_leaves_the_ticket_as_it_came() -> None:
    fake = FakeHelpdesk()
    current = _with_past(fake)
    fake.down = True
    ticket = rt_ticket(current, *DB_TEXT)
    assert Enricher(fake, load_accounts(None)).enrich(ticket) == ticket


def test_a_bad_accounts_file_names_file_and_path(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text("accounts:\n  - name: no id\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"accounts.yaml: accounts.0.id"):
        load_accounts(path)


def test_a_repeated_key_or_bad_yaml_in_the_accounts_file_is_one_line_naming_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "accounts.yaml"
    # the second 'tier:' would silently make the VIP account a standard one
    path.write_text(
        "accounts:\n  - id: acme\n    tier: vip\n    match: [acme.example]\n    tier: standard\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as repeated:
        load_accounts(path)
    assert str(repeated.value) == (
        f"{path}: line 5, column 5: not valid YAML: 'tier' given again (first on line 3); "
        "one of them would be silently dropped"
    )
    path.write_text("accounts:\n  - id: acme\n    match: [acme.example\n", encoding="utf-8")
    with pytest.raises(InputError) as broken:
        load_accounts(path)
    message = str(broken.value)
    assert message.startswith(f"{path}: line 4, column 1: not valid YAML: ") and "\n" not in message


def test_a_ticket_an_api_key_sends_is_not_enriched_from_the_helpdesk_ticket_it_names(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    fake.record(rt.id, "Comment", "lena.fischer@example.com", content="Card 4111 1111 1111 1111.")
    _, secret = create_key(rig.services.db, "helpdesk", "web form")
    client = TestClient(rig.app)  # no lifespan: nothing runs in the background
    headers = {"Authorization": f"Bearer {secret}"}
    sent = {
        "subject": "status?",
        "body": "What is the status?",
        "channel": "helpdesk",
        "external_id": f"rt:{rt.id}",
    }
    answer = client.post("/v1/tickets", json=sent, headers=headers)
    assert answer.status_code == 202
    ticket_id = answer.json()["id"]
    rig.services.service.process(ticket_id)
    brief = client.get(f"/v1/tickets/{ticket_id}/brief", headers=headers)
    assert brief.status_code == 200 and "4111" not in brief.text
    assert not any(call.startswith("history") for call in fake.calls)
