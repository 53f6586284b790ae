"""When the classify step asks the LLM: only where its answer can still change the route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from agent.llm import LLMClassifier, LLMOutcome
from agent.models import Ticket
from agent.policy import Policy, load_policy
from agent.settings import EXAMPLES_DIR, Settings
from agent.triager import Triager, memory_checkpointer
from knowledge.embeddings import CachedEmbedder, MiniLMEmbedder
from knowledge.ingest import read_cases
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter

POLICY = load_policy(EXAMPLES_DIR / "policy.yaml")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The demo cases in an in-memory store, with a fitted router."""
    cache = tmp_path_factory.mktemp("emb") / "cache.sqlite"
    router = LearnedRouter(model_dir=cache.parent / "models")
    base = KnowledgeBase(InMemoryCaseStore(), CachedEmbedder(MiniLMEmbedder(), cache), router)
    base.ingest(read_cases(EXAMPLES_DIR / "demo_tickets.jsonl", label="team"))
    base.refit()
    yield base


class RecordingLLM:
    """Stands in for the LLM classifier: records which tickets it was asked about."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []

    def check_budget(self, policy: Policy) -> None:
        """Nothing is sent: any budget fits."""

    def classify(self, *, ticket: Ticket, **_: Any) -> LLMOutcome:
        self.asked.append(ticket.id)
        return LLMOutcome(error="not asked in this test")


def test_the_llm_is_not_asked_about_a_ticket_the_decision_tree_sends_to_a_team(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    # The example policy's hardware-category branch sends a ticket of category hardware to the
    # hardware team whatever team the model or the LLM guesses.
    llm = RecordingLLM()
    unsure = POLICY.model_copy(update={"review_threshold": 1.0})  # the model is never sure
    triager = Triager(
        settings=Settings(data_dir=tmp_path),
        policy=unsure,
        kb=kb,
        llm=cast(LLMClassifier, llm),
        checkpointer=memory_checkpointer(),
    )
    text = {
        "subject": "Docking station not detected",
        "body": "My laptop no longer recognises the docking station; the monitors stay dark.",
    }
    formed = Ticket(id="formed", category="device", **text)
    plain = Ticket(id="plain", **text)
    decision = triager.triage(formed).decision
    assert (decision.team, decision.decided_by) == ("hardware", "tree")
    triager.triage(plain)
    assert llm.asked == ["plain"]
