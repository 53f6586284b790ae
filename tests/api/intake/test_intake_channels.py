"""Each channel through POST /v1/intake/{channel} on the real agent: queued, triaged, audited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from api_support import Api, wait_for
from intake_samples import chat, plain_mail, sample, web_form
from intake_support import IntakeFactory


def _decided(api: Api, ticket_id: str) -> dict:
    def done() -> bool:
        view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("admin")).json()
        return view["status"] in ("decided", "review")

    assert wait_for(done), f"ticket {ticket_id} was not decided"
    return api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("admin")).json()


def _post_mail(api: Api, raw: bytes, role: str = "helpdesk"):  # type: ignore[no-untyped-def]
    headers = {**api.auth(role), "Content-Type": "message/rfc822"}
    return api.client.post("/v1/intake/email", content=raw, headers=headers)


def test_email_is_queued_triaged_and_kept_for_audit(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api()
    answer = _post_mail(api, sample("multipart_alternative.eml"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "queued" and body["priority"] == "P3"
    view = _decided(api, body["ticket_id"])
    assert view["channel"] == "email"
    assert view["decision"]["team"] == "database"
    record = api.app.state.intake.records.get(body["ticket_id"])
    assert record.raw["format"] == "rfc822" and record.source == "email"


def test_chat_transcript_is_ordered_with_roles(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api()
    answer = api.client.post("/v1/intake/chat", json=chat(), headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    view = _decided(api, answer.json()["ticket_id"])
    ticket = view["ticket"]
    assert [m["role"] for m in ticket["messages"]] == ["customer", "agent", "agent", "customer"]
    assert ticket["body"] == "Our production database throws ORA-00600 errors\ndb-prod-02"
    assert ticket["language"] == "en"
    assert view["decision"]["team"] == "database"


def test_web_form_and_json_api(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api()
    form = api.client.post("/v1/intake/web", json=web_form(), headers=api.auth("helpdesk"))
    assert form.status_code == 202 and form.json()["priority"] == "P2"  # declared severity high
    ticket = {
        "subject": "Printer jammed",
        "body": "Floor 3 printer is jammed",
        "external_id": "P-1",
    }
    made = api.client.post("/v1/intake/api", json=ticket, headers=api.auth("helpdesk"))
    assert made.status_code == 202
    view = _decided(api, made.json()["ticket_id"])
    assert view["ticket"]["channel"] == "api" and view["external_id"] == "P-1"


def test_same_payload_twice_is_one_ticket(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    first = api.client.post("/v1/intake/chat", json=chat("c-9"), headers=api.auth("helpdesk"))
    again = api.client.post("/v1/intake/chat", json=chat("c-9"), headers=api.auth("helpdesk"))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["ticket_id"] == first.json()["ticket_id"]
    assert api.app.state.intake.queue.depth() == 1


def test_the_same_idempotency_key_is_one_ticket_on_every_channel(
    make_intake_api: IntakeFactory,
) -> None:
    api = make_intake_api(start=False)

    def post(channel: str, payload: bytes, key: str):  # type: ignore[no-untyped-def]
        headers = {**api.auth("helpdesk"), "Idempotency-Key": key}
        return api.client.post(f"/v1/intake/{channel}", content=payload, headers=headers)

    # The generic API's ticket has no external id: only the key tells a retry from a new one.
    ticket = b'{"subject": "Laptop will not boot", "body": "Black screen after the logo"}'
    first, retry = post("api", ticket, "boot-1"), post("api", ticket, "boot-1")
    assert first.status_code == 202 and retry.status_code == 200, retry.text
    assert retry.json()["status"] == "duplicate"
    assert retry.json()["ticket_id"] == first.json()["ticket_id"]
    other = post("api", ticket.replace(b"Black", b"Blue"), "boot-1")
    assert other.status_code == 409, other.text
    assert post("api", ticket, "boot-2").json()["ticket_id"] != first.json()["ticket_id"]
    assert api.app.state.intake.queue.depth() == 2
    # A payload refused at the door is kept once under its key, and the resend says which.
    broken = [post("chat", b'{"conversation_id": "c-1", ', "chat-1") for _ in range(2)]
    assert [b.status_code for b in broken] == [422, 422]
    assert broken[1].json()["reject_id"] == broken[0].json()["reject_id"]
    assert len(api.client.get("/v1/intake/rejects", headers=api.auth("reviewer")).json()) == 1
    too_long = post("api", ticket, "k" * 300)
    assert too_long.status_code == 422 and "Idempotency-Key" in too_long.text


def test_reply_threads_into_the_original_ticket(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    root = _post_mail(api, sample("thread_root.eml")).json()
    reply = _post_mail(api, sample("quoted_reply.eml"))
    assert reply.status_code == 200
    assert reply.json() == {**reply.json(), "status": "threaded", "ticket_id": root["ticket_id"]}
    view = api.client.get(f"/v1/tickets/{root['ticket_id']}", headers=api.auth("admin")).json()
    assert "also after reinstalling" in view["ticket"]["messages"][-1]["body"]
    # The same reply delivered again is not appended twice.
    assert _post_mail(api, sample("quoted_reply.eml")).json()["status"] == "duplicate"
    view = api.client.get(f"/v1/tickets/{root['ticket_id']}", headers=api.auth("admin")).json()
    assert len(view["ticket"]["messages"]) == 1
    assert api.app.state.intake.queue.depth() == 1


def test_broken_payloads_are_rejected_with_a_reason_and_kept(
    make_intake_api: IntakeFactory,
) -> None:
    api = make_intake_api(start=False)
    cases = [
        ("email", sample("not_email.eml"), "no headers"),
        ("email", sample("auto_reply.eml"), "automatic reply"),
        ("email", sample("bounce.eml"), "bounce"),
        ("email", sample("no_sender.eml"), "no requester"),
        ("chat", b'{"conversation_id": "x", "messages": []}', "messages"),
        ("web", b"{not json", "not valid JSON"),
        ("api", b'{"subject": "", "body": " "}', "subject or a body"),
        ("fax", b"{}", "unknown channel"),
    ]
    for channel, payload, reason in cases:
        answer = api.client.post(
            f"/v1/intake/{channel}", content=payload, headers=api.auth("helpdesk")
        )
        assert answer.status_code == 422, (channel, answer.text)
        assert answer.json()["status"] == "rejected"
        assert any(reason in r for r in answer.json()["reasons"]), (reason, answer.json())
    kept = api.client.get("/v1/intake/rejects", headers=api.auth("reviewer")).json()
    assert len(kept) == len(cases)
    one = api.client.get(f"/v1/intake/rejects/{kept[-1]['id']}", headers=api.auth("reviewer"))
    assert one.json()["payload"] == {"text": "this is not an e-mail at all, just a line of text\n"}
    assert api.app.state.intake.queue.depth() == 0


def _nested_api(levels: int, tier: str) -> bytes:
    """A JSON API ticket whose custom field ``a`` is a list nested ``levels`` deep."""
    deep = "[" * levels + "]" * levels
    account = f'"account": {{"tier": "{tier}"}}'
    return f'{{"subject": "x", {account}, "custom_fields": {{"a": {deep}}}}}'.encode()


@pytest.mark.parametrize(
    ("levels", "enterprise"),
    # Past ~1,000 levels the JSON cannot be read, so neither can the tier that would save it.
    [(300, ("quarantined", 202, "enterprise")), (3_000, ("rejected", 422, None))],
)
def test_deeply_nested_custom_fields_are_rejected_naming_the_limit_and_kept(
    make_intake_api: IntakeFactory, levels: int, enterprise: tuple[str, int, str | None]
) -> None:
    api = make_intake_api(start=False)
    tiers = {"standard": ("rejected", 422, "standard" if levels < 1_000 else None)}
    for tier, (verdict, status, kept_tier) in {**tiers, "enterprise": enterprise}.items():
        body = _nested_api(levels, tier)
        answer = api.client.post("/v1/intake/api", content=body, headers=api.auth("helpdesk"))
        assert answer.status_code == status, answer.text
        assert answer.json()["status"] == verdict
        [reason] = answer.json()["reasons"]
        assert "custom_fields" in reason and "nested more than 16 levels deep" in reason
        kept = api.client.get(
            f"/v1/intake/rejects/{answer.json()['reject_id']}", headers=api.auth("reviewer")
        )
        assert kept.status_code == 200
        # Too deep to read back as JSON, the payload is kept whole as its text.
        assert kept.json()["payload"] == {"text": body.decode()}
        assert kept.json()["tier"] == kept_tier
    assert api.app.state.intake.queue.depth() == 0


def test_body_that_is_not_utf8_is_rejected_saying_so(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    latin1 = '{"subject": "Café printer jammed"}'.encode("latin-1")
    answer = api.client.post("/v1/intake/api", content=latin1, headers=api.auth("helpdesk"))
    assert answer.status_code == 422
    assert answer.json()["reasons"] == [
        "api: body: not valid UTF-8 JSON: byte 0xe9 at position 16 is not UTF-8"
    ]


def test_enterprise_is_quarantined_never_rejected(
    make_intake_api: IntakeFactory, tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("channels:\n  web: {min_chars: 3}\n", encoding="utf-8")
    api = make_intake_api(start=False, intake_profiles_path=profiles)
    answer = api.client.post(
        "/v1/intake/web",
        json={"submission_id": "s", "description": "x", "account": {"tier": "vip"}},
        headers=api.auth("helpdesk"),
    )
    assert answer.status_code == 202 and answer.json()["status"] == "quarantined"
    broken = api.client.post(
        "/v1/intake/chat",
        json={"conversation_id": "c", "messages": [], "account": {"tier": "enterprise"}},
        headers=api.auth("helpdesk"),
    )
    assert broken.json()["status"] == "quarantined"
    standard = api.client.post(
        "/v1/intake/web",
        json={"submission_id": "s2", "description": "x"},
        headers=api.auth("helpdesk"),
    )
    assert standard.status_code == 422
    assert standard.json()["reasons"] == ["too short: 1 characters, 3 needed"]
    listed = api.client.get("/v1/intake/rejects?verdict=quarantined", headers=api.auth("admin"))
    assert len(listed.json()) == 2


def test_intake_needs_a_helpdesk_key(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    assert api.client.post("/v1/intake/chat", json=chat()).status_code == 401
    denied = api.client.post("/v1/intake/chat", json=chat(), headers=api.auth("specialist"))
    assert denied.status_code == 403


def test_plain_mail_helper_round_trip(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    raw = plain_mail("Outage: production down", "Everything is down since 10:00.")
    answer = _post_mail(api, raw)
    assert answer.json()["priority"] == "P1"


def test_an_enterprise_senders_unreadable_mail_is_quarantined(
    make_intake_api: IntakeFactory, tmp_path: Path
) -> None:
    """The domain's tier counts even when the mail itself cannot be made into a ticket."""
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "account_domains:\n  bigcorp.example: {id: big, tier: enterprise}\n", encoding="utf-8"
    )
    api = make_intake_api(start=False, intake_profiles_path=profiles)
    attachment_only = (
        b"From: Boss <boss@BigCorp.Example>\r\nSubject: \r\nMessage-ID: <a1@bigcorp.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: application/pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    )
    answer = _post_mail(api, attachment_only)
    assert answer.json()["status"] == "quarantined", answer.text
    other = attachment_only.replace(b"BigCorp.Example", b"small.example")
    assert _post_mail(api, other).json()["status"] == "rejected"


def test_the_readmes_chat_and_web_examples_are_accepted(make_intake_api: IntakeFactory) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    examples = dict(re.findall(r"\$URL/(chat|web) -d '(.*?)'", readme, re.DOTALL))
    assert set(examples) == {"chat", "web"}
    api = make_intake_api(start=False)
    for channel, body in examples.items():
        answer = api.client.post(
            f"/v1/intake/{channel}",
            content=body.encode(),
            headers={**api.auth("helpdesk"), "Content-Type": "application/json"},
        )
        assert answer.status_code == 202, (channel, answer.text)
