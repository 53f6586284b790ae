"""A name after a title (Mr, Herr, Frau, Mme...) anywhere in a text is redacted, not only in a
greeting; a word that only looks like a title ("ms teams", "500 ms", "dr site") names nobody."""

from __future__ import annotations

import pytest

from agent.redact import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bitte rufen Sie Herr Keller an.", "Bitte rufen Sie Herr [NAME_1] an."),
        ("Mr. John Smith said the VPN drops.", "Mr. [NAME_1] said the VPN drops."),
        ("Frau Dr. Anna Stein hat angerufen.", "Frau Dr. [NAME_1] hat angerufen."),
        ("Please call Ms O'Neill today.", "Please call Ms [NAME_1] today."),
        # no capitals: one word, or up to three before a punctuation mark
        ("herr tmqfjard qzhgdoua, stamm- nr. 1", "herr [NAME_1], stamm- nr. 1"),
        ("please help mr. subgtybaryuao on this", "please help mr. [NAME_1] on this"),
        ("frau rieß wird von 8 bis 10 da", "frau [NAME_1] wird von 8 bis 10 da"),
    ],
)
def test_a_name_after_a_title_anywhere_is_redacted(text: str, expected: str) -> None:
    assert redact(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "ms teams crashes on start, ms office too",
        "latency is 500 ms on the dr site",
        "The DR site is down; MS Teams works.",
        "Die Frau am Empfang hat angerufen.",
        "eine frau hat angerufen, die frau am empfang",
    ],
)
def test_words_that_only_look_like_a_title_name_nobody(text: str) -> None:
    assert redact(text).text == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Kind regards,\n   John Smith\n   IT Manager",
            "Kind regards,\n   [NAME_1]\n   IT Manager",
        ),
        ("mit freundlichen grüßen\n\tanna stein", "mit freundlichen grüßen\n\t[NAME_1]"),
    ],
)
def test_an_indented_name_under_a_closing_is_redacted(text: str, expected: str) -> None:
    assert redact(text).text == expected


def test_an_indented_teams_word_under_a_closing_that_the_text_uses_as_a_thing_stays() -> None:
    text = "the ctoc has received an alert.\nsincerely,\n ctoc\n"
    assert redact(text).text == text
