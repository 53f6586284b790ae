"""`triage kb` counts (--limit, -k, --top) are positive: anything else is a usage error, not a
traceback or a misleading "no cases stored"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kb_cli_support import run_kb

from agent.settings import Settings


def _export(path: Path, n: int) -> Path:
    records = [
        {"id": f"T{i}", "subject": f"mailbox full {i}", "body": "x", "labels": {"team": f"t{i}"}}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["kb", "ingest", "a.jsonl", "--label", "team", "--limit", "-1"],
        ["kb", "ingest", "a.jsonl", "--label", "team", "--limit", "0"],
        ["kb", "stats", "--top", "-1"],
        ["kb", "stats", "--top", "0"],
        ["kb", "search", "mailbox", "-k", "-1"],
        ["kb", "search", "mailbox", "-k", "0"],
    ],
)
def test_a_count_below_1_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        run_kb(argv, Settings(data_dir=tmp_path))
    assert exc.value.code == 2
    assert f"argument {argv[-2]}: must be at least 1, got {argv[-1]}" in capsys.readouterr().err


def test_positive_counts_limit_what_is_ingested_and_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)
    export = str(_export(tmp_path / "a.jsonl", 3))
    assert run_kb(["kb", "ingest", export, "--label", "team", "--limit", "2"], settings) == 0
    assert "added 2, updated 0" in capsys.readouterr().out
    assert run_kb(["kb", "stats", "--top", "1"], settings) == 0
    assert "teams: t0 1 (+1 more)" in capsys.readouterr().out
    assert run_kb(["kb", "search", "mailbox", "-k", "1"], settings) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1
