"""Retries of the LLM call within TRIAGE_LLM_TIMEOUT_S, all attempts together.

Timing is seen from a loopback server on real connections (``scripted_server``) with the client
``LLMClassifier.from_settings`` builds; which failures are retried, from ``FakeLLMServer``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import pytest
from llm_support import (
    GOOD,
    VPN_TICKET,
    FakeLLMServer,
    Reply,
    ScriptedServer,
    answer,
    answers,
    classify,
    fails,
    fake_classifier,
    hangs_up,
    llm_settings,
    scripted_server,
    stalls,
    status,
    timeout,
    trickles,
)

from agent.llm import LLMClassifier, LLMOutcome

Scripted = Callable[[httpx2.Request], httpx2.Response]


def _classify_at(
    server: ScriptedServer, timeout_s: float, retries: int
) -> tuple[LLMOutcome, float]:
    """The outcome of one ticket against the server, and the seconds from its first request to
    the outcome (the prompt is built before: the first one in a process loads the tokenizer)."""
    settings = llm_settings(
        llm_base_url=server.url, llm_timeout_s=timeout_s, llm_max_retries=retries
    )
    classifier = LLMClassifier.from_settings(settings)
    assert classifier is not None
    outcome = classify(classifier, VPN_TICKET)
    return outcome, time.monotonic() - server.arrivals[0]


@pytest.mark.parametrize(
    "failure",
    [fails(503, "overloaded"), fails(429, "slow down", retry_after_ms="50"), hangs_up],
    ids=["503", "429", "hung-up"],
)
def test_a_transient_failure_early_is_retried_while_time_remains(failure: Reply) -> None:
    with scripted_server(failure, answers(GOOD)) as server:
        outcome, _ = _classify_at(server, timeout_s=5.0, retries=1)
    assert outcome.choice is not None, outcome.error
    assert len(server.arrivals) == 2 and outcome.usage.calls == 2


def test_a_wait_the_server_asks_for_past_the_deadline_is_not_taken() -> None:
    with scripted_server(fails(503, "overloaded", retry_after="3"), answers(GOOD)) as server:
        outcome, took = _classify_at(server, timeout_s=1.0, retries=2)
    assert outcome.choice is None
    assert outcome.error == (
        "LLM answered HTTP 503: overloaded (a retry in 3.0s would end past the 1s timeout)"
    )
    assert len(server.arrivals) == 1 and took < 1.0


def test_a_silent_server_gets_the_timeout_once_not_once_per_attempt() -> None:
    with scripted_server(stalls, stalls, stalls) as server:
        outcome, took = _classify_at(server, timeout_s=1.0, retries=2)
    assert outcome.choice is None and outcome.error == "LLM timed out after 1s"
    assert len(server.arrivals) == 1  # no time was left for another
    assert 0.9 < took < 1.6


@pytest.mark.parametrize(
    "second", [stalls, trickles(GOOD, pause_s=0.1, pad=40)], ids=["silent", "trickling"]
)
def test_a_retry_gets_the_time_left_not_a_timeout_of_its_own(second: Reply) -> None:
    # The first answer asks for a second's wait: the retry has the second that is left.
    first = fails(503, "overloaded", retry_after_ms="1000")
    with scripted_server(first, second) as server:
        outcome, took = _classify_at(server, timeout_s=2.0, retries=1)
    assert len(server.arrivals) == 2 and server.arrivals[1] - server.arrivals[0] >= 1.0
    assert took < 2.5  # a timeout of its own would have ended at 3 s
    assert outcome.choice is None and outcome.error == "LLM timed out after 2s (after 1 retry)"


def test_retries_stop_at_the_number_configured() -> None:
    server = FakeLLMServer(*[status(503, "overloaded", retry_after_ms="1")] * 3, answer(GOOD))
    outcome = classify(fake_classifier(server, llm_max_retries=2), VPN_TICKET)
    assert outcome.choice is None and outcome.usage.calls == 3
    assert outcome.error == "LLM answered HTTP 503: overloaded (after 2 retries)"


@pytest.mark.parametrize(
    "failure", [timeout, status(500, "model crashed"), status(409, "busy", retry_after_ms="1")]
)
def test_a_timeout_or_an_error_early_in_the_window_is_retried(failure: Scripted) -> None:
    server = FakeLLMServer(failure, answer(GOOD))
    outcome = classify(fake_classifier(server, llm_max_retries=1), VPN_TICKET)
    assert outcome.choice is not None, outcome.error
    assert len(server.requests) == 2 and outcome.usage.calls == 2


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (status(400, "bad request"), "LLM answered HTTP 400: bad request"),
        (status(401, "bad key"), "LLM answered HTTP 401: bad key"),
        (
            status(503, "gone", x_should_retry="false"),
            "LLM answered HTTP 503: gone",
        ),
    ],
)
def test_a_failure_another_attempt_would_meet_again_is_not_retried(
    failure: Scripted, reason: str
) -> None:
    server = FakeLLMServer(failure, answer(GOOD))
    outcome = classify(fake_classifier(server, llm_max_retries=2), VPN_TICKET)
    assert outcome.choice is None and outcome.error == reason
    assert len(server.requests) == 1


def test_a_retry_after_date_past_the_deadline_is_not_waited_for() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    server = FakeLLMServer(status(503, "maintenance", retry_after=later), answer(GOOD))
    outcome = classify(fake_classifier(server, llm_max_retries=1), VPN_TICKET)
    assert outcome.choice is None and len(server.requests) == 1
    assert "would end past the 5s timeout" in (outcome.error or ""), outcome.error


def _page(code: int, text: str) -> Scripted:
    """An error answer whose body is not JSON (a proxy's or gateway's own page)."""
    return lambda request: httpx2.Response(
        code, content=text.encode(), headers={"content-type": "text/html"}
    )


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (status(401, "Incorrect API key"), "LLM answered HTTP 401: Incorrect API key"),
        (
            _page(403, "<html>\n  <h1>Forbidden by proxy</h1>\n</html>"),
            "LLM answered HTTP 403: <html> <h1>Forbidden by proxy</h1> </html>",
        ),
        (_page(404, ""), "LLM answered HTTP 404"),
    ],
    ids=["json", "page", "empty"],
)
def test_the_reason_gives_the_servers_words_once(failure: Scripted, reason: str) -> None:
    # The SDK's message repeats the status ("Error code: 401 - ...") and drops a body that is
    # not JSON: an operator reading the evidence would see "HTTP 403: Error code: 403".
    server = FakeLLMServer(failure, answer(GOOD))
    outcome = classify(fake_classifier(server, llm_max_retries=0), VPN_TICKET)
    assert outcome.error == reason
