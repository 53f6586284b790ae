"""Readers: shared-schema JSONL and CSV with a column map; bad records skipped, never a crash."""

from __future__ import annotations

import csv
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


def test_jsonl_tags_are_names_not_renderings_of_other_values(tmp_path: Path) -> None:
    """Tags were stored as str() of whatever the list held: null as the tag 'None', an object as
    "{'a': 1}"; a string of tags was dropped without a word."""
    records = [
        {"id": "A", "body": "b", "labels": {"tags": ["vpn", None, 7, " ", " wifi "]}},
        {"id": "B", "body": "b", "labels": {"tags": "vpn; wifi"}},
        {"id": "C", "body": "b", "labels": {"tags": ["vpn", {"a": 1}]}},
        {"id": "D", "body": "b", "labels": {"tags": True}},
    ]
    reader = read_cases(_jsonl(tmp_path / "t.jsonl", [json.dumps(r) for r in records]))
    assert [(c.id, c.tags) for c in reader] == [("A", ["vpn", "7", "wifi"]), ("B", ["vpn", "wifi"])]
    assert [(s.ref, s.reason) for s in reader.skipped] == [
        ("line 3", "labels.tags must be a list of names, got an object in it"),
        ("line 4", "labels.tags must be a list of names, got true"),
    ]


def test_bad_jsonl_lines_are_skipped_with_line_and_reason(tmp_path: Path) -> None:
    lines = [
        _record(1),
        "{not json",
        "[1, 2]",
        _record(4, group=None),
        json.dumps({"subject": "no id", "labels": {"assignment_group": "G"}}),
        "",
        _record(7),
        _record(8, id=""),
        '{"id": "T9", "labels": ' + "[" * 5_000 + "]" * 5_000 + "}",
    ]
    reader = read_cases(_jsonl(tmp_path / "bad.jsonl", lines), label="assignment_group")
    assert [c.id for c in reader] == ["T1", "T7"]
    skipped = {s.ref: s.reason for s in reader.skipped}
    assert set(skipped) == {"line 2", "line 3", "line 4", "line 5", "line 8", "line 9"}
    assert skipped["line 2"].startswith("invalid JSON")
    assert "JSON object" in skipped["line 3"]
    assert "assignment_group" in skipped["line 4"]
    assert skipped["line 5"] == "no id"
    assert skipped["line 8"] == "no id"
    assert skipped["line 9"] == "invalid JSON: nested deeper than the parser goes"


def test_a_jsonl_field_of_the_wrong_type_is_named_as_the_export_names_it(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", [_record(1, answer=5), _record(2, subject=["x"])])
    reader = read_cases(path, label="assignment_group")
    assert list(reader) == []
    assert [(s.ref, s.reason) for s in reader.skipped] == [
        ("line 1", "answer: Input should be a valid string"),
        ("line 2", "subject: Input should be a valid string"),
    ]


def test_a_jsonl_requester_given_as_a_number_is_kept_as_text(tmp_path: Path) -> None:
    """Exports name requesters by a numeric user id: the ticket is not skipped for it."""
    path = _jsonl(tmp_path / "a.jsonl", [_record(1, requester=4711), _record(2, requester=None)])
    reader = read_cases(path, label="assignment_group")
    assert [(c.id, c.requester) for c in reader] == [("T1", "4711"), ("T2", None)]
    assert reader.skipped == []


def test_non_utf8_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(_record(1).encode() + b"\n" + b'{"id": "x\xff"}\n')
    reader = read_cases(path)
    assert [c.id for c in reader] == ["T1"]
    assert reader.skipped[0].ref == "line 2" and "UTF-8" in reader.skipped[0].reason


def test_jsonl_with_a_byte_order_mark_keeps_its_first_record(tmp_path: Path) -> None:
    """Windows tools (Notepad, PowerShell's UTF8 encoding) start the file with a BOM."""
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + f"{_record(1)}\r\n{_record(2)}\r\n".encode())
    reader = read_cases(path, label="assignment_group")
    assert [c.id for c in reader] == ["T1", "T2"]
    assert reader.skipped == []


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
    assert [(c.id, c.team) for c in cases] == [("A-1", "Messaging"), ("A-2", "Desk")]
    assert [(s.ref, s.reason) for s in reader.skipped] == [("line 5", "no subject or body")]
    assert cases[0].body == "Outlook, cannot send\nsince 9am"
    assert cases[0].tags == ["mail", "urgent"]
    assert cases[1].subject == "" and cases[1].tags == []


