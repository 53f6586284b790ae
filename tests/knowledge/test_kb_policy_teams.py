"""`triage kb ingest` and `kb stats` say which stored teams the policy does not have: no ticket is
routed to them, so an export whose groups are named otherwise teaches routing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kb_cli_support import run_kb

from agent.settings import Settings

POLICY = """\
name: two-teams
first_line_team: network
teams:
  - name: network
    description: VPN, Wi-Fi and firewalls
  - name: billing
    description: invoices and refunds
"""


def _settings(tmp_path: Path) -> Settings:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return Settings(data_dir=tmp_path / "data", policy_path=policy)


def _export(path: Path, teams: list[str]) -> str:
    records = [
        {"id": f"T{i}", "subject": f"ticket {i}", "body": "vpn", "labels": {"group": team}}
        for i, team in enumerate(teams)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_ingest_and_stats_name_the_teams_the_policy_does_not_have(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    export = _export(tmp_path / "a.jsonl", ["network", "Net Ops", "Net Ops", "Finance"])
    assert run_kb(["kb", "ingest", export, "--label", "group"], settings) == 0
    out = capsys.readouterr().out
    assert "note: 3 records of teams policy.yaml does not have: Net Ops 2, Finance 1;" in out
    assert "no ticket is routed to them" in out
    assert run_kb(["kb", "stats"], settings) == 0
    out = capsys.readouterr().out
    assert "note: 3 cases of teams policy.yaml does not have: Net Ops 2, Finance 1;" in out


def test_teams_the_policy_has_get_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    export = _export(tmp_path / "a.jsonl", ["network", "billing"])
    assert run_kb(["kb", "ingest", export, "--label", "group"], settings) == 0
    assert run_kb(["kb", "stats"], settings) == 0
    assert "does not have" not in capsys.readouterr().out
