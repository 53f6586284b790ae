"""When the classify step asks the LLM: only where its answer can still change the route."""

from __future__ import annotations

from pathlib import Path

from graph_support import DOCK, POLICY, RecordingLLM, checkpointed

from agent.models import Ticket
from agent.settings import Settings
from knowledge.kb import KnowledgeBase


def test_the_llm_is_not_asked_about_a_ticket_the_decision_tree_sends_to_a_team(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    # The example policy's hardware-category branch sends a ticket of category hardware to the
    # hardware team whatever team the model or the LLM guesses.
    llm = RecordingLLM()
    unsure = POLICY.model_copy(update={"review_threshold": 1.0})  # the model is never sure
    triager = checkpointed(Settings(data_dir=tmp_path), kb, unsure, llm)
    text = {
        "subject": "Docking station not detected",
        "body": DOCK,
    }
    formed = Ticket(id="formed", category="device", **text)
    plain = Ticket(id="plain", **text)
    decision = triager.triage(formed).decision
    assert (decision.team, decision.decided_by) == ("hardware", "tree")
    triager.triage(plain)
    assert llm.asked == ["plain"]
