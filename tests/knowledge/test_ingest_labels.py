"""A re-imported export does not undo a more authoritative label: a specialist's correction or a
helpdesk outcome stays, in the store, in the router's journal and in what a refit learns from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kb_cli_support import run_kb
from router_fakes import RecordingRouter

from agent.settings import EXAMPLES_DIR, Settings
from knowledge.cases import Case, outranks
from knowledge.embeddings import CachedEmbedder, MiniLMEmbedder
from knowledge.feedback import Feedback
from knowledge.ingest import read_cases
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter

DEMO = EXAMPLES_DIR / "demo_tickets.jsonl"


def test_label_authority_orders_the_sources() -> None:
    assert outranks("specialist", "import") and outranks("helpdesk", "import")
    assert outranks("review", "helpdesk") and outranks("import", "decision")
    assert not outranks("import", "import") and not outranks("import", "helpdesk")


def _top_team(kb: KnowledgeBase, router: LearnedRouter, case: Case) -> str:
    vector = kb.embedder.embed([case.text])[0]
    prediction = router.predict(
        text=case.text, embedding=vector, neighbours=kb.store.search(vector, 10), requester_cases=[]
    )
    return prediction.teams[0].team


def test_a_reimport_keeps_corrected_labels_through_a_restart_and_a_refit(tmp_path: Path) -> None:
    embedder = CachedEmbedder(MiniLMEmbedder(), tmp_path / "cache.sqlite")
    models = tmp_path / "models"
    kb = KnowledgeBase(InMemoryCaseStore(), embedder, LearnedRouter(model_dir=models))
    reader = read_cases(DEMO, label="team")
    kb.ingest(reader, keep=reader.unread)
    kb.refit()
    corrected, resolved = (kb.store.get(i) for i in ("DEMO-0003", "DEMO-0002"))
    assert corrected is not None and resolved is not None
    assert (corrected.team, resolved.team) == ("database", "billing")
    kb.feedback(Feedback(ticket_id=corrected.id, correct_team="hardware", handling_hours=3))
    kb.feedback(
        Feedback(ticket_id=resolved.id, correct_team="service_desk", label_source="helpdesk")
    )

    # the same export again, with a newer answer for the corrected ticket
    again = read_cases(DEMO, label="team")
    newer = [
        c.model_copy(update={"resolution": "Moved to new storage."}) if c.id == corrected.id else c
        for c in again
    ]
    report = kb.ingest(newer, keep=again.unread)

    stored = kb.store.get_many([corrected.id, resolved.id])
    assert (stored[corrected.id].team, stored[corrected.id].label_source) == (
        "hardware",
        "specialist",
    )
    assert stored[corrected.id].resolution == "Moved to new storage."
    assert stored[corrected.id].handling_hours == 3
    assert (stored[resolved.id].team, stored[resolved.id].label_source) == (
        "service_desk",
        "helpdesk",
    )

    # a restart replays the journal: its last word on the case is still the correction
    restarted = LearnedRouter(model_dir=models)
    assert restarted.load()
    assert _top_team(kb, restarted, corrected) == "hardware"
    # and a refit learns from the stored, corrected labels
    recording = RecordingRouter()
    KnowledgeBase(kb.store, embedder, recording).refit()
    learned = {c.id: c.team for c in recording.fitted_on}
    assert (learned[corrected.id], learned[resolved.id]) == ("hardware", "service_desk")
    assert report.labels_kept == {"specialist": 1, "helpdesk": 1}
    assert (report.updated, report.unchanged) == (1, 359)  # the new answer is still applied


def test_an_export_still_relabels_what_an_import_labelled() -> None:
    kb = KnowledgeBase(InMemoryCaseStore(), MiniLMEmbedder())
    kb.ingest([Case(id="a", body="vpn drops", team="network")])
    report = kb.ingest([Case(id="a", body="vpn drops", team="desk")])
    assert report.updated == 1 and not report.labels_kept
    stored = kb.store.get("a")
    assert stored is not None and stored.team == "desk"


def test_cli_summary_says_how_many_labels_were_kept_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)
    export = tmp_path / "past.jsonl"
    records = [{"id": f"T{i}", "body": f"vpn drops {i}", "labels": {"g": "net"}} for i in range(3)]
    export.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert run_kb(["kb", "ingest", str(export), "--label", "g"], settings) == 0
    kb = KnowledgeBase.open(settings, with_router=False)
    kb.feedback(Feedback(ticket_id="T0", correct_team="desk"))
    kb.feedback(Feedback(ticket_id="T1", correct_team="mail", label_source="helpdesk"))
    kb.feedback(Feedback(ticket_id="T2", correct_team="net"))  # confirmed: nothing to keep
    kb.close()
    capsys.readouterr()

    assert run_kb(["kb", "ingest", str(export), "--label", "g"], settings) == 0
    out = capsys.readouterr().out
    assert "added 0, updated 0, unchanged 3" in out
    assert (
        "kept 2 stored teams the export would have replaced: 1 set by a specialist's "
        "correction, 1 set by a helpdesk outcome" in out
    )
    kb = KnowledgeBase.open(settings, with_router=False)
    stored = kb.store.get_many(["T0", "T1", "T2"])
    kb.close()
    assert [(stored[i].team, stored[i].label_source) for i in ("T0", "T1", "T2")] == [
        ("desk", "specialist"),
        ("mail", "helpdesk"),
        ("net", "specialist"),
    ]
