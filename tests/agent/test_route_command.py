"""The `triage` command as a user runs it: a real process, JSON on stdout, one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.settings import EXAMPLES_DIR


def _nested(levels: int) -> str:
    """A ticket whose custom field ``a`` is a list nested ``levels`` deep."""
    return '{"subject": "x", "custom_fields": {"a": ' + "[" * levels + "]" * levels + "}}"


TICKET = {
    "subject": "Nightly export fails",
    "body": "The export job stops with ORA-01652 every night.",
}


def _triage(
    *args: str, stdin: str | None = None, data_dir: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "TRIAGE_DATA_DIR": str(data_dir),
            "PATH": "/usr/bin:/bin",
            "HOME": str(data_dir),
            **env,
        },
    )


@pytest.mark.slow
def test_route_from_stdin_prints_the_decision_and_brief_on_an_empty_data_dir(
    tmp_path: Path,
) -> None:
    done = _triage("route", "-", stdin=json.dumps(TICKET), data_dir=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["team"] == "database"
    assert out["decided_by"] == "rule"
    assert "ORA-01652" in out["brief"]["error_codes"]
    assert out["policy_version"].startswith("2026")


@pytest.mark.slow
def test_route_markdown(tmp_path: Path) -> None:
    ticket = tmp_path / "t.json"
    ticket.write_text(json.dumps(TICKET), encoding="utf-8")
    done = _triage("route", str(ticket), "--format", "md", data_dir=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## Nightly export fails")
    assert "### Rule hits and error codes" in done.stdout


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"channel": "email"}', "a ticket needs a subject or a body"),
        ('{"subject": "x", "priority": "P1"}', "priority: Extra inputs are not permitted"),
        ('{"body": "x", "channel": "fax"}', "channel"),
        (_nested(300), "custom_fields: Value error, nested more than 16 levels deep"),
        (_nested(3_000), "-: custom_fields.a: nested more than 16 levels deep"),
    ],
)
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(
    tmp_path: Path, stdin: str, message: str
) -> None:
    done = _triage("route", "-", stdin=stdin, data_dir=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("triage: error: -: ")
    assert message in lines[0]


def test_a_prompt_budget_too_small_for_the_policy_is_one_clear_line_before_any_ticket(
    tmp_path: Path,
) -> None:
    done = _triage(
        "route",
        "-",
        stdin=json.dumps(TICKET),  # a rule decides it: the LLM would not even be asked
        data_dir=tmp_path,
        TRIAGE_LLM_BASE_URL="http://127.0.0.1:9/v1",
        TRIAGE_LLM_MAX_PROMPT_TOKENS="256",
    )
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("triage: error: TRIAGE_LLM_MAX_PROMPT_TOKENS is 256, below the ")
    assert "with policy 'example-co'" in done.stderr


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    done = _triage("route", str(tmp_path / "nope.json"), data_dir=tmp_path)
    assert done.returncode == 1
    assert "cannot read" in done.stderr and "Traceback" not in done.stderr


def test_file_that_is_not_utf8_is_one_clear_line(tmp_path: Path) -> None:
    ticket = tmp_path / "latin1.json"
    ticket.write_bytes('{"subject": "Café printer jammed"}'.encode("latin-1"))
    done = _triage("route", str(ticket), data_dir=tmp_path)
    assert done.returncode == 1
    reason = "not valid UTF-8 JSON: byte 0xe9 at position 16 is not UTF-8"
    assert done.stderr == f"triage: error: {ticket}: {reason}\n"


@pytest.mark.parametrize(
    "args",
    [
        ("agent.cli", "route", "-"),
        ("agent.cli", "route", "-", "--format", "md"),
        ("agent.cli", "kb", "search", "printer jammed"),
        ("agent.cli", "kb", "stats"),
        ("agent.cli", "policy", "versions"),
        ("knowledge.cli", "kb", "stats"),
    ],
    ids=" ".join,
)
def test_a_command_whose_reader_is_gone_stops_quietly_with_141(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    # `triage route - | head -1`: head has left before the output comes, so every write fails.
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", *args],
            input=json.dumps(TICKET).encode(),
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=300,
            env={"TRIAGE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
    finally:
        os.close(write)
    assert done.stderr.decode() == ""
    assert done.returncode == 141


def _policy_with(tmp_path: Path, old: str, new: str) -> Path:
    example = Path(__file__).resolve().parents[2] / "agent" / "examples" / "policy.yaml"
    text = example.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "edited.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.slow
def test_route_with_an_edited_policy_file(tmp_path: Path) -> None:
    # the example policy says: validate edits with `triage route --policy`
    edited = _policy_with(
        tmp_path, "actions: {escalate_to: database}", "actions: {escalate_to: network}"
    )
    done = _triage(
        "route", "-", "--policy", str(edited), stdin=json.dumps(TICKET), data_dir=tmp_path / "d"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["team"] == "network"


def test_route_with_a_policy_file_that_does_not_validate_is_one_clear_line(tmp_path: Path) -> None:
    edited = _policy_with(tmp_path, "escalate_to: database}", "escalate_to: databse}")
    done = _triage(
        "route", "-", "--policy", str(edited), stdin=json.dumps(TICKET), data_dir=tmp_path
    )
    assert done.returncode == 1 and done.stdout == ""
    lines = edited.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "escalate_to: databse}" in text)
    assert done.stderr == (
        f"triage: error: {edited}: line {line}: rules[2].actions.escalate_to: rule ora-errors: "
        "unknown team "
        "'databse'; teams: service_desk, identity_access, database, network, erp_applications, "
        "billing, security, platform_sre, hardware\n"
    )


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (
            "\ncomplexity:\n",
            "\nrules: []\ncomplexity:\n",
            "line {complexity}, column 1: not valid YAML: 'rules' given again (first on line "
            "{rules}); one of them would be silently dropped",
        ),
        (
            "    P4: {first_response_hours: 8,",
            "    P4: {first_response_hours: [8,",
            "line {p4}, column 36: not valid YAML: while parsing a flow sequence; expected ',' "
            "or ']', but got '}}'",
        ),
        ("name: example-co", "name: example-co\x00", "not valid YAML: unacceptable character"),
    ],
)
def test_a_policy_file_that_is_not_yaml_is_one_clear_line(
    tmp_path: Path, old: str, new: str, reason: str
) -> None:
    edited = _policy_with(tmp_path, old, new)
    done = _triage(
        "route", "-", "--policy", str(edited), stdin=json.dumps(TICKET), data_dir=tmp_path
    )
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"triage: error: {edited}: {_at_example_lines(reason)}")


def _at_example_lines(reason: str) -> str:
    """The reason with the example policy's line numbers filled in, so that an edit to the
    example above them does not break the test."""
    lines = (EXAMPLES_DIR / "policy.yaml").read_text(encoding="utf-8").splitlines()

    def line_of(start: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if line.startswith(start))

    # 'rules: []' goes in on complexity's line: the repeated key stands there; P4's mapping
    # ends on the line after its own, where the parser meets '}' in the unclosed list
    return reason.format(
        rules=line_of("rules:"),
        complexity=line_of("complexity:"),
        p4=line_of("    P4: {first_response_hours: 8,") + 1,
    )


def test_a_policy_file_not_in_utf8_is_one_clear_line(tmp_path: Path) -> None:
    # saved as Latin-1 by an editor
    edited = _policy_with(tmp_path, "name: example-co", "name: example-co M\u00fcnchen")
    text = edited.read_text(encoding="utf-8")
    edited.write_bytes(text.encode("latin-1", "replace"))
    first = next(i for i, c in enumerate(text) if 128 <= ord(c) < 256)
    line = text[:first].count("\n") + 1
    done = _triage(
        "route", "-", "--policy", str(edited), stdin=json.dumps(TICKET), data_dir=tmp_path
    )
    assert done.returncode == 1 and done.stdout == ""
    assert (
        done.stderr == f"triage: error: {edited}: line {line}: cannot read policy: not UTF-8 text\n"
    )


@pytest.mark.parametrize("broken", ["missing", "latin-1"])
def test_serve_with_a_policy_file_it_cannot_read_is_one_clear_line(
    tmp_path: Path, broken: str
) -> None:
    path = tmp_path / "policy.yaml"
    if broken == "latin-1":
        path.write_bytes("name: M\u00fcnchen\n".encode("latin-1"))
    reason = "cannot read policy: No such file or directory"
    if broken == "latin-1":
        reason = "line 1: cannot read policy: not UTF-8 text"
    done = _triage("serve", "--port", "9", data_dir=tmp_path / "data", TRIAGE_POLICY_PATH=str(path))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"triage: error: {path}: {reason}"
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_routing_leaves_no_checkpoints_in_the_data_dir(tmp_path: Path) -> None:
    # A route is one run in a process that ends with it: nothing resumes it, and the data dir's
    # checkpoint file belongs to the service, whose held runs wait there under their ticket ids.
    data = tmp_path / "data"
    for n in range(3):
        ticket = {**TICKET, "id": f"T-{n}"}
        done = _triage("route", "-", stdin=json.dumps(ticket), data_dir=data)
        assert done.returncode == 0, done.stderr
    checkpoints = data / "checkpoints.sqlite"
    if checkpoints.exists():
        with sqlite3.connect(checkpoints) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            threads = (
                db.execute("SELECT COUNT(DISTINCT thread_id) FROM checkpoints").fetchone()[0]
                if "checkpoints" in tables
                else 0
            )
        assert threads == 0