def _csv(path: Path, rows: list[str], header: str = "Subject,Description,Group,Requester") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


TICKET_MAP = "subject=Subject,body=Description,team=Group,requester=Requester"


def test_csv_row_with_an_empty_id_cell_is_skipped_as_having_no_id(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "x.csv", ["A-1,VPN,drops", ",Mail,bounces"], header="Ticket,Subject,Description"
    )
    reader = read_cases(
        path, column_map=parse_column_map("id=Ticket,subject=Subject,body=Description")
    )
    assert [c.id for c in reader] == ["A-1"]
    assert [(s.ref, s.reason) for s in reader.skipped] == [("line 3", "no id in column 'Ticket'")]


def test_csv_row_with_an_empty_team_cell_is_skipped_like_jsonl_without_its_label(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path / "x.csv", ["VPN,drops,Net,ann", "Mail,bounces,,bob"])
    reader = read_cases(path, column_map=parse_column_map(TICKET_MAP))
    assert [c.team for c in reader] == ["Net"]
    assert [(s.ref, s.reason) for s in reader.skipped] == [("line 3", "no team in column 'Group'")]
    unlabelled = read_cases(path, column_map=parse_column_map("subject=Subject,body=Description"))
    assert [c.team for c in unlabelled] == [None, None]  # no team mapped: nothing to miss
    assert "no team is read (give a team=COLUMN in --map)" in unlabelled.notes[-1]


def test_csv_without_id_column_derives_ids_from_content(tmp_path: Path) -> None:
    mapping = parse_column_map(TICKET_MAP)
    rows = ["VPN,drops hourly,Net,ann", "Invoice,charged twice,Billing,bob"]
    jan = read_cases(_csv(tmp_path / "jan" / "tickets.csv", rows), column_map=mapping)
    feb = read_cases(_csv(tmp_path / "feb" / "tickets.csv", rows[::-1]), column_map=mapping)
    jan_ids, feb_ids = [c.id for c in jan], [c.id for c in feb]
    assert len(set(jan_ids)) == 2 and feb_ids == jan_ids[::-1]  # by ticket, not by file or row
    assert jan.notes[0].startswith(
        "no id column mapped: each row's id is derived from its subject, body and requester,"
    )
    other = read_cases(
        _csv(tmp_path / "feb" / "tickets.csv", ["Printer,paper jam,Desk,cy"]), column_map=mapping
    )
    assert not set(c.id for c in other) & set(jan_ids)


def test_csv_row_inserted_at_the_top_keeps_the_other_rows_ids(tmp_path: Path) -> None:
    mapping = parse_column_map(TICKET_MAP)
    rows = ["VPN,drops hourly,Net,ann", "Invoice,charged twice,Billing,bob"]
    before = [c.id for c in read_cases(_csv(tmp_path / "x.csv", rows), column_map=mapping)]
    again = _csv(tmp_path / "x.csv", ["Printer,paper jam,Desk,cy", *rows])
    after = [c.id for c in read_cases(again, column_map=mapping)]
    assert after[1:] == before and after[0] not in before


