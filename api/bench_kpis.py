"""KPI benchmark: GET /v1/kpis's work for 7 days, 30 days and a year of a year's tickets, summed by
the database (Ledger.kpi_counts, what the service runs) and built as one record per ticket
(Ledger.outcomes + compute_kpis, the definition), with whether the two reports agree.

    .venv/bin/python -m api.bench_kpis [--tickets 200000] [--repeat 3] [--url URL]

Without --url the year is seeded into a fresh SQLite file in a temporary directory; a URL (e.g.
PostgreSQL with ?options=-csearch_path%3Dbench) must point at an empty database or schema.
Seeded: --tickets over 365 days, one decision each (4 % first held for review, then a reviewer's
decision), feedback on 75 % (one in ten answered twice, some without hours). Best of --repeat.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from agent.kpis import KPIReport, compute_kpis, kpi_report
from api.db import Database
from api.ledger import Ledger
from api.tables import Base, DecisionRow, FeedbackRow, TicketRow

END = datetime(2026, 12, 1, tzinfo=UTC)
FIRST_LINE = "service_desk"
TEAMS = [FIRST_LINE] * 4 + ["database", "network", "platform_sre", "hardware", "identity"]
CHUNK = 5_000


def seed(db: Database, tickets: int, rng: random.Random) -> dict[str, int]:
    """A year of decided tickets with their decisions and feedback; the rows written."""
    written = {"tickets": 0, "decisions": 0, "feedback": 0}
    rows: dict[type[Base], list[dict[str, Any]]] = {TicketRow: [], DecisionRow: [], FeedbackRow: []}
    for i in range(tickets):
        created = END - timedelta(seconds=rng.randrange(365 * 86400), microseconds=i % 997)
        team = rng.choice(TEAMS)
        answered = rng.random() < 0.75
        rows[TicketRow].append(
            {
                "id": f"B{i:07d}",
                "payload_hash": "0" * 64,
                "payload": {"subject": "subject", "body": "body " * 40},
                "channel": "api",
                "status": "resolved" if answered else rng.choice(["decided", "review"]),
                "created_at": created,
                "sla_events": [],
            }
        )
        held = rng.random() < 0.04
        for review in (True, False) if held else (False,):
            rows[DecisionRow].append(
                {
                    "ticket_id": f"B{i:07d}",
                    "decision": {"team": team, "evidence": [{"text": "evidence " * 60}]},
                    "team": rng.choice(TEAMS) if review else team,
                    "escalate": team != FIRST_LINE,
                    "needs_review": review,
                    "decided_by": "llm",
                    "actor": "agent",
                    "policy_version": "1",
                    "decided_at": created + timedelta(minutes=rng.randrange(1, 90)),
                }
            )
        for again in range(rng.choice([1, 1, 1, 1, 1, 1, 1, 1, 1, 2]) if answered else 0):
            final = team if rng.random() < 0.85 else rng.choice(TEAMS)
            hours = round(rng.expovariate(1 / 12), 2) if rng.random() < 0.6 else None
            rows[FeedbackRow].append(
                {
                    "ticket_id": f"B{i:07d}",
                    "author_key": "k",
                    "feedback": {
                        "team_correct": final == team,
                        "final_team": final,
                        "escalated": final != FIRST_LINE,
                        "first_contact_resolved": rng.random() < 0.7 if final != team else None,
                        "handling_hours": hours,
                        "resolution": "resolution " * 20,
                        "author": "specialist",
                    },
                    "created_at": created + timedelta(hours=rng.uniform(1, 72) + again),
                }
            )
        if len(rows[TicketRow]) >= CHUNK or i == tickets - 1:
            with db.session() as session:
                for table, chunk in rows.items():
                    if chunk:
                        session.execute(insert(table), chunk)
            for table, chunk in rows.items():
                written[table.__tablename__] += len(chunk)
            rows = {TicketRow: [], DecisionRow: [], FeedbackRow: []}
    return written


def best_of(repeat: int, run: Callable[[], KPIReport]) -> tuple[float, float, KPIReport]:
    """The fastest of ``repeat`` runs: seconds of wall time and of this process's CPU (SQLite's
    work included; a database server's not), and its report."""
    walls, cpus, report = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        report = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    assert report is not None
    return min(walls), min(cpus), report


def _per_ticket(ledger: Ledger, start: datetime) -> KPIReport:
    return compute_kpis(ledger.outcomes(FIRST_LINE, start, END))


def _summed(ledger: Ledger, start: datetime) -> KPIReport:
    return kpi_report(ledger.kpi_counts(FIRST_LINE, start, END))


def differences(got: Any, expected: Any, path: str = "") -> list[str]:
    """Where two report dumps differ (floats beyond 12 digits)."""
    if isinstance(expected, dict):
        keys = set(got) | set(expected)
        return [d for k in sorted(keys) for d in differences(got.get(k), expected.get(k), k)]
    if isinstance(expected, float) and isinstance(got, float):
        return [] if math.isclose(got, expected, rel_tol=1e-12) else [f"{path}: {got}"]
    return [] if got == expected else [f"{path}: {got!r} != {expected!r}"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", help="an empty database (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.url or f"sqlite:///{Path(tmp) / 'kpis.sqlite'}")
        db.migrate()
        started = time.perf_counter()
        written = seed(db, args.tickets, random.Random(7))
        print(
            f"seeded {written} in {time.perf_counter() - started:.0f} s",
            f"({db.engine.url.drivername})",
        )
        ledger = Ledger(db)
        for days in (7, 30, 365):
            start = END - timedelta(days=days)
            records, records_cpu, report = best_of(args.repeat, partial(_per_ticket, ledger, start))
            summed, summed_cpu, answer = best_of(args.repeat, partial(_summed, ledger, start))
            diff = differences(answer.model_dump(), report.model_dump())
            print(
                f"{days:>3} days, {report.n:>6} tickets: per-ticket records {records:.3f} s "
                f"(CPU {records_cpu:.3f} s), summed in the database {summed:.3f} s "
                f"(CPU {summed_cpu:.3f} s); "
                + ("same report" if not diff else f"DIFFERENT: {diff[:5]}")
            )
        db.close()


if __name__ == "__main__":
    main()
