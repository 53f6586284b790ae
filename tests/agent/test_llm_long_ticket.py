"""A ticket at the size limit sent to the LLM: its prompt is made within the call's deadline."""

from __future__ import annotations

import time

from llm_support import POLICY, llm_settings, scripted_server, stalls

from agent.injection import scan
from agent.llm import LLMClassifier
from agent.models import Ticket
from agent.tokens import count_tokens
from knowledge.cases import Case, SimilarCase

# 200,000 characters, the longest body a ticket may have: 130,000 tokens
LONG = Ticket(subject="VPN", body=("VPNの接続が十分ごとに切断されます。" * 12_000)[:200_000])
PRECEDENTS = [
    SimilarCase(
        case=Case(id=f"C-{i}", subject="VPN", body="VPN drops every ten minutes. " * 20),
        similarity=0.9 - i / 100,  # each one left out made the prompt again
    )
    for i in range(20)
]


def test_a_ticket_at_the_size_limit_gets_its_answer_or_fallback_within_the_timeout() -> None:
    count_tokens("warm")  # loading the tokenizer is the process's, not the ticket's
    clean = scan(LONG.text).clean_text
    with scripted_server(stalls) as server:
        settings = llm_settings(llm_base_url=server.url, llm_timeout_s=1.0)
        classifier = LLMClassifier.from_settings(settings)
        assert classifier is not None
        started = time.perf_counter()
        outcome = classifier.classify(
            ticket=LONG, clean_text=clean, policy=POLICY, precedents=PRECEDENTS, candidates=[]
        )
        elapsed = time.perf_counter() - started
    assert outcome.choice is None and "timed out after 1s" in (outcome.error or "")
    assert outcome.prompt_tokens_estimate <= settings.llm_max_prompt_tokens
    assert len(server.arrivals) == 1  # it was asked, with what the deadline left
    # The prompt's making is within the second too (it took 1.5 s to 2 s before the request).
    assert elapsed < 1.25
