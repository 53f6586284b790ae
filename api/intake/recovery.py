"""Queue tickets that are stored but in no queue: what a crash stranded, what came in elsewhere.

Both go through the intake's records and queue like an admitted ticket, without the door's
adapting and checks: they were accepted once already.

On the embedded queue a stranded ticket is one with no queue row (``recover``). A broker's
queue cannot be looked into: there each put is marked in the ticket's intake record until the
broker confirms it (IntakeRecords.published), and a ticket whose put stayed unconfirmed for
PUBLISH_GRACE_S is published again (``Republisher``): its process died between storing and
publishing it. A ticket ready in the broker, held by a worker of any process or parked for a
retry had its put confirmed, or its run begun, and is never published again. Only a crash
between the broker's confirmation and its mark's removal leaves a ticket published twice; the
second message finds it decided (or its run under way) and no ticket is triaged twice.
"""

from __future__ import annotations

import logging
import threading
import time

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from agent.errors import CapacityError, UpstreamError
from api.intake.flow import LAST_RANK, IntakeFlow
from api.intake.prepriority import STEP, pre_priority
from api.intake.queue import QueueItem, outside_database

log = logging.getLogger(__name__)

# How long a put to a broker may take in a live process (reconnecting, or held by a broker that
# blocks publishers): one unconfirmed for longer was cut off by a crash.
PUBLISH_GRACE_S = 60.0
MIN_WAIT_S = 0.5  # shortest wait between two passes of the Republisher


def recover(flow: IntakeFlow) -> int:
    """Queue intake tickets a crash left stored but unqueued (embedded queue); returns count."""
    count = 0
    for ticket_id, source, order in flow.records.stranded():
        try:
            # Accepted once: it may use the headroom, but is only as urgent as its priority.
            item = QueueItem(ticket_id, source, order, flow.urgent_order(order))
            flow.queue.put(item, headroom=True)
            count += 1
        except IntegrityError:
            continue  # its own process, alive, queued it meanwhile: it was not stranded
        except CapacityError:
            log.warning("queue full while recovering %s; it is kept for the next start", ticket_id)
            break
    return count


class Republisher:
    """On a broker: publishes again the tickets whose put a crash left unconfirmed, at start
    and then, on a thread, as long as a put not confirmed yet is left to wait for."""

    def __init__(self, flow: IntakeFlow, grace_s: float | None = None) -> None:
        self.flow = flow
        self.grace_s = PUBLISH_GRACE_S if grace_s is None else grace_s
        self.idle = threading.Event()  # set once no unconfirmed put is left to wait for
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Publish again what is past its grace now; wait for the others on a thread."""
        count, due = self.run()
        if due is None:
            self.idle.set()
        else:
            self._thread = threading.Thread(
                target=self._watch, args=(due,), name="intake-republish", daemon=True
            )
            self._thread.start()
        return count

    def stop(self) -> None:
        """Stop waiting (a pass under way ends first)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def run(self) -> tuple[int, float | None]:
        """One pass: how many were published again, and when (epoch seconds) the next put not
        confirmed yet is past its grace (None when none is left). A full queue or an unreachable
        broker ends the pass; what it left waits for the next one."""
        now = time.time()
        count, due = 0, None
        unconfirmed = sorted(self.flow.records.unconfirmed(), key=lambda row: row[2])
        for n, (ticket_id, source, order, mark) in enumerate(unconfirmed):
            if -mark + self.grace_s > now:  # its put may still be under way in a live process
                due = min(due, -mark + self.grace_s) if due is not None else -mark + self.grace_s
                continue
            if not self.flow.records.republishing(ticket_id, mark):
                continue  # confirmed, run or taken over by another process meanwhile
            try:
                # Accepted once: it may use the headroom, but is only as urgent as its priority.
                item = QueueItem(ticket_id, source, order, self.flow.urgent_order(order))
                self.flow.queue.put(item, headroom=True)
            except (CapacityError, UpstreamError) as exc:
                left = len(unconfirmed) - n
                log.warning("%d unconfirmed tickets not published again yet: %s", left, exc)
                return count, time.time() + self.grace_s
            self.flow.published(ticket_id)
            count += 1
        return count, due

    def _watch(self, due: float) -> None:
        next_due: float | None = due
        while next_due is not None:
            if self._stopping.wait(max(MIN_WAIT_S, next_due - time.time())):
                return
            try:
                count, next_due = self.run()
            except Exception:
                log.exception("publishing unconfirmed intake tickets again failed")
                next_due = time.time() + self.grace_s
                continue
            if count:
                log.warning("intake: %d stored but unpublished tickets published again", count)
        self.idle.set()


def adopt(flow: IntakeFlow, ticket_id: str, source: str) -> bool:
    """Queue a stored ticket the intake has no record of, as a ticket of ``source``.

    Such a ticket was accepted, or failed, outside the intake: by the in-process workers of
    versions before POST /v1/tickets went through the intake, or by a POST /v1/triage that
    a crash cut off or whose triage failed. Like a recovered ticket accepted before, an
    unfinished one may use the urgent headroom; a failed one (its sender's resend) is queued
    again, in the headroom only if it is urgent. A full queue (or an unreachable broker)
    leaves everything as it was. False when another request adopted it.
    """
    try:
        ticket = flow.store.ticket(ticket_id)
        pre = pre_priority(flow.policy(), ticket)
        raw = ticket.model_dump(mode="json", exclude_unset=True)
        channel, tier, order = str(ticket.channel), ticket.account.tier, pre.order
        urgent = flow.urgent_rank(pre.rank)
    except ValidationError:
        # Stored by another version, it no longer loads: queued last all the same, its worker
        # dead-letters it with the field that fails, for a person to fix or discard.
        raw = flow.store.stored(ticket_id)
        channel, tier = str(raw.get("channel") or "other")[:40], "standard"
        order, urgent = LAST_RANK * STEP, False
    publishing = outside_database(flow.queue)
    try:
        flow.records.register(ticket_id, source, channel, tier, order, raw, publishing)
    except IntegrityError:
        return False
    failed = flow.store.status(ticket_id) == "failed"
    # A failed ticket is its sender's resend: the urgent headroom is for urgent ones only.
    if failed:
        flow.store.set_status(ticket_id, "queued")  # first: a worker may take it at once
    try:
        flow.queue.put(QueueItem(ticket_id, source, order, urgent), headroom=not failed)
    except Exception as exc:
        # Registered but in no queue, it would never be adopted again (nor recovered).
        flow.records.forget(ticket_id)
        if failed:
            flow.store.set_status(ticket_id, "failed", f"not queued again: {exc}")
        raise
    if publishing:
        flow.published(ticket_id)
    flow.health.received(source)  # its success or failure is counted for the source too
    return True
