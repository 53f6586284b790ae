"""An export's text as it was saved: a CSV in the encoding a spreadsheet chose (Excel's 'CSV' on a
Western Windows is Windows-1252, not UTF-8), a JSONL record whose escapes are no text."""

from __future__ import annotations

from pathlib import Path

import pytest
from kb_cli_support import run_kb

from agent.errors import InputError
from agent.settings import Settings
from knowledge.ingest import parse_column_map, read_cases

MAP = parse_column_map("id=Ticket,subject=Title,body=Description,team=Group")


def test_a_windows_1252_csv_is_read_with_its_accents_and_a_note(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    rows = "Ticket;Title;Description;Group\r\nA-1;Café VPN;Gebühr “doppelt” – 5 €;Réseau\r\n"
    path.write_bytes(rows.encode("cp1252"))
    reader = read_cases(path, column_map=MAP)
    cases = list(reader)
    assert [(c.subject, c.body, c.team) for c in cases] == [
        ("Café VPN", "Gebühr “doppelt” – 5 €", "Réseau")
    ]
    assert reader.skipped == []
    assert any("read as Windows-1252" in note for note in reader.notes)
    assert "columns are semicolon-separated" in reader.notes


def test_a_utf8_csv_with_one_bad_byte_is_refused_naming_its_line(tmp_path: Path) -> None:
    """Its other letters are UTF-8: read as Windows-1252 they would all be garbled."""
    path = tmp_path / "export.csv"
    path.write_bytes(
        "Ticket,Title,Description,Group\nA-1,Café,ok,Net\n".encode() + b"A-2,x\xe9,y,Net\n"
    )
    with pytest.raises(InputError, match=r"export\.csv: not UTF-8 \(.* at line 3\)"):
        read_cases(path, column_map=MAP)


def test_a_utf8_csv_has_no_encoding_note(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Ticket,Title,Description,Group\nA-1,Café,ok,Net\n", encoding="utf-8")
    reader = read_cases(path, column_map=MAP)
    assert [c.subject for c in reader] == ["Café"]
    assert reader.notes == []


def test_a_jsonl_record_with_half_a_character_is_skipped_and_the_rest_ingested(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'\\ud83d' alone (an emoji cut in two by an export) decodes to no text: it stopped the
    whole ingest with a UnicodeEncodeError traceback in the embedding cache."""
    path = tmp_path / "export.jsonl"
    path.write_text(
        '{"id": "A-1", "subject": "vpn drops", "labels": {"team": "network"}}\n'
        '{"id": "A-2", "subject": "cut \\ud83d", "labels": {"team": "network"}}\n'
        '{"id": "A-3", "subject": "whole \\ud83d\\ude00", "labels": {"team": "network"}}\n',
        encoding="utf-8",
    )
    reader = read_cases(path, label="team")
    assert [(c.id, c.subject) for c in reader] == [("A-1", "vpn drops"), ("A-3", "whole 😀")]
    assert [(s.ref, s.reason) for s in reader.skipped] == [
        ("line 2", "not text: \\ud83d is half of a character (a cut emoji?)")
    ]
    settings = Settings(data_dir=tmp_path / "data")
    assert run_kb(["kb", "ingest", str(path), "--label", "team"], settings) == 0
    assert "added 2, updated 0, unchanged 0, skipped 1" in capsys.readouterr().out
