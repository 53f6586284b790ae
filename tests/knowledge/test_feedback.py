"""Specialist feedback: corrections become labelled cases that the router sees at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from router_fakes import RecordingRouter

from agent.errors import InputError
from agent.settings import Settings
from knowledge.cases import Case
from knowledge.embeddings import MiniLMEmbedder
from knowledge.feedback import Feedback, corrected_case
from knowledge.kb import KnowledgeBase
from knowledge.store import ChromaCaseStore

STORED = Case(
    id="T-9",
    subject="VPN drops",
    body="tunnel resets hourly",
    team="desk",
    requester="ann",
    label_source="import",
)


def test_correction_relabels_an_existing_case_and_keeps_the_rest() -> None:
    fb = Feedback(
        ticket_id="T-9",
        correct_team="network",
        escalation_needed=True,
        first_contact_resolved=True,
        handling_hours=1.5,
        first_route="desk",
    )
    case = corrected_case(fb, STORED)
    assert (case.team, case.label_source, case.escalated) == ("network", "specialist", True)
    assert (case.first_contact_resolved, case.handling_hours, case.first_route) == (
        True,
        1.5,
        "desk",
    )
    assert (case.subject, case.body, case.requester) == (STORED.subject, STORED.body, "ann")


def test_a_helpdesk_outcome_keeps_a_specialists_team_but_replaces_a_reviewers() -> None:
    outcome = Feedback(
        ticket_id="T-9",
        correct_team="desk",
        escalation_needed=False,
        resolution="reset the tunnel",
        handling_hours=4.0,
        label_source="helpdesk",
    )
    corrected = STORED.model_copy(
        update={"team": "network", "escalated": True, "label_source": "specialist"}
    )
    kept = corrected_case(outcome, corrected)
    assert (kept.team, kept.escalated, kept.label_source) == ("network", True, "specialist")
    assert (kept.resolution, kept.handling_hours) == ("reset the tunnel", 4.0)
    # a reviewer routed it before the work; the queue it was resolved in came after
    reviewed = corrected.model_copy(update={"label_source": "review"})
    moved = corrected_case(outcome, reviewed)
    assert (moved.team, moved.escalated, moved.label_source) == ("desk", False, "helpdesk")
    # and a specialist's feedback still replaces a helpdesk outcome
    again = corrected_case(Feedback(ticket_id="T-9", correct_team="network"), moved)
    assert (again.team, again.label_source) == ("network", "specialist")


def test_new_case_from_ticket_text() -> None:
    fb = Feedback(
        ticket_id="N-1",
        subject="Refund",
        body="charged twice",
        correct_team="billing",
        escalation_needed=False,
        resolution="refunded",
        account_id="acme",
    )
    case = corrected_case(fb, None)
    assert case.account_id == "acme"
    assert (case.id, case.text, case.team, case.resolution) == (
        "N-1",
        "Refund\ncharged twice",
        "billing",
        "refunded",
    )
    assert case.escalated is False and case.created_at is not None


def test_new_case_without_text_is_an_input_error() -> None:
    with pytest.raises(InputError, match="subject or body"):
        corrected_case(Feedback(ticket_id="N-2", correct_team="billing"), None)


def test_feedback_rejects_unknown_fields_and_negative_hours() -> None:
    with pytest.raises(ValidationError):
        Feedback.model_validate({"ticket_id": "x", "team": "a"})
    with pytest.raises(ValidationError):
        Feedback(ticket_id="x", handling_hours=-1)


def test_feedback_changes_the_stored_label_in_chroma(tmp_path: Path) -> None:
    router = RecordingRouter()
    settings = Settings(data_dir=tmp_path)
    kb = KnowledgeBase(ChromaCaseStore.open(settings), MiniLMEmbedder(), router)
    kb.ingest([STORED])
    case = kb.feedback(Feedback(ticket_id="T-9", correct_team="network", note="wrong queue"))
    assert case.team == "network" and router.observed[-1] == case
    assert all(vector.shape == (384,) for vector in router.observed_vectors)
    kb.close()
    reopened = ChromaCaseStore.open(settings)
    stored = reopened.get("T-9")
    assert stored is not None and (stored.team, stored.label_source) == ("network", "specialist")
    assert reopened.count() == 1
    reopened.close()
