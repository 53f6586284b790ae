"""A policy's error-code regex that backtracks without end gives up on a ticket, and says so.

Ticket text is untrusted and the patterns are a support lead's: '(a|aa)+$' on a line of a's would
take longer than the universe has left. Each runs in a child process here, so a hang fails the
test instead of stopping the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
from typing import cast
from agent.decision import assemble_decision
from agent.models import TeamScore, Ticket
from agent.policy import loads_policy
from agent.priority import choose_priority
from agent.route import choose_route
from agent.rules import RuleEngine
from knowledge.base import RoutePrediction

subject, body, pattern, where = sys.argv[1:5]
policy = loads_policy(r'''
first_line_team: desk
teams:
  - {name: desk, tier: 1, members: [{name: Dana}]}
  - {name: db, tier: 2, members: [{name: Alice}]}
rules:
  - id: ora-errors
    match: {error_codes: ['\bORA-\d{5}\b']}
    actions: {escalate_to: db}
  - id: runaway
    match: {error_codes: [PATTERN], where: WHERE}
    actions: {escalate_to: db}
'''.replace('PATTERN', json.dumps(pattern)).replace('WHERE', where))
ticket = Ticket(subject=subject, body=body)
text = ticket.text
engine = RuleEngine(policy)
hits = engine.evaluate(ticket, text, subject)
complexity = engine.complexity(ticket, text)
prediction = RoutePrediction(teams=[TeamScore(team="desk", score=0.9)], confidence=0.9,
                             model_version="m")
route = choose_route(policy, ticket, hits, prediction, priority="P3")
priority = choose_priority(policy, ticket, hits, complexity, prediction, route.escalate)
state = {"ticket": ticket, "route": route, "priority": priority, "prediction": prediction,
         "complexity": complexity, "llm": None}
decision = assemble_decision(cast(object, state), policy, "v")
print(json.dumps({
    "rules": [h.rule_id for h in hits],
    "codes": complexity.error_codes,
    "team": decision.team,
    "needs_review": decision.needs_review,
    "reasons": decision.review_reasons,
}))
"""


def _triage(pattern: str, where: str, subject: str, body: str) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, subject, body, pattern, where],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,  # a second or two when the patterns give up; without end otherwise
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"triage hung on {pattern!r}")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_runaway_pattern_gives_up_and_the_ticket_goes_to_review() -> None:
    found = _triage("(a|aa)+$", "any", "Export fails with ORA-01555", "a" * 200 + "!")
    assert found["needs_review"] is True
    assert any("'(a|aa)+$'" in r and "gave up" in r for r in found["reasons"])
    # the other patterns still read the ticket
    assert found["rules"] == ["ora-errors"]
    assert found["codes"] == ["ORA-01555"]
    assert found["team"] == "db"


def test_a_pattern_that_gives_up_on_the_body_alone_is_reported_too() -> None:
    # anchored at the start of the text, it is quick on the whole text (the subject comes first)
    # and runs away only on the body, which a 'where: body' rule reads by itself
    found = _triage(r"\A(a|aa)+\Z", "body", "Export fails", "a" * 200 + "!")
    assert found["needs_review"] is True
    assert any(r"(a|aa)+" in r and "gave up" in r for r in found["reasons"])


def test_a_well_behaved_pattern_matches_as_before() -> None:
    found = _triage(r"\bEXR-\d{4}\b", "any", "Posting fails", "EXR-4012 on month end")
    assert found["rules"] == ["runaway"]
    assert found["needs_review"] is False
