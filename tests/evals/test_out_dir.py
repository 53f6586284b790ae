"""--out must be a directory the reports can go to; that is checked before the run, whose
figures would otherwise be lost to a traceback at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from evals.ci_sample import main as ci_main

ROW = {"id": "a", "subject": "vpn drops", "body": "the tunnel drops", "labels": {"team": "net"}}


def test_an_out_that_is_a_file_is_one_error_line_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    out.write_text("not a directory", encoding="utf-8")
    missing = tmp_path / "missing.jsonl"  # read after --out is checked: its error would come first
    argv = ["eval", "--train", str(missing), "--test", str(missing), "--label", "team"]
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"triage: error: --out {out}: not a directory"]
    assert out.read_text(encoding="utf-8") == "not a directory"


def test_an_out_below_a_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    argv = ["eval", "--train", str(data), "--test", str(data), "--label", "team"]
    assert main([*argv, "--out", str(blocker / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"triage: error: --out {blocker / 'out'}: cannot ")


def test_ci_sample_checks_its_out_before_the_first_suite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_DATASETS_DIR", str(tmp_path / "no-datasets"))
    out = tmp_path / "report"
    out.write_text("not a directory", encoding="utf-8")
    assert ci_main(["--out", str(out), "--only", "helpdesk_topics"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ci_sample: error: --out {out}: not a directory"
    )


def test_scenarios_check_their_out_before_the_suite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    out.write_text("not a directory", encoding="utf-8")
    suite = Path(__file__).resolve().parents[2] / "evals" / "scenarios" / "example.yaml"
    assert main(["eval", "--scenarios", str(suite), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == f"triage: error: --out {out}: not a directory"
    assert "scenarios passed" not in captured.out


def test_a_run_without_a_curve_warns_of_an_earlier_runs_curve_in_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # learning_curve.png stayed beside the new reports with no word that it was another run's
    out = tmp_path / "out"
    out.mkdir()
    (out / "learning_curve.png").write_bytes(b"\x89PNG earlier")
    rows = [dict(ROW, id=f"t{i}", labels={"team": "net" if i % 2 else "db"}) for i in range(6)]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["eval", "--train", str(data), "--test", str(data), "--label", "team"]
    assert main([*argv, "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert (
        f"warning: {out / 'learning_curve.png'} is an earlier run's; this run drew no curve" in err
    )
    assert (out / "learning_curve.png").read_bytes() == b"\x89PNG earlier"
