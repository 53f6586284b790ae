"""Language detection where the source names none: short tickets in any script, no wrong guess."""

from __future__ import annotations

import pytest

from agent.language import detect_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("ログインできない\nパスワードを忘れました", "ja"),  # 20 characters
        ("비밀번호를 잊어버렸어요 도와주세요", "ko"),  # 18 characters: 'I forgot my password, help'
        ("プリンター故障", "ja"),
        ("密码忘记了，请帮我重置一下账户谢谢", "zh"),  # 17 characters
        ("VPN geht nicht seit heute morgen", "de"),
    ],
)
def test_a_short_ticket_in_its_own_script_gets_its_language(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "会議室予約不可",  # Japanese written in kanji alone reads as Chinese: no guess
        "VPN接続不可",
        "Drucker kaputt",
        "ok thanks",
        "",
        "   ",
    ],
)
def test_too_little_text_gets_no_guess(text: str) -> None:
    assert detect_language(text) is None
