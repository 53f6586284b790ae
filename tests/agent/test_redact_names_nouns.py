"""A word the ticket itself uses as a thing ("the printer", "im Keller", "the ctoc has") is not
taken for a person's name alone, while the whole name and a name after a title stay redacted."""

from __future__ import annotations

import pytest
from llm_support import POLICY

from agent.injection import scan
from agent.llm_prompt import build_prompt
from agent.models import Ticket
from agent.redact import Redactor, redact


@pytest.mark.parametrize(
    "text",
    [
        "hi ctoc,\nthe ctoc has received an alert for host web01.\nsincerely,\nctoc",
        "hello dac,\nplease check the circuit with the dac team.",
        "hi gso,\nthe gso hotline is down.",
    ],
)
def test_a_teams_word_after_a_greeting_or_a_closing_of_lower_case_text_stays(text: str) -> None:
    assert redact(text).text == text


def test_a_short_name_after_a_greeting_of_lower_case_text_is_still_redacted() -> None:
    text = "hi tim,\nthe printer is offline.\nthanks,\ntim"
    assert redact(text).text == "hi [NAME_1],\nthe printer is offline.\nthanks,\n[NAME_1]"


@pytest.mark.parametrize(
    ("names", "text", "expected"),
    [
        (
            ["Thomas Stock"],
            "Der Server steht im 2. Stock, ein Stock tiefer der Drucker. Thomas Stock",
            "Der Server steht im 2. Stock, ein Stock tiefer der Drucker. [NAME_1]",
        ),
        (
            ["keller@example.com"],
            "Hallo Herr Keller,\nder Router im Keller ist aus.",
            "Hallo Herr [NAME_1],\nder Router im Keller ist aus.",
        ),
        (["Anna Stock"], "Stock hat angerufen.", "[NAME_1] hat angerufen."),
    ],
)
def test_a_surname_that_the_text_uses_as_a_german_noun_is_no_name_alone(
    names: list[str], text: str, expected: str
) -> None:
    assert redact(text, names=names).text == expected


@pytest.mark.parametrize(
    "requester", ["printer@example.com", "printer", "Scanner <scan@x.example>"]
)
def test_a_requester_that_is_a_plain_word_leaves_the_word_in_the_ticket(requester: str) -> None:
    body = "The printer on floor 3 is offline; a scanner next to it works."
    redactor = Redactor([requester], context=["Printer jam", body])
    assert redactor.redact("Printer jam") == "Printer jam"
    assert redactor.redact(body) == body


def test_a_login_id_as_requester_is_still_redacted() -> None:
    text = "user aschmidt cannot log in; the account is locked"
    assert redact(text, names=["aschmidt@example.com"]).text == (
        "user [NAME_1] cannot log in; the account is locked"
    )


def test_the_llm_sees_the_word_that_a_plain_word_requester_shares_with_the_ticket() -> None:
    ticket = Ticket(
        subject="Printer jam",
        body="Hi Anna,\nthe printer on floor 3 is offline.",
        requester="printer@example.com",
    )
    prompt = build_prompt(
        ticket=ticket,
        clean_text=scan(ticket.text).clean_text,
        policy=POLICY,
        precedents=[],
        candidates=[],
        budget=1800,
        encoding="cl100k_base",
    )
    sent = "\n".join(m.content for m in prompt.messages)
    assert "Printer jam" in sent and "the printer on floor 3" in sent
    assert "Anna" not in sent
