"""The report files of a run are written together: one that fails while being rendered leaves
the files of the last run in --out as they were, not new metrics beside an old report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.metrics import Outcome, compute_metrics
from evals.report import write_reports
from evals.runner import EvalResult

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
