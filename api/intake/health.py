"""Per-source health: last success, error rate, queue depth, oldest waiting ticket, failing.

Counters live in the database (intake_sources) so API and worker processes add to the same
figures; depth and age come from the tickets still to triage: queued, being triaged, or failed
and waiting for a retry. A dead-lettered ticket waits for a person, not a worker (it is counted
as a dead letter); a discarded one waits for nobody. Exposed in /readyz (a source
that keeps failing is reported there) and as labelled gauges in /metrics.

Receipts and successes, two of a ticket's dozen writes, are added up in memory and written at
most FLUSH_S later (and before every snapshot and failure): under a spike every write waits for
SQLite's one writer, an urgent ticket's too. A failure is written at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from api.db import Database
from api.intake.models import SOURCES
from api.intake.tables import DeadLetterRow, IntakeTicketRow, SourceStatsRow
from api.schemas import UNFINISHED_STATUSES
from api.tables import TicketRow, utcnow

FLUSH_S = 1.0  # longest a counted receipt or success waits before it is written


class SourceState(BaseModel):
    """One source's health."""

    source: str
    received: int
    rejected: int
    succeeded: int
    failed: int
    error_rate: float
    consecutive_failures: int
    failing: bool
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    queue_depth: int
    oldest_age_s: float | None


class SourceHealth:
    """Records outcomes per source and reports them."""

    def __init__(self, db: Database, failing_after: int = 5) -> None:
        self.db = db
        self.failing_after = failing_after
        self.flush_s = FLUSH_S
        self._lock = threading.Lock()
        self._pending: dict[str, Counter[str]] = {}
        self._last_success: dict[str, datetime] = {}
        self._timer: threading.Timer | None = None
        for source in SOURCES:
            try:
                with self.db.session() as session:
                    if session.get(SourceStatsRow, source) is None:
                        session.add(
                            SourceStatsRow(
                                source=source,
                                received=0,
                                rejected=0,
                                succeeded=0,
                                failed=0,
                                consecutive_failures=0,
                            )
                        )
            except IntegrityError:
                continue  # another process created it first

    def _bump(self, source: str, **values: object) -> None:
        with self.db.session() as session:
            session.execute(
                update(SourceStatsRow).where(SourceStatsRow.source == source).values(values)
            )

    def _count(self, source: str, counter: str) -> None:
        """Add one to a counter in memory; a timer writes what piled up within flush_s."""
        with self._lock:
            self._pending.setdefault(source, Counter())[counter] += 1
            if counter == "succeeded":
                self._last_success[source] = utcnow()
            if self._timer is None:
                self._timer = threading.Timer(self.flush_s, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Write the counts kept in memory (a success also ends a run of failures)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            last_success, self._last_success = self._last_success, {}
            self._timer = None
        for source, counts in pending.items():
            values: dict[str, object] = {
                name: getattr(SourceStatsRow, name) + n for name, n in counts.items()
            }
            if source in last_success:
                values.update(consecutive_failures=0, last_success_at=last_success[source])
            try:
                self._bump(source, **values)
            except Exception:
                with self._lock:  # kept for the next flush, not lost
                    again = self._pending.setdefault(source, Counter())
                    again.update(counts)
                    if source in last_success:
                        self._last_success.setdefault(source, last_success[source])
                raise

    def close(self) -> None:
        """Stop the timer and write what is pending."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.flush()

    def received(self, source: str) -> None:
        """A payload was queued."""
        self._count(source, "received")

    def rejected(self, source: str) -> None:
        """A payload was rejected or quarantined at the door."""
        self._bump(source, rejected=SourceStatsRow.rejected + 1)

    def success(self, source: str) -> None:
        """A ticket of the source was decided."""
        self._count(source, "succeeded")

    def failure(self, source: str, error: str) -> None:
        """A triage attempt of the source failed (written at once, after the counted successes)."""
        self.flush()
        self._bump(
            source,
            failed=SourceStatsRow.failed + 1,
            last_failure_at=utcnow(),
            consecutive_failures=SourceStatsRow.consecutive_failures + 1,
            last_error=error[:2000],
        )

    def snapshot(self) -> list[SourceState]:
        """Every source's health now."""
        self.flush()
        now = utcnow()
        with self.db.session() as session:
            rows = session.scalars(select(SourceStatsRow).order_by(SourceStatsRow.source)).all()
            waiting = session.execute(
                select(IntakeTicketRow.source, func.count(), func.min(IntakeTicketRow.received_at))
                .join(TicketRow, TicketRow.id == IntakeTicketRow.ticket_id)
                .where(_waiting())
                .group_by(IntakeTicketRow.source)
            ).all()
        depth = {r[0]: (int(r[1]), r[2]) for r in waiting}
        states = []
        for row in rows:
            count, oldest = depth.get(row.source, (0, None))
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=now.tzinfo)
            done = row.succeeded + row.failed
            states.append(
                SourceState(
                    source=row.source,
                    received=row.received,
                    rejected=row.rejected,
                    succeeded=row.succeeded,
                    failed=row.failed,
                    error_rate=round(row.failed / done, 4) if done else 0.0,
                    consecutive_failures=row.consecutive_failures,
                    failing=row.consecutive_failures >= self.failing_after,
                    last_success_at=row.last_success_at,
                    last_failure_at=row.last_failure_at,
                    last_error=row.last_error,
                    queue_depth=count,
                    oldest_age_s=(now - oldest).total_seconds() if oldest else None,
                )
            )
        return states


def _waiting() -> ColumnElement[bool]:
    """Tickets a worker will still take: queued, in progress, or failed with a retry due."""
    out_of_the_queue = exists().where(
        DeadLetterRow.ticket_id == TicketRow.id,
        DeadLetterRow.state.in_(("open", "discarded")),
    )
    return or_(
        TicketRow.status.in_(UNFINISHED_STATUSES),
        and_(TicketRow.status == "failed", ~out_of_the_queue),
    )


class SourceCollector(Collector):
    """Reads SourceHealth at scrape time as ``triage_intake_*{source=...}`` gauges."""

    def __init__(self, health: SourceHealth) -> None:
        self.health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            "queue_depth": "Tickets of the source waiting for triage",
            "oldest_age_seconds": "Age of the oldest waiting ticket of the source",
            "error_rate": "Failed share of triage attempts of the source",
            "last_success_timestamp": "Unix time of the source's last decided ticket",
            "failing": "1 when the source keeps failing",
        }
        made = {
            k: GaugeMetricFamily(f"triage_intake_{k}", h, labels=["source"])
            for k, h in families.items()
        }
        for state in self.health.snapshot():
            label = [state.source]
            made["queue_depth"].add_metric(label, state.queue_depth)
            made["oldest_age_seconds"].add_metric(label, state.oldest_age_s or 0.0)
            made["error_rate"].add_metric(label, state.error_rate)
            last = state.last_success_at.timestamp() if state.last_success_at else 0.0
            made["last_success_timestamp"].add_metric(label, last)
            made["failing"].add_metric(label, 1.0 if state.failing else 0.0)
        yield from made.values()

    def register(self, registry: CollectorRegistry) -> None:
        """Add to an app's registry."""
        registry.register(self)
