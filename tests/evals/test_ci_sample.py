"""The CI sample with its gate against the committed baselines (needs the shared datasets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.ci_sample import BASELINES, SUITES, main


@pytest.mark.slow
def test_ci_sample_passes_the_gate(datasets_dir: Path, tmp_path: Path) -> None:
    code = main(["--out", str(tmp_path)])
    assert code == 0
    for suite in SUITES:
        metrics = json.loads((tmp_path / suite.name / "metrics.json").read_text())
        assert metrics["n"] == 300
        assert metrics["run"]["n_train"] <= 2000
        assert (BASELINES / f"ci-{suite.name}.json").exists()
