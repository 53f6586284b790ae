"""Labelled ticket files (JSONL, the shared dataset schema): read, split, and convert.

TEST rows become `Ticket`s without their label; TRAIN rows become resolved past `Case`s.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.errors import InputError, first_problem
from agent.language import detect_language
from agent.models import Account, PriorTicket, Ticket
from knowledge.cases import Case
from knowledge.export_values import lone_surrogate
from knowledge.ingest import account_id

# Line ends of a JSONL file, as bytes.splitlines (and kb ingest) reads them: str.splitlines would
# also cut at U+2028, U+2029 or NEL, which JSON allows unescaped inside a ticket's text.
LINE_END = re.compile(r"\r\n|\r|\n")
JSONL = " (one JSON object per line: JSONL)"
# What a ticket id may not hold (it names the ticket in URLs; no control character); a dataset's
# id may.
UNSAFE_IN_TICKET_ID = re.compile(r"[\s/?#%\\\x00-\x1f\x7f]")
# Ticket fields are bounded; longer texts are cut here so one odd row cannot fail a whole run.
MAX_SUBJECT = 2_000
MAX_BODY = 200_000


class NotText(ValueError):
    """A JSONL line whose JSON holds a string that is no text."""


class Row(BaseModel):
    """One line of a dataset file."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    subject: str | None = ""
    body: str | None = ""
    requester: str | None = None
    account: str | None = Field(
        default=None,
        validation_alias=AliasChoices("account", "account_id"),
        description="The account's id: an id, or an account object with an id",
    )
    account_tier: str | None = Field(default=None, description="An account object's tier")
    account_region: str | None = Field(default=None, description="An account object's region")
    language: str | None = None
    labels: dict[str, Any] = Field(default_factory=dict)
    answer: str | None = None
    _line: str | None = PrivateAttr(default=None)  # the JSON line it was read from

    @classmethod
    def from_line(cls, line: str) -> Row:
        """A row from one JSONL line, which it keeps to be written again as it was."""
        data = json.loads(line)
        # JSON decodes a lone '\\ud83d' escape (an emoji cut in two) to half a character, which
        # no ticket or case can hold: said here, as kb ingest does, not when it is routed
        half = lone_surrogate(data) if "\\u" in line else None
        if half:
            raise NotText(f"not text: {half} is half of a character (a cut emoji?)")
        row = cls.model_validate(data)
        row._line = line
        return row

    def as_read(self) -> str:
        """The row's JSON as read, every key kept; a row built in code: its fields as set."""
        return self._line if self._line is not None else self.model_dump_json(exclude_unset=True)

    @model_validator(mode="before")
    @classmethod
    def _account_profile(cls, data: Any) -> Any:
        # an account object gives its tier and region too; ``account`` keeps only the id
        account = data.get("account", data.get("account_id")) if isinstance(data, dict) else None
        if isinstance(account, dict):
            profile = {"account_tier": account.get("tier"), "account_region": account.get("region")}
            data = data | profile
        return data

    @field_validator("id", "requester", mode="before")
    @classmethod
    def _whole_number_as_text(cls, value: Any) -> Any:
        # an export's numeric ticket or user id, as kb ingest reads it (102.0 is ticket 102)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("account", mode="before")
    @classmethod
    def _account_id(cls, value: Any) -> Any:
        return account_id(value)

    @field_validator("account_tier", "account_region", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # a tier may be numbered
        return None if value == "" else value

    def label(self, key: str) -> str | None:
        """The label value as text (stripped, as kb ingest reads it), or None when the row has
        none. A value that names nothing (a list, an object, true, 1.5) is an InputError."""
        value = self.labels.get(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a float column's 3.0 is team 3
        if isinstance(value, bool) or not isinstance(value, str | int | None):
            raise InputError(
                f"ticket {self.id!r}: label {key!r} must be text or a whole number, "
                f"got {_kind(value)}"
            )
        text = "" if value is None else str(value).strip()
        return text or None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else json.dumps(value)


def read_rows(path: Path | str) -> list[Row]:
    """Read a JSONL file; errors read ``FILE:LINE: reason``."""
    path = Path(path)
    try:
        # utf-8-sig: a BOM (Notepad, PowerShell) is no part of the first row, as in kb ingest
        lines = LINE_END.split(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text: {exc.reason}") from None
    rows: list[Row] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = Row.from_line(line)
        except json.JSONDecodeError as exc:
            # on the first row: most likely no JSONL at all (a CSV, an indented JSON document)
            hint = JSONL if not rows else ""
            raise InputError(f"{path}:{number}: not valid JSON: {exc.msg}{hint}") from None
        except ValidationError as exc:
            raise InputError(f"{path}:{number}: {_row_problem(exc)}") from None
        except RecursionError:
            message = "not valid JSON: nested deeper than the parser goes"
            raise InputError(f"{path}:{number}: {message}") from None
        except NotText as exc:
            raise InputError(f"{path}:{number}: {exc}") from None
        if not ((row.subject or "").strip() or (row.body or "").strip()):
            raise InputError(f"{path}:{number}: a ticket needs a subject or a body")
        if row.id in seen:
            raise InputError(f"{path}:{number}: duplicate id {row.id!r}")
        seen.add(row.id)
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no tickets")
    return rows


def _row_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    if not first["loc"]:  # the line is JSON, but no object: a list of rows, a string
        return f"a row must be a JSON object, got {_kind(first['input'])}{JSONL}"
    return first_problem(exc, "row")


def require_label(rows: Sequence[Row], key: str, source: str) -> None:
    """Every row must carry the label; the error names the first one that does not."""
    for index, row in enumerate(rows):
        try:
            value = row.label(key)
        except InputError as exc:
            raise InputError(f"{source}: {exc} (row {index + 1})") from None
        if value is None:
            known = sorted({k for r in rows[:1000] for k in r.labels})
            raise InputError(
                f"{source}: ticket {row.id!r} (row {index + 1}) has no label {key!r}; "
                f"labels found: {', '.join(known) or 'none'}"
            )


def _by_label(rows: Iterable[Row], key: str | None) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row.label(key) if key else None) or ""].append(row)
    return dict(sorted(groups.items()))


def stratified_split(
    rows: Sequence[Row], key: str, test_share: float, seed: int
) -> tuple[list[Row], list[Row]]:
    """Split rows into disjoint (train, test), each label in about the same share."""
    if not 0 < test_share < 1:
        raise InputError(f"test share must be between 0 and 1, not {test_share}")
    rng = random.Random(seed)
    train: list[Row] = []
    test: list[Row] = []
    for group in _by_label(rows, key).values():
        shuffled = list(group)
        rng.shuffle(shuffled)
        cut = round(len(shuffled) * test_share)
        test += shuffled[:cut]
        train += shuffled[cut:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def sample(rows: Sequence[Row], n: int, seed: int, key: str | None = None) -> list[Row]:
    """At most n rows, drawn with a fixed seed, stratified by label when a key is given."""
    if n >= len(rows):
        return list(rows)
    rng = random.Random(seed)
    groups = _by_label(rows, key)
    # Largest-remainder allocation keeps every label's share, rare labels included where possible.
    quotas = {k: len(g) * n / len(rows) for k, g in groups.items()}
    counts = {k: int(q) for k, q in quotas.items()}
    for k in sorted(quotas, key=lambda k: counts[k] - quotas[k])[: n - sum(counts.values())]:
        counts[k] += 1
    picked: list[Row] = []
    for k, group in groups.items():
        picked += rng.sample(group, counts[k])
    rng.shuffle(picked)
    return picked


def disjoint_sample(
    rows: Sequence[Row], key: str, n_train: int, n_test: int, seed: int
) -> tuple[list[Row], list[Row]]:
    """Disjoint TRAIN and TEST samples of at most n_train and n_test rows, stratified."""
    if len(rows) < 2:
        raise InputError("need at least two tickets to draw disjoint TRAIN and TEST samples")
    # Per-label rounding may lose up to one row per label; a little more keeps TEST at n_test.
    share = min(0.5, (max(n_test, 1) + len(_by_label(rows, key))) / len(rows))
    train, test = stratified_split(rows, key, share, seed)
    return sample(train, n_train, seed, key), sample(test, n_test, seed, key)


def to_ticket(row: Row, history: Sequence[PriorTicket] = ()) -> Ticket:
    """A TEST row as a new ticket: text, requester, account and language, never its labels.

    Where the row names no language it is detected, as the intake does for a channel that does
    not say, so the eval reports per language what the service would see.
    """
    subject, body = (row.subject or "")[:MAX_SUBJECT], (row.body or "")[:MAX_BODY]
    # an export's 'INC/2024/003' is routed as 'INC_2024_003', the id it was given kept beside it
    # (the outcome reports the row's id), as the intake keeps a source's id
    safe_id = UNSAFE_IN_TICKET_ID.sub("_", row.id)
    return Ticket(
        id=safe_id,
        # a NUL, which no database column holds, as a decoder's replacement character
        external_id=row.id.replace("\x00", "\ufffd") if safe_id != row.id else None,
        channel="helpdesk",
        subject=subject,
        body=body,
        requester=row.requester,
        account=_account(row),
        language=row.language or detect_language(f"{subject}\n{body}"),
        history=list(history),
    )


def _account(row: Row) -> Account:
    """The row's account: its id, and an account object's tier and region where it gives them."""
    given = {"id": row.account, "tier": row.account_tier, "region": row.account_region}
    return Account.model_validate({key: value for key, value in given.items() if value})


def as_history(row: Row) -> PriorTicket:
    """An earlier TEST row as history by its text alone (no team, no resolution)."""
    return PriorTicket(id=row.id, subject=row.subject or "", body=row.body or "")


def to_case(row: Row, label: str, priority_label: str | None = None) -> Case:
    """A TRAIN row as a resolved past case: label as team, answer as resolution."""
    return Case(
        id=row.id,
        subject=row.subject or "",
        body=row.body or "",
        team=row.label(label),
        priority=row.label(priority_label) if priority_label else None,
        language=row.language,
        requester=row.requester,
        account_id=row.account,
        resolution=row.answer,
        label_source="import",
    )
