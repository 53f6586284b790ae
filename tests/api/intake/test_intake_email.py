"""E-mail adapter: every MIME shape, charsets, quotes and forwards, attachments, threading."""

from __future__ import annotations

import pytest
from intake_samples import plain_mail, sample

from agent.errors import InputError
from api.intake.email_adapter import adapt_email, raw_bytes


def test_multipart_alternative_prefers_the_plain_part() -> None:
    ticket = adapt_email(sample("multipart_alternative.eml")).ticket
    assert ticket.channel == "email"
    assert ticket.external_id == "CAF1234.alt@mail.bigcorp.example"
    assert ticket.requester == "dana@bigcorp.example"
    assert "ORA-01555 (snapshot too old)" in ticket.body
    assert "<b>" not in ticket.body
    assert ticket.language == "en"


def test_html_only_is_stripped_to_text_and_its_quote_separated() -> None:
    ticket = adapt_email(sample("html_only.eml")).ticket
    assert ticket.subject == "Dashboard lädt nicht"
    assert 'es bleibt bei "Loading" stehen' in ticket.body
    assert "alert(" not in ticket.body and "color: red" not in ticket.body
    assert "Cache" not in ticket.body
    assert any("Bitte leeren Sie den Cache." in m.body for m in ticket.messages)
    assert ticket.language == "de"


def test_attachments_are_metadata_only() -> None:
    ticket = adapt_email(sample("attachments.eml")).ticket
    names = {a.filename: a for a in ticket.attachments}
    assert set(names) == {"bsod.png", "minidump.txt"}
    assert names["bsod.png"].content_type == "image/png"
    assert names["bsod.png"].size_bytes == 70
    assert "0x0000007E" in ticket.body
    assert "BugCheck" not in ticket.body


@pytest.mark.parametrize(
    ("name", "subject", "fragment"),
    [
        ("latin1.eml", "Drucker im Büro grün blinkend", "Grüß Gott, der Drucker im Büro"),
        ("windows1252.eml", "POS outage", "print “error 42” – all tills"),
        ("shift_jis.eml", "接続エラー", "サーバーに接続できません"),
        ("unknown_charset.eml", "Caf", "The café wifi refuses"),
    ],
)
def test_non_utf8_charsets_are_decoded(name: str, subject: str, fragment: str) -> None:
    ticket = adapt_email(sample(name)).ticket
    assert ticket.subject.startswith(subject)
    assert fragment in ticket.body


def test_quoted_reply_and_signature_are_separated_from_the_new_text() -> None:
    adapted = adapt_email(sample("quoted_reply.eml"))
    ticket = adapted.ticket
    assert (
        ticket.body
        == "It still drops every five minutes, also after reinstalling the client.\n\nAnn"
    )
    assert [m.role for m in ticket.messages] == ["agent"]
    assert ticket.messages[0].author == "Bob Support <bob@help.example>"
    assert "reinstall the VPN client" in ticket.messages[0].body
    assert "<vpn-1@customer.example>" in adapted.thread_refs


def test_forwarded_chain_becomes_history_oldest_first() -> None:
    ticket = adapt_email(sample("forwarded_chain.eml")).ticket
    assert ticket.body == "Please look into this, finance is blocked."
    authors = [m.author for m in ticket.messages]
    assert authors == ["ERP System <erp@customer.example>", "Ivy Finance <ivy@customer.example>"]
    assert "HTTP 500 Internal Server Error" in ticket.messages[0].body


def test_attached_forward_is_history_and_a_bare_forward_is_the_body() -> None:
    attached = adapt_email(sample("forward_attached.eml")).ticket
    assert attached.body == "See the alert below."
    assert attached.messages[0].body == "Filesystem /var on db01 is 97% full."
    bare = b"From: a@x.example\nSubject: Fwd: alert\nMessage-ID: <b@x>\n\n" + (
        b"---------- Forwarded message ---------\nFrom: Mon <m@x.example>\nDate: today\n\n"
        b"Disk full on db01\n"
    )
    assert adapt_email(bare).ticket.body == "Disk full on db01"


def test_original_bytes_are_kept_for_audit() -> None:
    raw = sample("latin1.eml")
    adapted = adapt_email(raw)
    assert raw_bytes(adapted.raw) == raw
    assert adapted.raw["format"] == "rfc822"


def test_machine_mail_is_flagged_and_garbage_refused() -> None:
    assert adapt_email(sample("auto_reply.eml")).auto_reply == "Auto-Submitted: auto-replied"
    assert "bounce" in (adapt_email(sample("bounce.eml")).auto_reply or "")
    with pytest.raises(InputError, match="no headers"):
        adapt_email(sample("not_email.eml"))
    with pytest.raises(InputError, match="subject or a body"):
        adapt_email(b"From: a@x.example\nMessage-ID: <e@x>\n\n   \n")


def test_mime_parts_nested_beyond_reading_are_refused() -> None:
    head = "From: a@x.example\nMessage-ID: <deep@x>\nSubject: deep\nMIME-Version: 1.0\n"
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(1_500)
    )
    closing = "".join(f"--b{i}--\n" for i in reversed(range(1_500)))
    raw = f"{head}{opening}Content-Type: text/plain\n\nhello\n{closing}".encode()
    with pytest.raises(InputError, match=r"^e-mail parts nested too deep to read$"):
        adapt_email(raw)


def test_a_mail_to_two_thousand_recipients_is_still_a_ticket() -> None:
    # Its Cc list is kept in custom_fields, which count their items.
    everyone = ", ".join(f"user{i}@bigcorp.example" for i in range(2_000))
    raw = plain_mail("All-hands VPN outage", "Nobody can connect since 9:00.", Cc=everyone)
    assert len(adapt_email(raw).ticket.custom_fields["email"]["cc"]) == 2_000


@pytest.mark.parametrize(
    "attribution",
    [
        "On Sun, Nov 30, 2026 at 10:00 AM Ann Example <ann@customer.example> wrote:",  # Gmail
        "Am So., 30. Nov. 2026 um 10:00 Uhr schrieb Ann Example <ann@customer.example>:",
        "Le dim. 30 nov. 2026 à 10:00, Ann Example <ann@customer.example> a écrit :",
        "On 30 Nov 2026, at 10:00, Ann Example <ann@customer.example> wrote:",  # Apple Mail
    ],
)
def test_a_quoted_mail_is_attributed_to_its_author_and_the_senders_own_is_the_customers(
    attribution: str,
) -> None:
    # The customer chases her own unanswered mail: the quote is hers, not an agent's answer.
    text = f"Any news on this?\n\n{attribution}\n> The VPN drops every five minutes.\n"
    raw = plain_mail("Re: VPN drops", text, In_Reply_To="<vpn-1@customer.example>")
    [quoted] = adapt_email(raw).ticket.messages
    assert quoted.author == "Ann Example <ann@customer.example>"
    assert quoted.role == "customer"
    assert quoted.body == "The VPN drops every five minutes."
