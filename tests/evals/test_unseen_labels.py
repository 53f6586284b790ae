"""TEST tickets whose label is none of the policy's teams cannot be routed right; the command and
the reports say how many, not only metrics.json's run.unseen_test_labels."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from agent.cli import main

PHRASES = {"network": "the vpn tunnel drops", "database": "the oracle query is slow"}


def write(path: Path, labels: list[str]) -> Path:
    rows = [
        {
            "id": f"{path.stem}-{i}",
            "subject": PHRASES.get(team, "the printer jams"),
            "body": f"Hello, {PHRASES.get(team, 'the printer jams')}, ticket {i}.",
            "labels": {"team": team},
        }
        for i, team in enumerate(labels)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_tickets_with_a_label_no_team_has_are_counted_in_the_output_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write(tmp_path / "train.jsonl", ["network", "database"] * 4)
    test = write(tmp_path / "test.jsonl", ["network", "database", "printers", "printers"])
    out = tmp_path / "o"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--out", str(out)]) == 0
    note = (
        "2 of 4 TEST tickets (50%) have a label that is none of the policy's teams (printers): "
        "no route can be right for them"
    )
    assert f"warning: {note}" in capsys.readouterr().err.splitlines()
    assert f"Note: {note}." in (out / "report.md").read_text(encoding="utf-8")
    assert html.escape(note) in (out / "report.html").read_text(encoding="utf-8")


def test_no_note_when_every_label_is_a_team(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write(tmp_path / "train.jsonl", ["network", "database"] * 4)
    test = write(tmp_path / "test.jsonl", ["network", "database"])
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    assert "none of the policy's teams" not in capsys.readouterr().err
    assert "Note:" not in (tmp_path / "o" / "report.md").read_text(encoding="utf-8")