def test_csv_derived_id_follows_the_ticket_not_its_routing(tmp_path: Path) -> None:
    mapping = parse_column_map(TICKET_MAP)
    [first] = read_cases(_csv(tmp_path / "a.csv", ["VPN,drops hourly,Net,ann"]), column_map=mapping)
    rows = [
        "vpn,  Drops\thourly ,Desk,ann",  # re-routed, spacing and case re-typed: the same ticket
        "VPN,drops hourly,Net,bob",  # someone else in the same words: another ticket
    ]
    rerouted, other = read_cases(_csv(tmp_path / "b.csv", rows), column_map=mapping)
    assert rerouted.id == first.id and rerouted.team == "Desk"
    assert other.id != first.id


def test_csv_repeated_row_without_id_is_skipped_as_a_duplicate(tmp_path: Path) -> None:
    rows = ["VPN,drops hourly,Net,ann", "Invoice,charged twice,Billing,bob"]
    path = _csv(tmp_path / "x.csv", [*rows, rows[0]])
    reader = read_cases(path, column_map=parse_column_map(TICKET_MAP))
    assert [c.subject for c in reader] == ["VPN", "Invoice"]
    assert [(s.ref, s.reason) for s in reader.skipped] == [
        ("line 4", "duplicate row: same content as line 2")
    ]


def test_csv_derived_id_tells_apart_same_text_at_another_time(tmp_path: Path) -> None:
    mapping = parse_column_map(f"{TICKET_MAP},created_at=Created")
    path = _csv(
        tmp_path / "x.csv",
        [
            "reset,my password,Desk,ann,2024-01-05T09:00",
            "reset,my password,Desk,ann,2024-03-01T10:00",
        ],
        header="Subject,Description,Group,Requester,Created",
    )
    assert len({c.id for c in read_cases(path, column_map=mapping)}) == 2


def test_csv_with_an_id_column_keeps_its_ids_and_says_nothing(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "x.csv", ["A-1,VPN,drops", "A-2,VPN,drops"], header="Ticket,Subject,Description"
    )
    reader = read_cases(
        path, column_map=parse_column_map("id=Ticket,subject=Subject,body=Description")
    )
    assert [c.id for c in reader] == ["A-1", "A-2"]
    assert not any(note.startswith("no id column") for note in reader.notes)


def test_csv_bad_row_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("Description,Hours\nok,2\nbad,-1\n", encoding="utf-8")
    reader = read_cases(path, column_map=parse_column_map("body=Description,handling_hours=Hours"))
    assert [c.handling_hours for c in reader] == [2.0]
    assert reader.skipped[0].ref == "line 3" and "handling_hours" in reader.skipped[0].reason


@pytest.mark.parametrize(
    ("delimiter", "encoding", "named"),
    [
        (";", "utf-8-sig", "semicolon"),  # Excel's "CSV UTF-8" where the decimal mark is a comma
        ("\t", "utf-16", "tab"),  # Excel's "Unicode text"
        (",", "utf-16", None),
    ],
)
def test_csv_as_spreadsheets_save_it_is_read_whole(
    tmp_path: Path, delimiter: str, encoding: str, named: str | None
) -> None:
    rows = [
        ["Ticket", "Title", "Description", "Group"],
        ["A-1", "VPN", "drops; hourly, 9-5", "Net"],
    ]
    rows.append(["A-2", "Rechnung", "doppelt gebucht", "Billing"])
    path = tmp_path / "export.csv"
    with path.open("w", encoding=encoding, newline="") as out:
        csv.writer(out, delimiter=delimiter).writerows(rows)
    mapping = parse_column_map("id=Ticket,subject=Title,body=Description,team=Group")
    reader = read_cases(path, column_map=mapping)
    cases = list(reader)
    assert [(c.id, c.body, c.team) for c in cases] == [
        ("A-1", "drops; hourly, 9-5", "Net"),
        ("A-2", "doppelt gebucht", "Billing"),
    ]
    assert reader.skipped == []
    assert reader.notes == ([f"columns are {named}-separated"] if named else [])


