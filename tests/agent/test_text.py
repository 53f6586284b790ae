"""Folding and word-bounded, accent-insensitive phrase matching."""

from __future__ import annotations

from agent.text import compile_terms, find_terms, fold


def test_fold_removes_case_and_accents() -> None:
    assert fold("FEHLER") == fold("Fehler") == "fehler"
    assert fold("Contraseña") == "contrasena"
    assert fold("Système") == "systeme"
    assert fold("Straße") == "strasse"


def test_terms_match_across_case_and_accents_in_any_language() -> None:
    pattern = compile_terms(["Ausfall", "caída del servicio", "système", "contraseña", "panne"])
    text = "AUSFALL seit 8 Uhr; caida del  servicio; le SYSTEME est en panne; mi contrasena"
    assert find_terms(pattern, text) == [
        "Ausfall",
        "caída del servicio",
        "système",
        "contraseña",
        "panne",
    ]


def test_terms_are_word_bounded() -> None:
    pattern = compile_terms(["outage", "DNS", "panne"])
    assert find_terms(pattern, "outages are rare; DNSSEC; pannes") == []
    assert find_terms(pattern, "(DNS) outage.") == ["outage", "DNS"]


def test_overlapping_and_shared_prefix_phrases_are_all_found() -> None:
    pattern = compile_terms(["outage", "major outage", "sap", "sap gui"])
    assert find_terms(pattern, "A major outage of SAP GUI") == [
        "outage",
        "major outage",
        "sap",
        "sap gui",
    ]


def test_phrases_span_line_breaks_and_punctuation_terms_match() -> None:
    pattern = compile_terms(["single sign-on", "c++"])
    assert find_terms(pattern, "Single\nsign-on broke our C++ build") == ["single sign-on", "c++"]


def test_compiled_pattern_is_cached() -> None:
    assert compile_terms(["a", "b"]) is compile_terms(["a", "b"])


def test_empty_term_list_matches_nothing() -> None:
    assert find_terms(compile_terms([]), "anything at all") == []


def test_typed_apostrophes_and_hyphens_match_the_plain_ones() -> None:
    """Mail clients write "can’t" and "Wi‑Fi" (U+2019, U+2011); a policy writes "can't", "wi-fi"."""
    pattern = compile_terms(["can't log in", "wi-fi", "e-mail", "password"])
    text = "I can\u2019t log in: the Wi\u2011Fi drops, my e\u2013mail too, pass\u00adword reset"
    assert find_terms(pattern, text) == ["can't log in", "wi-fi", "e-mail", "password"]
    # and the other way round: a policy pasted from a document with typographic marks
    typed = compile_terms(["doesn\u2019t start", "sign\u2010on"])
    assert find_terms(typed, "It doesn't start since the single sign-on change") == [
        "doesn\u2019t start",
        "sign\u2010on",
    ]
    assert find_terms(pattern, "the wi\u2011fis and e\u2011mails") == []  # still word-bounded


def test_terms_match_in_scripts_written_without_spaces() -> None:
    """Japanese and Chinese put no space between words, Korean joins particles to the noun."""
    pattern = compile_terms(["障害", "服务器", "ログイン", "서버", "VPN", "障害対応"])
    assert find_terms(pattern, "システム障害が発生しました") == ["障害"]
    assert find_terms(pattern, "服务器宕机了") == ["服务器"]
    assert find_terms(pattern, "ログインできません") == ["ログイン"]
    assert find_terms(pattern, "서버가 다운됐어요") == ["서버"]
    assert find_terms(pattern, "VPNが繋がらない") == ["VPN"]  # a Latin word before kana
    assert find_terms(pattern, "障害対応中です") == ["障害", "障害対応"]
    # words of spaced scripts stay bounded, beside those scripts too
    assert find_terms(pattern, "VPNs and VPNaaS; 服务器VPNX") == ["服务器"]


def test_marks_that_spell_the_word_are_kept_while_accents_go() -> None:
    """A Thai tone mark, a Devanagari virama or a kana voicing mark makes another word."""
    pattern = compile_terms(["ล่ม", "सर्वर", "バグ", "contraseña"])
    assert find_terms(pattern, "ระบบล่มครับ") == ["ล่ม"]  # the system is down
    assert find_terms(pattern, "ลมแรงมาก") == []  # strong wind
    assert find_terms(pattern, "सर्वर बंद है") == ["सर्वर"]
    assert find_terms(pattern, "सरवर") == []
    assert find_terms(pattern, "バグがあります") == ["バグ"]
    assert find_terms(pattern, "ハグしたい") == []  # a hug
    assert find_terms(pattern, "CONTRASENA olvidada") == ["contraseña"]  # accents still go
