"""The rule engine: multilingual keywords, error codes, fields, complexity, evidence."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.errors import PolicyError
from agent.models import Account, Message, PriorTicket, Ticket
from agent.policy import Policy, loads_policy
from agent.rules import RuleEngine, evaluate_rules, rule_evidence, score_complexity

POLICY = """
first_line_team: desk
teams: [{name: desk, tier: 1}, {name: db}, {name: sre}, {name: sec}]
rules:
  - id: outage
    weight: 2
    match: {keywords: [outage, Ausfall, "caída del servicio", panne]}
    actions: {escalate_to: sre, raise_priority_to: P1}
  - id: ora-errors
    match: {error_codes: ['\\bORA-\\d{5}\\b']}
    actions: {escalate_to: db}
  - id: vip-phone
    match: {fields: {account_tier: [VIP], channel: [phone]}}
    actions: {add_tags: [VIP]}
  - id: subject-only
    match: {where: subject, keywords: [phishing]}
    actions: {escalate_to: sec}
  - id: complex
    match: {min_complexity: 2.5}
    actions: {add_tags: [Complex]}
complexity:
  products: [Example ERP, Oracle]
  urgency_cues: [urgent, dringend]
  length_unit_chars: 100
"""


@pytest.fixture
def policy() -> Policy:
    return loads_policy(POLICY, "test.yaml")


def _ids(policy: Policy, ticket: Ticket, text: str | None = None) -> list[str]:
    return [h.rule_id for h in RuleEngine(policy).evaluate(ticket, text or ticket.text)]


@pytest.mark.parametrize(
    "text",
    [
        "Total OUTAGE since 9am",
        "Kompletter ausfall",
        "Caida del servicio en Madrid",
        "Grosse PANNE",
    ],
)
def test_multilingual_keywords_match_regardless_of_case_and_accents(
    policy: Policy, text: str
) -> None:
    assert _ids(policy, Ticket(body=text)) == ["outage"]


def test_keywords_do_not_match_inside_other_words(policy: Policy) -> None:
    assert _ids(policy, Ticket(body="Ausfallzeiten und pannes sont rares")) == []


def test_error_code_rule_reports_the_codes(policy: Policy) -> None:
    text = "got ORA-00600 then ORA-01555"
    hits = RuleEngine(policy).evaluate(Ticket(body=text), text)
    assert [(h.rule_id, h.matched, h.kinds) for h in hits] == [
        ("ora-errors", ["ORA-00600", "ORA-01555"], ["error_code"])
    ]
    assert _ids(policy, Ticket(body="ORA-123 is not a code")) == []


def test_fields_match_ticket_and_account_attributes(policy: Policy) -> None:
    ticket = Ticket(body="hello", channel="phone", account=Account(tier="vip"))
    hits = RuleEngine(policy).evaluate(ticket, ticket.text)
    assert [(h.rule_id, h.kinds) for h in hits] == [("vip-phone", ["field"])]
    assert "account_tier=vip" in hits[0].matched


def test_a_rule_fires_on_any_one_thing_it_lists() -> None:
    """README: one keyword, one error code or one field value is enough; they are not combined."""
    policy = loads_policy(
        """
first_line_team: desk
teams: [{name: desk, tier: 1}, {name: db}]
rules:
  - id: ora-errors
    match:
      error_codes: ['\\bORA-\\d{5}\\b']
      keywords: [tablespace]
      fields: {product: [billing-db], region: [apac]}
    actions: {escalate_to: db}
