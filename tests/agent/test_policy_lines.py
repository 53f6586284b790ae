"""A policy that does not validate names the line of the field, as a YAML syntax error does."""

from __future__ import annotations

import pytest

from agent.errors import PolicyError
from agent.policy import loads_policy

POLICY = """\
name: lines
first_line_team: desk
teams:
  - name: desk
    tier: 1
  - name: db
    members:
      - name: Ana
        capacity: 3
rules:
  - id: outage
    match:
      keywords: [outage]
    actions:
      escalate_to: db
  - id: ora
    match:
      error_codes:
        - '\\bORA-\\d{5}\\b'
    actions:
      escalate_to: db
priorities:
  levels:
    P1:
      first_response_hours: 1
      resolution_hours: 4
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a value the schema refuses: the line of its key (or list item)
        ("        - '\\bORA-\\d{5}\\b'", "        - '('", "line 18: rules[1].match.error_codes"),
        ("        capacity: 3", "        capacity: lots", "line 9: teams[1].members[0].capacity"),
        (
            "        capacity: 3",
            "        capacity: 3\n        shoe_size: 44",
            "line 10: teams[1].members[0].shoe_size",
        ),
        # a name that names nothing, found across the policy
        (
            "      escalate_to: db\n  - id: ora",
            "      escalate_to: dba\n  - id: ora",
            "line 15: rules[0].actions.escalate_to: rule outage: unknown team",
        ),
        # a field left out: the line of the part that lacks it
        ("      resolution_hours: 4\n", "", "line 24: priorities.levels.P1.resolution_hours"),
    ],
)
def test_the_error_names_the_line_of_the_field(old: str, new: str, expected: str) -> None:
    text = POLICY.replace(old, new)
    assert text != POLICY
    with pytest.raises(PolicyError) as refused:
        loads_policy(text, "policy.yaml")
    assert str(refused.value).startswith(f"policy.yaml: {expected}"), str(refused.value)


def test_a_field_missing_at_the_top_has_no_line_to_name() -> None:
    text = POLICY.replace("first_line_team: desk\n", "")
    with pytest.raises(PolicyError) as refused:
        loads_policy(text, "policy.yaml")
    assert str(refused.value) == "policy.yaml: first_line_team: Field required"
