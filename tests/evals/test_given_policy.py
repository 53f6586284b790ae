"""With --policy the labels must name the policy's teams (and priorities), and --first-line its
first-line team; otherwise every ticket was scored a misroute, with exit status 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main

POLICY = Path(__file__).resolve().parents[2] / "agent" / "examples" / "policy.yaml"


def write(path: Path, teams: list[str], prio: str = "P3") -> Path:
    rows = [
        {
            "id": f"{path.stem}-{i}",
            "subject": f"ticket {i}",
            "body": "the vpn tunnel drops",
            "labels": {"team": team, "prio": prio},
        }
        for i, team in enumerate(teams)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(tmp_path: Path, teams: list[str], *extra: str, prio: str = "P3") -> int:
    train = write(tmp_path / "train.jsonl", teams, prio)
    test = write(tmp_path / "test.jsonl", teams[:1], prio)
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    return main([*argv, "--policy", str(POLICY), "--out", str(tmp_path / "o"), *extra])


def test_labels_that_name_none_of_the_policys_teams_are_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, ["GRP_0", "GRP_8"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"triage: error: no value of label 'team' in {tmp_path / 'train.jsonl'} is a team of "
        f"--policy {POLICY} (found GRP_0, GRP_8; it has service_desk, identity_access, database, "
        "network, erp_applications, billing, security, platform_sre, hardware)"
    ]
    assert not (tmp_path / "o").exists()


def test_first_line_must_be_the_policys_first_line_team(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, ["network", "service_desk"], "--first-line", "network") == 1
    assert capsys.readouterr().err.strip() == (
        f"triage: error: --first-line 'network' is not the first-line team of --policy {POLICY} "
        "('service_desk')"
    )


def test_priorities_that_name_none_of_the_policys_scale_are_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, ["network"], "--priority-label", "prio", prio="high") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("triage: error: no value of label 'prio' in ")
    assert err.endswith(
        "is a priority of --policy " + f"{POLICY} (found high; it has P1, P2, P3, P4)"
    )


def test_labels_that_name_the_policys_teams_run(tmp_path: Path) -> None:
    teams = ["network", "service_desk", "database"]
    assert run(tmp_path, teams, "--first-line", "service_desk", "--priority-label", "prio") == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["run"]["policy"] != "neutral" and metrics["n"] == 1
