"""While one ticket waits for the LLM's answer, the rest of the service goes on."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx2
import openai
from api_support import TICKET_DB, Api, AppFactory

from agent.llm import LLMClassifier
from agent.models import Ticket
from agent.settings import Settings

# Nothing in it a rule or the decision tree decides: the cold-start router is unsure, so the
# LLM is asked.
UNSURE = {"subject": "Printer jammed", "body": "The printer on floor 2 is jammed again."}
ANSWER = {
    "team": "hardware",
    "priority": "P3",
    "escalate": True,
    "confidence": 0.9,
    "rationale": "A jammed printer is a device problem.",
    "next_steps": ["Send a technician"],
}


class HeldLLM:
    """An OpenAI-compatible endpoint (on the SDK's real transport) that answers only when the test
    lets it: the stand-in for an LLM that takes seconds."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.let_answer = threading.Event()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.asked.set()
        self.let_answer.wait(timeout=60)
        envelope = {"id": "c1", "object": "chat.completion", "created": 0, "model": "held"}
        message = {"role": "assistant", "content": json.dumps(ANSWER)}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return httpx2.Response(200, json={**envelope, "choices": [choice]})

    def classifier(self) -> LLMClassifier:
        http = httpx2.Client(transport=httpx2.MockTransport(self))
        client = openai.OpenAI(
            base_url="http://llm.invalid/v1", api_key="k", max_retries=0, http_client=http
        )
        settings = Settings(
            llm_base_url="http://llm.invalid/v1", llm_max_retries=0, llm_timeout_s=120.0
        )
        return LLMClassifier(settings, client)


def _in_thread(work: Any, out: dict[str, Any], key: str) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.__setitem__(key, work()), daemon=True)
    thread.start()
    return thread


def _post(api: Api, ticket: dict[str, Any]) -> dict[str, Any]:
    answer = api.client.post("/v1/triage", json=ticket, headers=api.auth("helpdesk"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_ticket_a_rule_decides_is_not_kept_waiting_by_another_tickets_llm_call(
    make_api: AppFactory,
) -> None:
    llm = HeldLLM()
    api = make_api(llm=llm.classifier())
    out: dict[str, Any] = {}
    unsure = _in_thread(lambda: _post(api, UNSURE), out, "unsure")
    try:
        assert llm.asked.wait(30), "the LLM was not asked about the unsure ticket"
        ruled = _in_thread(lambda: _post(api, TICKET_DB), out, "ruled")
        ruled.join(15)
        decided_meanwhile = not ruled.is_alive() and unsure.is_alive()
    finally:
        llm.let_answer.set()
        unsure.join(30)
    assert decided_meanwhile, "the rule's ticket waited for the other ticket's LLM call"
    assert (out["ruled"]["team"], out["ruled"]["decided_by"]) == ("database", "rule")
    llm_said = [e for e in out["unsure"]["evidence"] if e["source"].startswith("llm:")]
    assert [e["team"] for e in llm_said] == ["hardware"]


def test_a_policy_activated_and_a_refit_swapped_in_during_an_llm_call_do_not_wait_for_it(
    make_api: AppFactory,
) -> None:
    llm = HeldLLM()
    api = make_api(llm=llm.classifier())
    engine = api.services.engine
    before = engine.policy
    after = before.model_copy(update={"version": f"{before.version}-next"})
    swapped = threading.Event()
    out: dict[str, Any] = {}
    unsure = _in_thread(
        lambda: engine.triage(Ticket(id="U-1", **UNSURE), thread_id="U-1"), out, "unsure"
    )
    try:
        assert llm.asked.wait(30), "the LLM was not asked about the unsure ticket"
        changes = _in_thread(
            lambda: (engine.exclusive(swapped.set), engine.set_policy(after)), out, "changes"
        )
        changes.join(15)
        went_on = not changes.is_alive() and unsure.is_alive()
    finally:
        llm.let_answer.set()
        unsure.join(30)
    assert went_on, "the refit's swap and the policy change waited for the LLM call"
    assert swapped.is_set()
    # The waiting ticket is decided wholly under the policy it started with, the next under the
    # one activated meanwhile.
    assert out["unsure"].decision.policy_version == before.fingerprint
    assert out["unsure"].decision.team == "hardware"
    following = engine.triage(Ticket(id="D-1", **TICKET_DB), thread_id="D-1")
    assert following.decision.policy_version == after.fingerprint


def test_an_llm_call_inside_a_hold_of_the_engine_keeps_it_held(make_api: AppFactory) -> None:
    # A policy dry-run holds the engine over a ticket's two runs: nothing may come in between,
    # not even while one of them waits for the LLM.
    llm = HeldLLM()
    api = make_api(llm=llm.classifier())
    engine = api.services.engine
    came_in = threading.Event()
    out: dict[str, Any] = {}

    def held_run() -> Any:
        with engine.held():
            return engine.triage(Ticket(id="U-2", **UNSURE), thread_id="U-2")

    unsure = _in_thread(held_run, out, "unsure")
    try:
        assert llm.asked.wait(30), "the LLM was not asked about the unsure ticket"
        other = _in_thread(lambda: engine.exclusive(came_in.set), out, "other")
        came_in_meanwhile = came_in.wait(3)
    finally:
        llm.let_answer.set()
        unsure.join(30)
    other.join(30)
    assert not came_in_meanwhile, "another thread got the engine during the held run"
    assert came_in.is_set()
    assert out["unsure"].decision.team == "hardware"
