"""Helpdesk connector: the Helpdesk interface, the Request Tracker 5 adapter, outbox delivery,
history enrichment and the resolution back-flow (see README.md).

``enrich(ticket)`` is what the intake flow calls before triaging a helpdesk ticket: it attaches
the helpdesk's history and account context once ``plugin.install`` has connected one, and
returns the ticket unchanged otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.models import Ticket

_enricher: Callable[[Ticket], Ticket] | None = None


def use(enricher: Callable[[Ticket], Ticket] | None) -> None:
    """Set (or clear) the process-wide enricher; plugin.install calls this."""
    global _enricher
    _enricher = enricher


def enrich(ticket: Ticket) -> Ticket:
    """The ticket with the connected helpdesk's history and account context attached."""
    return _enricher(ticket) if _enricher is not None else ticket
