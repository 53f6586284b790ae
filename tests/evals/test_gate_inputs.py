"""The gate refuses what it cannot compare: a non-finite tolerance, a baseline figure that is no
number. Both are refused before the run, not after it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.errors import InputError
from evals.ci_sample import main as ci_main
from evals.gate import compare, load_metrics

BASE = {"accuracy": 0.80, "coverage": 0.70, "ece": 0.05}


@pytest.mark.parametrize("value", ["nan", "inf", "-0.1"])
def test_a_tolerance_that_is_not_a_finite_number_of_at_least_0_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    argv = ["eval", "--train", "a.jsonl", "--test", "b.jsonl", "--label", "team"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--out", str(tmp_path / "o"), "--tolerance", value])
    assert exc.value.code == 2
    assert "argument --tolerance: tolerance must be a finite number of at least 0" in (
        capsys.readouterr().err
    )


def test_compare_refuses_a_nan_tolerance_that_would_pass_any_drop() -> None:
    with pytest.raises(InputError, match="finite number"):
        compare({**BASE, "accuracy": 0.0}, BASE, tolerance=float("nan"))


@pytest.mark.parametrize("value", ["0.9", True, float("nan"), [0.9], {"value": 0.9}])
def test_a_baseline_figure_that_is_no_number_is_refused_on_loading(
    tmp_path: Path, value: object
) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps({**BASE, "macro_f1": value}), encoding="utf-8")
    with pytest.raises(InputError, match=r"base\.json: macro_f1 must be a finite number or null"):
        load_metrics(path)


def test_null_absent_and_integer_figures_load(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"accuracy": 1, "priority_accuracy": None}), encoding="utf-8")
    assert load_metrics(path) == {"accuracy": 1, "priority_accuracy": None}


def test_a_bad_baseline_fails_before_the_files_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "base.json"
    baseline.write_text(json.dumps({**BASE, "accuracy": "0.9"}), encoding="utf-8")
    missing = tmp_path / "missing.jsonl"  # read after the baseline: its error would come second
    argv = ["eval", "--train", str(missing), "--test", str(missing), "--label", "team"]
    code = main([*argv, "--out", str(tmp_path / "o"), "--baseline", str(baseline)])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    expected = f"triage: error: {baseline}: accuracy must be a finite number or null, got '0.9'"
    assert err == [expected]


@pytest.mark.parametrize("content", [{"n": 5}, {"accuracy": None, "ece": None}, {}])
def test_a_baseline_with_no_headline_figure_fails_before_the_files_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: dict[str, object]
) -> None:
    # found only by the comparison after the run, it stopped the command before the reports
    baseline = tmp_path / "base.json"
    baseline.write_text(json.dumps(content), encoding="utf-8")
    missing = tmp_path / "missing.jsonl"
    argv = ["eval", "--train", str(missing), "--test", str(missing), "--label", "team"]
    code = main([*argv, "--out", str(tmp_path / "o"), "--baseline", str(baseline)])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"triage: error: {baseline}: none of the headline figures (accuracy, macro_f1, coverage, "
        "auto_accuracy, escalation_accuracy, escalate_decision_accuracy, priority_accuracy, ece) "
        "is a number; is it a metrics.json?"
    ]


def test_ci_sample_reads_its_baseline_before_the_suite_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_DATASETS_DIR", str(tmp_path / "no-datasets"))
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    bad = baselines / "ci-helpdesk_topics.json"
    bad.write_text(json.dumps({"accuracy": "0.9"}), encoding="utf-8")
    argv = [
        "--out",
        str(tmp_path / "o"),
        "--baselines",
        str(baselines),
        "--only",
        "helpdesk_topics",
    ]
    assert ci_main(argv) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ci_sample: error: {bad}: accuracy must be a finite number or null, got '0.9'"
    )


@pytest.mark.parametrize("value", ["nan", "-0.1", "abc"])
def test_ci_sample_refuses_a_bad_tolerance_as_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # taken as any float, it failed the comparison after the first suite had run (4 minutes)
    monkeypatch.setenv("TRIAGE_DATASETS_DIR", str(tmp_path / "no-datasets"))
    with pytest.raises(SystemExit) as exc:
        ci_main(["--out", str(tmp_path / "o"), "--tolerance", value])
    assert exc.value.code == 2
    assert "argument --tolerance: " in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_baseline_the_run_overwrites_is_warned_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --out reports --baseline reports/metrics.json ratchets: each run is gated against the last
    out = tmp_path / "reports"
    out.mkdir()
    (out / "metrics.json").write_text(json.dumps(BASE), encoding="utf-8")
    rows = [
        {"id": f"t{i}", "subject": "vpn drops", "body": "b", "labels": {"team": "net"}}
        for i in range(3)
    ]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["eval", "--train", str(data), "--test", str(data), "--label", "team"]
    main(
        [
            *argv,
            "--out",
            str(out),
            "--baseline",
            str(tmp_path / "reports" / ".." / "reports" / "metrics.json"),
        ]
    )
    err = capsys.readouterr().err
    assert (
        "is this run's metrics.json: it is replaced by this run's, so the next run is gated" in err
    )


def test_a_baseline_saved_with_a_bom_is_read(tmp_path: Path) -> None:
    # 'base.json:1: not valid JSON: Unexpected UTF-8 BOM', as Notepad or PowerShell save it
    path = tmp_path / "base.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(BASE).encode("utf-8"))
    assert load_metrics(path) == BASE


def test_a_baseline_not_in_utf8_is_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # PowerShell's '>' writes UTF-16: UnicodeDecodeError's traceback before the run
    baseline = tmp_path / "base.json"
    baseline.write_text(json.dumps(BASE), encoding="utf-16")
    missing = tmp_path / "missing.jsonl"
    argv = ["eval", "--train", str(missing), "--test", str(missing), "--label", "team"]
    assert main([*argv, "--out", str(tmp_path / "o"), "--baseline", str(baseline)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"triage: error: {baseline}: cannot read baseline: not UTF-8 text"
    ]
