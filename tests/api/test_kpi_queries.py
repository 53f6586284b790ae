"""The KPIs of a period cost a fixed number of queries, served from indexes, whatever its size:
the service's one summing query, and the per-ticket records the figures are defined on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert

from agent.kpis import compute_kpis, kpi_report
from api.db import Database
from api.ledger import Ledger
from api.tables import DecisionRow, FeedbackRow, TicketRow

NOW = datetime(2026, 12, 1, tzinfo=UTC)
TEAMS = ["service_desk", "database", "network"]
TICKETS = 1_200  # more than one batch of ids of the former reading (500 per query)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'kpis.sqlite'}")
    database.migrate()
    tickets, decisions, feedback = [], [], []
    for i in range(TICKETS):
        ticket_id, team = f"T{i}", TEAMS[i % 3]
        created = NOW - timedelta(hours=i)
        tickets.append(
            {
                "id": ticket_id,
                "payload_hash": "0" * 64,
                "payload": {"subject": "s", "body": "b"},
                "channel": "api",
                "status": "resolved" if i % 2 else "decided",
                "created_at": created,
                "sla_events": [],
            }
        )
        for review in [True, False] if i % 5 == 0 else [False]:
            decisions.append(
                {
                    "ticket_id": ticket_id,
                    "decision": {"team": team, "evidence": [{"text": "x" * 500}]},
                    "team": team if not review else "service_desk",
                    "escalate": team != "service_desk",
                    "needs_review": review,
                    "decided_by": "llm",
                    "actor": "agent",
                    "policy_version": "1",
                    "decided_at": created + timedelta(minutes=5),
                }
            )
        if i % 2:
            answer = {"final_team": TEAMS[i % 7 % 3], "first_contact_resolved": i % 3 == 0}
            feedback.append(
                {
                    "ticket_id": ticket_id,
                    "author_key": "k",
                    "feedback": answer,
                    "created_at": created + timedelta(hours=i % 40),
                }
            )
    with database.session() as session:
        for table, rows in (
            (TicketRow, tickets),
            (DecisionRow, decisions),
            (FeedbackRow, feedback),
        ):
            session.execute(insert(table), rows)
    yield database
    database.close()


def _statements(db: Database) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    return seen


def test_kpis_of_any_period_take_three_queries_and_no_decision_json(db: Database) -> None:
    seen = _statements(db)
    ledger = Ledger(db)
    records = ledger.outcomes("service_desk", NOW - timedelta(days=60), NOW + timedelta(hours=1))
    assert len(records) == TICKETS
    assert len(seen) == 3  # tickets, their decisions, their feedback
    assert not any("decisions.decision" in statement for statement, _ in seen)
    report = compute_kpis(records)
    assert report.n == TICKETS
    assert report.review_rate == pytest.approx(0.2)


def test_kpi_queries_read_the_period_from_covering_indexes(db: Database) -> None:
    seen = _statements(db)
    Ledger(db).outcomes("service_desk", NOW - timedelta(days=7), NOW)
    plans = []
    with db.engine.connect() as conn:
        for statement, parameters in list(seen):  # (these EXPLAINs are seen too)
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            plans.append([row[-1] for row in rows])
    steps = [step for plan in plans for step in plan]
    # the period's decided tickets from the index alone, never each one's row to read its date
    tickets = [s for s in steps if s.startswith(("SEARCH tickets", "SCAN tickets"))]
    assert tickets and all("COVERING INDEX ix_tickets_status_created_at" in s for s in tickets)
    decisions = [s for s in steps if s.startswith(("SEARCH decisions", "SCAN decisions"))]
    assert decisions and all("COVERING INDEX ix_decisions_kpi" in s for s in decisions)


def test_the_service_sums_the_kpis_of_a_period_in_one_query(db: Database) -> None:
    seen = _statements(db)
    per_team = Ledger(db).kpi_counts(
        "service_desk", NOW - timedelta(days=60), NOW + timedelta(hours=1)
    )
    assert len(seen) == 1
    assert not any("decisions.decision" in statement for statement, _ in seen)
    report = kpi_report(per_team)
    assert report.n == TICKETS
    assert report.review_rate == pytest.approx(0.2)
    assert set(report.per_team) == set(TEAMS)


def test_the_summing_query_reads_the_period_from_covering_indexes(db: Database) -> None:
    seen = _statements(db)
    Ledger(db).kpi_counts("service_desk", NOW - timedelta(days=7), NOW)
    ((statement, parameters),) = seen
    with db.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    steps = [row[-1] for row in plan]
    tickets = [s for s in steps if s.startswith(("SEARCH tickets", "SCAN tickets"))]
    assert len(tickets) == 2  # the period's decisions, then its feedback
    assert all("COVERING INDEX ix_tickets_status_created_at" in s for s in tickets), steps
    decisions = [s for s in steps if s.startswith(("SEARCH decisions", "SCAN decisions"))]
    assert decisions and all("COVERING INDEX ix_decisions_kpi" in s for s in decisions), steps
    feedback = [s for s in steps if s.startswith(("SEARCH feedback", "SCAN feedback"))]
    assert feedback and all("ix_feedback_ticket_id" in s for s in feedback), steps
