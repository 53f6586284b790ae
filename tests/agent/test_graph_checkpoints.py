"""The graph's checkpoints over time: what a run resumes from, and what is left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

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
ORA = Ticket(id="t-ora", subject="Reports fail", body="The nightly export stops with ORA-01652.")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The demo cases in an in-memory store, with a fitted router."""
    cache = tmp_path_factory.mktemp("emb") / "cache.sqlite"
    router = LearnedRouter(model_dir=cache.parent / "models")
    base = KnowledgeBase(InMemoryCaseStore(), CachedEmbedder(MiniLMEmbedder(), cache), router)
    base.ingest(read_cases(EXAMPLES_DIR / "demo_tickets.jsonl", label="team"))
    base.refit()
    yield base


class _DiesOnce:
    """The real router, whose first prediction dies as a killed process would."""

    def __init__(self, inner: LearnedRouter) -> None:
        self.inner, self.died = inner, False

    def predict(self, **kwargs: Any) -> RoutePrediction:
        if not self.died:
            self.died = True
            raise RuntimeError("process died")
        return self.inner.predict(**kwargs)


def _without_rule(policy: Policy, rule_id: str) -> Policy:
    return policy.model_copy(
        update={"rules": [r for r in policy.rules if r.id != rule_id], "version": "2"}
    )


def test_a_run_that_died_resumes_only_under_the_policy_it_started_with(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    # The process dies after the rules step; it is restarted with a policy that dropped the rule.
    settings = Settings(data_dir=tmp_path, checkpoint_durability="sync")
    assert kb.router is not None
    flaky = KnowledgeBase(kb.store, kb.embedder, cast(LearnedRouter, _DiesOnce(kb.router)))
    first = Triager(
        settings=settings, policy=POLICY, kb=flaky, checkpointer=sqlite_checkpointer(settings)
    )
    with pytest.raises(RuntimeError, match="process died"):
        first.triage(ORA)
    newer = _without_rule(POLICY, "ora-errors")
    second = Triager(
        settings=settings, policy=newer, kb=flaky, checkpointer=sqlite_checkpointer(settings)
    )
    decision = second.triage(ORA).decision
    # Decided by the policy now active, not by the rule hits the old one found.
    assert decision.policy_version == newer.fingerprint
    assert not any(e.source == "ora-errors" for e in decision.evidence)
    assert decision.decided_by != "rule"
