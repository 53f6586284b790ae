"""Readers that turn exported tickets (JSONL in the shared schema, or CSV) into cases.

A bad record is skipped and reported with its line number and the reason; only a file that cannot
be read at all raises ``InputError``. A CSV export without an id column gets ids derived from each
ticket's content, so the same ticket exported again, in any file or row, updates one case.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agent.errors import InputError
from knowledge.cases import Case
from knowledge.csv_text import DELIMITER_NAMES, csv_delimiter, decode_csv
from knowledge.export_values import (
    TAG_SPLIT,
    digits_as_text,
    json_name,
    lone_surrogate,
    tag_names,
)

FileFormat = Literal["jsonl", "csv"]
_CASE_FIELDS = set(Case.model_fields)
# What a ticket keeps from one export to the next; its team, priority or resolution may change.
_IDENTITY_FIELDS = ("subject", "body", "requester", "account_id", "created_at")
# Case fields a shared-schema record calls otherwise, for the reasons a record is skipped.
_JSONL_NAMES = {"resolution": "answer", "tags": "labels.tags", "priority": "labels.priority"}
# What a shared-schema record says (tags and priority from its labels), besides its --label team.
_JSONL_FIELDS = frozenset(
    {"id", "subject", "body", "requester", "account_id", "language", "resolution"}
    | {"tags", "priority"}
)


class Skipped(BaseModel):
    """A record that was not ingested, and why."""

    ref: str = Field(description="Where it was: 'line 12' in the file, or 'id T-12'")
    reason: str


class IngestReport(BaseModel):
    """What one ingest run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="How the records were read")
    labels_kept: dict[str, int] = Field(
        default_factory=dict,
        description="Stored teams kept against the export's, by the source that set them",
    )
    embedded: int = Field(default=0, description="Texts sent to the embedder (cache included)")
    seconds: float = 0.0
    cases_per_s: float = 0.0


