"""What the nodes need from outside the state: policy, engines, knowledge base, LLM, loads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.assign import LoadView
from agent.llm import LLMClassifier
from agent.policy import Policy
from agent.rules import RuleEngine
from agent.settings import Settings
from knowledge.embeddings import Embedder
from knowledge.kb import KnowledgeBase
from knowledge.router import LearnedRouter


@dataclass
class Deps:
    """Long-lived collaborators of one graph; rebuilt when the policy changes."""

    settings: Settings
    policy: Policy
    kb: KnowledgeBase
    loads: LoadView
    llm: LLMClassifier | None = None
    # A stored ticket routed again (a policy dry-run): its own case, learned since, is left out
    # of its precedents, histories and the router's observed cases (see knowledge.replay).
    replay: bool = False
    rules: RuleEngine = field(init=False)
    query_embedder: Embedder = field(init=False)
    team_embeddings: dict[str, np.ndarray] = field(init=False)
    policy_version: str = field(init=False)

    def __post_init__(self) -> None:
        _ = self.router  # fail at construction, not at the first ticket
        self.rules = RuleEngine(self.policy)
        self.policy_version = self.policy.fingerprint  # recorded on every decision
        # A new ticket's text is embedded once: caching it would only add a disk write.
        self.query_embedder = getattr(self.kb.embedder, "inner", self.kb.embedder)
        # the policy's teams: the cold start routes by them, the router weighs them
        self.team_embeddings = self.kb.embed_teams(self.policy.team_texts())

    @property
    def router(self) -> LearnedRouter:
        """The knowledge base's current router (a background refit swaps in a new one)."""
        router = self.kb.router
        if router is None:
            raise ValueError("the triage graph needs a knowledge base with a learned router")
        return router
