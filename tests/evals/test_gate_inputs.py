"""The gate refuses what it cannot compare: a non-finite tolerance, before the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from agent.errors import InputError
from evals.gate import compare

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
