"""A blank id is no id: the record is skipped, not stored as a case nobody can name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.ingest import parse_column_map, read_cases


def _jsonl(path: Path, ids: list[object]) -> Path:
    records = [
        {"id": case_id, "subject": "blank id", "body": "x", "labels": {"team": "network"}}
        for case_id in ids
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("blank", ["  ", "\t", "\u00a0", ""])
def test_a_jsonl_record_with_a_blank_id_is_skipped_as_having_no_id(
    tmp_path: Path, blank: str
) -> None:
    reader = read_cases(_jsonl(tmp_path / "a.jsonl", ["T1", blank]), label="team")
    assert [case.id for case in reader] == ["T1"]
    assert [(s.ref, s.reason) for s in reader.skipped] == [("line 2", "no id")]


def test_other_ids_are_kept_as_given(tmp_path: Path) -> None:
    # ids are compared as given elsewhere (upserts, feedback): stripping would make another case
    reader = read_cases(_jsonl(tmp_path / "a.jsonl", [" T1 ", 0]), label="team")
    assert [case.id for case in reader] == [" T1 ", "0"]
    assert reader.skipped == []


def test_a_numeric_id_is_its_digits_and_other_json_values_are_no_id(tmp_path: Path) -> None:
    """A JSON number names the ticket as a CSV cell would ("102", also from a float column's
    102.0); true, 1.5, an object or a list name nothing and would be stored as 'True' or '[1]'."""
    ids: list[object] = [101, 102.0, True, 1.5, {"n": 1}, [1], "T7"]
    reader = read_cases(_jsonl(tmp_path / "a.jsonl", ids), label="team")
    assert [case.id for case in reader] == ["101", "102", "T7"]
    assert [(s.ref, s.reason) for s in reader.skipped] == [
        (f"line {n}", f"id must be a string or a whole number, got {kind}")
        for n, kind in [(3, "true"), (4, "1.5"), (5, "an object"), (6, "a list")]
    ]


def test_a_csv_id_cell_of_spaces_is_skipped_as_having_no_id(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("Ticket,Subject\nA-1,VPN drops\n   ,Mail bounces\n", encoding="utf-8")
    reader = read_cases(path, column_map=parse_column_map("id=Ticket,subject=Subject"))
    assert [case.id for case in reader] == ["A-1"]
    assert [(s.ref, s.reason) for s in reader.skipped] == [("line 3", "no id in column 'Ticket'")]


def test_a_jsonl_record_with_a_blank_label_is_skipped_as_having_no_label(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    records = [
        {"id": "T1", "subject": "VPN", "body": "x", "labels": {"team": "network"}},
        {"id": "T2", "subject": "Mail", "body": "x", "labels": {"team": "  "}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    reader = read_cases(path, label="team")
    assert [case.id for case in reader] == ["T1"]
    assert [(s.ref, s.reason) for s in reader.skipped] == [("line 2", "no label 'team'")]


def test_a_jsonl_label_is_a_team_name_or_the_record_is_skipped(tmp_path: Path) -> None:
    """A label is matched against the policy's team names: " network " is network (as a CSV cell
    is stripped), 7 is team "7", and a list, an object or true name no team."""
    labels: list[object] = [" network ", 7, ["network", "mail"], {"name": "network"}, True]
    path = tmp_path / "c.jsonl"
    records = [
        {"id": f"T{i}", "subject": "VPN", "body": "x", "labels": {"team": label}}
        for i, label in enumerate(labels)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    reader = read_cases(path, label="team")
    assert [(case.id, case.team) for case in reader] == [("T0", "network"), ("T1", "7")]
    assert [(s.ref, s.reason) for s in reader.skipped] == [
        (f"line {n}", f"label 'team' must be a team name, got {kind}")
        for n, kind in [(3, "a list"), (4, "an object"), (5, "true")]
    ]
