"""The KPIs the database sums up are the KPIs of the per-ticket records, on random stored histories.

The reference is agent.kpis.compute_kpis over Ledger.outcomes (one record per ticket, merged in
Python); the service answers from Ledger.kpi_counts (the same figures summed in SQL). Both read
the same database: tickets in every status, reviews, reviewers' decisions, several feedback
records per ticket that give or leave out each field, older feedback without 'escalated', a
first line renamed since, feedback stored before the decision, times to the microsecond.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from agent.kpis import compute_kpis, kpi_report
from api.db import Database
from api.ledger import Ledger
from api.tables import DecisionRow, FeedbackRow, TicketRow

START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 60
FIRST_LINE = "service_desk"
# it_helpdesk: the first line under a former policy; hardware: a team dropped since
TEAMS = ["service_desk", "database", "network", "platform_sre", "hardware", "it_helpdesk"]
STATUSES = ["decided"] * 4 + ["resolved"] * 5 + ["review", "deciding", "queued", "failed"]
MISSING = object()
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _maybe(rng: random.Random, value: Any, *, none: float = 0.2, missing: float = 0.2) -> Any:
    roll = rng.random()
    return None if roll < none else MISSING if roll < none + missing else value


def _time(rng: random.Random, base: datetime, max_hours: float) -> datetime:
    micro = rng.choice([0, 999_999, rng.randrange(1_000_000)])
    return base + timedelta(seconds=rng.randrange(int(max_hours * 3600)), microseconds=micro)


def _history(rng: random.Random, tickets: int) -> dict[type, list[dict[str, Any]]]:
    """Tickets, their decisions and feedback; decisions and feedback stored in the order made."""
    rows: dict[type, list[dict[str, Any]]] = {TicketRow: [], DecisionRow: [], FeedbackRow: []}
    decisions, feedback = [], []
    for i in range(tickets):
        ticket_id, created = f"T{i:05d}", _time(rng, START, DAYS * 24)
        status = rng.choice(STATUSES)
        rows[TicketRow].append(
            {
                "id": ticket_id,
                "payload_hash": "0" * 64,
                "payload": {"subject": "s", "body": "b"},
                "channel": "api",
                "status": status,
                "created_at": created,
                "sla_events": [],
            }
        )
        made = 0 if status == "queued" or rng.random() < 0.03 else rng.choice([1, 1, 1, 2, 3])
        decided = created
        for k in range(made):
            decided = _time(rng, decided, 3)
            last = k == made - 1
            review = status in ("review", "deciding") if last else rng.random() < 0.8
            team = rng.choice(TEAMS)
            decisions.append(
                {
                    "ticket_id": ticket_id,
                    "decision": {"team": team, "evidence": [{"text": "x" * 200}]},
                    "team": team,
                    "escalate": team not in ("service_desk", "it_helpdesk"),
                    "needs_review": review or rng.random() < 0.05,
                    "decided_by": "llm",
                    "actor": "agent",
                    "policy_version": "1",
                    "decided_at": decided,
                }
            )
        for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 3]) if made else 0):
            answer = {
                "final_team": _maybe(rng, rng.choice([*TEAMS, ""]), none=0.1, missing=0.1),
                "escalated": _maybe(rng, rng.random() < 0.6),
                "first_contact_resolved": _maybe(rng, rng.random() < 0.6),
                "handling_hours": _maybe(
                    rng, rng.choice([0, 2, 30, round(rng.uniform(0, 200), rng.randrange(6))])
                ),
                "reopened": rng.random() < 0.2,
                "resolution": "y" * rng.randrange(300),
            }
            # feedback is sometimes stored before the decision it answers (a clock apart)
            given = _time(rng, decided - timedelta(hours=10), 150)
            feedback.append(
                {
                    "ticket_id": ticket_id,
                    "author_key": "k",
                    "feedback": {k: v for k, v in answer.items() if v is not MISSING},
                    "created_at": given,
                    "stored": _time(rng, decided, 150),  # not in the order of created_at
                }
            )
    rows[DecisionRow] = sorted(decisions, key=lambda d: d["decided_at"])
    feedback.sort(key=lambda f: f["stored"])
    rows[FeedbackRow] = [{k: v for k, v in f.items() if k != "stored"} for f in feedback]
    return rows


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    url = (
        request.getfixturevalue("pg_url")
        if request.param == "postgres"
        else f"sqlite:///{tmp_path / 'kpis.sqlite'}"
    )
    database = Database(url)
    database.migrate()
    with database.session() as session:
        for table, rows in _history(random.Random(20261207), 700).items():
            session.execute(insert(table), rows)
    yield Ledger(database)
    database.close()


def _same(got: Any, expected: Any, path: str = "") -> None:
    """Equal, the average hours to 12 digits (a sum in another order)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), path
        for key in expected:
            _same(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, float) and isinstance(got, float):
        assert math.isclose(got, expected, rel_tol=1e-12), (path, got, expected)
    else:
        assert got == expected, (path, got, expected)


def _windows(ledger: Ledger) -> list[tuple[datetime | None, datetime | None]]:
    with ledger.db.session() as session:
        received = list(session.scalars(select(TicketRow.created_at)))
    edge = sorted(received)[len(received) // 2]
    plus2 = timezone(timedelta(hours=2))
    return [
        (None, None),
        (START + timedelta(days=10), None),
        (None, START + timedelta(days=20)),
        (START + timedelta(days=7), START + timedelta(days=37)),
        (edge, edge + timedelta(days=3)),  # from is inclusive
        (edge - timedelta(days=3), edge),  # to is exclusive
        (edge, edge + timedelta(microseconds=1)),  # one ticket (or those received with it)
        ((START + timedelta(days=5)).astimezone(plus2), START + timedelta(days=6)),
        (START + timedelta(days=DAYS + 1), None),  # nothing received since
        (START + timedelta(days=3), START + timedelta(days=3, seconds=1)),  # likely empty
        (START - timedelta(days=9), START),  # empty
    ]


def test_kpis_summed_in_the_database_match_the_per_ticket_records(ledger: Ledger) -> None:
    for start, end in _windows(ledger):
        records = ledger.outcomes(FIRST_LINE, start, end)
        counts = ledger.kpi_counts(FIRST_LINE, start, end)
        assert set(counts) == {r.team for r in records}
        for team in (None, "database", FIRST_LINE, "it_helpdesk", "billing"):
            expected = compute_kpis(records, team=team).model_dump()
            got = kpi_report(counts, team=team).model_dump()
            _same(got, expected, f"{start}..{end} team={team}")


def test_the_random_history_has_the_cases_the_kpis_must_handle(ledger: Ledger) -> None:
    """Not a vacuous comparison: every branch of the per-ticket record occurs in the data."""
    records = ledger.outcomes(FIRST_LINE)
    report = compute_kpis(records)
    assert 300 < report.n < 700
    assert report.escalated and report.escalated < report.n
    for field in ("escalation_accuracy_rate", "first_contact_resolution_rate", "review_rate"):
        assert 0 < getattr(report, field) < 1, field
    assert any(r.first_route is None for r in records)  # no feedback
    assert any(r.first_route and r.first_route != r.team for r in records)  # corrected
    derived = [r for r in records if r.handling_hours is None and r.resolved_at]
    assert any(r.hours is not None for r in derived)  # from decision to resolution
    assert any(r.hours is None for r in derived)  # resolved before the decision: not counted
    assert {"it_helpdesk", "hardware", FIRST_LINE} <= set(report.per_team)
