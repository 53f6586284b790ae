"""Shared pieces of the graph tests: the example policy, the demo knowledge base, a checkpointed
triager and stand-ins on the real interfaces (a module of its own: tests import it by name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from agent.llm import LLMClassifier, LLMOutcome
from agent.models import Ticket
from agent.policy import Policy, load_policy
from agent.settings import EXAMPLES_DIR, Settings
from agent.triager import Triager, sqlite_checkpointer
from knowledge.base import RoutePrediction
from knowledge.embeddings import CachedEmbedder, MiniLMEmbedder
from knowledge.ingest import read_cases
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter

POLICY = load_policy(EXAMPLES_DIR / "policy.yaml")
DOCK = "My laptop no longer recognises the docking station; the monitors stay dark."


def demo_kb(cache_dir: Path) -> KnowledgeBase:
    """The demo cases in an in-memory store, with a fitted router (embeddings and model files
    kept under ``cache_dir``)."""
    cache = cache_dir / "cache.sqlite"
    router = LearnedRouter(model_dir=cache_dir / "models")
    base = KnowledgeBase(InMemoryCaseStore(), CachedEmbedder(MiniLMEmbedder(), cache), router)
    base.ingest(read_cases(EXAMPLES_DIR / "demo_tickets.jsonl", label="team"))
    base.refit()
    return base


def checkpointed(
    settings: Settings, kb: KnowledgeBase, policy: Policy = POLICY, llm: Any = None
) -> Triager:
    """A triager whose runs are checkpointed in the settings' SQLite file."""
    return Triager(
        settings=settings,
        policy=policy,
        kb=kb,
        llm=cast(LLMClassifier | None, llm),
        checkpointer=sqlite_checkpointer(settings),
    )


class RecordingLLM:
    """Stands in for the LLM classifier: records which tickets it was asked about."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []

    def check_budget(self, policy: Policy) -> None:
        """Nothing is sent: any budget fits."""

    def classify(self, *, ticket: Ticket, **_: Any) -> LLMOutcome:
        self.asked.append(ticket.id)
        return LLMOutcome(error="not asked in this test")


class DiesOnce:
    """The real router, whose first prediction dies as a killed process would."""

    def __init__(self, inner: LearnedRouter) -> None:
        self.inner, self.died = inner, False

    def predict(self, **kwargs: Any) -> RoutePrediction:
        if not self.died:
            self.died = True
            raise RuntimeError("process died")
        return self.inner.predict(**kwargs)
