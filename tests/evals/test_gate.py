"""The regression gate: which figures regressed beyond the tolerance, and which did not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.errors import InputError
from evals.gate import compare, load_metrics

BASE = {
    "accuracy": 0.80,
    "macro_f1": 0.50,
    "coverage": 0.70,
    "ece": 0.05,
    "priority_accuracy": None,
}


def test_within_tolerance_passes() -> None:
    now = {"accuracy": 0.79, "macro_f1": 0.49, "coverage": 0.75, "ece": 0.06}
    verdict = compare(now, BASE, tolerance=0.02)
    assert verdict.passed
    assert "priority_accuracy" not in verdict.compared  # null in the baseline: not compared
    assert verdict.lines()[0].startswith("gate passed")


def test_drop_beyond_tolerance_names_each_figure() -> None:
    now = {"accuracy": 0.70, "macro_f1": 0.50, "coverage": 0.70, "ece": 0.09}
    verdict = compare(now, BASE, tolerance=0.02)
    assert verdict.regressed == ["accuracy", "ece"]
    lines = verdict.lines()
    assert any("accuracy dropped from 0.8000 to 0.7000" in line for line in lines)
    assert any("ece rose" in line for line in lines)


def test_tolerance_is_configurable() -> None:
    now = {"accuracy": 0.70, "macro_f1": 0.50, "coverage": 0.70, "ece": 0.05}
    assert compare(now, BASE, tolerance=0.2).passed


def test_a_baseline_of_another_kind_of_run_is_compared_with_a_note() -> None:
    run = {"label": "team", "n_train": 100, "n_test": 40, "seed": 13, "limit": None}
    same = compare({**BASE, "run": run}, {**BASE, "run": run})
    assert same.unlike == [] and same.lines()[0].startswith("gate passed")
    other = compare({**BASE, "run": run}, {**BASE, "run": {**run, "n_test": 200, "seed": 0}})
    assert other.passed
    assert (
        other.lines()[0]
        == "note: the baseline is another kind of run (n_test 200 vs 40, seed 0 vs 13)"
    )
    assert compare(BASE, {**BASE, "run": run}).unlike == []  # nothing to compare with


def test_figure_missing_now_is_a_regression() -> None:
    verdict = compare({"macro_f1": 0.5, "coverage": 0.7, "ece": 0.05}, BASE)
    assert verdict.regressed == ["accuracy"]
    # it read 'regression: accuracy dropped from 0.8000 to nan (tolerance 0.02)'
    assert verdict.lines() == [
        "regression: accuracy was 0.8000 in the baseline and is not measured in this run "
        "(its option was not given, or no ticket to measure it on)"
    ]


def test_bad_baselines(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="none of the headline figures"):
        compare({"accuracy": 1.0}, {"something": 1})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.json:1: not valid JSON"):
        load_metrics(bad)
    good = tmp_path / "m.json"
    good.write_text(json.dumps(BASE), encoding="utf-8")
    assert load_metrics(good)["accuracy"] == 0.80


def test_a_passing_gate_does_not_call_a_figure_that_improved_within_the_tolerance() -> None:
    # it read 'gate passed: 4 figures within 0.02 of the baseline' with coverage 0.05 above it
    now = {"accuracy": 0.79, "macro_f1": 0.50, "coverage": 0.75, "ece": 0.02}
    assert compare(now, BASE, tolerance=0.02).lines() == [
        "gate passed: none of 4 figures is worse than the baseline by more than 0.02; "
        "better by more than that: coverage 0.7000 to 0.7500, ece 0.0500 to 0.0200"
    ]
    same = {"accuracy": 0.80, "macro_f1": 0.50, "coverage": 0.70, "ece": 0.05}
    assert compare(same, BASE, tolerance=0.02).lines() == [
        "gate passed: none of 4 figures is worse than the baseline by more than 0.02"
    ]


@pytest.mark.parametrize("figure", ["accuracy", "ece"])
def test_a_figure_that_is_nan_now_is_a_regression_not_a_pass(figure: str) -> None:
    # NaN compares false with anything: 'worse by more than the tolerance' never held, and
    # the gate passed whatever the baseline
    verdict = compare({**BASE, figure: float("nan")}, BASE)
    assert verdict.regressed == [figure]
    assert "is not measured in this run" in verdict.lines()[0]
