"""Idempotency keys of submitted tickets: the caller's header, else the source's own id."""

from __future__ import annotations

from agent.errors import InputError
from agent.models import Ticket
from api.auth import Principal

MAX_KEY_CHARS = 200


def idempotency_key(ticket: Ticket, header: str | None, caller: Principal) -> str | None:
    """The header's key (scoped to the caller), else the source and its external id."""
    if header is not None:
        return header_key(header, caller)
    return external_key(ticket, caller)


def header_key(header: str, caller: Principal) -> str:
    """An Idempotency-Key header's value as a key scoped to the caller (InputError if unfit)."""
    header = header.strip()
    if not header or len(header) > MAX_KEY_CHARS:
        raise InputError(f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters")
    return f"key:{caller.key_id}:{header}"


def external_key(ticket: Ticket, caller: Principal) -> str | None:
    """The source's own id as an idempotency key, scoped like the caller's reads.

    External ids are unique only within one source system: two helpdesk keys (two customers'
    systems) may both send "T-1". A helpdesk key's ids are its own; keys that read everything
    (admin) share one space.
    """
    if not ticket.external_id:
        return None
    scope = f"{caller.submitter_scope}:" if caller.submitter_scope is not None else ""
    return f"ext:{scope}{ticket.channel}:{ticket.external_id}"
