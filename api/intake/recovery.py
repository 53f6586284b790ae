"""Queue tickets that are stored but in no queue: what a crash stranded, what came in elsewhere.

Both go through the intake's records and queue like an admitted ticket, without the door's
adapting and checks: they were accepted once already.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from agent.errors import CapacityError
from api.intake.flow import IntakeFlow
from api.intake.prepriority import pre_priority
from api.intake.queue import QueueItem

log = logging.getLogger(__name__)


def recover(flow: IntakeFlow) -> int:
    """Queue intake tickets a crash left stored but unqueued (embedded queue); returns count."""
    count = 0
    for ticket_id, source, order in flow.records.stranded():
        try:
            # Accepted once: it may use the headroom, but is only as urgent as its priority.
            item = QueueItem(ticket_id, source, order, flow.urgent_order(order))
            flow.queue.put(item, headroom=True)
            count += 1
        except CapacityError:
            log.warning("queue full while recovering %s; it is kept for the next start", ticket_id)
            break
    return count


def adopt(flow: IntakeFlow, ticket_id: str, source: str) -> bool:
    """Queue a stored ticket the intake has no record of, as a ticket of ``source``.

    Such a ticket was accepted, or failed, outside the intake: by the in-process workers of
    versions before POST /v1/tickets went through the intake, or by a POST /v1/triage that
    a crash cut off or whose triage failed. Like a recovered ticket accepted before, an
    unfinished one may use the urgent headroom; a failed one (its sender's resend) is queued
    again, in the headroom only if it is urgent. A full queue (or an unreachable broker)
    leaves everything as it was. False when another request adopted it.
    """
    ticket = flow.store.ticket(ticket_id)
    pre = pre_priority(flow.policy(), ticket)
    raw = ticket.model_dump(mode="json", exclude_unset=True)
    try:
        flow.records.register(
            ticket_id, source, ticket.channel, ticket.account.tier, pre.order, raw
        )
    except IntegrityError:
        return False
    failed = flow.store.status(ticket_id) == "failed"
    # A failed ticket is its sender's resend: the urgent headroom is for urgent ones only.
    urgent = flow.urgent_rank(pre.rank)
    if failed:
        flow.store.set_status(ticket_id, "queued")  # first: a worker may take it at once
    try:
        flow.queue.put(QueueItem(ticket_id, source, pre.order, urgent), headroom=not failed)
    except Exception as exc:
        # Registered but in no queue, it would never be adopted again (nor recovered).
        flow.records.forget(ticket_id)
        if failed:
            flow.store.set_status(ticket_id, "failed", f"not queued again: {exc}")
        raise
    flow.health.received(source)  # its success or failure is counted for the source too
    return True
