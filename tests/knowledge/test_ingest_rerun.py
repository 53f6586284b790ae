"""The same export ingested again is unchanged: nothing re-embedded, nothing counted as updated."""

from __future__ import annotations

from pathlib import Path

import pytest
from kb_cli_support import run_kb

from agent.settings import Settings


def test_an_infinite_number_of_hours_is_skipped_so_a_rerun_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'inf' passed as hours but was stored as no hours, so every re-run found the case changed,
    re-embedded it and counted it as updated."""
    path = tmp_path / "export.csv"
    path.write_text("Ticket,Subject,Hours\nA-1,vpn drops,1.5\nA-2,mail full,inf\n", "utf-8")
    settings = Settings(data_dir=tmp_path / "data")
    argv = ["kb", "ingest", str(path), "--map", "id=Ticket,subject=Subject,handling_hours=Hours"]
    assert run_kb(argv, settings) == 0
    first = capsys.readouterr().out
    assert "added 1, updated 0, unchanged 0, skipped 1" in first
    assert "line 3: handling_hours: Input should be a finite number" in first
    assert run_kb(argv, settings) == 0
    assert "added 0, updated 0, unchanged 1, skipped 1 in" in capsys.readouterr().out


def test_a_repeated_numeric_id_is_named_as_an_id_not_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'1: repeated id' read as line 1 of the file, where the header is."""
    path = tmp_path / "export.csv"
    path.write_text("Ticket,Subject\n2,vpn drops\n1,mail full\n1,mail still full\n", "utf-8")
    argv = ["kb", "ingest", str(path), "--map", "id=Ticket,subject=Subject"]
    assert run_kb(argv, Settings(data_dir=tmp_path / "data")) == 0
    out = capsys.readouterr().out
    assert "added 2, updated 0, unchanged 0, skipped 1" in out
    assert "    id 1: repeated id: later record kept" in out
