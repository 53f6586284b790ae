"""With --learning-curve, metrics.json, the reports and the gate describe the largest share's run
(its first shuffle, seed --seed), and say so; not whichever run happened to come last."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from agent.cli import main

TOPICS = {
    "network": ["vpn tunnel drops", "wifi signal lost", "dns lookup fails", "firewall blocks port"],
    "database": ["oracle query slow", "postgres deadlock", "tablespace full", "replication lag"],
    "desk": ["password reset please", "install office", "unlock my account", "new laptop setup"],
}


def write_rows(path: Path, n_per_team: int, offset: int) -> Path:
    rows = [
        {
            "id": f"{team}-{offset + i}",
            "subject": phrases[i % len(phrases)],
            "body": f"Hello, {phrases[i % len(phrases)]} since this morning, ticket {offset + i}.",
            "requester": f"user{i % 3}",
            "language": "en",
            "labels": {"team": team},
        }
        for team, phrases in TOPICS.items()
        for i in range(n_per_team)
    ]
    random.Random(offset).shuffle(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_reports_and_gate_take_the_largest_shares_run_of_seed_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = (
        write_rows(tmp_path / "train.jsonl", 8, 0),
        write_rows(tmp_path / "t.jsonl", 3, 100),
    )
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"accuracy": 1.5}), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team", "--seed", "3"]
    curve = ["--learning-curve", "0,50", "--repeats", "2", "--baseline", str(baseline)]
    assert main([*argv, *curve, "--out", str(out)]) == 3
    _, half = json.loads((out / "learning_curve.json").read_text())
    first, second = half["runs"]
    assert (first["seed"], second["seed"]) == (3, 4)
    assert first["ece"] != second["ece"]  # the two shuffles are told apart by their figures
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["n_train"] == 12 and metrics["run"]["seed"] == 3
    assert {key: metrics[key] for key in first if key != "seed"} == {
        key: value for key, value in first.items() if key != "seed"
    }
    assert metrics["run"]["learning_curve"] == {"share": 0.5, "of_n_train": 24}
    printed = capsys.readouterr().out
    assert "reports and gate: the 50% share's run (n_train=12, seed 3)" in printed
    assert f"regression: accuracy dropped from 1.5000 to {metrics['accuracy']:.4f}" in printed
    report = (out / "report.md").read_text()
    assert "TRAIN 12 (50% of 24: the learning curve's largest share) / TEST 9" in report


def test_shares_are_printed_and_reported_as_given_not_rounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0.5 % read as '0%' (the cold start's name) and 12.5 % as '12%' in the output and report
    train, test = (
        write_rows(tmp_path / "train.jsonl", 8, 0),
        write_rows(tmp_path / "t.jsonl", 1, 100),
    )
    out = tmp_path / "out"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--learning-curve", "0.5,12.5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "learning curve: 0.5% of TRAIN (0 cases)" in captured.err
    printed = captured.out.splitlines()
    assert [line.split(":")[0] for line in printed[:2]] == [
        "curve  0.5% n_train=0",
        "curve 12.5% n_train=3",
    ]
    assert "reports: the 12.5% share's run (n_train=3, seed 0)" in printed
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "TRAIN 3 (12.5% of 24: the learning curve's largest share)" in report
