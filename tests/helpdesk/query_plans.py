"""SQLite's plans of the statements a call runs, read with EXPLAIN QUERY PLAN (a module of its
own: the plan tests of several files import it by name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from api.db import Database


def plans(db: Database, call: Callable[[], Any]) -> list[str]:
    """The plan lines of every statement ``call`` runs."""
    ran: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    lines: list[str] = []
    with db.engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for statement, parameters in ran:
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
                cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                lines += [str(row[3]) for row in cursor.fetchall()]
    assert lines, "no query ran"
    return lines