def account_id(value: Any) -> Any:
    """The account id of an export's ``account``: an id (numbers as text), or an account
    object's ``id``; anything else is returned as it is, for validation to reject."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None if value == "" else value


def content_id(row: dict[str, Any]) -> str:
    """An id for a record without one: a hash of what identifies the ticket (its text, requester,
    account and created time, normalised), not of where it sits in which file."""
    parts = [_normalise(str(row.get(field) or "")) for field in _IDENTITY_FIELDS]
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()
    return f"csv-{digest[:16]}"


def _derived_ids_note(column_map: dict[str, str]) -> str:
    used = [field for field in _IDENTITY_FIELDS if field in column_map]
    fields = ", ".join(used[:-1]) + f" and {used[-1]}" if len(used) > 1 else used[0]
    return (
        f"no id column mapped: each row's id is derived from its {fields}, so the same ticket "
        "exported again keeps its one case (an edited text makes a new one); map id=Column to "
        "use the export's ticket ids"
    )


def _normalise(text: str) -> str:
    # a re-export may differ in case, spacing or line endings but not be another ticket
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def parse_column_map(spec: str | None) -> dict[str, str]:
    """Parse ``team=Group,body=Description`` into {case field: CSV column}."""
    mapping: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        field, sep, column = part.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise InputError(f"bad column map entry {part.strip()!r}: expected field=Column")
        if field not in _CASE_FIELDS:
            raise InputError(
                f"unknown case field {field!r} in column map; known: {sorted(_CASE_FIELDS)}"
            )
        mapping[field] = column
    return mapping


def detect_format(path: Path, declared: str | None = None) -> FileFormat:
    """The declared format, or the one the file suffix implies."""
    name = (declared or path.suffix.lstrip(".")).lower()
    if name in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if name in ("csv", "tsv"):  # the separator is read from the header row
        return "csv"
    raise InputError(f"{path}: cannot tell the format from the name; pass --format jsonl or csv")


class CaseReader:
    """Streams cases from a file; ``skipped`` fills as it goes. Opened eagerly to fail early."""

    def __init__(
        self,
        path: Path,
        fmt: FileFormat = "jsonl",
        label: str | None = None,
        column_map: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.fmt = fmt
        self.label = label
        self.column_map = column_map or {}
        self.skipped: list[Skipped] = []
        self.notes: list[str] = []
        self._delimiter = ","  # a CSV's, from its header row
        self._text: str | None = None  # a CSV's, decoded once
        try:
            self._raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if fmt == "csv":
            self._check_csv_header()
        self._derives_ids = fmt == "csv" and "id" not in self.column_map
        if self._derives_ids:
            self.notes.append(_derived_ids_note(self.column_map))
        self.reads_team = bool(self.label if fmt == "jsonl" else self.column_map.get("team"))
        if not self.reads_team:
            how = "--label" if fmt == "jsonl" else "a team=COLUMN in --map"
            self.notes.append(
                f"no team is read (give {how}): new cases are stored without one, so they serve "
                "search and briefs but teach the router nothing; stored cases keep theirs"
            )

    @property
    def unread(self) -> frozenset[str]:
        """Case fields this reader never sets (the team without a label, an unmapped column, the
        outcome fields no export schema has): an ingest keeps their stored values."""
        read = set(_JSONL_FIELDS) if self.fmt == "jsonl" else {"id", *self.column_map}
        if self.reads_team:
            read |= {"team", "label_source"}  # the label says where the team came from
        return frozenset(_CASE_FIELDS - read)

    def __iter__(self) -> Iterator[Case]:
        rows = self._jsonl_rows() if self.fmt == "jsonl" else self._csv_rows()
        first_line: dict[str, int] = {}  # by derived id: a repeat is the same ticket again
        for line, row in rows:
            try:
                case = Case.model_validate(row)
            except ValidationError as exc:
                renamed = _JSONL_NAMES if self.fmt == "jsonl" else {}
                self._skip(line, "; ".join(_short_error(e, renamed) for e in exc.errors()))
                continue
            if not case.text.strip():
                self._skip(line, "no subject or body")
                continue
            if self._derives_ids and first_line.setdefault(case.id, line) != line:
                self._skip(line, f"duplicate row: same content as line {first_line[case.id]}")
                continue
            yield case

    def _skip(self, line: int, reason: str) -> None:
        self.skipped.append(Skipped(ref=f"line {line}", reason=reason))

    def _jsonl_rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        # a BOM (Notepad, PowerShell) is no part of the first record
        lines = self._raw.removeprefix(codecs.BOM_UTF8).splitlines()
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                self._skip(number, f"not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                self._skip(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            except RecursionError:
                self._skip(number, "invalid JSON: nested deeper than the parser goes")
                continue
            if b"\\u" in raw and (half := lone_surrogate(record)):
                self._skip(number, f"not text: {half} is half of a character (a cut emoji?)")
                continue
            row = self._from_shared_schema(number, record)
            if row is not None:
                yield number, row

    def _from_shared_schema(self, line: int, record: Any) -> dict[str, Any] | None:
        if not isinstance(record, dict):
            self._skip(line, f"expected a JSON object, got {type(record).__name__}")
            return None
        labels = record.get("labels") or {}
        if not isinstance(labels, dict):
            self._skip(line, "'labels' is not an object")
            return None
        try:
            case_id, team = self._names(record, labels)
            tags = tag_names(labels.get("tags"))
        except ValueError as exc:
            self._skip(line, str(exc))
            return None
        row: dict[str, Any] = {
            "id": case_id,
            "subject": record.get("subject") or "",
            "body": record.get("body") or "",
            "requester": digits_as_text(record.get("requester")),
            "account_id": account_id(record.get("account_id", record.get("account"))),
            "language": record.get("language"),
            "resolution": record.get("answer"),
            "label_source": "import",
        }
        if team is not None:
            row["team"] = team
        if tags is not None:
            row["tags"] = tags
        if isinstance(labels.get("priority"), str):
            row["priority"] = labels["priority"]
        return row

    def _names(self, record: dict[str, Any], labels: dict[str, Any]) -> tuple[str, str | None]:
        """A record's id and, with --label, its team; ValueError saying why one is unusable."""
        try:
            case_id = json_name(record.get("id"))
        except ValueError as exc:
            raise ValueError(f"id must be a string or a whole number, got {exc}") from None
        if case_id is None or not case_id.strip():
            raise ValueError("no id")  # a blank id is none, as a blank CSV id cell is
        if not self.label:
            return case_id, None
        try:
            team = (json_name(labels.get(self.label)) or "").strip()  # as a CSV cell is
        except ValueError as exc:
            raise ValueError(f"label {self.label!r} must be a team name, got {exc}") from None
        if not team:
            raise ValueError(f"no label {self.label!r}")
        return case_id, team

    def _csv_text(self) -> str:
        if self._text is None:
            self._text, encoding = decode_csv(self.path, self._raw)
            if encoding == "cp1252":
                self.notes.append(
                    "not UTF-8: read as Windows-1252, as Excel saves 'CSV' on Windows (save as "
                    "'CSV UTF-8' if letters outside Western European ones look wrong)"
                )
            # the csv module refuses a cell over 128 KiB by default: a pasted log is longer
            csv.field_size_limit(max(csv.field_size_limit(), len(self._text)))
        return self._text

    def _check_csv_header(self) -> None:
        text = self._csv_text()
        self._delimiter = csv_delimiter(text)
        if self._delimiter != ",":
            self.notes.append(f"columns are {DELIMITER_NAMES[self._delimiter]}-separated")
        header = next(csv.reader(io.StringIO(text), delimiter=self._delimiter), None)
        if not header:
            raise InputError(f"{self.path}: empty CSV file, no header row")
        missing = [f"{col!r} (for {f})" for f, col in self.column_map.items() if col not in header]
        if missing:
            raise InputError(f"{self.path}: column {', '.join(missing)} not in header {header}")
        if not ({"subject", "body"} & self.column_map.keys()):
            raise InputError(f"{self.path}: map a column to subject or body, e.g. body=Description")

    def _csv_rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        reader = csv.DictReader(io.StringIO(self._csv_text()), delimiter=self._delimiter)
        for record in reader:
            line = reader.line_num  # physical line where the record ends (multi-line cells)
            row: dict[str, Any] = {"label_source": "import"}
            for field, column in self.column_map.items():
                value = (record.get(column) or "").strip()
                if value:
                    row[field] = TAG_SPLIT.split(value) if field == "tags" else value
            if "tags" in row:
                row["tags"] = [tag.strip() for tag in row["tags"] if tag.strip()]
            # a mapped id or team is required, as JSONL requires an id and the --label it names
            missing = next(
                (f for f in ("id", "team") if f in self.column_map and f not in row), None
            )
            if missing:
                self._skip(line, f"no {missing} in column {self.column_map[missing]!r}")
                continue
            if self._derives_ids:
                row["id"] = content_id(row)
            yield line, row


def _short_error(error: Any, renamed: dict[str, str]) -> str:
    where = ".".join(renamed.get(str(part), str(part)) for part in error.get("loc", ())) or "record"
    return f"{where}: {error.get('msg', 'invalid')}"


def read_cases(
    path: Path,
    fmt: str | None = None,
    label: str | None = None,
    column_map: dict[str, str] | None = None,
) -> CaseReader:
    """Open a JSONL or CSV export as a stream of cases."""
    found = detect_format(path, fmt)
    # ignored, the other format's option would leave the cases without the team it names
    if found == "jsonl" and column_map:
        team = column_map.get("team", "FIELD")
        raise InputError(
            f"{path}: --map is for CSV; a JSONL file names its team with --label {team}"
        )
    if found == "csv" and label:
        raise InputError(f"{path}: --label is for JSONL; map a CSV's team with --map team={label}")
    return CaseReader(path, found, label=label, column_map=column_map)
