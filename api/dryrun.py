"""Dry-run of a candidate policy: replay the last N stored tickets and report changed decisions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from agent.policy import Policy
from api.engine import LockedEngine, TriageEngine
from api.schemas import DecisionChange, DryRunOut
from api.store import TicketStore

COMPARED = ("team", "tier", "escalate", "priority", "needs_review", "tags")

Fork = Callable[[TriageEngine, Policy], TriageEngine]


def dry_run(
    engine: LockedEngine, store: TicketStore, candidate: Policy, last: int, fork: Fork
) -> DryRunOut:
    """Route the last ``last`` tickets with the candidate; compare with the agent's stored decision.

    The assignee is not compared: it follows today's workloads, not the policy alone.
    """
    shadow = engine.sibling(fork(engine.triager, candidate))
    run = uuid.uuid4().hex[:8]
    changes: list[DecisionChange] = []
    replayed = 0
    for ticket_id in store.recent(last):
        current = store.first_decision(ticket_id)
        if current is None:
            continue
        thread = f"dry-run-{run}-{ticket_id}"
        result = shadow.triage(store.ticket(ticket_id), thread_id=thread)
        shadow.triager.forget(thread)
        replayed += 1
        proposed = result.decision.model_dump(mode="json")
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
    )


def _norm(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value
