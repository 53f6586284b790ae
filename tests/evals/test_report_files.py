"""The report files of a run are written together: one that fails while being rendered leaves
the files of the last run in --out as they were, not new metrics beside an old report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals import plots
from evals.learning_curve import write_curve
from evals.metrics import Outcome, compute_metrics
from evals.report import write_reports
from evals.runner import EvalResult

HERE = Path(__file__).resolve().parent
NAMES = ("metrics.json", "predictions.jsonl", "report.md", "report.html")


def result(accuracy_coverage_curve: bool = True) -> EvalResult:
    outcomes = [
        Outcome(
            ticket_id=str(i),
            truth="net",
            predicted="net" if i % 2 else "db",
            confidence=0.8,
            needs_review=False,
            escalate=True,
            decided_by="learned",
        )
        for i in range(4)
    ]
    metrics = compute_metrics(outcomes, None, False)
    if not accuracy_coverage_curve:
        del metrics["accuracy_coverage_curve"]  # report.html cannot be drawn without it
    return EvalResult(metrics=metrics, outcomes=outcomes)


def test_a_report_that_fails_to_render_replaces_none_of_the_last_runs_files(
    tmp_path: Path,
) -> None:
    written = write_reports(result(), tmp_path)
    assert [p.name for p in written] == list(NAMES)
    before = {name: (tmp_path / name).read_bytes() for name in NAMES}
    with pytest.raises(KeyError):
        write_reports(result(accuracy_coverage_curve=False), tmp_path)
    # metrics.json, predictions.jsonl and report.md were rewritten before report.html failed
    assert {name: (tmp_path / name).read_bytes() for name in NAMES} == before
    assert json.loads(before["metrics.json"])["n"] == 4


WRITE_WITH_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_report_files import result
from evals.report import write_reports

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
new = result()
new.metrics["n"] = 99
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
write_reports(new, Path(sys.argv[1]))
"""


def test_a_report_that_fails_to_be_written_replaces_none_of_the_last_runs_files(
    tmp_path: Path,
) -> None:
    # A full disk (here: a file size limit that report.html, with its figures, is over) used to
    # leave the new metrics.json beside the last run's report and a cut report.html
    out = tmp_path / "out"
    write_reports(result(), out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    sizes = sorted(len(data) for data in before.values())
    limit = (sizes[-2] + sizes[-1]) // 2  # every file fits but the largest
    assert max(len(before[n]) for n in NAMES[:3]) < limit < len(before["report.html"])
    run = subprocess.run(
        [sys.executable, "-c", WRITE_WITH_A_FILE_SIZE_LIMIT, str(out), str(HERE), str(limit)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert run.returncode != 0, run.stderr
    assert "report.html: cannot write: File too large" in run.stderr.splitlines()[-1]
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_a_curve_cut_short_while_its_figure_is_drawn_keeps_its_json_and_figure_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C while a share's figure was drawn (the slow part) left learning_curve.json with
    # that share's point beside a figure without it, which the command said holds them both
    point = {"share": 0.0, "n_train": 0, "accuracy": 0.5, "coverage": 0.5, "auto_accuracy": 0.5}
    write_curve([point], tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}

    def interrupted(points: object) -> bytes:
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "learning_curve", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_curve([point, {**point, "share": 1.0, "n_train": 10}], tmp_path)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_reports_are_readable_as_files_written_plainly(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x", encoding="utf-8")
    for path in write_reports(result(), tmp_path / "out"):
        assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
