"""E-mail bodies at the edges: a bare "--" line, signed and encrypted (S/MIME) mails."""

from __future__ import annotations

import pytest
from intake_samples import plain_mail
from intake_support import IntakeFactory

from agent.errors import InputError
from api.intake.email_adapter import adapt_email
from api.intake.email_quotes import split_mail

HEAD = (
    b"From: Ann <ann@customer.example>\r\nTo: support@help.example\r\nSubject: VPN drops\r\n"
    b"Message-ID: <smime-1@customer.example>\r\nMIME-Version: 1.0\r\n"
)
SIGNATURE_PART = (
    b"--S\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
    b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7s"
    b"\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCA\r\n--S--\r\n"
)
SIGNED = (
    b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
    b'micalg=sha-256; boundary="S"\r\n\r\n'
    b"This is a cryptographically signed message in MIME format.\r\n\r\n"
)
MIXED = (
    b'--S\r\nContent-Type: multipart/mixed; boundary="M"\r\n\r\n'
    b"--M\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"The VPN drops every five minutes, screenshot attached.\r\n"
    b"--M\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=vpn.png\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--M--\r\n"
)
OPAQUE = (
    b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
    b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7m"
    b"\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggFcMIIBWAIBADBAMDQxCzAJBgNVBAYTAlVTMQ0wCwYD\r\n"
)


@pytest.mark.parametrize(
    "body",
    [
        "step 1: open the VPN client\n--\nstep 2: it crashes",
        "step 1 failed\n--\nThanks for looking, ann@customer.example",
        "Before:\n--\nthe old menu\n--\nAfter: nothing\nsee https://status.example/1",
        "Thanks\n--\n" + "\n".join(f"line {n}" for n in range(12)) + "\nann@customer.example",
    ],
    ids=["steps", "a-sentence-of-thanks", "a-link-in-the-text", "long-block-with-an-address"],
)
def test_a_bare_double_dash_line_does_not_cut_the_text(body: str) -> None:
    assert split_mail(body).new_text == body


@pytest.mark.parametrize(
    "signature",
    [
        "Ann Example\nCustomer Ltd | +49 30 1234 5678",
        "Ann Example\nann@customer.example",
        "Ann\nTel.: 030 1234567\nwww.customer.example",
        "Best regards,\nAnn",
        "mit freundlichen Grüßen / kind regards\nAnn Example",
    ],
    ids=["phone", "address", "label-and-site", "closing", "closing-de-en"],
)
def test_a_bare_double_dash_before_a_short_contact_block_starts_the_signature(
    signature: str,
) -> None:
    body = f"The printer jams.\n--\n{signature}\n\nOn Mon, Bob <bob@help.example> wrote:\n> Hi"
    split = split_mail(body)
    assert split.new_text == "The printer jams."
    assert [p.body for p in split.parts] == ["Hi"]


def test_the_standard_delimiter_cuts_the_signature_whatever_follows() -> None:
    ticket = adapt_email(plain_mail("Printer", "The printer jams.\n-- \nstep 2: Ann")).ticket
    assert ticket.body == "The printer jams."


def test_steps_separated_by_a_bare_double_dash_reach_the_ticket() -> None:
    ticket = adapt_email(plain_mail("VPN", "step 1\n--\nstep 2")).ticket
    assert ticket.body == "step 1\n--\nstep 2"


def test_a_signed_mail_is_read_from_its_signed_part_with_its_attachments() -> None:
    ticket = adapt_email(HEAD + SIGNED + MIXED + SIGNATURE_PART).ticket
    assert ticket.body == "The VPN drops every five minutes, screenshot attached."
    # Read whole, the signed part was one "unnamed.mixed" attachment and the PNG was lost.
    assert [(a.filename, a.content_type) for a in ticket.attachments] == [("vpn.png", "image/png")]


def test_a_signed_plain_text_mail_keeps_its_text_not_the_signature_as_an_attachment() -> None:
    plain = b"--S\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe VPN drops.\r\n"
    ticket = adapt_email(HEAD + SIGNED + plain + SIGNATURE_PART).ticket
    assert ticket.body == "The VPN drops."
    assert ticket.attachments == []


def test_an_opaque_smime_mail_is_refused_saying_why_not_stored_without_its_text(
    make_intake_api: IntakeFactory,
) -> None:
    with pytest.raises(InputError, match=r"S/MIME application/pkcs7-mime.*enveloped-data"):
        adapt_email(HEAD + OPAQUE)
    api = make_intake_api()
    headers = {**api.auth("helpdesk"), "Content-Type": "message/rfc822"}
    answer = api.client.post("/v1/intake/email", content=HEAD + OPAQUE, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["status"] == "rejected"
    assert "cannot read" in answer.json()["reasons"][0]


def test_a_mail_whose_only_content_is_an_smime_attachment_is_refused() -> None:
    mixed = b'Content-Type: multipart/mixed; boundary="X"\r\n\r\n--X\r\n' + OPAQUE + b"--X--\r\n"
    with pytest.raises(InputError, match="no text besides an S/MIME"):
        adapt_email(HEAD + mixed)
