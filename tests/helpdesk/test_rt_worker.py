"""A separate worker process decides helpdesk tickets with the connector: outbox rows, history."""

from __future__ import annotations

import time

from rt_support import DB_TEXT, RigFactory, rt_ticket

from agent.policy import Policy
from agent.triager import Triager, memory_checkpointer
from api.helpdesk.fake import FakeHelpdesk
from api.intake.events import WEBHOOK_CALLER
from api.intake.models import Adapted
from api.intake.options import IntakeOptions
from api.intake.worker_main import build_worker
from knowledge.embeddings import Embedder
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter


def test_a_worker_process_queues_its_decisions_and_the_api_applies_them(
    make_rig: RigFactory, fake: FakeHelpdesk, hd_embedder: Embedder, hd_policy: Policy
) -> None:
    rig = make_rig(fake)  # the API process: it admits the ticket and owns delivery
    settings = rig.services.settings
    kb = KnowledgeBase(
        InMemoryCaseStore(), hd_embedder, LearnedRouter(model_dir=settings.model_dir)
    )
    triager = Triager(
        settings=settings, policy=hd_policy, kb=kb, checkpointer=memory_checkpointer()
    )
    services, intake = build_worker(
        settings, triager, IntakeOptions(intake_workers=1, intake_backoff_base_s=0.2), fake
    )
    fake.create("Printer jam", "Floor 3 printer.", requester="alice@example.com")
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    rig.app.state.intake.flow.admit(
        Adapted(ticket=rt_ticket(rt.id, *DB_TEXT), raw={}), "helpdesk", WEBHOOK_CALLER
    )
    fake.calls.clear()
    intake.start()
    try:
        deadline = time.monotonic() + 60
        while not rig.connector.outbox.rows(rt.id) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        intake.stop()
        services.db.close()
    rows = rig.connector.outbox.rows(rt.id)
    assert [row.status for row in rows] == ["pending"]
    assert rows[0].update["queue"] == "database"
    # Enriched in the worker: the requester's earlier tickets were read before triage.
    assert "requester_tickets alice@example.com" in fake.calls
    # The worker delivers nothing itself; the API's delivery loop applies the row once.
    assert not any(call.startswith(("update", "comment")) for call in fake.calls)
    rig.connector.delivery.drain()
    assert fake.tickets[rt.id].queue == "database"
    assert len(fake.comments(rt.id)) == 1
