"""FakeHelpdesk: an in-memory helpdesk implementing ``Helpdesk`` for unit tests.

It keeps tickets and their transactions like RT does (field changes, messages, status, merges),
can be switched off to simulate an outage, and can refuse fields to simulate RT's partial
failures.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

from api.helpdesk.base import (
    HelpdeskRejected,
    HelpdeskTicket,
    HelpdeskTransaction,
    HelpdeskUnavailable,
    Requester,
    TicketUpdate,
    UpdateResult,
)
from api.helpdesk.names import BOT_USER


class FakeHelpdesk:
    """Tickets, transactions and requesters in memory; ``down`` makes every call fail."""

    name = "fake"

    def __init__(self, queues: list[str] | None = None, users: list[str] | None = None) -> None:
        self.bot_user = BOT_USER
        self.queues = set(queues or ["General"])
        self.users = set(users or [])
        self.down = False
        self.refuse: set[str] = set()
        self.tickets: dict[str, HelpdeskTicket] = {}
        self.transactions: dict[str, list[HelpdeskTransaction]] = {}
        self.requesters: dict[str, Requester] = {}
        self.merged: dict[str, str] = {}  # merged ticket -> the ticket it was merged into
        self.calls: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _enter(self, call: str) -> None:
        self.calls.append(call)
        if self.down:
            raise HelpdeskUnavailable(f"fake helpdesk is down ({call})")

    def _effective(self, ticket_id: str) -> str:
        while ticket_id in self.merged:
            ticket_id = self.merged[ticket_id]
        return ticket_id

    def _known(self, ticket_id: str) -> HelpdeskTicket:
        """The ticket, or the one it was merged into (as RT loads a merged ticket)."""
        ticket_id = self._effective(ticket_id)
        if ticket_id not in self.tickets:
            raise HelpdeskRejected(f"no ticket {ticket_id}")
        return self.tickets[ticket_id]

    def record(
        self,
        ticket_id: str,
        kind: str,
        creator: str,
        field: str | None = None,
        **values: str | None,
    ) -> HelpdeskTransaction:
        """Append a transaction (tests use it to play a human agent)."""
        ticket_id = self._effective(ticket_id)
        with self._lock:
            txn = HelpdeskTransaction(
                id=str(next(self._ids)),
                type=kind,
                field=field,
                creator=creator,
                created=datetime.now(UTC),
                ticket_id=ticket_id,
                **values,
            )
            self.transactions.setdefault(ticket_id, []).append(txn)
            return txn

    def create(
        self, subject: str, body: str, requester: str, queue: str = "General", creator: str = "root"
    ) -> HelpdeskTicket:
        """Create a ticket with its Create transaction."""
        ticket_id = str(len(self.tickets) + 1)
        ticket = HelpdeskTicket(
            id=ticket_id,
            subject=subject,
            queue=queue,
            status="new",
            requestors=[requester],
            created=datetime.now(UTC),
        )
        self.tickets[ticket_id] = ticket
        self.record(ticket_id, "Create", creator, content=body)
        return ticket

    def set_field(self, ticket_id: str, field: str, value: str | None, creator: str) -> None:
        """Change queue/owner/status as someone (a human reassigning, resolving, reopening)."""
        ticket = self._known(ticket_id)
        old = {"Queue": ticket.queue, "Owner": ticket.owner, "Status": ticket.status}[field]
        kind = "Status" if field == "Status" else "Set"
        if field == "Queue":
            ticket.queue = str(value)
        elif field == "Owner":
            ticket.owner = value
        else:
            ticket.status = str(value)
            ticket.resolved = datetime.now(UTC) if value == "resolved" else ticket.resolved
        self.record(ticket_id, kind, creator, field, old_value=old, new_value=value)

    def merge(self, ticket_id: str, into: str, creator: str = "root") -> None:
        """Merge a ticket into another as RT does: its history becomes the other's, and it is
        read (and changed) as the other from then on."""
        self._known(into)
        self._known(ticket_id)
        link = f"fsck.com-rt://fake/ticket/{into}"
        self.record(ticket_id, "AddLink", creator, "MergedInto", new_value=link)
        self.merged[ticket_id] = into

    def ping(self) -> str:
        """The fake's name."""
        self._enter("ping")
        return "fake helpdesk"

    def ticket(self, ticket_id: str) -> HelpdeskTicket:
        """A copy of the ticket."""
        self._enter(f"ticket {ticket_id}")
        return self._known(ticket_id).model_copy(deep=True)

    def history(self, ticket_id: str) -> list[HelpdeskTransaction]:
        """Its transactions, oldest first."""
        self._enter(f"history {ticket_id}")
        home = self._known(ticket_id).id
        mine = [
            t for tid, ts in self.transactions.items() if self._effective(tid) == home for t in ts
        ]
        return sorted(mine, key=lambda t: int(t.id))

    def requester_tickets(self, requester: str, limit: int = 10) -> list[HelpdeskTicket]:
        """The requester's tickets, newest first."""
        self._enter(f"requester_tickets {requester}")
        mine = [t for t in self.tickets.values() if requester in t.requestors]
        return sorted(mine, key=lambda t: int(t.id), reverse=True)[:limit]

    def requester(self, requester: str) -> Requester | None:
        """The requester's profile when one was added."""
        self._enter(f"requester {requester}")
        return self.requesters.get(requester)

    def update(self, ticket_id: str, update: TicketUpdate) -> UpdateResult:
        """Apply the fields; unknown queues/users and refused fields fail like RT's do."""
        self._enter(f"update {ticket_id}")
        ticket = self._known(ticket_id)
        result = UpdateResult()
        if update.queue is not None:
            if update.queue in self.queues and "queue" not in self.refuse:
                self.set_field(ticket_id, "Queue", update.queue, self.bot_user)
                result.applied.append("queue")
            else:
                result.failed["queue"] = f"Queue {update.queue} does not exist"
        if update.owner is not None:
            if update.owner in self.users and "owner" not in self.refuse:
                self.set_field(ticket_id, "Owner", update.owner, self.bot_user)
                result.applied.append("owner")
            else:
                result.failed["owner"] = "That user does not exist"
        if update.priority is not None:
            old = str(ticket.priority)
            ticket.priority = update.priority
            self.record(
                ticket_id,
                "Set",
                self.bot_user,
                "Priority",
                old_value=old,
                new_value=str(update.priority),
            )
            result.applied.append("priority")
        for name, values in update.custom_fields.items():
            ticket.custom_fields[name] = list(values)
            self.record(ticket_id, "CustomField", self.bot_user, name, new_value=",".join(values))
            result.applied.append(f"cf:{name}")
        result.messages = [f"{f} applied" for f in result.applied] + list(result.failed.values())
        return result

    def comment(self, ticket_id: str, text: str) -> None:
        """An internal comment by the service's user."""
        self._enter(f"comment {ticket_id}")
        self._known(ticket_id)
        self.record(ticket_id, "Comment", self.bot_user, content=text)

    def comments(self, ticket_id: str) -> list[str]:
        """The texts of the ticket's comments (for assertions)."""
        return [
            t.content or "" for t in self.transactions.get(ticket_id, []) if t.type == "Comment"
        ]