def test_csv_with_a_cell_over_128_kb_is_read_whole(tmp_path: Path) -> None:
    """Python's csv module refuses a field over 131,072 characters by default; a pasted log in a
    ticket body is longer, and JSONL takes it."""
    body = "stack frame " * 30_000
    path = tmp_path / "big.csv"
    path.write_text(f'Ticket,Description\nA-1,"{body}"\nA-2,small\n', encoding="utf-8")
    reader = read_cases(path, column_map=parse_column_map("id=Ticket,body=Description"))
    assert [(c.id, len(c.body)) for c in reader] == [("A-1", len(body.strip())), ("A-2", 5)]
    assert reader.skipped == []


def test_csv_map_naming_a_missing_column_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("Description\nx\n", encoding="utf-8")
    with pytest.raises(InputError, match="'Group' \\(for team\\)"):
        read_cases(path, column_map=parse_column_map("body=Description,team=Group"))


def test_csv_map_without_subject_or_body_fails_clearly(tmp_path: Path) -> None:
    path = _csv(tmp_path / "h.csv", ["VPN,drops,Net,ann"])
    with pytest.raises(InputError, match="map a column to subject or body"):
        read_cases(path, column_map=parse_column_map("team=Group"))


@pytest.mark.parametrize("spec", ["team", "colour=Group", "team="])
def test_bad_column_map_is_an_input_error(spec: str) -> None:
    with pytest.raises(InputError):
        parse_column_map(spec)


def test_what_a_reader_does_not_read_is_left_to_the_stored_case(tmp_path: Path) -> None:
    table = _csv(tmp_path / "a.csv", ["VPN,drops,Net,ann"])
    unread = read_cases(
        table, column_map=parse_column_map("subject=Subject,body=Description")
    ).unread
    assert {"team", "label_source", "requester", "handling_hours"} <= unread
    assert not {"id", "subject", "body"} & unread
    labelled = read_cases(table, column_map=parse_column_map(TICKET_MAP)).unread
    assert not {"team", "label_source", "requester"} & labelled
    jsonl = _jsonl(tmp_path / "a.jsonl", [_record(1)])
    assert {"team", "label_source", "first_route", "escalated"} <= read_cases(jsonl).unread
    assert read_cases(jsonl, label="assignment_group").unread.isdisjoint(
        {"id", "team", "label_source", "subject", "body", "resolution", "priority", "tags"}
    )


def test_an_option_of_the_other_format_is_an_input_error(tmp_path: Path) -> None:
    """Ignored, it left the cases without the team the user meant to give them."""
    jsonl = _jsonl(tmp_path / "a.jsonl", [_record(1)])
    with pytest.raises(InputError, match=r"--map is for CSV.*--label assignment_group"):
        read_cases(jsonl, column_map=parse_column_map("team=assignment_group"))
    table = _csv(tmp_path / "a.csv", ["VPN,drops,Net,ann"])
    with pytest.raises(InputError, match=r"--label is for JSONL.*--map team=Group"):
        read_cases(table, label="Group", column_map=parse_column_map("body=Description"))


def test_format_from_suffix_or_flag(tmp_path: Path) -> None:
    assert detect_format(tmp_path / "a.jsonl") == "jsonl"
    assert detect_format(tmp_path / "a.CSV") == "csv"
    assert detect_format(tmp_path / "a.txt", "csv") == "csv"
    assert detect_format(tmp_path / "export.tsv") == "csv"  # read tab-separated, as its header says
    with pytest.raises(InputError, match="--format"):
        detect_format(tmp_path / "a.txt")


def test_jsonl_without_a_label_says_its_cases_teach_the_router_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "T1", "subject": "VPN", "body": "drops"}\n', encoding="utf-8")
    reader = read_cases(path)
    assert [(c.id, c.team) for c in reader] == [("T1", None)]
    assert reader.notes == [
        "no team is read (give --label): new cases are stored without one, so they serve "
        "search and briefs but teach the router nothing; stored cases keep theirs"
    ]
    assert read_cases(path, label="team").notes == []
