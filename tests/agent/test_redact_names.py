"""People's names leave neither for the LLM nor in a brief's quotes: the ones the ticket's fields
give, and those a greeting, a sign-off or an introduction holds; product words stay."""

from __future__ import annotations

from typing import Any

import pytest
from llm_support import POLICY

from agent.brief import build_brief
from agent.injection import scan
from agent.llm_prompt import build_prompt
from agent.models import PriorTicket, Ticket, TriageDecision
from agent.redact import redact, restore
from agent.rules import Complexity


def test_the_requesters_name_and_mailbox_do_not_reach_the_llm() -> None:
    ticket = Ticket(
        channel="web",
        subject="VPN drops for Anna Schmidt",
        body=(
            "Hi Tom,\nthe VPN drops every hour for user aschmidt since Monday.\n"
            "Schmidt is my surname, ANNA SCHMIDT on the badge.\nKind regards,\nAnna Schmidt"
        ),
        requester="aschmidt@example.com",
        product="GlobalProtect",
        custom_fields={"name": "Anna Schmidt"},
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
    for word in ("Anna", "Schmidt", "SCHMIDT", "aschmidt", "Tom"):
        assert word not in sent
    assert "the VPN drops every hour for user [NAME_" in sent
    assert prompt.redactor_counts["NAME"] >= 5
    assert "Anna Schmidt" in prompt.placeholders.values()  # an answer naming her is restored


def test_a_brief_quotes_earlier_tickets_without_the_requesters_name() -> None:
    ticket = Ticket(
        id="T-9",
        subject="VPN again",
        body="Same as before.",
        requester="Jan Kowalski <jan.kowalski@example.com>",
        history=[PriorTicket(id="rt:3", subject="VPN", body="Kowalski here, token fails. Jan")],
    )
    state: dict[str, Any] = {
        "ticket": ticket,
        "clean_subject": ticket.subject,
        "clean_text": ticket.text,
        "complexity": Complexity(score=0.0),
    }
    decision = TriageDecision(
        ticket_id="T-9",
        escalate=True,
        team="network",
        tier=2,
        priority="P3",
        confidence=0.8,
        decided_by="learned",
        policy_version="1",
    )
    brief = build_brief(state, decision)  # type: ignore[arg-type]
    summary = brief.history[0].summary
    assert "Kowalski" not in summary and "Jan" not in summary
    assert "token fails" in summary


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi Anna,\nthe printer is offline.", "Hi [NAME_1],\nthe printer is offline."),
        ("Dear Mr. Smith,\nplease help.", "Dear Mr. [NAME_1],\nplease help."),
        ("Hello John and team, VPN is down.", "Hello [NAME_1] and team, VPN is down."),
        ("Sehr geehrter Herr Müller,\nder Drucker", "Sehr geehrter Herr [NAME_1],\nder Drucker"),
        ("Bonjour Marie-Claire,\nle VPN", "Bonjour [NAME_1],\nle VPN"),
        ("Regards,\nJohn Smith", "Regards,\n[NAME_1]"),
        ("Best regards,\nJohn F. Kennedy | IT Manager", "Best regards,\n[NAME_1] | IT Manager"),
        ("Thanks, Anna", "Thanks, [NAME_1]"),
        ("Thank you!\n\nPriya", "Thank you!\n\n[NAME_1]"),
        ("Mit freundlichen Grüßen\nKlaus Weber", "Mit freundlichen Grüßen\n[NAME_1]"),
        ("Saludos cordiales,\nLucía Pérez", "Saludos cordiales,\n[NAME_1]"),
        ("--\nSam O'Neill\nACME", "--\n[NAME_1]\nACME"),
        ("My name is Marie Dubois and I work", "My name is [NAME_1] and I work"),
        ("Je m'appelle Marie Dubois.", "Je m'appelle [NAME_1]."),
        # a text of no capitals: case says nothing
        ("hallo herr hohgajnn,\nbitte", "hallo herr [NAME_1],\nbitte"),
        ("hi kryuisti,\nerp is down", "hi [NAME_1],\nerp is down"),
        ("mit freundlichen grüßen\nagjzikpf nhfrbxek", "mit freundlichen grüßen\n[NAME_1]"),
    ],
)
def test_a_name_in_a_greeting_a_sign_off_or_an_introduction_is_redacted(
    text: str, expected: str
) -> None:
    result = redact(text)
    assert result.text == expected
    assert restore(result.text, result.mapping) == text


@pytest.mark.parametrize(
    "text",
    [
        "Dear Support Team,\nWindows Update fails.",
        "Dear Customer Support,\nthe export fails.",
        "Sehr geehrtes Kundenservice-Team,\nder Export",
        "Sehr geehrte Damen und Herren,\nder Export",
        "Hi all,\nOutlook crashes.",
        "Hello IT,\nOutlook crashes.",
        "Hi, I cannot log in.",
        "Hello, Printer broken on floor 3.",
        "Thanks!\nWindows Update failed again after the reboot.",
        "Thanks for the quick fix.",
        "Best practice is to restart the service.",
        "Regards,\nThe Network Team",
        "Thank you,\n<name>",
        "Best regards,\n[Your Name]",
        "My name is not shown in the Teams directory.",
        "mit freundlichen grüßen\nbest regards",
        "Please mark it as done; Will the update run tonight?",
    ],
)
def test_greetings_and_sign_offs_without_a_persons_name_stay(text: str) -> None:
    assert redact(text, names=["mark.will@example.com"]).text == text


def test_the_given_names_are_found_whole_in_any_case_and_alone_capitalised() -> None:
    text = (
        "Anna Schmidt reported it; anna.schmidt on the share, ANNA SCHMIDT on the badge. "
        "Schmidt says the anna service is down."
    )
    result = redact(text, names=["Anna Schmidt <anna.schmidt@example.com>"])
    assert result.text == (
        "[NAME_1] reported it; [NAME_2] on the share, [NAME_3] on the badge. "
        "[NAME_4] says the anna service is down."
    )


def test_a_name_that_is_also_a_word_counts_only_whole_or_in_place() -> None:
    text = "Mark Jones asked us to mark the job. Will it run?\nThanks,\nMark"
    result = redact(text, names=["mark.jones@example.com"])
    assert result.text == "[NAME_1] asked us to mark the job. Will it run?\nThanks,\n[NAME_2]"


def test_a_mailbox_of_a_team_names_nobody() -> None:
    text = "Helpdesk Support could not reach the support portal."
    assert redact(text, names=["IT Support <helpdesk.support@example.com>"]).text == text


def test_product_words_are_never_a_name() -> None:
    text = "Hello Zoom,\nZoom Rooms crashes.\nThanks,\nZoom Rooms"
    assert redact(text, names=["Zoom Admin"], keep=["Zoom Rooms"]).text == text


def test_all_lower_case_text_finds_the_given_parts_alone() -> None:
    result = redact("printer of vepxdgot is offline", names=["vepxdgot poezmwny"])
    assert result.text == "printer of [NAME_1] is offline"
