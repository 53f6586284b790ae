"""TEST tickets also in TRAIN (the same id) are routed with their own past case in the knowledge
base: the reports say how many, where the command only warned on the terminal before the run."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from agent.cli import main

PHRASES = {"network": "the vpn tunnel drops", "database": "the oracle query is slow"}


def write(path: Path, ids: Iterable[int]) -> Path:
    teams = list(PHRASES)
    rows = [
        {
            "id": f"t{i}",
            "subject": PHRASES[teams[i % 2]],
            "body": f"Hello, {PHRASES[teams[i % 2]]}, ticket {i}.",
            "labels": {"team": teams[i % 2]},
        }
        for i in ids
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_test_tickets_also_in_train_are_noted_in_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write(tmp_path / "train.jsonl", range(8))
    test = write(tmp_path / "test.jsonl", range(6, 10))  # t6 and t7 are in both
    out = tmp_path / "o"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "warning: 2 TEST ids also in TRAIN (e.g. 't6')" in capsys.readouterr().err
    note = (
        "2 of 4 TEST tickets (50%) are also in TRAIN (the same id): each finds itself among the "
        "past cases, so the figures overstate routing of new tickets"
    )
    assert f"Note: {note}." in (out / "report.md").read_text(encoding="utf-8")
    assert html.escape(note) in (out / "report.html").read_text(encoding="utf-8")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["run"]["overlapping_ids"] == 2


def test_a_limited_run_counts_the_overlap_among_the_tickets_it_routed(tmp_path: Path) -> None:
    train = write(tmp_path / "train.jsonl", [*range(8), 15])  # t7 and t15 are in both files
    test = write(tmp_path / "test.jsonl", range(7, 20))
    out = tmp_path / "o"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team", "--limit", "3"]
    assert main([*argv, "--out", str(out)]) == 0
    routed = {json.loads(line)["ticket_id"] for line in (out / "predictions.jsonl").open()}
    assert routed == {"t7", "t13", "t19"}  # the seeded sample: t7 routed, t15 not
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["run"]["overlapping_ids"] == 1
    assert "Note: 1 of 3 TEST tickets (33%) are also in TRAIN" in (out / "report.md").read_text(
        encoding="utf-8"
    )
