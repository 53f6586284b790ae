"""A stored ticket routed again (a policy dry-run): its own case, learned since, is left out.

Once a ticket is decided by a reviewer, corrected by a specialist or resolved in the helpdesk, it
is a case of the knowledge base under its own id. Routed again, it would find that case as its
nearest precedent (similarity 1), in its requester's and account's history and, before a refit,
among the router's observed cases, where a corrected near-duplicate wins outright: the replay
would read back the answer it is meant to be compared with. What the fitted models learned from
the case stays (leaving it out there takes a refit without it).
"""

from __future__ import annotations

import copy

from knowledge.cases import Case, SimilarCase
from knowledge.observed import ObservedWithout
from knowledge.router import LearnedRouter


def router_without(router: LearnedRouter, case_id: str) -> LearnedRouter:
    """The router as it routes, its observed case of that id left out (the router is not changed:
    the copy shares its models and observed rows)."""
    replica = copy.copy(router)
    replica._observed = ObservedWithout(router._observed, case_id)
    return replica


def similar_without(found: list[SimilarCase], case_id: str, k: int) -> list[SimilarCase]:
    """The k nearest cases other than that one (``found`` holds k + 1)."""
    return [s for s in found if s.case.id != case_id][:k]


def cases_without(cases: list[Case], case_id: str, limit: int) -> list[Case]:
    """The cases other than that one, at most ``limit`` (``cases`` holds limit + 1)."""
    return [c for c in cases if c.id != case_id][:limit]
