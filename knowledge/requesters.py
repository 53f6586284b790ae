"""Which cases each requester (and each account) opened, newest first: a SQLite index beside
embedded Chroma.

Chroma answers "the requester's cases" with a metadata filter that loads every matching record,
documents included, before we can sort them by date: ~1 ms for most requesters but 25 ms for one
with 480 cases, and it grows with the knowledge base. This index answers the same question with
one indexed query, and the store then fetches only the newest few cases by id.

The index is written before the collection, so after a crash between the two it may name a case
Chroma does not hold (the store skips it) but never misses one Chroma holds; a differing row
count when the store opens rebuilds it from the collection's metadata.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

from knowledge.cases import Case

Row = tuple[str, str | None, str | None, float | None]
OwnerField = Literal["requester", "account_id"]  # case fields earlier cases are looked up by
_COLUMNS = "(id, requester, account_id, created)"  # named as the case's fields
log = logging.getLogger(__name__)


def index_row(case: Case) -> Row:
    """(id, requester, account, created timestamp) of a case."""
    created = case.created_at.timestamp() if isinstance(case.created_at, datetime) else None
    return case.id, case.requester, case.account_id, created


class RequesterIndex:
    """Case ids by requester or account and creation time, in one SQLite file (safe across
    processes). ``stale`` says the file predates a column, or was unreadable and started afresh:
    the store must rebuild it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            # it holds nothing the collection does not: start afresh and let the store refill it
            log.warning("requester index %s is unreadable (%s): rebuilding it", path, exc)
            self._conn.close()
            for spoilt in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                spoilt.unlink(missing_ok=True)
            self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            self._prepare()
            self.stale = True

    def _prepare(self) -> None:
        """Create (or bring up to date) the table and its indexes."""
        with self._lock, self._conn:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS cases ("
                "id TEXT PRIMARY KEY, requester TEXT, created REAL)"
            )
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(cases)")}
            self.stale = "account_id" not in columns  # written before accounts counted
            if self.stale:
                self._conn.execute("ALTER TABLE cases ADD COLUMN account_id TEXT")
            self._conn.execute(
                "CREATE INDEX IF NOT EXISTS cases_by_requester ON cases (requester, created)"
            )
            self._conn.execute(
                "CREATE INDEX IF NOT EXISTS cases_by_account ON cases (account_id, created)"
            )

    def count(self) -> int:
        """Number of cases indexed."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM cases").fetchone()[0])

    def put(self, rows: Iterable[Row]) -> None:
        """Insert or replace cases by id (a replaced case may have a new requester or date)."""
        with self._lock, self._conn:
            self._conn.executemany(
                f"INSERT OR REPLACE INTO cases {_COLUMNS} VALUES (?, ?, ?, ?)", rows
            )

    def delete(self, case_ids: Sequence[str]) -> None:
        """Forget cases by id."""
        with self._lock, self._conn:
            self._conn.executemany("DELETE FROM cases WHERE id = ?", [(i,) for i in case_ids])

    def rebuild(self, rows: Iterable[Row]) -> None:
        """Replace the whole index in one transaction."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM cases")
            self._conn.executemany(
                f"INSERT OR REPLACE INTO cases {_COLUMNS} VALUES (?, ?, ?, ?)", rows
            )
        self.stale = False

    def newest(self, field: OwnerField, value: str, limit: int) -> list[str]:
        """Ids of the cases whose ``field`` (requester or account) is ``value``, newest first;
        undated ones last."""
        with self._lock:
            found = self._conn.execute(
                f"SELECT id FROM cases WHERE {field} = ? "  # a column name, never user input
                "ORDER BY created IS NULL, created DESC, rowid LIMIT ?",
                (value, limit),
            ).fetchall()
        return [row[0] for row in found]

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
