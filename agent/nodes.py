"""The graph's nodes: each reads the state, calls one concern's module, and returns its update."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from langgraph.types import interrupt

from agent.brief import build_brief, steps_after_review
from agent.decision import apply_review, assemble_decision
from agent.deps import Deps
from agent.injection import normalise_whitespace, scan
from agent.models import Brief, Ticket, TriageDecision
from agent.priority import choose_priority, settle_priority
from agent.route import choose_route, tree_team
from agent.rules import Complexity, RuleHit
from agent.state import HumanReview, TriageState
from agent.waiting import waiting
from knowledge.base import RoutePrediction
from knowledge.replay import cases_without, router_without, similar_without

Update = dict[str, Any]


class Nodes:
    """Node functions bound to their collaborators."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def normalize(self, state: TriageState) -> Update:
        """Remove instruction-like passages; later steps only ever read the cleaned text."""
        ticket = state["ticket"]
        subject = scan(ticket.subject)
        body = scan(ticket.body)
        clean_subject = subject.clean_text
        clean_text = normalise_whitespace(f"{clean_subject}\n{body.clean_text}")
        # The LLM prompt also shows the product and the account tier, cleaned the same way.
        shown = [scan(value) for value in (ticket.product, ticket.account.tier) if value]
        return {
            "policy_version": self.deps.policy_version,
            "clean_subject": clean_subject,
            "clean_text": clean_text,
            "injections": [p for found in (subject, body, *shown) for p in found.passages],
        }

    def rules(self, state: TriageState) -> Update:
        """Evaluate the policy's rules and the complexity score on the cleaned text."""
        engine = self.deps.rules
        ticket, text = state["ticket"], state["clean_text"]
        return {
            "hits": engine.evaluate(ticket, text, subject=state["clean_subject"]),
            "complexity": engine.complexity(ticket, text),
        }

    def retrieve(self, state: TriageState) -> Update:
        """Embed the cleaned text; fetch the nearest past cases, the requester's, the account's."""
        kb, k, ticket = self.deps.kb, self.deps.settings.neighbours, state["ticket"]
        vector = self.deps.query_embedder.embed([state["clean_text"]])[0]
        extra = 1 if self.deps.replay else 0  # room for the replayed ticket's own case
        similar = kb.store.search(vector, k + extra)
        requester, account = ticket.requester, ticket.account.id
        own = kb.store.by_requester(requester, limit=20 + extra) if requester else []
        ours = kb.store.by_account(account, limit=20 + extra) if account else []
        if self.deps.replay:
            similar = similar_without(similar, ticket.id, k)
            own, ours = cases_without(own, ticket.id, 20), cases_without(ours, ticket.id, 20)
        return {
            "embedding": vector.tolist(),
            "similar": similar,
            "requester_cases": own,
            "account_cases": ours,
        }

    def classify(self, state: TriageState) -> Update:
        """Learned scores first; the LLM only where configured and the cheaper steps are unsure."""
        deps = self.deps
        router = deps.router
        if deps.replay:
            router = router_without(router, state["ticket"].id)
        prediction = router.predict(
            text=state["clean_text"],
            embedding=np.asarray(state["embedding"], dtype=np.float32),
            neighbours=state["similar"],
            requester_cases=state["requester_cases"],
            account_cases=state.get("account_cases", []),
            team_names=deps.policy.team_names,
            team_description_embeddings=deps.team_embeddings,
        )
        update: Update = {"prediction": prediction, "llm": None}
        if deps.llm is None or not self._llm_wanted(state, prediction):
            return update
        # The LLM call takes seconds: the service's engine is let go for it (agent.waiting).
        # Everything it reads is this run's own (the state, this graph's policy), and the
        # steps after it read no router or knowledge base, only this prediction, this graph's
        # policy and the live loads: a correction, refit or policy change that lands meanwhile
        # acts from the next ticket on, as if it had come after this one.
        with waiting():
            update["llm"] = deps.llm.classify(
                ticket=state["ticket"],
                clean_text=state["clean_text"],
                policy=deps.policy,
                precedents=state["similar"],
                candidates=prediction.teams[:5],
            )
        return update

    def _llm_wanted(self, state: TriageState, prediction: RoutePrediction) -> bool:
        if self.deps.settings.llm_when == "always":
            return True
        # A rule that names a team or keeps the ticket first line decides before any LLM would.
        deciding_rule = any(
            h.actions.escalate_to or h.actions.stay_first_line for h in state["hits"]
        )
        policy = self.deps.policy
        novel = prediction.novel and policy.novel_to_review
        unsure = novel or prediction.confidence < policy.review_threshold
        if deciding_rule or not unsure:
            return False
        # Nor a decision-tree branch that names the team whatever the guess (read with the
        # priority the ticket will get, as the route step reads it).
        ticket, hits = state["ticket"], state["hits"]
        level, _ = settle_priority(policy, ticket, hits, state["complexity"], prediction)
        return tree_team(policy, ticket, hits, level) is None

    def route(self, state: TriageState) -> Update:
        """Rules and explicit policy first, then the LLM or the learned model; then the tree."""
        prediction = state["prediction"]
        outcome = state.get("llm")
        llm_team: str | None = None
        llm_confidence: float | None = None
        if outcome is not None and outcome.choice is not None:
            llm_team = outcome.choice.team
            learned = {s.team: s.score for s in prediction.teams}.get(llm_team, 0.0)
            # The LLM's self-reported confidence is not calibrated; average it with the
            # calibrated score the learned router gives the same team.
            llm_confidence = (learned + outcome.choice.confidence) / 2
        policy, ticket, hits = self.deps.policy, state["ticket"], state["hits"]
        # The tree's priority conditions read the priority the ticket will get, not a floor.
        level, _ = settle_priority(policy, ticket, hits, state["complexity"], prediction)
        choice = choose_route(
            policy,
            ticket,
            hits,
            prediction,
            llm_team=llm_team,
            llm_confidence=llm_confidence,
            loads=self.deps.loads,
            now=datetime.now(UTC),
            priority=level,
        )
        return {"route": choice}

    def priority(self, state: TriageState) -> Update:
        """Priority, SLA due times, protocol actions and tags; then the whole decision."""
        choice = choose_priority(
            self.deps.policy,
            state["ticket"],
            state["hits"],
            state["complexity"],
            state["prediction"],
            escalate=state["route"].escalate,
            now=state["ticket"].received_at,
        )
        decision = assemble_decision(
            {**state, "priority": choice}, self.deps.policy, self.deps.policy_version
        )
        return {"priority": choice, "decision": decision}

    def brief(self, state: TriageState) -> Update:
        """Write what the specialist reads first."""
        return {"brief": build_brief(state, state["decision"])}

    def review(self, state: TriageState) -> Update:
        """Wait for a human on an abstained decision; apply and learn from theirs."""
        decision = state["decision"]
        answer = interrupt({"ticket_id": decision.ticket_id, "reasons": decision.review_reasons})
        review = HumanReview.model_validate(answer)
        found = (state["hits"], state["complexity"])
        reviewed, brief = review_held(
            decision, state["brief"], review, state["ticket"], self.deps, found
        )
        return {"decision": reviewed, "brief": brief}


