"""E-mail bodies at the edges: a bare "--" line, signed and encrypted (S/MIME) mails."""

from __future__ import annotations

import pytest
from intake_samples import plain_mail

from api.intake.email_adapter import adapt_email
from api.intake.email_quotes import split_mail


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
