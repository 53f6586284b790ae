"""The graph's checkpoints over time: what a run resumes from, and what is left behind."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from graph_support import POLICY, DiesOnce, checkpointed

from agent.models import Ticket
from agent.policy import Policy
from agent.settings import Settings
from knowledge.kb import KnowledgeBase
from knowledge.router import LearnedRouter

ORA = Ticket(id="t-ora", subject="Reports fail", body="The nightly export stops with ORA-01652.")


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
    flaky = KnowledgeBase(kb.store, kb.embedder, cast(LearnedRouter, DiesOnce(kb.router)))
    first = checkpointed(settings, flaky)
    with pytest.raises(RuntimeError, match="process died"):
        first.triage(ORA)
    newer = _without_rule(POLICY, "ora-errors")
    second = checkpointed(settings, flaky, newer)
    decision = second.triage(ORA).decision
    # Decided by the policy now active, not by the rule hits the old one found.
    assert decision.policy_version == newer.fingerprint
    assert not any(e.source == "ora-errors" for e in decision.evidence)
    assert decision.decided_by != "rule"
