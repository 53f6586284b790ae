"""The prompt budget against the policy: refused where the classifier meets a policy (at start, on
a policy change) when it cannot hold the policy's prompt with a ticket, not ticket by ticket."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from llm_support import (
    GOOD,
    LONG_SUBJECT_IDS,
    LONG_SUBJECTS,
    POLICY,
    FakeLLMServer,
    answer,
    classify,
    fake_classifier,
    llm_settings,
    request_tokens,
)

from agent.errors import InputError
from agent.llm import LLMClassifier
from agent.llm_prompt import CUT_MARK
from agent.models import Account, TeamScore, Ticket
from agent.policy import Policy, load_policy
from agent.settings import EXAMPLES_DIR
from agent.triager import Triager
from knowledge.embeddings import make_embedder
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter

EXAMPLE = load_policy(EXAMPLES_DIR / "policy.yaml")
NEEDED = re.compile(r"below the (\d+) tokens")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """A cold-start knowledge base: all a triager needs to activate a policy."""
    cache = tmp_path_factory.mktemp("emb") / "cache.sqlite"
    router = LearnedRouter(model_dir=cache.parent / "models")
    return KnowledgeBase(InMemoryCaseStore(), make_embedder("minilm-int8", cache), router)


def _triager(kb: KnowledgeBase, policy: Policy, budget: int) -> Triager:
    settings = llm_settings(llm_max_prompt_tokens=budget)
    return Triager(
        settings=settings, policy=policy, kb=kb, llm=LLMClassifier.from_settings(settings)
    )


def _needed(kb: KnowledgeBase, policy: Policy) -> int:
    """The least budget the refusal of a 256-token budget names for this policy."""
    with pytest.raises(InputError) as refused:
        _triager(kb, policy, 256)
    found = NEEDED.search(str(refused.value))
    assert found is not None, str(refused.value)
    return int(found.group(1))


def test_a_budget_too_small_for_the_policy_is_refused_at_start(kb: KnowledgeBase) -> None:
    with pytest.raises(InputError) as refused:
        _triager(kb, EXAMPLE, 256)
    message = str(refused.value)
    assert message.startswith("TRIAGE_LLM_MAX_PROMPT_TOKENS is 256, below the ")
    assert "policy 'example-co'" in message and f"{len(EXAMPLE.teams)} teams" in message
    assert re.search(r", \d{3} for the JSON schema of its answer, ", message), message
    assert _needed(kb, EXAMPLE) > _needed(kb, POLICY) > 256  # the teams are most of it


@pytest.mark.parametrize("subject", LONG_SUBJECTS, ids=LONG_SUBJECT_IDS)
def test_the_least_budget_named_sends_a_ticket_at_every_length_cap(
    kb: KnowledgeBase, tmp_path: Path, subject: str
) -> None:
    needed = _needed(kb, EXAMPLE)
    with pytest.raises(InputError):
        _triager(kb, EXAMPLE, needed - 1)
    assert _triager(kb, EXAMPLE, needed).policy is EXAMPLE
    ticket = Ticket(
        channel="helpdesk",
        subject=subject,  # cut, and marked as cut, within SUBJECT_TOKENS
        body="The VPN drops every ten minutes with error 809. " * 400,
        product="<" * 10_000 + ">" * 10_000,  # 20,000 tokens once escaped
        account=Account(tier=("エンタープライズ・プラチナ" * 2000)[:20_000]),
    )
    server = FakeLLMServer(answer(GOOD))
    outcome = classify(
        fake_classifier(server, llm_max_prompt_tokens=needed),
        ticket,
        policy=EXAMPLE,
        candidates=[TeamScore(team=t, score=0.1) for t in EXAMPLE.team_names],
    )
    assert outcome.choice is not None, outcome.error
    messages, schema = request_tokens(server.bodies[0])
    assert outcome.prompt_tokens_estimate == messages + schema <= needed
    assert outcome.precedents_sent == []  # no room was left for them
    assert f"{CUT_MARK}</subject>" in server.requests[0]["messages"][1]["content"]


def test_a_policy_the_budget_cannot_hold_is_refused_and_the_active_one_stays(
    kb: KnowledgeBase,
) -> None:
    triager = _triager(kb, POLICY, _needed(kb, POLICY))
    with pytest.raises(InputError, match="policy 'example-co'"):
        triager.set_policy(EXAMPLE)
    assert triager.policy is POLICY and triager.deps.policy is POLICY
