"""The sender's display name of an e-mail is kept with the ticket, so the LLM prompt can leave
it out wherever the ticket writes it."""

from __future__ import annotations

from intake_samples import plain_mail

from agent.redact import redact
from agent.redact_names import ticket_names
from api.intake.email_adapter import adapt_email


def test_the_senders_display_name_is_a_name_the_ticket_gives() -> None:
    raw = plain_mail("VPN drops", "The VPN drops hourly. Example is on the badge.", "ann@c.example")
    ticket = adapt_email(raw).ticket
    assert ticket.custom_fields["name"] == "Ann Example"
    assert "Ann Example" in ticket_names(ticket)
    assert redact(ticket.body, names=ticket_names(ticket)).text == (
        "The VPN drops hourly. [NAME_1] is on the badge."
    )


def test_a_mail_without_a_display_name_has_no_name_field() -> None:
    raw = plain_mail("VPN drops", "The VPN drops hourly.", "ann@c.example")
    raw = raw.replace(b"From: Ann Example <ann@c.example>", b"From: ann@c.example")
    ticket = adapt_email(raw).ticket
    assert ticket.requester == "ann@c.example"
    assert "name" not in ticket.custom_fields
