"""A decision-tree branch an earlier branch always takes first is refused: it would never decide."""

from __future__ import annotations

import pytest

from agent.errors import PolicyError
from agent.policy import loads_policy

POLICY = """
first_line_team: desk
teams:
  - {name: desk, tier: 1, members: [{name: Dana}]}
  - {name: db, tier: 2, members: [{name: Alice}]}
  - {name: sre, tier: 2, members: [{name: Erin}]}
  - {name: hw, tier: 2, members: [{name: Hal}]}
rules:
  - {id: a, match: {keywords: [alpha]}, actions: {add_tags: [A]}}
  - {id: b, match: {keywords: [beta]}, actions: {add_tags: [B]}}
decision_tree:
"""


def _tree(*branches: str) -> str:
    return POLICY + "".join(f"  - {b}\n" for b in branches)


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{account_tier: [vip]}", "{account_tier: [VIP], escalate: true}"),
        ("{language: [de]}", "{language: [de-AT]}"),
        ("{team: [db, sre]}", "{team: [db], category: [billing]}"),
        ("{escalate: true}", "{team: [db, sre]}"),
        ("{team: [desk]}", "{escalate: false, region: [emea]}"),
        ("{tags_any: [A, B]}", "{tags_any: [b], priority: [P1]}"),
        (
            "{category: [billing, invoice], priority: [P1, P2]}",
            "{category: [billing], priority: [P1]}",
        ),
    ],
)
def test_a_branch_an_earlier_one_always_takes_first_is_refused(earlier: str, later: str) -> None:
    text = _tree(
        f"{{name: first, when: {earlier}, assign: false}}",
        f"{{name: second, when: {later}, assign: false}}",
    )
    with pytest.raises(PolicyError) as info:
        loads_policy(text, "p.yaml")
    message = str(info.value)
    assert "decision_tree[1]" in message
    assert "second is never reached" in message and "decision_tree[0] (first)" in message


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{account_tier: [vip], escalate: true}", "{account_tier: [vip]}"),
        ("{account_tier: [vip], escalate: true}", "{account_tier: [vip], escalate: false}"),
        ("{language: [de-at]}", "{language: [de]}"),
        ("{team: [db]}", "{team: [db, sre], region: [emea]}"),
        ("{tags_any: [A]}", "{tags_any: [A, B]}"),
        ("{category: [billing], priority: [P1]}", "{category: [billing]}"),
    ],
)
def test_a_branch_that_takes_tickets_the_earlier_one_leaves_is_accepted(
    earlier: str, later: str
) -> None:
    text = _tree(
        f"{{name: first, when: {earlier}, assign: false}}",
        f"{{name: second, when: {later}, assign: false}}",
    )
    assert [b.name for b in loads_policy(text).decision_tree] == ["first", "second"]


def test_a_branch_after_one_that_names_a_team_is_accepted() -> None:
    # a reviewer's team other than hw skips the first branch, and the second decides there
    text = _tree(
        "{name: first, when: {category: [hardware]}, team: hw}",
        "{name: second, when: {category: [hardware], team: [db]}, assign: false}",
    )
    assert [b.name for b in loads_policy(text).decision_tree] == ["first", "second"]