def review_held(
    decision: TriageDecision,
    brief: Brief,
    review: HumanReview,
    ticket: Ticket,
    deps: Deps,
    found: tuple[list[RuleHit], Complexity] | None = None,
) -> tuple[TriageDecision, Brief]:
    """A held decision and its brief once the reviewer answered (the review step's work).

    ``found``: the run's rule hits and complexity; a held decision whose run is gone has them
    read again from the ticket, as the rules step read it."""
    if found is None:
        subject = scan(ticket.subject).clean_text
        text = normalise_whitespace(f"{subject}\n{scan(ticket.body).clean_text}")
        found = (
            deps.rules.evaluate(ticket, text, subject=subject),
            deps.rules.complexity(ticket, text),
        )
    hits, complexity = found
    reviewed = apply_review(
        decision,
        review,
        deps.policy,
        ticket.received_at,
        deps.loads,
        datetime.now(UTC),
        ticket=ticket,
        hits=hits,
        complexity=complexity,
    )
    update = {
        "decision_summary": _summary_after_review(review),
        "next_steps": steps_after_review(brief, decision.team, reviewed.team),
    }
    return reviewed, brief.model_copy(update=update)


def _summary_after_review(review: HumanReview) -> str:
    note = f": {review.note}" if review.note else ""
    return f"Routed to {review.team} by {review.reviewer} after review{note}"
