"""Reading the shared JSONL schema, splitting it, and turning rows into tickets and cases."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from agent.cli import main
from agent.errors import InputError
from evals.datasets import (
    Row,
    as_history,
    disjoint_sample,
    read_rows,
    require_label,
    sample,
    stratified_split,
    to_case,
    to_ticket,
)


def write(path: Path, rows: list[dict[str, object] | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(i: int, team: str, **extra: object) -> dict[str, object]:
    return {
        "id": f"t{i}",
        "subject": f"subject {i}",
        "body": "body",
        "labels": {"team": team},
        **extra,
    }


def test_reads_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [row(1, "net"), "", row(2, "db", requester="u1")])
    rows = read_rows(path)
    assert [r.id for r in rows] == ["t1", "t2"]
    assert rows[1].requester == "u1"
    assert rows[0].label("team") == "net"


def test_rows_take_an_account_id_or_an_account_object(tmp_path: Path) -> None:
    lines = [
        row(1, "net", account="acme"),
        row(2, "net", account_id=4711),
        row(3, "db", account={"id": "ACC-1", "tier": "enterprise"}),
        row(4, "db"),
    ]
    rows = read_rows(write(tmp_path / "a.jsonl", lines))
    assert [r.account for r in rows] == ["acme", "4711", "ACC-1", None]
    assert to_case(rows[2], "team").account_id == "ACC-1"
    assert to_ticket(rows[0]).account.id == "acme" and to_ticket(rows[3]).account.id is None
    with pytest.raises(InputError, match=r"a\.jsonl:1: account"):
        read_rows(write(tmp_path / "a.jsonl", [row(1, "net", account=["x"])]))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{broken"], r"a\.jsonl:1: not valid JSON"),
        ([row(1, "x"), {"subject": "no id"}], r"a\.jsonl:2: id: Field required"),
        (
            [{"id": "e", "subject": "", "body": " "}],
            r"a\.jsonl:1: a ticket needs a subject or a body",
        ),
        ([row(1, "x"), row(1, "y")], r"a\.jsonl:2: duplicate id 't1'"),
        ([""], r"a\.jsonl: no tickets"),
        (
            [json.dumps([row(1, "x"), row(2, "y")])],
            r"a\.jsonl:1: a row must be a JSON object, got a list \(one JSON object per line: "
            r"JSONL\)$",
        ),
        (['"t1"'], r'a\.jsonl:1: a row must be a JSON object, got "t1" \(one JSON object'),
        (
            ["[", json.dumps(row(1, "x")) + ","],
            r"a\.jsonl:1: not valid JSON: .* per line: JSONL\)$",
        ),
        (["id,subject,body", "t1,vpn,down"], r"a\.jsonl:1: not valid JSON: .* per line: JSONL\)$"),
        ([row(1, "x"), "{broken"], r"a\.jsonl:2: not valid JSON: [^(]*$"),
    ],
)
def test_bad_files_name_file_and_line(
    tmp_path: Path, lines: list[dict[str, object] | str], message: str
) -> None:
    path = write(tmp_path / "a.jsonl", lines)
    with pytest.raises(InputError, match=message):
        read_rows(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_rows(tmp_path / "nope.jsonl")


def test_require_label_names_the_row() -> None:
    rows = [Row.model_validate(row(1, "a")), Row(id="t2", subject="s", labels={"other": "x"})]
    with pytest.raises(
        InputError, match=r"'t2' \(row 2\) has no label 'team'; labels found: other, team"
    ):
        require_label(rows, "team", "TRAIN")


def _rows(n_a: int, n_b: int) -> list[Row]:
    return [Row.model_validate(row(i, "a" if i < n_a else "b")) for i in range(n_a + n_b)]


def test_stratified_split_is_disjoint_seeded_and_keeps_shares() -> None:
    rows = _rows(80, 20)
    train, test = stratified_split(rows, "team", 0.25, seed=1)
    assert not {r.id for r in train} & {r.id for r in test}
    assert len(train) + len(test) == 100
    assert Counter(r.label("team") for r in test) == {"a": 20, "b": 5}
    again, _ = stratified_split(rows, "team", 0.25, seed=1)
    assert [r.id for r in again] == [r.id for r in train]


def test_sample_at_most_n_and_disjoint_sample() -> None:
    rows = _rows(80, 20)
    picked = sample(rows, 10, seed=3, key="team")
    assert Counter(r.label("team") for r in picked) == {"a": 8, "b": 2}
    assert len(sample(rows, 1000, seed=3)) == 100
    train, test = disjoint_sample(rows, "team", n_train=50, n_test=20, seed=0)
    assert len(train) == 50
    assert len(test) == 20
    assert not {r.id for r in train} & {r.id for r in test}


def test_ticket_has_no_label_and_case_has_it() -> None:
    r = Row.model_validate(
        row(
            1,
            "net",
            requester="u9",
            language="de",
            answer="fixed",
            labels={"team": "net", "prio": "high"},
        )
    )
    ticket = to_ticket(r, history=[as_history(r)])
    dumped = ticket.model_dump_json()
    assert "net" not in dumped and "high" not in dumped and "fixed" not in dumped
    assert ticket.requester == "u9" and ticket.language == "de"
    assert ticket.history[0].team is None
    case = to_case(r, "team", priority_label="prio")
    assert (case.team, case.priority, case.resolution, case.label_source) == (
        "net",
        "high",
        "fixed",
        "import",
    )
    assert to_case(r, "team").priority is None


def test_split_command_writes_disjoint_files(tmp_path: Path) -> None:
    from evals.split import main

    source = write(tmp_path / "all.jsonl", [row(i, "a" if i % 4 else "b") for i in range(40)])
    assert main([str(source), "--label", "team", "--out", str(tmp_path / "s"), "--seed", "1"]) == 0
    train, test = (
        read_rows(tmp_path / "s" / "train.jsonl"),
        read_rows(tmp_path / "s" / "test.jsonl"),
    )
    assert (len(train), len(test)) == (32, 8)
    assert not {r.id for r in train} & {r.id for r in test}
    assert main([str(source), "--label", "nope", "--out", str(tmp_path / "x")]) == 1


def test_a_ticket_without_a_language_gets_the_detected_one() -> None:
    german = Row(
        id="t1",
        subject="Drucker druckt nicht",
        body="Seit heute Morgen druckt der Drucker im zweiten Stock keine Seiten mehr.",
        labels={"team": "desk"},
    )
    assert to_ticket(german).language == "de"
    assert to_ticket(german.model_copy(update={"language": "en"})).language == "en"  # as given
    assert to_ticket(Row(id="t2", subject="hi", labels={"team": "desk"})).language is None


@pytest.mark.parametrize(
    ("value", "kind"),
    [(["net"], "a list"), ({"name": "net"}, "an object"), (True, "true"), (1.5, "1.5")],
)
def test_a_label_that_names_no_team_is_an_input_error(
    tmp_path: Path, value: object, kind: str
) -> None:
    # it was read as Python's rendering: a team "['net']", "True", "{'name': 'net'}"
    rows = read_rows(write(tmp_path / "a.jsonl", [row(1, "net"), row(2, "net", labels={})]))
    rows[1] = rows[1].model_copy(update={"labels": {"team": value}})
    message = f"TRAIN: ticket 't2': label 'team' must be text or a whole number, got {kind} (row 2)"
    with pytest.raises(InputError) as exc:
        require_label(rows, "team", "TRAIN")
    assert str(exc.value) == message


def test_a_label_is_stripped_and_a_whole_number_is_its_digits(tmp_path: Path) -> None:
    lines = [row(1, " net "), row(2, "x", labels={"team": 3.0}), row(3, "x", labels={"team": " "})]
    rows = read_rows(write(tmp_path / "a.jsonl", lines))
    assert [r.label("team") for r in rows] == ["net", "3", None]
    assert to_case(rows[0], "team").team == "net"


@pytest.mark.parametrize("curve", [[], ["--learning-curve", "50,100"]])
def test_eval_names_the_file_and_row_of_a_label_that_names_no_team(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], curve: list[str]
) -> None:
    train = write(tmp_path / "train.jsonl", [row(1, "net"), row(2, "x", labels={"team": ["db"]})])
    test = write(tmp_path / "test.jsonl", [row(3, "net")])
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team", *curve]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"triage: error: {train}: ticket 't2': label 'team' must be text or a whole number, "
        "got a list (row 2)"
    ]


def test_a_file_saved_with_a_bom_is_read(tmp_path: Path) -> None:
    # it stopped at line 1: 'not valid JSON: Unexpected UTF-8 BOM', which kb ingest reads
    path = write(tmp_path / "a.jsonl", [row(1, "net"), row(2, "db")])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert [r.id for r in read_rows(path)] == ["t1", "t2"]


def test_whole_number_ids_and_requesters_are_their_digits(tmp_path: Path) -> None:
    # each stopped the run: 'id: Input should be a valid string', which kb ingest reads
    lines = [
        {**row(1, "net"), "id": 102, "requester": 4711},
        {**row(2, "db"), "id": 103.0, "requester": None},
    ]
    rows = read_rows(write(tmp_path / "a.jsonl", lines))
    assert [(r.id, r.requester) for r in rows] == [("102", "4711"), ("103", None)]
    assert to_case(rows[0], "team").requester == "4711"
    bad = write(tmp_path / "b.jsonl", [{**row(1, "net"), "id": True}])
    with pytest.raises(InputError, match=r"b\.jsonl:1: id: Input should be a valid string"):
        read_rows(bad)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_a_text_holding_a_unicode_line_separator_is_one_row(tmp_path: Path, separator: str) -> None:
    # JSON allows these unescaped in a string (json.dumps(ensure_ascii=False) writes them so); the
    # file was cut at them as at a line end: 'a.jsonl:1: not valid JSON: Unterminated string'
    first = {**row(1, "net"), "body": f"line one{separator}line two"}
    path = tmp_path / "a.jsonl"
    lines = [json.dumps(first, ensure_ascii=False), json.dumps(row(2, "db"))]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    rows = read_rows(path)
    assert [r.id for r in rows] == ["t1", "t2"]
    assert rows[0].body == f"line one{separator}line two"
    assert rows[0].as_read() == lines[0]  # evals.split writes it back whole, on one line


def test_a_file_with_old_mac_line_ends_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("\r".join(json.dumps(row(i, "net")) for i in (1, 2)) + "\r", encoding="utf-8")
    assert [r.id for r in read_rows(path)] == ["t1", "t2"]


def test_a_ticket_id_no_url_can_hold_is_routed_under_a_safe_one() -> None:
    # 'INC/2024/003' stopped the run mid-TEST in Ticket's ValidationError traceback
    r = Row.model_validate(row(1, "net", id="INC/2024 003#1?%\\x"))
    ticket = to_ticket(r)
    assert ticket.id == "INC_2024_003_1___x"
    assert ticket.external_id == "INC/2024 003#1?%\\x"
    assert to_ticket(Row.model_validate(row(2, "net"))).external_id is None


def test_eval_reports_a_slashed_id_as_it_was_given(tmp_path: Path) -> None:
    train = write(tmp_path / "train.jsonl", [row(i, ["net", "db"][i % 2]) for i in range(6)])
    test = write(tmp_path / "test.jsonl", [row(7, "net", id="INC/2024/007"), row(8, "db")])
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    lines = (tmp_path / "o" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["ticket_id"] for line in lines] == ["INC/2024/007", "t8"]


@pytest.mark.parametrize("field", ["subject", "body", "requester", "labels"])
def test_half_of_a_character_is_named_by_file_and_line(tmp_path: Path, field: str) -> None:
    # json.loads takes a lone '\ud83d' (an emoji cut in two) as text, which no ticket or case
    # can hold: the run stopped in a traceback when the ticket was routed, minutes in
    value: object = {"team": "net\ud83d"} if field == "labels" else "vpn \ud83d down"
    path = write(tmp_path / "a.jsonl", [row(1, "net"), row(2, "net", **{field: value})])
    with pytest.raises(InputError, match=r"a\.jsonl:2: not text: \\ud83d is half of a character"):
        read_rows(path)


def test_eval_names_the_line_with_half_a_character_before_routing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write(tmp_path / "train.jsonl", [row(1, "net"), row(2, "db")])
    test = write(tmp_path / "test.jsonl", [row(3, "net"), row(4, "db", body="disk \udca9 full")])
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"triage: error: {test}:2: not text: \\udca9 is half of a character")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("INC\x01003", "INC_003"),
        ("INC\x7f003", "INC_003"),
        ("a\x1b[0m", "a_[0m"),
        ("I\x00D", "I_D"),
    ],
)
def test_a_ticket_id_with_a_control_character_is_routed_under_a_safe_one(
    given: str, safe: str
) -> None:
    # a '\u0001' escape in an export's id stopped the run mid-TEST in Ticket's ValidationError
    ticket = to_ticket(Row.model_validate(row(1, "net", id=given)))
    assert ticket.id == safe
    # the id as given beside it, a NUL (which no database column holds) as U+FFFD
    assert ticket.external_id == given.replace("\x00", "\ufffd")


def test_a_line_nested_deeper_than_the_parser_goes_is_named_by_file_and_line(
    tmp_path: Path,
) -> None:
    # it ended in a RecursionError traceback; kb ingest skips such a line as invalid JSON
    deep = '{"id": "t2", "subject": "s", "labels": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = write(tmp_path / "a.jsonl", [row(1, "net"), deep])
    with pytest.raises(InputError, match=r"a\.jsonl:2: not valid JSON: nested deeper than"):
        read_rows(path)
