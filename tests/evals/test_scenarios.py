"""Scenario suites: comparison rules, schema errors, and the example suite on the example policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from agent.errors import InputError
from agent.settings import Settings
from evals.scenarios import SCHEMA, compare_decision, load_suite, run_suite

SUITES = Path(__file__).resolve().parents[2] / "evals" / "scenarios"


def test_compare_decision_rules() -> None:
    output = {"team": "network", "tags": ["VIP", "Outage"], "priority": "P1", "needs_review": False}
    assert compare_decision({"route": "network", "tags": ["vip"], "priority": "P1"}, output) == {}
    bad = compare_decision(
        {"route": "database", "tags": ["vip", "gdpr"], "needs_review": True}, output
    )
    assert set(bad) == {"route", "tags", "needs_review"}
    assert bad["route"] == {"expected": "database", "actual": "network"}
    assert compare_decision({"tags_absent": ["outage"]}, output) != {}


def test_bad_suite_names_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("cases: [\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.yaml: line 2, column 1: not valid YAML"):
        load_suite(path)
    path.write_text("name: x\ncases: []\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.yaml"):
        load_suite(path)


@pytest.mark.slow
def test_example_suite_passes(tmp_path: Path) -> None:
    suite = SUITES / "example.yaml"
    if not suite.exists():
        pytest.skip("no example suite yet")
    assert SCHEMA.exists()
    results = run_suite(suite, Settings(data_dir=tmp_path))
    assert len(results) >= 40
    failed = [(r.name, r.mismatches) for r in results if not r.passed]
    assert not failed, failed


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--baseline", "b.json"], "--baseline"),
        (["--train", "t.jsonl", "--label", "team"], "--train, --label"),
        (["--learning-curve", "--feedback"], "--feedback, --learning-curve"),
        (["--tolerance", "0.1", "--seed", "3"], "--seed, --tolerance"),
    ],
)
def test_options_a_scenario_suite_would_ignore_are_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], named: str
) -> None:
    # they were ignored without a word: --baseline gated nothing and the exit status was 0
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "eval",
                "--scenarios",
                str(SUITES / "example.yaml"),
                "--out",
                str(tmp_path / "o"),
                *extra,
            ]
        )
    assert exc.value.code == 2
    assert f"--scenarios takes only --policy and --out, not {named}" in capsys.readouterr().err


def test_a_repeated_key_or_bad_yaml_in_a_suite_is_one_line_naming_file_and_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.yaml"
    # a second 'expect:' would replace the first: the case checks less than it says
    path.write_text(
        "description: x\ncases:\n  - name: db\n    ticket: {subject: a, body: b}\n"
        "    expect: {route: database}\n    expect: {priority: P3}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as repeated:
        load_suite(path)
    assert str(repeated.value) == (
        f"{path}: line 6, column 5: not valid YAML: 'expect' given again (first on line 5); "
        "one of them would be silently dropped"
    )
    path.write_text("description: x\ncases:\n  - ticket: {subject: a\n", encoding="utf-8")
    with pytest.raises(InputError) as broken:
        load_suite(path)
    message = str(broken.value)
    assert message.startswith(f"{path}: line 4, column 1: not valid YAML: ") and "\n" not in message
