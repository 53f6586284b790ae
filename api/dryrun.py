"""Dry-run of a candidate policy: replay the last N stored tickets and report changed decisions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from agent.models import Ticket
from agent.policy import Policy
from api.engine import LockedEngine, TriageEngine
from api.schemas import DecisionChange, DryRunOut
from api.store import TicketStore

COMPARED = ("team", "tier", "escalate", "priority", "needs_review", "tags")

Fork = Callable[[TriageEngine, Policy], TriageEngine]


def dry_run(
    engine: LockedEngine, store: TicketStore, candidate: Policy, last: int, fork: Fork
) -> DryRunOut:
    """Route the last ``last`` tickets with the active policy and with the candidate; compare.

    Both run now, on the same knowledge base and loads, so a change is the candidate's alone: the
    stored decisions were made under older policies and a smaller knowledge base, and comparing
    with them would also report what the knowledge base has learned since. The assignee is not
    compared: it follows today's workloads, not the policy alone.
    """
    active = engine.sibling(fork(engine.triager, engine.policy))
    shadow = engine.sibling(fork(engine.triager, candidate))
    run = uuid.uuid4().hex[:8]
    changes: list[DecisionChange] = []
    replayed = 0
    for ticket_id in store.recent(last):
        ticket = store.ticket(ticket_id)
        # Both runs of a ticket in one hold of the engine: a correction learned or a refit swapped
        # in between them would pass for a change the candidate makes.
        with engine.held():
            current = _decide(active, ticket, f"dry-run-{run}-active-{ticket_id}")
            proposed = _decide(shadow, ticket, f"dry-run-{run}-{ticket_id}")
        replayed += 1
        changed = [f for f in COMPARED if _norm(current.get(f)) != _norm(proposed.get(f))]
        if changed:
            changes.append(
                DecisionChange(
                    ticket_id=ticket_id,
                    changed=changed,
                    current={f: current.get(f) for f in COMPARED},
                    candidate={f: proposed.get(f) for f in COMPARED},
                )
            )
    return DryRunOut(
        candidate_fingerprint=candidate.fingerprint,
        replayed=replayed,
        changed=len(changes),
        changes=changes,
        open_tickets_of_dropped_teams=store.open_outside(candidate.team_names),
    )


def _decide(engine: LockedEngine, ticket: Ticket, thread: str) -> dict[str, Any]:
    result = engine.triage(ticket, thread_id=thread)
    engine.triager.forget(thread)
    return result.decision.model_dump(mode="json")


def _norm(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value