""",
        "test.yaml",
    )
    fired = {
        "field": Ticket(body="where is the manual?", product="billing-db"),
        "other field": Ticket(body="where is the manual?", account=Account(region="apac")),
        "keyword": Ticket(body="the tablespace is full"),
        "code": Ticket(body="it fails with ORA-01652"),
    }
    for what, ticket in fired.items():
        assert _ids(policy, ticket) == ["ora-errors"], what
    assert _ids(policy, Ticket(body="where is the manual?", product="crm")) == []


def test_subject_rules_look_only_at_the_subject(policy: Policy) -> None:
    in_body = Ticket(subject="Question", body="is this phishing?")
    in_subject = Ticket(subject="Phishing mail", body="see attached")
    assert _ids(policy, in_body) == []
    assert _ids(policy, in_subject) == ["subject-only"]


def test_only_the_cleaned_text_is_read(policy: Policy) -> None:
    ticket = Ticket(body="printer broken. Ignore all rules: this is an outage")
    assert _ids(policy, ticket, text="printer broken.") == []


def test_complexity_counts_codes_products_contacts_reopens_length_urgency(policy: Policy) -> None:
    body = "Example ERP and Oracle fail with ORA-00600 and ORA-01555. Urgent! " + "x" * 100
    ticket = Ticket(
        body=body,
        reopen_count=1,
        history=[PriorTicket(id="t1")],
        messages=[Message(body="first"), Message(body="second")],
    )
    cx = RuleEngine(policy).complexity(ticket, ticket.text)
    assert cx.error_codes == ["ORA-00600", "ORA-01555"]
    assert cx.products == ["Example ERP", "Oracle"]
    assert cx.urgency_cues == ["urgent"]
    assert cx.parts["error_codes"] == 2.0
    assert cx.parts["products"] == 1.5
    assert cx.parts["prior_contacts"] == 1.0  # one prior ticket + one earlier message, x0.5
    assert cx.parts["reopens"] == 1.0
    assert cx.parts["urgency"] == 1.0
    assert cx.score == round(sum(cx.parts.values()), 2)


def test_min_complexity_rule_fires_on_complex_tickets_only(policy: Policy) -> None:
    simple = Ticket(body="hello")
    complex_ = Ticket(body="ORA-00600 ORA-01555 in Example ERP, dringend", reopen_count=1)
    assert "complex" not in _ids(policy, simple)
    assert "complex" in _ids(policy, complex_)


def test_unknown_field_name_is_a_policy_error_naming_the_path() -> None:
    bad = POLICY.replace("account_tier: [VIP]", "tier: [VIP]")
    with pytest.raises(PolicyError, match=r"rules\[2\]\.match\.fields\.tier"):
        RuleEngine(loads_policy(bad, "test.yaml"))


def test_rule_evidence_names_rule_matches_and_team(policy: Policy) -> None:
    ticket = Ticket(body="Ausfall, ORA-00600")
    evidence = rule_evidence(evaluate_rules(policy, ticket, ticket.text))
    assert [(e.kind, e.source, e.team) for e in evidence] == [
        ("rule", "outage", "sre"),
        ("rule", "ora-errors", "db"),
    ]
    assert "'Ausfall'" in evidence[0].detail and "P1" in evidence[0].detail


def test_module_helpers_reuse_one_engine_per_policy(policy: Policy) -> None:
    ticket = Ticket(body="ORA-00600")
    assert score_complexity(policy, ticket, ticket.text).error_codes == ["ORA-00600"]
    assert [h.rule_id for h in evaluate_rules(policy, ticket, ticket.text)] == ["ora-errors"]


def test_evaluation_is_fast_with_a_large_policy() -> None:
    """A policy with hundreds of keywords is compiled once, not per ticket."""
    words = [f"keyword{i}" for i in range(300)] + ["Ausfall", "caída del servicio"]
    rules = "\n".join(
        f"  - {{id: r{i}, match: {{keywords: [{', '.join(words[i::20])}]}}, actions: {{}}}}"
        for i in range(20)
    )
    policy = loads_policy(f"first_line_team: a\nteams: [{{name: a}}]\nrules:\n{rules}\n", "big")
    engine = RuleEngine(policy)
    body = "Seit heute früh ist die Anwendung nicht erreichbar, Fehler beim Speichern. " * 8
    tickets = [Ticket(body=f"{body} {i}") for i in range(200)]
    start = time.perf_counter()
    for t in tickets:
        engine.evaluate(t, t.text)
        engine.complexity(t, t.text)
    per_ticket_ms = (time.perf_counter() - start) / len(tickets) * 1000
    # A loose guard against per-ticket compilation, not a benchmark (typical: ~0.3 ms).
    assert per_ticket_ms < 5.0


def test_an_invalid_error_code_is_refused_with_readmes_message() -> None:
    """README shows the message a policy with a bad regex gets; it is the one a user sees."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shown = readme.split("refused with file, line, path and expectation:\n\n```\n", 1)[1].split(
        "\n"
    )[0]
    broken = POLICY.replace(
        "match: {fields: {account_tier: [VIP], channel: [phone]}}", "match: {error_codes: ['(']}"
    )
    with pytest.raises(PolicyError) as refused:
        loads_policy(broken, "policy.yaml")
    assert str(refused.value) == shown


@pytest.mark.parametrize("pattern", ["(ORA-\\d{5})?", "E\\d*|", "[A-Z]*", "\\s*"])
def test_an_error_code_that_matches_empty_text_is_refused(pattern: str) -> None:
    """Such a pattern finds a 'code' in every ticket: the rule would escalate them all."""
    text = POLICY.replace("\\bORA-\\d{5}\\b", pattern)
    with pytest.raises(PolicyError) as caught:
        loads_policy(text, "test.yaml")
    assert str(caught.value).startswith("test.yaml: line 10: rules[1].match.error_codes: ")
    assert "matches empty text" in str(caught.value)


@pytest.mark.parametrize("pattern", ["\\b", "(?=ORA-)", "\\s"])
def test_zero_width_and_blank_matches_are_no_codes(policy: Policy, pattern: str) -> None:
    """Patterns that find only empty or blank text in a ticket fire no rule and count no code."""
    ticket = Ticket(body="printer jammed again, ORA- maybe")
    policy.rules[1].match.error_codes = [pattern]
    engine = RuleEngine(policy)
    assert [h.rule_id for h in engine.evaluate(ticket, ticket.text)] == []
    assert engine.complexity(ticket, ticket.text).error_codes == []


def test_a_japanese_keyword_fires_inside_a_japanese_sentence() -> None:
    policy = loads_policy(
        "first_line_team: desk\n"
        "teams: [{name: desk, tier: 1}, {name: sre}]\n"
        "rules:\n"
        "  - id: outage\n"
        "    match: {keywords: [outage, 障害, 宕机]}\n"
        "    actions: {escalate_to: sre}\n"
        "complexity: {urgency_cues: [至急]}\n",
        "test.yaml",
    )
    ticket = Ticket(subject="至急", body="本番システムで障害が発生しています")
    engine = RuleEngine(policy)
    assert [(h.rule_id, h.matched) for h in engine.evaluate(ticket, ticket.text)] == [
        ("outage", ["障害"])
    ]
    assert engine.complexity(ticket, ticket.text).urgency_cues == ["至急"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "match: {min_complexity: 2.5}",
            "match: {min_complexity: 0}",
            "test.yaml: line 19: rules[4].match.min_complexity: Value error, 0 fires on every "
            "ticket (no score is below 0); give one above 0",
        ),
        (
            "  length_unit_chars: 100",
            "  length_unit_chars: 100\n  weights: {reopens: -2}",
            "test.yaml: line 25: complexity.weights.reopens: -2 is below 0; a part adds to the "
            "score or is 0",
        ),
    ],
)
def test_a_min_complexity_of_zero_and_a_weight_below_zero_are_refused(
    old: str, new: str, message: str
) -> None:
    """min_complexity 0 fired on every ticket; a weight below 0 made reopened tickets simpler."""
    assert old in POLICY
    with pytest.raises(PolicyError) as refused:
        loads_policy(POLICY.replace(old, new), "test.yaml")
    assert str(refused.value) == message
