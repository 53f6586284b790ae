"""A branch's required skills are checked against each team it can route to, not some of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from agent.errors import PolicyError
from agent.policy import Policy, load_policy, loads_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "agent" / "examples" / "policy.yaml"

TWO_SPECIALISTS = """
first_line_team: desk
teams:
  - {name: desk, tier: 1, members: [{name: Dana}]}
  - {name: db, members: [{name: Alice, skills: [major-incident]}]}
  - {name: net, members: [{name: Bob, skills: [vpn]}]}
  - {name: sre, members: [{name: Erin}]}
decision_tree:
  - name: major
    when: {priority: [P1], escalate: true}
    required_skills: [major-incident, vpn]
"""


def test_each_team_a_branch_can_reach_is_named_with_each_skill_nobody_there_has() -> None:
    with pytest.raises(PolicyError) as info:
        loads_policy(TWO_SPECIALISTS, "p.yaml")
    message = str(info.value)
    assert "decision_tree[0].required_skills" in message
    # each pair, though some team of the branch has each skill
    assert "no member of net, sre has 'major-incident'" in message
    assert "no member of db, sre has 'vpn'" in message
    # the first line is not escalated: the branch never routes there
    assert "desk" not in message.split("required_skills", 1)[1]


def test_a_branch_that_names_its_team_is_checked_against_that_team_only() -> None:
    policy = TWO_SPECIALISTS.replace("required_skills: [major-incident, vpn]", "team: net\n    ")
    policy += "    required_skills: [vpn]\n"
    assert loads_policy(policy).decision_tree[0].required_skills == ["vpn"]


def test_a_branch_that_kept_tickets_first_line_is_checked_against_the_first_line() -> None:
    policy = TWO_SPECIALISTS.replace("escalate: true", "escalate: false")
    with pytest.raises(PolicyError, match=re.escape("no member of desk has 'major-incident'")):
        loads_policy(policy)


def test_the_example_policy_has_someone_with_each_skill_its_branches_ask_for_there() -> None:
    policy: Policy = load_policy(EXAMPLE)
    escalated = [t.name for t in policy.teams if t.name != policy.first_line_team]
    for name in ("enterprise-major-incident", "enterprise-escalated", "vip-escalated"):
        branch = next(b for b in policy.decision_tree if b.name == name)
        for team in escalated:
            skills = {s for m in policy.team(team).members for s in m.skills}
            assert set(branch.required_skills) <= skills, (name, team)


def test_dropping_the_example_s_only_major_incident_person_of_a_team_is_refused(
    tmp_path: Path,
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for member in data["teams"][3]["members"]:  # network
        member["skills"] = [s for s in member["skills"] if s != "major-incident"]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError, match=re.escape("no member of network has 'major-incident'")):
        load_policy(path)


def test_a_team_without_members_is_not_asked_for_skills() -> None:
    # nobody is picked there, so no skill can be missed: the team's queue takes the ticket
    policy = TWO_SPECIALISTS.replace("{name: sre, members: [{name: Erin}]}", "{name: sre}")
    policy = policy.replace("[major-incident, vpn]", "[major-incident]")
    policy = policy.replace("{name: net, members: [{name: Bob, skills: [vpn]}]}", "{name: net}")
    assert loads_policy(policy).decision_tree[0].required_skills == ["major-incident"]
