"""A ticket that names no language routes by its text's language, whichever way it came in."""

from __future__ import annotations

from pathlib import Path

from graph_support import checkpointed

from agent.models import Ticket
from agent.settings import Settings
from knowledge.kb import KnowledgeBase

GERMAN_INVOICE = Ticket(
    id="t-de",
    subject="Rechnung doppelt",
    body="Unsere Rechnung für November wurde zweimal abgebucht. Bitte prüfen Sie das und "
    "erstatten Sie den doppelten Betrag.",
)


def test_a_german_ticket_without_a_language_takes_the_german_speakers_branch(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    # as POST /v1/triage and `triage route` pass it: no language field
    assert GERMAN_INVOICE.language is None and GERMAN_INVOICE.account.language is None
    decision = checkpointed(Settings(data_dir=tmp_path), kb).triage(GERMAN_INVOICE).decision
    assert decision.team == "billing"
    tree = [e.source for e in decision.evidence if e.kind == "tree"]
    assert tree == ["german-speakers"], tree
