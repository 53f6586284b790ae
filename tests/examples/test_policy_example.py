"""The example policy loads, compiles, routes its own keywords, and bad edits name file and path."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from datetime import UTC, datetime, time
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from agent.errors import PolicyError
from agent.hours import WorkingHours, add_business_hours, on_shift
from agent.models import Ticket
from agent.policy import Policy, load_policy
from agent.rules import RuleEngine

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "agent" / "examples"
EXAMPLE = EXAMPLES / "policy.yaml"
SCENARIOS = REPO / "evals" / "scenarios"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(EXAMPLE)


def _without_line(message: str) -> str:
    """The message without the line it names (tests/agent/test_policy_lines.py checks those)."""
    return re.sub(r"^(.*?): line \d+: ", r"\1: ", message)


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_example_policy_loads_with_teams_members_and_levels(policy: Policy) -> None:
    assert policy.first_line_team == "service_desk"
    assert policy.team("service_desk").tier == 1
    assert len(policy.teams) >= 8
    assert all(2 <= len(t.members) <= 4 for t in policy.teams)
    assert all(len(t.description) > 80 for t in policy.teams)  # enough for cold-start routing
    assert set(policy.priorities.levels) == set(policy.priorities.scale)
    RuleEngine(policy)  # every pattern and field name compiles


@pytest.mark.parametrize(
    ("text", "team"),
    [
        ("Production outage since 08:00", "platform_sre"),
        ("Kompletter Ausfall der Plattform", "platform_sre"),
        ("Caída del servicio en todas las oficinas", "platform_sre"),
        ("Panne générale du portail", "platform_sre"),
        ("Nightly export dies with ORA-01555 snapshot too old", "database"),
        ("I clicked a link in a phishing mail", "security"),
        ("Correo de phishing recibido", "security"),
        ("Login fails with AADSTS50076", "identity_access"),
        ("Blue screen with stop code 0x0000007B", "hardware"),
        ("Posting fails with EXR-4012 in Example ERP", "erp_applications"),
        ("Wir wurden doppelt belastet, bitte Rechnung prüfen", "billing"),
        ("VPN drops every 10 minutes", "network"),
        # typed with a non-breaking hyphen (U+2011), as word processors and phones do
        ("Die Zwei\u2011Faktor Anmeldung schlägt fehl", "identity_access"),
    ],
)
def test_example_rules_route_multilingual_keywords_and_codes(
    policy: Policy, text: str, team: str
) -> None:
    hits = RuleEngine(policy).evaluate(Ticket(body=text), text)
    escalating = [h for h in hits if h.actions.escalate_to]
    assert escalating, f"no rule fired on {text!r}"
    assert max(escalating, key=lambda h: h.weight).actions.escalate_to == team


def test_example_tree_gives_vip_accounts_a_senior_person(policy: Policy) -> None:
    branches = [b for b in policy.decision_tree if b.when.account_tier == ["vip"]]
    assert branches and all("vip" in b.required_skills for b in branches)
    assert all(any("vip" in m.skills for m in team.members) for team in policy.teams)
    assert "vip" in policy.priorities.by_account_tier


def test_bad_regex_is_reported_with_file_and_path(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["rules"][2]["match"]["error_codes"] = ["ORA-(\\d{5"]
    path = _write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert str(path) in message
    assert "rules[2].match.error_codes" in message
    assert "not a valid regex" in message


def test_blank_keyword_is_reported_with_file_and_path(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["rules"][0]["match"]["keywords"] = ["outage", "  "]
    path = _write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert "rules[0].match.keywords" in str(info.value)
    assert "keywords[1] '  ' has no letter or digit" in str(info.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["decision_tree"][2]["when"].update(team=["netwrok"]),
            "decision_tree[2].when.team: branch enterprise-major-incident: unknown ['netwrok']",
        ),
        (
            lambda d: d["decision_tree"][2]["when"].update(priority=["P0"]),
            "decision_tree[2].when.priority: branch enterprise-major-incident: ['P0'] are not",
        ),
        (
            lambda d: d["priorities"].update(scale=["P1", "P2", "P2", "P3", "P4"]),
            "priorities.scale: scale repeats ['P2']",
        ),
        (
            lambda d: d["priorities"]["levels"]["P1"].update(first_response_hours=9),
            "priorities.levels.P1.first_response_hours: 9 is after resolution_hours 4",
        ),
        (
            lambda d: d["priorities"].update(oncall_webhook="not a url"),
            "'not a url' is not an http(s) URL with a host",
        ),
        (
            lambda d: d["decision_tree"][0].update(required_skills=["vpi"]),
            "decision_tree[0].required_skills: branch vip-escalated: no member of "
            "identity_access, database, network, erp_applications, billing, security, "
            "platform_sre, hardware has 'vpi'",
        ),
        (
            lambda d: d["teams"][0]["members"].append(dict(d["teams"][0]["members"][0])),
            "teams[0].members[4].name: team 'service_desk' lists 'Lena Fischer' again (members[0])",
        ),
    ],
)
def test_conditions_that_could_never_hold_are_refused(
    tmp_path: Path, edit: Any, message: str
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    edit(data)
    with pytest.raises(PolicyError, match=re.escape(message)):
        load_policy(_write(tmp_path, data))


def test_a_skill_some_member_of_the_branch_team_has_is_accepted(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["decision_tree"][0].update(team="identity_access", required_skills=["MFA"])
    assert load_policy(_write(tmp_path, data)).decision_tree[0].required_skills == ["MFA"]
    data["decision_tree"][0].update(team="database")
    with pytest.raises(PolicyError, match=re.escape("no member of database has 'MFA'")):
        load_policy(_write(tmp_path, data))


TEAMS = (
    "teams: service_desk, identity_access, database, network, erp_applications, billing, "
    "security, platform_sre, hardware"
)


@pytest.mark.parametrize(
    ("edit", "where", "expected"),
    [
        (
            lambda d: d["rules"][0]["actions"].update(escalate_to="secuirty"),
            "rules[0].actions.escalate_to",
            f"rule security-incident: unknown team 'secuirty'; {TEAMS}",
        ),
        (
            lambda d: d["rules"][3]["actions"].update(raise_priority_to="P0"),
            "rules[3].actions.raise_priority_to",
            "rule http-5xx: 'P0' is not on the scale ['P1', 'P2', 'P3', 'P4']",
        ),
        (
            lambda d: d["rules"].append(dict(d["rules"][1])),
            "rules[15].id",
            "'major-outage' is already rules[1]",
        ),
        (
            lambda d: d["decision_tree"][0].update(team="ghosts"),
            "decision_tree[0].team",
            f"branch vip-escalated: unknown team 'ghosts'; {TEAMS}",
        ),
        (
            lambda d: d.update(first_line_team="helpdesk"),
            "first_line_team",
            f"'helpdesk' is not a team; {TEAMS}",
        ),
        (
            lambda d: d["teams"].append(dict(d["teams"][2])),
            "teams[9].name",
            "'database' is already teams[2]",
        ),
        (
            lambda d: d["priorities"]["by_account_tier"].update(vip="P0"),
            "priorities.by_account_tier.vip",
            "priority 'P0' is not on the scale ['P1', 'P2', 'P3', 'P4']",
        ),
    ],
)
def test_a_name_that_names_nothing_is_reported_at_its_path_with_what_was_expected(
    tmp_path: Path, edit: Any, where: str, expected: str
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert _without_line(str(info.value)) == f"{path}: {where}: {expected}"


@pytest.mark.parametrize(
    ("edit", "where", "expected"),
    [
        (
            lambda d: d["decision_tree"][8]["when"].update(escalate=True, team=["service_desk"]),
            "decision_tree[8].when.escalate",
            "branch spanish-speakers: true never holds for team ['service_desk'] (only "
            "service_desk is first line: a ticket there is not escalated)",
        ),
        (
            lambda d: d["decision_tree"][1]["when"].update(team=["network"]),
            "decision_tree[1].when.escalate",
            "branch vip-first-line: false never holds for team ['network'] (only service_desk "
            "is first line: a ticket there is not escalated)",
        ),
        (
            lambda d: d["decision_tree"][5]["when"].update(channel=["e-mail"]),
            "decision_tree[5].when.channel",
            "branch hardware-category: ['e-mail'] is not a channel; channels: email, chat, "
            "web, api, helpdesk, phone, other",
        ),
        (
            lambda d: d["rules"][0]["match"].update(fields={"channel": ["Phone", "fax"]}),
            "rules[0].match.fields.channel",
            "rule security-incident: ['fax'] is not a channel; channels: email, chat, web, "
            "api, helpdesk, phone, other",
        ),
        (
            lambda d: d["decision_tree"][4]["when"].update(tags_any=["Outage", "VIP"]),
            "decision_tree[4].when.tags_any",
            "branch billing-category: ['VIP'] are added by no rule (the tree reads the rules' "
            "add_tags); rules add: Security, Outage, Privacy, Data Loss, Password Reset, How-To",
        ),
        (
            lambda d: d["decision_tree"][5]["when"].update(category=[]),
            "decision_tree[5].when.category",
            "an empty list matches no ticket; list the values, or leave it out",
        ),
        (
            lambda d: d["decision_tree"][1]["when"].update(team=[]),
            "decision_tree[1].when.team",
            "an empty list matches no ticket; list the values, or leave it out",
        ),
        (
            lambda d: d["rules"][0]["match"].update(fields={"product": []}),
            "rules[0].match.fields.product",
            "an empty list matches no ticket; list the values, or leave it out",
        ),
        (
            lambda d: d["decision_tree"].insert(2, {"name": "everything", "tier": 2}),
            "decision_tree[3]",
            "branch enterprise-major-incident is never reached: decision_tree[2] (everything) "
            "has no condition and decides first",
        ),
    ],
)
def test_a_policy_part_that_could_never_act_is_refused_at_its_path(
    tmp_path: Path, edit: Any, where: str, expected: str
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert _without_line(str(info.value)) == f"{path}: {where}: {expected}"


def test_two_branches_of_one_name_are_refused(tmp_path: Path) -> None:
    # the evidence names the branch that decided: two of one name cannot be told apart
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["decision_tree"].append({"name": "vip-escalated", "tier": 3})
    path = _write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert _without_line(str(info.value)) == (
        f"{path}: decision_tree[10].name: 'vip-escalated' is already decision_tree[0]"
    )


def test_a_rule_that_escalates_and_stays_first_line_is_refused(tmp_path: Path) -> None:
    # the escalation wins, so the rule would look like it keeps tickets first line and never does
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["rules"][0]["actions"]["stay_first_line"] = True
    path = _write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert _without_line(str(info.value)) == (
        f"{path}: rules[0].actions.stay_first_line: rule security-incident: escalate_to "
        "security and stay_first_line contradict each other (set one of them)"
    )


def test_a_channel_in_another_case_and_a_tag_in_another_spelling_are_accepted(
    tmp_path: Path,
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["decision_tree"][5]["when"].update(channel=["Email"], tags_any=["outage"])
    data["decision_tree"][1]["when"].update(team=["network", "service_desk"])  # may be first line
    data["decision_tree"].append({"name": "last-resort", "tier": 2})  # unconditional, last
    policy = load_policy(_write(tmp_path, data))
    assert policy.decision_tree[5].when.tags_any == ["outage"]


def test_an_sla_target_past_any_date_is_refused_not_a_500_per_ticket(tmp_path: Path) -> None:
    # 80,000,000 hours (a few zeros too many) put the due time past the year 9999: every ticket
    # of that priority failed with OverflowError
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["priorities"]["levels"]["P4"].update(resolution_hours=80_000_000, business_hours=False)
    path = _write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert _without_line(str(info.value)) == (
        f"{path}: priorities.levels.P4.resolution_hours: Input should be less than or equal to 8760"
    )


def test_a_key_given_twice_is_refused_not_silently_replaced(tmp_path: Path) -> None:
    # A second `rules:` pasted at the end of the file would replace every rule above it.
    text = EXAMPLE.read_text(encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(text + "\nrules:\n  - {id: extra, match: {keywords: [x]}, actions: {}}\n")
    first = 1 + text.splitlines().index("rules:")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line {len(text.splitlines()) + 2}, column 1:")
    assert f"'rules' given again (first on line {first})" in message
    # the same key one level down, inside a flow mapping
    nested = text.replace(
        "P1: {first_response_hours: 0.5,",
        "P1: {first_response_hours: 0.5, first_response_hours: 2,",
    )
    path.write_text(nested)
    with pytest.raises(PolicyError, match="'first_response_hours' given again"):
        load_policy(path)


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    # `<<: *anchor` then an explicit key is YAML's way to reuse and adjust, not a repeat.
    text = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace(
            "    P4: {first_response_hours: 8,",
            "    P4: {<<: *p3, first_response_hours: 8,",
        )
        .replace("    P3: {first", "    P3: &p3 {first")
    )
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    assert load_policy(path).priorities.levels["P4"].first_response_hours == 8


def test_working_hours_written_without_quotes_are_the_times_written(tmp_path: Path) -> None:
    # YAML 1.1 reads 9:00 as the base-60 number 540, which became 00:09 (with a UTC offset that
    # made every on-shift check raise TypeError)
    text = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace('start: "07:00", end: "20:00"', "start: 7:00, end: 20:00")
        .replace('start: "08:00", end: "18:00"}', "start: 8:00, end: 18:00:00}")
    )
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    policy = load_policy(path)
    desk = policy.teams[0].working_hours
    assert (desk.start, desk.end) == (time(7, 0), time(20, 0))
    business = policy.priorities.business_hours
    assert (business.start, business.end) == (time(8, 0), time(18, 0))
    assert on_shift(desk, datetime(2026, 12, 7, 12, 0, tzinfo=UTC))  # a Monday, 13:00 in Berlin
    assert not on_shift(desk, datetime(2026, 12, 7, 0, 30, tzinfo=UTC))


def test_around_the_clock_teams_are_on_shift_in_the_last_minute_of_the_day(
    policy: Policy,
) -> None:
    # 'end: "23:59"' left a minute a day with nobody on shift: a P1 then went unassigned
    late = datetime(2026, 12, 7, 23, 59, 30, tzinfo=UTC)
    for name in ("security", "platform_sre"):
        hours = policy.team(name).working_hours
        assert on_shift(hours, late), name
        assert on_shift(hours, datetime(2026, 12, 8, 0, 0, tzinfo=UTC)), name
    day = WorkingHours(start=time(0, 0), end="24:00", days=["mon"])  # type: ignore[arg-type]
    monday_start = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    assert add_business_hours(monday_start, 24, day) == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    assert add_business_hours(monday_start, 25, day) == datetime(2026, 12, 14, 1, 0, tzinfo=UTC)


def test_a_night_shift_is_written_with_end_before_start(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'start: "07:00", end: "20:00"', 'start: "22:00", end: "06:00"', 1
    )
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    desk = load_policy(path).teams[0].working_hours
    assert desk.overnight
    assert on_shift(desk, datetime(2026, 12, 8, 4, 30, tzinfo=UTC))  # Tuesday 05:30 in Berlin


def test_working_hours_that_end_when_they_start_are_refused(tmp_path: Path) -> None:
    # none of the day or all of it: a night shift is end before start, a whole day 00:00-24:00
    text = EXAMPLE.read_text(encoding="utf-8").replace('end: "20:00"', 'end: "07:00"', 1)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert _without_line(str(info.value)) == (
        f"{path}: teams[0].working_hours: Value error, end equals start;"
        " for around the clock write start: 00:00, end: 24:00"
    )


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ('"07:00+02:00"', "a time without an offset (it is read in the zone of 'timezone')"),
        ("420", "a time as text, e.g. '08:30' (420 is a number)"),
    ],
)
def test_working_hours_that_are_not_a_plain_time_are_refused(
    tmp_path: Path, written: str, expected: str
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace('start: "07:00"', f"start: {written}", 1)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert (
        _without_line(str(info.value))
        == f"{path}: teams[0].working_hours.start: Value error, {expected}"
    )


def _make_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo", EXAMPLES / "make_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_demo"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_demo_data_is_committed_up_to_date_and_deterministic() -> None:
    make_demo = _make_demo()
    committed = (EXAMPLES / "demo_tickets.jsonl").read_text(encoding="utf-8")
    assert make_demo.render(make_demo.make()) == committed
    assert make_demo.make(count=20, seed=1) == make_demo.make(count=20, seed=1)


def test_demo_labels_fit_the_example_policy(policy: Policy) -> None:
    rows = [json.loads(line) for line in (EXAMPLES / "demo_tickets.jsonl").open(encoding="utf-8")]
    assert 300 <= len(rows) <= 400
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["labels"]["team"] for r in rows} == set(policy.team_names)
    assert {r["labels"]["priority"] for r in rows} <= set(policy.priorities.scale)
    assert {r["language"] for r in rows} == {"en", "de", "es", "fr"}
    assert all(r["answer"] and (r["subject"] or r["body"]) for r in rows)
    requesters = [r["requester"] for r in rows]
    assert max(requesters.count(q) for q in set(requesters)) >= 5  # repeat requesters


def test_demo_rules_never_contradict_the_labels(policy: Policy) -> None:
    """Where a rule names a team on a demo ticket, it names the labelled team."""
    engine = RuleEngine(policy)
    rows = [json.loads(line) for line in (EXAMPLES / "demo_tickets.jsonl").open(encoding="utf-8")]
    decided = 0
    for row in rows:
        ticket = Ticket(subject=row["subject"], body=row["body"])
        named = [h for h in engine.evaluate(ticket, ticket.text) if h.actions.escalate_to]
        if named:
            decided += 1
            assert max(named, key=lambda h: h.weight).actions.escalate_to == row["labels"]["team"]
    assert 0.4 < decided / len(rows) < 0.9  # enough left for the learned router


def test_scenario_suite_fits_schema_tickets_and_policy(policy: Policy) -> None:
    suite = yaml.safe_load((SCENARIOS / "example.yaml").read_text(encoding="utf-8"))
    schema = json.loads((SCENARIOS / "schema.json").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(suite)) == []
    assert len(suite["cases"]) >= 40
    assert len({c["name"] for c in suite["cases"]}) == len(suite["cases"])
    for case in suite["cases"]:
        Ticket.model_validate(case["ticket"])
        expect = case["expect"]
        assert expect.get("team", policy.first_line_team) in policy.team_names
        assert expect.get("priority", "P3") in policy.priorities.scale
