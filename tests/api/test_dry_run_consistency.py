"""A policy dry-run compares the two policies on the same knowledge base, ticket by ticket."""

from __future__ import annotations

import threading

from api_support import Api

from agent.models import Ticket
from agent.policy import Policy
from agent.state import HumanReview
from agent.triager import TriageResult
from api.dryrun import dry_run
from api.engine import Learner, TriageEngine, fork_triager
from knowledge.feedback import Feedback

PRINTER = {"subject": "printer jammed", "body": "the printer on floor 2 is jammed"}


class _CorrectionArrivesAfter:
    """A fork whose run, once done, is followed by a specialist's correction of a near-duplicate
    that another request thread learns (it waits its turn at the engine for up to 2 s)."""

    def __init__(self, inner: TriageEngine, learn: threading.Thread) -> None:
        self.inner = inner
        self.learn = learn

    @property
    def policy(self) -> Policy:
        return self.inner.policy

    @property
    def kb(self) -> Learner:
        return self.inner.kb

    def triage(self, ticket: Ticket, thread_id: str | None = None) -> TriageResult:
        return self.inner.triage(ticket, thread_id=thread_id)

    def resume(self, thread_id: str, review: HumanReview) -> TriageResult:
        return self.inner.resume(thread_id, review)

    def decide_held(self, held: TriageResult, ticket: Ticket, review: HumanReview) -> TriageResult:
        return self.inner.decide_held(held, ticket, review)

    def set_policy(self, policy: Policy) -> None:
        self.inner.set_policy(policy)

    def forget(self, thread_id: str) -> None:
        self.inner.forget(thread_id)
        if not self.learn.is_alive() and self.learn.ident is None:
            self.learn.start()
            self.learn.join(2.0)


def test_a_correction_learned_during_a_dry_run_is_not_reported_as_the_candidates_change(
    api: Api,
) -> None:
    routed = api.client.post("/v1/triage", json=PRINTER, headers=api.auth("helpdesk")).json()
    assert routed["team"] != "database"
    engine = api.services.engine
    correction = Feedback(ticket_id="elsewhere-1", **PRINTER, correct_team="database")
    learn = threading.Thread(target=engine.learn, args=(correction,))
    forks: list[TriageEngine] = []

    def fork(live: TriageEngine, policy: Policy) -> TriageEngine:
        made = fork_triager(live, policy)
        forks.append(made)
        return _CorrectionArrivesAfter(made, learn) if len(forks) == 1 else made

    # the candidate is the active policy itself: nothing it changes is its own doing
    report = dry_run(engine, api.services.store, engine.policy, 10, fork)
    learn.join(10.0)
    assert report.replayed == 1
    assert [c.model_dump() for c in report.changes] == []
    # the correction was learned, after the ticket's two runs
    again = api.client.post("/v1/triage", json=PRINTER, headers=api.auth("helpdesk")).json()
    assert again["team"] == "database"
