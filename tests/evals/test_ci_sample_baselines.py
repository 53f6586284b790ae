"""The CI sample's gate needs its baselines: a suite without one was run and reported ungated,
and the command passed (exit 0) whatever the figures, e.g. with --baselines pointing at a typo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.ci_sample import main

BASE = {"accuracy": 0.80, "coverage": 0.70, "ece": 0.05}
WORDS = ["printer", "vpn", "invoice"]


def _dataset(root: Path, name: str, label: str) -> None:
    source = root / name / "dev.jsonl"
    source.parent.mkdir(parents=True)
    rows = [
        {
            "id": f"{name}-{i}",
            "subject": f"{WORDS[i % 3]} issue {i}",
            "body": f"the {WORDS[i % 3]} fails again",
            "labels": {label: WORDS[i % 3], "priority": ["high", "low"][i % 2]},
        }
        for i in range(30)
    ]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "datasets"
    _dataset(root, "helpdesk_topics", "topic_group")
    monkeypatch.setenv("TRIAGE_DATASETS_DIR", str(root))
    return root


def test_a_suite_without_a_baseline_is_an_error_not_an_ungated_pass(
    tmp_path: Path, datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baselines = tmp_path / "baseline"  # a typo of evals/baselines: no ci-<name>.json in it
    baselines.mkdir()
    out = tmp_path / "o"
    argv = ["--out", str(out), "--baselines", str(baselines), "--only", "helpdesk_topics"]
    assert main(argv) == 1
    missing = baselines / "ci-helpdesk_topics.json"
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ci_sample: error: no baseline for helpdesk_topics ({missing} not found); "
        "measure one with --write-baselines"
    )
    assert not (out / "helpdesk_topics").exists()  # refused before the suite ran


def test_every_baseline_is_checked_before_the_first_suite_runs(
    tmp_path: Path, datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _dataset(datasets, "support_multilang", "queue")  # the suite run before helpdesk_topics
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    (baselines / "ci-support_multilang.json").write_text(json.dumps(BASE), encoding="utf-8")
    out = tmp_path / "o"
    argv = ["--out", str(out), "--baselines", str(baselines)]
    assert main([*argv, "--only", "support_multilang", "--only", "helpdesk_topics"]) == 1
    assert "no baseline for helpdesk_topics" in capsys.readouterr().err
    assert not (out / "support_multilang").exists()


def test_every_dataset_is_found_before_the_first_suite_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "datasets"
    _dataset(root, "support_multilang", "queue")  # run first; helpdesk_topics' is not there
    monkeypatch.setenv("TRIAGE_DATASETS_DIR", str(root))
    out = tmp_path / "o"  # gated against the committed baselines
    assert (
        main(["--out", str(out), "--only", "support_multilang", "--only", "helpdesk_topics"]) == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"ci_sample: error: {root / 'helpdesk_topics' / 'dev.jsonl'}: dataset not found "
        "(set TRIAGE_DATASETS_DIR)"
    ]
    assert not (out / "support_multilang").exists()


def test_writing_baselines_needs_none_to_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_DATASETS_DIR", str(tmp_path / "no-datasets"))
    argv = ["--out", str(tmp_path / "o"), "--baselines", str(tmp_path / "new")]
    assert main([*argv, "--write-baselines", "--only", "helpdesk_topics"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("ci_sample: error: ") and "dataset not found" in err
