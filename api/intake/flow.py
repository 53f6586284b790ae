"""IntakeFlow: the one governed way in. adapt -> validate -> thread -> pre-priority -> enqueue.

Every channel's payload becomes the canonical ticket (original kept), passes its channel's and
account's quality gate (rejected or quarantined ones are kept with reasons), is threaded into
an earlier ticket when it answers one, and otherwise is stored once (idempotent by source and
external id) and queued durably in pre-priority order. The workers' side is IntakeRunner;
the order of waiting writers is api.intake.door's, how an unreadable payload is kept
api.intake.rejects', and queueing what is stored but unqueued api.intake.recovery's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from agent.errors import ConflictError, InputError, first_problem
from agent.json_input import load_json
from agent.models import Ticket
from agent.policy import Policy
from api.auth import Principal
from api.db import urgent_writes
from api.intake.adapters import adapt_api, adapt_chat, adapt_web
from api.intake.door import PriorityDoor
from api.intake.email_adapter import adapt_email
from api.intake.health import SourceHealth
from api.intake.models import SOURCES, Adapted, IntakeResult
from api.intake.options import IntakeOptions
from api.intake.prepriority import PrePriority, pre_priority
from api.intake.queue import IntakeQueue, QueueItem, outside_database
from api.intake.records import IntakeRecords
from api.intake.rejects import Rejects, RejectVerdict, raw_for_audit
from api.intake.urgency import UrgentWork
from api.intake.validation import Profiles, validate
from api.service import external_key, header_key
from api.store import TicketStore

log = logging.getLogger(__name__)

DOOR_WRITERS = 2
LAST_RANK = 1_000  # door order of a ticket whose pre-priority could not be computed

JSON_ADAPTERS: dict[str, Callable[[Any], Adapted]] = {
    "chat": adapt_chat,
    "web": adapt_web,
    "api": adapt_api,
}


RELEASED_BY = "release"
"""The owner of a released payload that no key had sent (a CLI import)."""


class IntakeFlow:
    """The door: turns payloads of every channel into queued tickets (or kept rejects)."""

    def __init__(
        self,
        store: TicketStore,
        queue: IntakeQueue,
        records: IntakeRecords,
        rejects: Rejects,
        health: SourceHealth,
        profiles: Profiles,
        options: IntakeOptions,
        policy: Callable[[], Policy],
        urgency: UrgentWork | None = None,
    ) -> None:
        self.store, self.queue, self.records = store, queue, records
        self.urgency = urgency or UrgentWork()
        self.rejects, self.health, self.profiles = rejects, health, profiles
        self.options, self.policy = options, policy
        # SQLite has one writer and its busy handler sleeps in growing steps: forty request
        # threads writing at once starve the workers' claims (P1 decisions then wait seconds).
        # Queueing the door's writers here keeps the database's queue short; the most urgent
        # waiter goes in first, so a P1 does not queue behind a burst of routine tickets.
        self._door = PriorityDoor(DOOR_WRITERS)
        # Urgent admissions have their own door: they never wait for routine ones in progress,
        # and their writes go first at the write lock (api.db.urgent_writes).
        self._urgent_door = PriorityDoor(DOOR_WRITERS)

    def adapt(self, channel: str, body: bytes, dated: bool = False) -> Adapted:
        """The channel's adapter on a raw body (e-mail: RFC 5322 bytes; others: JSON).

        ``dated``: an e-mail read from a mailbox, whose Date: is its arrival time.
        """
        if channel == "email":
            adapted = adapt_email(body, dated=dated)
            account = self.profiles.account_for(adapted.ticket.requester)
            if account is not None:
                adapted.ticket = adapted.ticket.model_copy(update={"account": account})
            return adapted
        if channel not in JSON_ADAPTERS:
            known = ", ".join(s for s in SOURCES if s != "helpdesk")
            raise InputError(f"unknown channel {channel!r}; expected one of {known}")
        return JSON_ADAPTERS[channel](load_json(body, f"{channel}: body"))

    def submit(
        self,
        channel: str,
        body: bytes,
        caller: Principal,
        idempotency: str | None = None,
        dated: bool = False,
    ) -> IntakeResult:
        """Adapt and admit one payload; an unadaptable one is kept as rejected with the reason.

        ``idempotency`` is the Idempotency-Key header: without it, the source's external id is
        the key (a generic API ticket need not have one). ``dated``: see adapt.
        """
        key = header_key(idempotency, caller) if idempotency is not None else None
        try:
            adapted = self.adapt(channel, body, dated)
        except InputError as exc:
            raw, tier = raw_for_audit(body)
            if key is not None:
                earlier = self._kept_before(key, raw)
                if earlier is not None:
                    return earlier
            if channel == "email":
                tier = self._sender_tier(body)
            # A big account's broken payload still goes to a person, never to the bin.
            never = {t.lower() for t in self.profiles.never_reject_tiers}
            verdict: RejectVerdict = "quarantined" if tier and tier.lower() in never else "rejected"
            return self._keep(channel, channel, verdict, [str(exc)], raw, None, tier, caller, key)
        result = self.admit(adapted, channel, caller, key)
        result.notes = list(adapted.notes)
        return result

    def _sender_tier(self, raw: bytes) -> str | None:
        """The account tier of an unreadable e-mail's sender domain, when a profile names it."""
        try:
            sender = BytesHeaderParser(policy=compat32).parsebytes(raw).get("From")
            address = parseaddr(str(sender or ""))[1]
        except Exception:  # an unreadable mail may be unreadable all the way down
            return None
        account = self.profiles.account_for(address)
        return account.tier if account is not None else None

    def admit(
        self, adapted: Adapted, source: str, caller: Principal, key: str | None = None
    ) -> IntakeResult:
        """Validate, thread or store + queue an adapted payload.

        ``key`` is the idempotency key (POST /v1/tickets' Idempotency-Key header, scoped as
        api.service.idempotency_key does); without one, the source's external id is the key.
        """
        # Sub-millisecond and database-free: computed before the door to order its waiters.
        pre: PrePriority | None
        try:
            pre = pre_priority(self.policy(), adapted.ticket)
        except Exception:
            pre = None  # _admit computes it again and reports the error as before
        rank = pre.rank if pre is not None else LAST_RANK
        urgent = self.urgent_rank(rank)
        if not urgent:
            self.urgency.step_aside()
            with self._door.enter(rank):
                return self._admit(adapted, source, caller, pre, key)
        with self.urgency.running(), urgent_writes(), self._urgent_door.enter(rank):
            return self._admit(adapted, source, caller, pre, key)

    def published(self, ticket_id: str) -> None:
        """The broker confirmed the ticket's put (see IntakeRecords.published). Queued already:
        a failure to say so is logged, and costs at most a second message of the ticket, which
        api.intake.recovery publishes and the runner acknowledges without a second triage."""
        try:
            self.records.published(ticket_id)
        except Exception:
            log.exception("ticket %s is queued but not marked so", ticket_id)

    def urgent_rank(self, rank: int) -> bool:
        """Urgent tickets (P1/P2 by default) skip the routine door, lane and write queue."""
        return rank <= self.options.intake_urgent_rank

    def urgent_order(self, order: int) -> bool:
        """Whether a queue order (a pre-priority's) is an urgent ticket's."""
        return self.options.urgent_order(order)

    def _admit(
        self,
        adapted: Adapted,
        source: str,
        caller: Principal,
        pre: PrePriority | None,
        key: str | None,
    ) -> IntakeResult:
        ticket = adapted.ticket
        verdict = validate(adapted, self.profiles, source)
        if verdict.outcome != "accept":
            if key is not None:
                earlier = self._kept_before(key, adapted.raw)
                if earlier is not None:
                    return earlier
            outcome: RejectVerdict = "rejected" if verdict.outcome == "reject" else "quarantined"
            return self._keep(
                source,
                ticket.channel,
                outcome,
                verdict.reasons,
                adapted.raw,
                ticket.model_dump(mode="json"),
                ticket.account.tier,
                caller,
                key,
            )
        known = self._own_thread([adapted.thread_id] if adapted.thread_id else [], caller)
        if known is not None:
            return IntakeResult(status="duplicate", ticket_id=known, url=_url(known))
        parent = self._own_thread(adapted.thread_refs, caller)
        if parent is not None:
            return self._thread(adapted, parent)
        return self._enqueue(adapted, source, caller, pre, key)

    def _enqueue(
        self,
        adapted: Adapted,
        source: str,
        caller: Principal,
        pre: PrePriority | None,
        key: str | None = None,
    ) -> IntakeResult:
        """Store the ticket and queue it (a duplicate answers with the earlier one)."""
        ticket = adapted.ticket
        if pre is None:
            pre = pre_priority(self.policy(), ticket)
        if key is None:
            key = external_key(ticket, caller)
        claim = self.store.claim(ticket, key, caller.key_id, "queued")
        if not claim.created:
            return IntakeResult(status="duplicate", ticket_id=claim.id, url=_url(claim.id))
        publishing = outside_database(self.queue)
        self.records.register(
            claim.id,
            source,
            ticket.channel,
            ticket.account.tier,
            pre.order,
            adapted.raw,
            publishing,
        )
        urgent = self.urgent_rank(pre.rank)
        try:
            self.queue.put(QueueItem(claim.id, source, pre.order, urgent))
        except IntegrityError:
            # The embedded queue has it already: a process starting meanwhile found it stored
            # but not yet queued and queued it (api.intake.recovery). Queued once, it stays.
            log.info("ticket %s was queued by a process's start-up recovery", claim.id)
        except Exception:
            # Full, or the broker unreachable: nothing half-accepted stays behind, and the
            # caller's retry starts afresh (kept, it would be a 'duplicate' in no queue).
            self.records.forget(claim.id)
            self.store.discard(claim.id)
            raise
        if publishing:
            self.published(claim.id)
        if adapted.thread_id:
            self.records.add_thread(adapted.thread_id, claim.id)
        self.health.received(source)
        return IntakeResult(
            status="queued",
            ticket_id=claim.id,
            priority=pre.label,
            reasons=list(pre.reasons),
            url=_url(claim.id),
        )

    def release(self, reject_id: int, by: str, fixed: dict[str, Any] | None = None) -> IntakeResult:
        """A person sends a kept payload on to triage, once: its ticket, or the fixed one given.

        Quarantine holds a big account's unusual payload for a person; a rejected one may have
        been refused wrongly. The checks that held it are not run again (a person looked), and
        the ticket belongs to the key that sent it, which can read it as its own.
        """
        kept = self.rejects.get(reject_id)
        if kept.released_at is not None:
            raise ConflictError(f"payload {reject_id} was released already, as {kept.ticket_id}")
        # A fix names the fields to change; the rest stay as adapted (source, sender, arrival).
        data = {**(kept.ticket or {}), **fixed} if fixed is not None else kept.ticket
        if data is None:
            raise InputError(
                f"payload {reject_id} could not be read into a ticket: send the fixed ticket"
            )
        try:
            ticket = Ticket.model_validate(data)
        except ValidationError as exc:
            raise InputError(f"ticket: {first_problem(exc, 'ticket')}") from None
        if not self.rejects.mark_released(reject_id, by):
            raise ConflictError(f"payload {reject_id} was released already")
        owner = Principal(
            key_id=kept.submitted_by or RELEASED_BY,
            name=by,
            role="helpdesk" if kept.submitted_by else "admin",
        )
        try:
            result = self._enqueue(
                Adapted(ticket=ticket, raw=kept.payload or {}), kept.source, owner, None, kept.key
            )
        except Exception:
            self.rejects.set_released(reject_id, None)
            raise
        self.rejects.set_released(reject_id, result.ticket_id)
        log.info("payload %s released by %s as ticket %s", reject_id, by, result.ticket_id)
        return result

    def _kept_before(self, key: str, raw: dict[str, Any]) -> IntakeResult | None:
        """A resend of a payload kept under the same idempotency key: the first answer again.

        The sender's retry (a timeout, a lost answer) must not keep a second copy a person could
        release as a second ticket; once released, the resend names the ticket it became.
        """
        kept = self.rejects.sent_as(key)
        if kept is None:
            return None
        if kept.payload != raw:
            raise ConflictError(
                f"payload {kept.id} was already sent with different content under the same "
                "idempotency key"
            )
        if kept.ticket_id is not None:
            return IntakeResult(
                status="duplicate", ticket_id=kept.ticket_id, url=_url(kept.ticket_id)
            )
        return IntakeResult(
            status=kept.verdict, reject_id=kept.id, reasons=kept.reasons, replayed=True
        )

    def _own_thread(self, message_ids: list[str], caller: Principal) -> str | None:
        """The ticket those Message-IDs belong to, if the caller may add to it.

        A helpdesk key threads only into tickets it submitted: another key's mail quoting a
        Message-ID (they are not secret) must not write into, or learn of, someone else's ticket.
        """
        found = self.records.thread_of(message_ids)
        if found is None or caller.submitter_scope is None:
            return found
        return found if self.store.owner(found) == caller.submitter_scope else None

    def _thread(self, adapted: Adapted, parent: str) -> IntakeResult:
        """A reply to a known ticket joins its messages instead of opening a new ticket."""
        ticket = adapted.ticket
        message = {
            "role": "customer",
            "author": ticket.requester,
            "body": ticket.body or ticket.subject,
            "sent_at": ticket.received_at.isoformat(),
        }
        self.store.append_message(parent, message)
        if adapted.thread_id:
            self.records.add_thread(adapted.thread_id, parent)
        log.info("e-mail %s threaded into ticket %s", adapted.thread_id, parent)
        return IntakeResult(status="threaded", ticket_id=parent, url=_url(parent))

    def _keep(
        self,
        source: str,
        channel: str,
        verdict: RejectVerdict,
        reasons: list[str],
        raw: dict[str, Any],
        ticket: dict[str, Any] | None,
        tier: str | None,
        caller: Principal,
        key: str | None = None,
    ) -> IntakeResult:
        try:
            kept = self.rejects.add(
                source, channel, verdict, reasons, raw, ticket, tier, caller.key_id, key
            )
        except IntegrityError:
            # A concurrent resend under the same key kept it first: answer with that one.
            earlier = self._kept_before(key, raw) if key is not None else None
            if earlier is None:
                raise
            return earlier
        self.health.rejected(source)
        return IntakeResult(status=verdict, reject_id=kept, reasons=reasons)


def _url(ticket_id: str | None) -> str | None:
    return f"/v1/tickets/{ticket_id}" if ticket_id else None
