"""What one helpdesk key or helpdesk sends never collides with, or reaches into, another's."""

from __future__ import annotations

import json
from typing import Any

from api_support import Api
from intake_samples import plain_mail, web_form
from intake_support import SECRET, IntakeFactory

from api.auth import create_key
from api.intake.signature import signed_headers


def _other_key(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(api.services.db, 'helpdesk', 'other')[1]}"}


def _mail(api: Api, raw: bytes, headers: dict[str, str]) -> Any:
    return api.client.post(
        "/v1/intake/email", content=raw, headers={**headers, "Content-Type": "message/rfc822"}
    )


def test_mail_from_another_key_quoting_a_message_id_does_not_join_that_ticket(
    make_intake_api: IntakeFactory,
) -> None:
    api = make_intake_api(start=False)
    root = _mail(api, plain_mail("VPN", "The VPN drops."), api.auth("helpdesk")).json()
    intruder = plain_mail(
        "Re: VPN",
        "Please wire money to IBAN X.",
        sender="m@evil.example",
        msg_id="<m2@evil.example>",
        References="<m1@customer.example>",
    )
    other = _other_key(api)
    answer = _mail(api, intruder, other).json()
    assert answer["status"] == "queued" and answer["ticket_id"] != root["ticket_id"]
    again = _mail(api, plain_mail("VPN", "The VPN drops."), other).json()
    assert again["ticket_id"] != root["ticket_id"]  # not "duplicate" of someone else's ticket
    view = api.client.get(f"/v1/tickets/{root['ticket_id']}", headers=api.auth("admin")).json()
    assert view["ticket"]["messages"] == []
    # the key that submitted it still threads its own replies
    own = _mail(api, intruder, api.auth("helpdesk")).json()
    assert (own["status"], own["ticket_id"]) == ("threaded", root["ticket_id"])


def test_the_same_external_id_from_two_keys_is_two_tickets(
    make_intake_api: IntakeFactory,
) -> None:
    api = make_intake_api(start=False)
    first = api.client.post(
        "/v1/intake/web", json=web_form(submission_id="w1"), headers=api.auth("helpdesk")
    ).json()
    other = _other_key(api)
    form = web_form(submission_id="w1", description="Our invoice is wrong")
    second = api.client.post("/v1/intake/web", json=form, headers=other)
    assert second.status_code == 202, second.text
    assert second.json()["ticket_id"] != first["ticket_id"]
    # each key's own resend is still one ticket
    again = api.client.post("/v1/intake/web", json=form, headers=other).json()
    assert (again["status"], again["ticket_id"]) == ("duplicate", second.json()["ticket_id"])
    sync = {"subject": "Printer", "body": "jammed", "external_id": "T-1", "channel": "api"}
    one = api.client.post("/v1/tickets", json=sync, headers=api.auth("helpdesk")).json()
    two = api.client.post("/v1/tickets", json=sync, headers=other).json()
    assert one["id"] != two["id"]


def test_two_helpdesks_may_use_the_same_event_id(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)

    def post(source: str, external_id: str) -> Any:
        event = {
            "source": source,
            "event_id": "1001",
            "type": "created",
            "external_id": external_id,
            "ticket": {"subject": "Mail server down", "body": f"No mail since 9:00 ({source})"},
        }
        body = json.dumps(event).encode()
        headers = {**signed_headers(SECRET, body), "Content-Type": "application/json"}
        return api.client.post("/v1/intake/helpdesk", content=body, headers=headers).json()

    assert post("zendesk", "Z-1")["outcome"] == "queued"
    assert post("freshdesk", "F-1")["outcome"] == "queued"
    assert post("freshdesk", "F-1")["outcome"] == "duplicate"
    assert api.app.state.intake.queue.depth() == 2
