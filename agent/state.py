"""What flows through the graph: the narrow input and the fuller state, each field documented."""

from __future__ import annotations

from typing import TypedDict

from pydantic import BaseModel, Field

from agent.llm import LLMOutcome
from agent.models import Brief, Ticket, TriageDecision
from agent.priority import PriorityChoice
from agent.route import RouteChoice
from agent.rules import Complexity, RuleHit
from knowledge.base import RoutePrediction
from knowledge.cases import Case, SimilarCase


class TriageInput(TypedDict):
    """What a caller gives the graph: one canonical ticket."""

    ticket: Ticket


class TriageState(TypedDict, total=False):
    """Everything the nodes learn about one ticket, in the order they learn it."""

    ticket: Ticket
    """The ticket as received (untrusted text)."""
    policy_version: str
    """Fingerprint of the policy the run started under: a run that died resumes only under it."""
    clean_subject: str
    """Subject with instruction-like passages removed."""
    clean_text: str
    """Subject and body with instruction-like passages removed: the only text later steps read."""
    injections: list[str]
    """Passages removed as possible prompt injection."""
    hits: list[RuleHit]
    """Policy rules that fired."""
    complexity: Complexity
    """Complexity score with its parts, error codes, products and urgency cues."""
    embedding: list[float]
    """Embedding of clean_text."""
    similar: list[SimilarCase]
    """Nearest past cases, most similar first."""
    requester_cases: list[Case]
    """The requester's own earlier cases in the knowledge base."""
    account_cases: list[Case]
    """Earlier cases of the ticket's account (all its requesters) in the knowledge base."""
    prediction: RoutePrediction
    """The learned router's calibrated scores."""
    llm: LLMOutcome | None
    """The LLM's structured answer, or why it was skipped or failed."""
    route: RouteChoice
    """Team, tier, individual and how they were chosen."""
    priority: PriorityChoice
    """Priority, SLA and tags."""
    decision: TriageDecision
    """The decision with all its evidence."""
    brief: Brief
    """What the specialist reads first."""


class HumanReview(BaseModel):
    """A reviewer's decision on a ticket the agent abstained on; it resumes the waiting run."""

    team: str
    escalate: bool | None = Field(default=None, description="None: follows from the team")
    priority: str | None = None
    assignee: str | None = None
    reviewer: str = "reviewer"
    raised_priority: str | None = Field(
        default=None,
        description="the priority the SLA watch raised the ticket to while it waited; "
        "kept when the reviewer names none",
    )
    note: str = ""
