"""Catch-up: RT transactions the webhook missed (service down, network) applied after all.

RT's scrip posts each transaction once and only logs a failure. At start and then every
``helpdesk_catchup_s`` this thread asks RT for the ticket transactions after the newest one the
service has seen (the ``rt-txn-<id>`` ids of the webhook's events-seen table; each row keeps
the number in an indexed column, so the newest is read from the index) and feeds each, as the
payload the scrip would have posted, through the webhook's path after the signature check.
Deduplication by event id applies every transaction once, whoever sees it first.

Bounds: a fresh install's first pass starts from RT's newest transaction instead of replaying
RT's whole history, or from just before the first transaction the webhook took if its post came
first; that starting point is stored (a ``cursor`` row of the events-seen table), so a restart
does not move it. A
transaction committed after a newer one was seen (two RT requests racing) is still found: each
pass looks back ``OVERLAP`` ids and skips the ones already seen. A post that failed among
later ones the webhook took is found however many came after it: a pass also reads on from
where the previous pass stopped (its first failure, else the last id it read). That position is
stored too (a ``position`` row), so it survives a restart; a pass never moves it back (another
process's pass may have moved it further meanwhile) unless it found one there still unapplied.
RT's newest transaction (asked on each pass) bounds the window: seen ids past it (a signed event's
made-up ``rt-txn-900004``, RT restored from an older backup) or not numbers are ignored, and a
stored position past it is replaced by where the pass gets to.
A transaction RT returns that cannot be made into the scrip's payload (a date that does not
parse, a field or its ticket's of another shape) counts as read: RT answers the same on every
pass, so it is skipped with a warning naming it and why, counted and shown on /readyz, and the
pass goes on and moves the position past it; only a fix of the reader would apply it.
RT unreachable: logged, retried on the next pass, shown on /readyz.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import Database
from api.helpdesk.base import HelpdeskError
from api.helpdesk.polling import PollingThread
from api.helpdesk.rt_events import RTEventReader, Unreadable
from api.intake.events import HelpdeskWebhook
from api.intake.tables import EventSeenRow
from api.intake.webhooks import RT_EVENT_PREFIX
from api.tables import utcnow

log = logging.getLogger(__name__)

PREFIX = RT_EVENT_PREFIX
OVERLAP = 100
CURSOR = "cursor"  # the events-seen row that stores where this install's catch-up started
POSITION = "position"  # the type of the row that stores where the next pass reads from
POSITION_ID = "catch-up position"  # its event id: no RT transaction's


class CatchUp(PollingThread):
    """Applies the RT transactions the webhook did not deliver."""

    thread_name = "helpdesk-catchup"

    def __init__(
        self, db: Database, reader: RTEventReader, webhook: HelpdeskWebhook, poll_s: float = 30.0
    ) -> None:
        super().__init__(poll_s)
        self.db, self.reader, self.webhook = db, reader, webhook
        self.floor: int | None = None  # where this install's catch-up started (never before)
        self.applied = 0
        self.last_error: str | None = None
        self.skipped = 0  # unreadable transactions, each counted once by this process
        self.last_skipped: str | None = None
        self._skipped_ids: set[int] = set()  # still in the window: warned about already

    def run_pass(self) -> float:
        """One catch-up; RT unreachable is logged and retried on the next pass."""
        try:
            self.catch_up()
        except HelpdeskError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("helpdesk catch-up: %s; retrying in %.0f s", self.last_error, self.poll_s)
        return self.poll_s

    def catch_up(self) -> int:
        """Apply the missed transactions; returns how many were new to the service."""
        if self.floor is None:
            self.floor = self.stored_start()
        newest = self.reader.newest()
        # What RT reports bounds the window: an id beyond its newest (a signed event's made-up
        # id, RT restored from an older backup) says nothing about what RT holds. RT naming none
        # (none yet, or none the bot may see among the newest) bounds nothing.
        bound = newest or None
        seen = self.newest_seen(bound)
        if self.floor is None:
            # A fresh install starts after RT's newest transaction; when the webhook took one
            # before this first pass (RT answers one request at a time: the scrip's post can
            # come first), before the first it took, and never back into RT's older history.
            first = self.earliest_seen(bound)
            self.floor = newest if first is None else min(newest or first - 1, first - 1)
            self._store_start(self.floor)
            log.info("helpdesk catch-up starts after RT transaction %d", self.floor)
        start = max(seen - OVERLAP if seen is not None else 0, self.floor or 0)
        position = self.stored_position()
        if position is not None:
            start = min(start, position)
        beyond = None
        if bound is not None:
            start = min(start, bound)
            if position is not None and position > bound:
                # RT restored from an older backup: replaced by where this pass gets to, or
                # every later pass would start from the newest RT has then, skipping the rest.
                beyond = position
        rows = self.reader.rows(start)
        payloads, unreadable = self.reader.read(self._unseen(rows))
        self._skip(unreadable, start)
        applied, failed = 0, []
        for payload in payloads:
            try:
                outcome = self.webhook.accept(payload)
            except HelpdeskError:
                raise
            except Exception:
                # As a webhook call answered with an error: not taken, tried again next pass.
                log.exception("helpdesk catch-up: %s not applied", payload["event_id"])
                failed.append(int(payload["transaction"]["id"]))
                continue
            if outcome.outcome != "duplicate":
                applied += 1
                log.warning(
                    "helpdesk catch-up: %s (%s) missed by the webhook, applied: %s",
                    outcome.event_id,
                    outcome.type,
                    outcome.outcome,
                )
        read = max((int(i) for row in rows if (i := str(row.get("id"))).isdigit()), default=start)
        self._advance(start, read, failed, beyond)
        self.applied += applied
        self.last_error = None
        return applied

    def _skip(self, unreadable: list[Unreadable], start: int) -> None:
        """Warn about and count the unreadable ones once: the overlap reads them again."""
        self._skipped_ids = {txn_id for txn_id in self._skipped_ids if txn_id > start}
        for txn in unreadable:
            number = int(txn.txn_id) if txn.txn_id.isdigit() else None
            if number is not None and number in self._skipped_ids:
                continue
            if number is not None:
                self._skipped_ids.add(number)
            self.skipped += 1
            self.last_skipped = f"{PREFIX}{txn.txn_id}: {txn.reason}"
            log.warning(
                "helpdesk catch-up: RT transaction %s skipped, it cannot be read as the scrip's "
                "payload: %s",
                txn.txn_id,
                txn.reason,
            )

    def newest_seen(self, bound: int | None = None) -> int | None:
        """The highest RT transaction id in the events-seen table (up to ``bound``), None before
        the first."""
        return self._seen_id(EventSeenRow.seen_txn.desc(), bound)

    def earliest_seen(self, bound: int | None = None) -> int | None:
        """The lowest RT transaction id in the events-seen table (up to ``bound``), None before
        the first."""
        return self._seen_id(EventSeenRow.seen_txn.asc(), bound)

    def _seen_id(self, order: Any, bound: int | None) -> int | None:
        """The first seen RT transaction number in ``order`` (up to ``bound``): one step into
        the (source, seen_txn) index. Only ids as the scrip writes them have a number
        (``api.intake.rt_ids.rt_txn_number``, stored with the row)."""
        number = EventSeenRow.seen_txn
        query = select(number).where(EventSeenRow.source == "rt", number.is_not(None))
        if bound is not None:
            query = query.where(number <= bound)
        with self.db.session() as session:
            value = session.scalar(query.order_by(order).limit(1))
        return int(value) if value is not None else None

    def stored_start(self) -> int | None:
        """Where the first pass of this install started, once stored."""
        with self.db.session() as session:
            value = session.scalar(
                select(EventSeenRow.event_id).where(
                    EventSeenRow.source == "rt", EventSeenRow.type == CURSOR
                )
            )
        return int(value[len(PREFIX) :]) if value else None

    def _store_start(self, txn_id: int) -> None:
        """Keep the starting point: it also counts as seen, as it was before the install."""
        try:
            with self.db.session() as session:
                session.add(
                    EventSeenRow(
                        event_id=f"{PREFIX}{txn_id}",
                        source="rt",
                        type=CURSOR,
                        outcome="catch-up start",
                    )
                )
        except IntegrityError:
            pass  # the webhook took that very transaction meanwhile: it is seen either way

    def stored_position(self) -> int | None:
        """Every transaction up to here was seen or applied when a pass last looked: the next
        pass reads from here even when far more than OVERLAP were seen since. None before the
        first pass."""
        with self.db.session() as session:
            row = session.get(EventSeenRow, ("rt", POSITION_ID))
            return _position(row)

    def _advance(self, start: int, read: int, failed: list[int], beyond: int | None) -> None:
        """Store the position this pass reached (it read from ``start``): before its first
        transaction still unseen, else the last id it read. ``beyond``: the stored position
        this pass found past RT's newest transaction."""
        for _ in range(3):  # another process stored one meanwhile: look again
            try:
                if self._store_position(start, read, failed, beyond):
                    return
            except IntegrityError:
                continue  # its first position, stored by another process first
        log.warning("helpdesk catch-up: position not stored (contended); kept as it was")

    def _store_position(self, start: int, read: int, failed: list[int], beyond: int | None) -> bool:
        with self.db.session() as session:
            row = session.get(EventSeenRow, ("rt", POSITION_ID))
            stored, missing = _position(row), self._still_unseen(session, failed)
            new = min(missing) - 1 if missing else read
            if stored is not None and stored == beyond:
                pass  # not one of RT's ids: replaced (unless another pass wrote one meanwhile)
            elif stored is not None and stored < start:
                new = stored  # moved back by another process meanwhile: that gap is not ours
            elif stored is not None and not missing:
                new = max(stored, new)  # never back, unless behind it one is still missing
            if row is None:
                session.add(
                    EventSeenRow(source="rt", event_id=POSITION_ID, type=POSITION, outcome=str(new))
                )
                return True
            # Compare and set: written only if no other process wrote it since it was read.
            moved = session.execute(
                update(EventSeenRow)
                .where(
                    EventSeenRow.source == "rt",
                    EventSeenRow.event_id == POSITION_ID,
                    EventSeenRow.type == row.type,
                    EventSeenRow.outcome == row.outcome,
                )
                .values(type=POSITION, outcome=str(new), received_at=utcnow())
            )
            return bool(moved.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def _still_unseen(session: Session, failed: list[int]) -> list[int]:
        """The failed ones no one (another process, the webhook) has taken since."""
        taken = _seen(session, [f"{PREFIX}{txn_id}" for txn_id in failed])
        return [txn_id for txn_id in failed if f"{PREFIX}{txn_id}" not in taken]

    def _unseen(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.db.session() as session:
            seen = _seen(session, [f"{PREFIX}{row.get('id')}" for row in rows])
        return [row for row in rows if f"{PREFIX}{row.get('id')}" not in seen]

    def readiness(self) -> str:
        """A short state for /readyz."""
        state = f"catch-up applied {self.applied}"
        if self.skipped:
            state = f"{state}, skipped {self.skipped} unreadable (last: {self.last_skipped})"
        return f"{state}; last pass failed: {self.last_error}" if self.last_error else state


def _position(row: EventSeenRow | None) -> int | None:
    """The position a ``position`` row holds (a webhook event given its id holds none)."""
    if row is None or row.type != POSITION or not row.outcome.isdigit():
        return None
    return int(row.outcome)


def _seen(session: Session, event_ids: list[str]) -> set[str]:
    """Those of the event ids the events-seen table holds for RT."""
    if not event_ids:
        return set()
    query = select(EventSeenRow.event_id).where(
        EventSeenRow.source == "rt", EventSeenRow.event_id.in_(event_ids)
    )
    return set(session.scalars(query))
