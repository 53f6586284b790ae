"""The embedded intake queue: a table in the service database, claimed atomically.

No queue library fits (persist-queue has ack/nack but no priorities), so this relies on the
database's transactions instead of home-made locking: each operation is ONE statement —
a conditional INSERT for the bound, an ``UPDATE ... WHERE id = (SELECT ... ORDER BY priority)
RETURNING`` for the claim — which SQLite serialises and PostgreSQL re-checks row by row. The
bound's count is not re-checked by PostgreSQL (concurrent puts would each count the rows before
the others'): there puts take turns at a transaction-scoped advisory lock of the schema's queue.
Multi-process safe (several API and worker processes on one database file or server).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)

from agent.errors import CapacityError
from api.db import Database, sqlite_file
from api.intake.queue import Delivery, QueueItem
from api.intake.tables import QueueRow
from api.intake.wake import WakeChannel

POLL_MIN_S = 0.02
POLL_MAX_S = 0.25
PUT_TURN = text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.intake_queue'))")
PUT_COLUMNS = ["ticket_id", "source", "priority", "urgent", "state", "available_at", "enqueued_at"]


class SqlQueue:
    """Priority-ordered, bounded, leased queue in the ``intake_queue`` table."""

    def __init__(
        self,
        db: Database,
        capacity: int,
        normal_capacity: int,
        lease_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.capacity = capacity
        self.normal_capacity = min(normal_capacity, capacity)
        self.lease_s = lease_s
        self.clock = clock
        # Puts made in this process wake one of this process's idle workers at once (an urgent
        # put the urgent lane, when it is idle); on a database file, puts from other processes
        # wake them through a datagram (api.intake.wake); retries coming due are polled for.
        lock = threading.Lock()
        self._routine_wake = threading.Condition(lock)
        self._urgent_wake = threading.Condition(lock)
        self._puts = 0
        self._lane_puts = 0  # urgent puts made while the urgent lane was idle
        self._idle_lanes = 0
        self.wake = _wake_channel(db)
        self._listening = False

    def put(self, item: QueueItem, headroom: bool = False) -> None:
        """Insert unless the queue holds its bound (the normal bound for non-urgent items,
        unless ``headroom``: urgency and headroom differ, only urgent items take the lane)."""
        limit = self.capacity if item.urgent or headroom else self.normal_capacity
        now = self.clock()
        values = select(
            literal(item.ticket_id),
            literal(item.source),
            literal(item.priority),
            literal(item.urgent),
            literal("ready"),
            literal(now),
            literal(now),
        ).where(select(func.count()).select_from(QueueRow).scalar_subquery() < limit)
        # RETURNING says whether a row went in: the rowcount of an INSERT ... SELECT through
        # the ORM session is -1 on PostgreSQL, which would pass for one.
        statement = insert(QueueRow).from_select(PUT_COLUMNS, values).returning(QueueRow.id)
        with self.db.session() as session:
            if self.db.engine.dialect.name == "postgresql":
                session.execute(PUT_TURN)  # held until the commit: the next put counts this one
            inserted = session.execute(statement).first() is not None
        if not inserted:
            reserved = " for non-urgent tickets (headroom kept for urgent ones)"
            kind = "" if item.urgent or headroom else reserved
            raise CapacityError(f"the intake queue is full{kind}; retry later", retry_after_s=5.0)
        self._woken(item.urgent)
        if self.wake is not None:
            self.wake.notify(item.urgent)

    def _woken(self, urgent: bool) -> None:
        """A ticket was queued (here or by another process): wake one idle worker."""
        with self._routine_wake:
            self._puts += 1
            if urgent and self._idle_lanes:
                self._lane_puts += 1
                self._urgent_wake.notify()
            else:
                self._routine_wake.notify()

    def _claim(self, urgent_only: bool) -> Delivery | None:
        now, token = self.clock(), uuid.uuid4().hex
        claimable = or_(
            and_(QueueRow.state == "ready", QueueRow.available_at <= now),
            and_(QueueRow.state == "leased", QueueRow.lease_until < now),
        )
        if urgent_only:
            claimable = and_(QueueRow.urgent.is_(True), claimable)
        first = select(QueueRow.id).where(claimable).order_by(QueueRow.priority, QueueRow.id)
        if self.db.engine.dialect.name == "postgresql":
            first = first.with_for_update(skip_locked=True)
        statement = (
            update(QueueRow)
            .where(QueueRow.id == first.limit(1).scalar_subquery(), claimable)
            .values(state="leased", lease_until=now + self.lease_s, lease_token=token)
            .returning(
                QueueRow.id, QueueRow.ticket_id, QueueRow.source, QueueRow.priority, QueueRow.urgent
            )
        )
        with self.db.session() as session:
            row = session.execute(statement).first()
        if row is None:
            return None
        item = QueueItem(
            ticket_id=row.ticket_id,
            source=row.source,
            priority=row.priority,
            urgent=bool(row.urgent),
        )
        return Delivery(item=item, token=f"{row.id}:{token}")

    def get(self, timeout_s: float, urgent_only: bool = False) -> Delivery | None:
        """Claim the most urgent available item (only urgent ones if asked), polling until
        timeout_s (a put here wakes it)."""
        if not self._listening and self.wake is not None:
            with self._routine_wake:
                listen, self._listening = not self._listening, True
            if listen:  # this process has workers: other processes' puts wake them
                self.wake.listen(self._woken)
        wake = self._urgent_wake if urgent_only else self._routine_wake
        with wake:
            self._idle_lanes += urgent_only  # from here on urgent puts are counted for it
        try:
            return self._wait_and_claim(wake, urgent_only, timeout_s)
        finally:
            with wake:
                self._idle_lanes -= urgent_only

    def _wait_and_claim(
        self, wake: threading.Condition, urgent_only: bool, timeout_s: float
    ) -> Delivery | None:
        deadline = time.monotonic() + timeout_s
        pause = POLL_MIN_S
        while True:
            with wake:
                seen = self._seen(urgent_only)
            delivery = self._claim(urgent_only)
            if delivery is not None or time.monotonic() >= deadline:
                return delivery
            with wake:
                if self._seen(urgent_only) == seen:
                    wake.wait(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(POLL_MAX_S, pause * 2)

    def _seen(self, urgent_only: bool) -> int:
        """The puts that wake this waiter: all (a worker), or those meant for the lane."""
        return self._lane_puts if urgent_only else self._puts

    def ack(self, delivery: Delivery) -> None:
        """Remove the item (only while this delivery still holds the lease)."""
        with self.db.session() as session:
            session.execute(delete(QueueRow).where(*_held(delivery)))

    def retry(self, delivery: Delivery, delay_s: float) -> None:
        """Release the lease; the item is claimable again after delay_s."""
        with self.db.session() as session:
            session.execute(
                update(QueueRow)
                .where(*_held(delivery))
                .values(state="ready", available_at=self.clock() + delay_s, lease_token=None)
            )

    def extend(self, delivery: Delivery, lease_s: float) -> None:
        """Push the lease's end lease_s from now (only while this delivery still holds it)."""
        with self.db.session() as session:
            session.execute(
                update(QueueRow).where(*_held(delivery)).values(lease_until=self.clock() + lease_s)
            )

    def depth(self) -> int:
        """Items waiting or leased."""
        with self.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(QueueRow)) or 0)

    def overdue_s(self) -> float | None:
        """How long the longest-due item has waited for a worker while no worker holds a lease
        on any item; None while one does, or when nothing is due."""
        now = self.clock()
        held = and_(QueueRow.state == "leased", QueueRow.lease_until >= now)
        due_since = func.min(
            case((QueueRow.state == "ready", QueueRow.available_at), else_=QueueRow.lease_until)
        )
        with self.db.session() as session:
            if session.scalar(select(QueueRow.id).where(held).limit(1)) is not None:
                return None
            since = session.scalar(
                select(due_since).where(
                    or_(
                        and_(QueueRow.state == "ready", QueueRow.available_at <= now),
                        and_(QueueRow.state == "leased", QueueRow.lease_until < now),
                    )
                )
            )
        return None if since is None else now - float(since)

    def close(self) -> None:
        """Stop listening for other processes' puts (the database belongs to the app)."""
        if self.wake is not None:
            self.wake.close()


def _held(delivery: Delivery) -> tuple[ColumnElement[bool], ...]:
    """The delivery's row while this delivery still holds its lease."""
    row_id, token = delivery.token.split(":", 1)
    return QueueRow.id == int(row_id), QueueRow.lease_token == token


def _wake_channel(db: Database) -> WakeChannel | None:
    """Cross-process wake-ups beside a SQLite database file (a server database: polling)."""
    file = sqlite_file(db.url)
    return None if file is None else WakeChannel(file.with_name(f"{file.name}.wake"))
