"""Readers: shared-schema JSONL and CSV with a column map; bad records skipped, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.errors import InputError
from knowledge.ingest import detect_format, parse_column_map, read_cases


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _record(i: int, group: str | None = "GRP_1", **extra: object) -> str:
    labels = {"assignment_group": group} if group else {}
    record = {
        "id": f"T{i}",
        "subject": f"subject {i}",
        "body": f"body {i}",
        "requester": "ann",
        "language": "en",
        "labels": labels,
        "answer": f"fixed {i}",
        **extra,
    }
    return json.dumps(record)


def test_jsonl_maps_the_shared_schema_to_cases(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", [_record(1), _record(2, group="GRP_0")])
    cases = list(read_cases(path, label="assignment_group"))
    assert [(c.id, c.team) for c in cases] == [("T1", "GRP_1"), ("T2", "GRP_0")]
    first = cases[0]
    assert (first.subject, first.body, first.resolution) == ("subject 1", "body 1", "fixed 1")
    assert (first.requester, first.language, first.label_source) == ("ann", "en", "import")


def test_jsonl_takes_an_optional_account(tmp_path: Path) -> None:
    lines = [
        _record(1, account="acme"),
        _record(2, account_id=4711),
        _record(3),
        _record(4, account={"id": "ACC-1", "tier": "enterprise"}),
        _record(5, account=["not", "an", "id"]),
    ]
    reader = read_cases(_jsonl(tmp_path / "a.jsonl", lines), label="assignment_group")
    cases = list(reader)
    assert [c.account_id for c in cases] == ["acme", "4711", None, "ACC-1"]
    [skipped] = reader.skipped
    assert skipped.ref == "line 5" and "account_id" in skipped.reason


def test_csv_maps_an_account_column(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Ticket,Description,Group,Company\nA-1,vpn down,Net,Acme\n", encoding="utf-8")
    mapping = parse_column_map("id=Ticket,body=Description,team=Group,account_id=Company")
    [case] = list(read_cases(path, column_map=mapping))
    assert case.account_id == "Acme"


def test_jsonl_takes_priority_and_tags_from_labels(tmp_path: Path) -> None:
    line = json.dumps(
        {
            "id": "Q",
            "subject": "s",
            "body": "b",
            "labels": {"queue": "Billing", "priority": "high", "tags": ["a", "b"]},
        }
    )
    [case] = list(read_cases(_jsonl(tmp_path / "q.jsonl", [line]), label="queue"))
    assert (case.team, case.priority, case.tags) == ("Billing", "high", ["a", "b"])


def test_bad_jsonl_lines_are_skipped_with_line_and_reason(tmp_path: Path) -> None:
    lines = [
        _record(1),
        "{not json",
        "[1, 2]",
        _record(4, group=None),
        json.dumps({"subject": "no id", "labels": {"assignment_group": "G"}}),
        "",
        _record(7),
    ]
    reader = read_cases(_jsonl(tmp_path / "bad.jsonl", lines), label="assignment_group")
    assert [c.id for c in reader] == ["T1", "T7"]
    skipped = {s.ref: s.reason for s in reader.skipped}
    assert set(skipped) == {"line 2", "line 3", "line 4", "line 5"}
    assert skipped["line 2"].startswith("invalid JSON")
    assert "JSON object" in skipped["line 3"]
    assert "assignment_group" in skipped["line 4"]
    assert skipped["line 5"].startswith("id")


def test_non_utf8_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(_record(1).encode() + b"\n" + b'{"id": "x\xff"}\n')
    reader = read_cases(path)
    assert [c.id for c in reader] == ["T1"]
    assert reader.skipped[0].ref == "line 2" and "UTF-8" in reader.skipped[0].reason


def test_unreadable_file_is_one_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read .*missing\.jsonl"):
        read_cases(tmp_path / "missing.jsonl")


def test_csv_with_column_map(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Ticket,Title,Description,Group,Labels\n"
        'A-1,Mail down,"Outlook, cannot send\nsince 9am",Messaging,mail;urgent\n'
        "A-2,,Printer offline,Desk,\n"
        "A-3,,,Desk,\n",
        encoding="utf-8",
    )
    mapping = parse_column_map("id=Ticket,subject=Title,body=Description,team=Group,tags=Labels")
    reader = read_cases(path, column_map=mapping)
    cases = list(reader)
    assert [(c.id, c.team) for c in cases] == [
        ("A-1", "Messaging"),
        ("A-2", "Desk"),
        ("A-3", "Desk"),
    ]
    assert cases[0].body == "Outlook, cannot send\nsince 9am"
    assert cases[0].tags == ["mail", "urgent"]
    assert cases[1].subject == "" and cases[1].tags == []


def test_csv_without_id_column_gets_stable_row_ids(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Description,Group\nfirst,A\nsecond,B\n", encoding="utf-8")
    mapping = parse_column_map("body=Description,team=Group")
    assert [c.id for c in read_cases(path, column_map=mapping)] == ["x:2", "x:3"]
    assert [c.id for c in read_cases(path, column_map=mapping)] == ["x:2", "x:3"]


def test_csv_bad_row_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("Description,Hours\nok,2\nbad,-1\n", encoding="utf-8")
    reader = read_cases(path, column_map=parse_column_map("body=Description,handling_hours=Hours"))
    assert [c.handling_hours for c in reader] == [2.0]
    assert reader.skipped[0].ref == "line 3" and "handling_hours" in reader.skipped[0].reason


def test_csv_map_naming_a_missing_column_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("Description\nx\n", encoding="utf-8")
    with pytest.raises(InputError, match="'Group' \\(for team\\)"):
        read_cases(path, column_map=parse_column_map("body=Description,team=Group"))


@pytest.mark.parametrize("spec", ["team", "colour=Group", "team="])
def test_bad_column_map_is_an_input_error(spec: str) -> None:
    with pytest.raises(InputError):
        parse_column_map(spec)


def test_format_from_suffix_or_flag(tmp_path: Path) -> None:
    assert detect_format(tmp_path / "a.jsonl") == "jsonl"
    assert detect_format(tmp_path / "a.CSV") == "csv"
    assert detect_format(tmp_path / "a.txt", "csv") == "csv"
    with pytest.raises(InputError, match="--format"):
        detect_format(tmp_path / "a.txt")
