"""Enrichment before triage: the ticket's own conversation, the requester's earlier tickets and
the account context, read from the helpdesk (accounts file where the helpdesk has none).

If the helpdesk cannot answer, the ticket is triaged as it came, and the log says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable

from agent.models import Account, Message, PriorTicket, Role, Ticket
from agent.settings import HELPDESK_CLOSED_STATUSES
from api.helpdesk.accounts import AccountsFile, to_account
from api.helpdesk.base import Helpdesk, HelpdeskError, HelpdeskTransaction, Requester, field_value
from api.helpdesk.listener import external_ref

log = logging.getLogger(__name__)

MESSAGE_TYPES = ("Correspond", "Comment")
RESOLUTIONS_FETCHED = 3  # earlier resolved tickets whose resolution text is read


def reopen_count(
    history: list[HelpdeskTransaction], closed: Collection[str] = HELPDESK_CLOSED_STATUSES
) -> int:
    """How often the ticket went from a closing status back to an open one."""
    return sum(
        1
        for t in history
        if t.type == "Status"
        and (t.old_value or "") in closed
        and (t.new_value or "") not in closed
    )


def resolution_text(
    history: list[HelpdeskTransaction], requesters: Iterable[str] = ()
) -> str | None:
    """The last reply to the requester: what solved it (the requesters' own replies, a
    "thanks, works now", are not)."""
    theirs = {r.lower() for r in requesters}
    replies = [
        t.content
        for t in history
        if t.type == "Correspond" and t.content and t.creator.lower() not in theirs
    ]
    return replies[-1].strip() if replies else None


class Enricher:
    """Attaches the helpdesk's history and account context to a ticket from that helpdesk."""

    def __init__(
        self,
        helpdesk: Helpdesk,
        accounts: AccountsFile,
        prefix: str = "rt:",
        limit: int = 10,
        owned: Callable[[str], bool] | None = None,
        closed: Collection[str] = HELPDESK_CLOSED_STATUSES,
    ) -> None:
        self.helpdesk, self.accounts, self.prefix, self.limit = helpdesk, accounts, prefix, limit
        self.closed = closed  # the helpdesk's closing statuses (TRIAGE_HELPDESK_CLOSED_STATUSES)
        # Whether the helpdesk itself sent the ticket of that id (None: every ticket): anyone
        # with an API key can name "rt:123", and its brief would show ticket 123's conversation.
        self.owned = owned

    def enrich(self, ticket: Ticket) -> Ticket:
        """The ticket with messages, earlier tickets, reopen count and account filled in."""
        external = external_ref(ticket, self.prefix)
        if external is None:
            return ticket
        if self.owned is not None and not self.owned(ticket.id):
            log.warning("ticket %s names %s but the helpdesk did not send it", ticket.id, external)
            return ticket
        try:
            own = self.helpdesk.history(external)
            prior = self._prior(ticket.requester, external)
            profile = self.helpdesk.requester(ticket.requester) if ticket.requester else None
        except HelpdeskError as exc:
            log.warning("ticket %s triaged without helpdesk history: %s", ticket.id, exc)
            return ticket
        messages = [*ticket.messages, *self._messages(own, ticket)]
        known = {p.id for p in ticket.history}
        history = [*ticket.history, *(p for p in prior if p.id not in known)]
        return ticket.model_copy(
            update={
                "messages": messages,
                "history": history,
                "reopen_count": max(ticket.reopen_count, reopen_count(own, self.closed)),
                "account": self._account(ticket, profile),
            }
        )

    def _messages(self, own: list[HelpdeskTransaction], ticket: Ticket) -> list[Message]:
        requesters = {ticket.requester or ""}
        out = []
        for t in own:
            if t.type not in MESSAGE_TYPES or not t.content or t.creator == self.helpdesk.bot_user:
                continue  # our own briefs are not part of the customer's history
            role: Role = "customer" if t.creator in requesters else "agent"
            out.append(Message(role=role, author=t.creator, body=t.content, sent_at=t.created))
        return out

    def _prior(self, requester: str | None, current: str) -> list[PriorTicket]:
        if not requester or self.limit == 0:
            return []
        found = self.helpdesk.requester_tickets(requester, self.limit + 1)
        out, fetched = [], 0
        for t in found:
            if t.id == current:
                continue
            resolution = None
            if t.status in self.closed and fetched < RESOLUTIONS_FETCHED:
                fetched += 1
                resolution = resolution_text(self.helpdesk.history(t.id), t.requestors)
            out.append(
                PriorTicket(
                    id=f"{self.prefix}{t.id}",
                    subject=t.subject,
                    created_at=t.created,
                    status=t.status,
                    team=t.queue,
                    resolution=resolution,
                )
            )
        return out[: self.limit]

    def _account(self, ticket: Ticket, profile: Requester | None) -> Account:
        if ticket.account.id or ticket.account.tier != "standard":
            return ticket.account  # the channel already said who the customer is
        entry = self.accounts.find(ticket.requester, profile.organization if profile else None)
        account = to_account(entry) if entry else ticket.account.model_copy()
        if profile is not None:
            fields = profile.custom_fields
            account.name = account.name or profile.organization
            account.id = account.id or profile.organization
            account.tier = field_value(fields, "tier") or account.tier
            account.region = field_value(fields, "region") or account.region
            account.language = profile.language or account.language
        return account
