"""Numbers grouped by non-breaking, narrow or thin spaces are redacted by redact() on its own."""

from __future__ import annotations

import pytest

from agent.redact import redact

SPACES = ["\u00a0", "\u202f", "\u2009", "\u2007"]  # no-break, narrow no-break, thin, figure


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize(
    ("template", "kind"),
    [
        ("Card {} was charged twice.", "CARD"),
        ("Please refund to {} today.", "IBAN"),
        ("Call me on {} after five.", "PHONE"),
    ],
)
def test_a_number_grouped_by_unusual_spaces_is_redacted(
    space: str, template: str, kind: str
) -> None:
    value = {
        "CARD": "4111 1111 1111 1111",
        "IBAN": "DE89 3704 0044 0532 0130 00",
        "PHONE": "+49 30 1234 5678",
    }[kind].replace(" ", space)
    result = redact(template.format(value))
    assert result.text == template.format(f"[{kind}_1]")
    assert result.mapping == {f"[{kind}_1]": value}


def test_a_french_phone_number_with_narrow_spaces_is_redacted() -> None:
    value = "01\u202f42\u202f68\u202f53\u202f00"
    assert redact(f"Tél. : {value}").text == "Tél. : [PHONE_1]"


def test_a_number_grouped_by_non_breaking_hyphens_is_redacted() -> None:
    value = "+49\u201130\u20111234567"
    assert redact(f"Phone: {value}").text == "Phone: [PHONE_1]"


def test_amounts_with_thin_spaces_stay() -> None:
    text = "The invoice of 1\u2009234\u2009567 EUR and order 612\u202f345\u202f678 EUR."
    assert redact(text).text == text
