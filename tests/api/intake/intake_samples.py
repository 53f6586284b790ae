"""Real-shaped intake payloads for the tests: e-mails of every MIME shape, chat, forms, RT."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from api.intake.tables import IntakeTicketRow  # noqa: F401  (tables registered for the tests)

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample(name: str) -> bytes:
    """A stored .eml sample's bytes."""
    return (SAMPLES / name).read_bytes()


def plain_mail(
    subject: str,
    body: str,
    sender: str = "ann@customer.example",
    msg_id: str = "<m1@customer.example>",
    **headers: str,
) -> bytes:
    """A simple text/plain e-mail."""
    msg = EmailMessage()
    msg["From"] = f"Ann Example <{sender}>"
    msg["To"] = "support@help.example"
    msg["Subject"] = subject
    msg["Message-ID"] = msg_id
    msg["Date"] = format_datetime(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def chat(conversation_id: str = "c-1", **extra: Any) -> dict[str, Any]:
    """A chat transcript with customer, bot and agent lines (out of time order)."""
    return {
        "conversation_id": conversation_id,
        "requester": "bob@customer.example",
        "messages": [
            {
                "role": "agent",
                "author": "Eve",
                "text": "Which server is it?",
                "sent_at": "2026-11-27T10:01:00Z",
            },
            {
                "role": "customer",
                "text": "Our production database throws ORA-00600 errors",
                "sent_at": "2026-11-27T10:00:00Z",
            },
            {
                "role": "bot",
                "text": "Thanks, an agent will join.",
                "sent_at": "2026-11-27T10:00:30Z",
            },
            {"role": "customer", "text": "db-prod-02", "sent_at": "2026-11-27T10:02:00Z"},
        ],
        **extra,
    }


def web_form(submission_id: str = "f-1", **extra: Any) -> dict[str, Any]:
    """A support form submission."""
    return {
        "submission_id": submission_id,
        "email": "carl@customer.example",
        "subject": "Cannot log in to the portal",
        "description": "Since this morning the portal says my password is wrong.",
        "severity": "high",
        "category": "access",
        **extra,
    }


def rt_payload(event_id: str = "rt-txn-456", kind: str = "Create", **txn: Any) -> dict[str, Any]:
    """The RT scrip's body (INTEGRATION.md)."""
    return {
        "source": "rt",
        "event_id": event_id,
        "transaction": {
            "id": event_id.rsplit("-", 1)[-1],
            "type": kind,
            "field": None,
            "old_value": None,
            "new_value": None,
            "creator": "root",
            "created": "2026-11-27T10:00:00Z",
            "content": "The VPN drops every five minutes for the whole Berlin office.",
            **txn,
        },
        "ticket": {
            "id": "123",
            "subject": "VPN drops",
            "queue": "General",
            "status": "new",
            "owner": "Nobody",
            "priority": 0,
            "requestors": ["alice@example.com"],
            "created": "2026-11-27T10:00:00Z",
            "resolved": None,
            "custom_fields": {"Tags": ["vpn"], "Account": "ACME"},
        },
    }
