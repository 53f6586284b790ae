"""A helpdesk resolution applied in one process and a specialist's answer given in another, on
one database and one knowledge base, at once: learned in the order the KPIs store them."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rt_support import DB_TEXT, PausedReview, RigFactory, rt_ticket

from api.auth import create_key
from api.helpdesk.fake import FakeHelpdesk
from api.hooks import HelpdeskEvent
from api.main import create_app
from api.options import ServiceOptions
from knowledge.feedback import Feedback

HOLD_S = 3.0


def test_a_resolution_and_an_answer_in_two_processes_are_learned_and_stored_in_one_order(
    make_rig: RigFactory, fake: FakeHelpdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket_id, _ = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    rig.connector.delivery.drain()
    # the specialist's answer is served by a second API process (its own engine lock) on the
    # same database and knowledge base
    other = create_app(
        rig.services.settings,
        PausedReview(rig.triager),  # type: ignore[arg-type]
        ServiceOptions(start_background=False),
    )
    learned: list[str] = []
    stored: list[str] = []
    helpdesk_waiting, other_stored = threading.Event(), threading.Event()

    def noting(services: Any) -> None:
        learn, add_feedback = services.engine.learn, services.ledger.add_feedback

        def learn_noted(correction: Feedback) -> Any:
            case = learn(correction)
            learned.append("helpdesk" if correction.label_source == "helpdesk" else "specialist")
            return case

        def add_late(ticket: str, key_id: str, record: dict[str, Any], session: Any = None) -> None:
            # The helpdesk's row lands late: after the specialist's is stored, or HOLD_S
            # seconds when that one cannot be stored meanwhile.
            by = "helpdesk" if key_id.startswith("helpdesk:") else "specialist"
            if by == "helpdesk":
                helpdesk_waiting.set()
                other_stored.wait(HOLD_S)
            add_feedback(ticket, key_id, record, session)
            stored.append(by)
            if by == "specialist":
                other_stored.set()

        monkeypatch.setattr(services.engine, "learn", learn_noted)
        monkeypatch.setattr(services.ledger, "add_feedback", add_late)

    noting(rig.services)
    noting(other.state.services)
    _, secret = create_key(rig.services.db, "specialist", "db team")
    answers: dict[str, Any] = {}

    with TestClient(other) as second:

        def answer() -> None:
            assert helpdesk_waiting.wait(30)  # the resolution learned, its row not yet stored
            answers["specialist"] = second.post(
                f"/v1/tickets/{ticket_id}/feedback",
                json={"correct_team": "erp_applications", "note": "ERP job"},
                headers={"Authorization": f"Bearer {secret}"},
            )

        specialist = threading.Thread(target=answer)
        specialist.start()
        fake.record(rt.id, "Correspond", "mehmet.yilmaz@example.com", content="Patched the DB.")
        fake.set_field(rt.id, "Status", "resolved", "mehmet.yilmaz@example.com")
        rig.connector.handler.handle(
            HelpdeskEvent(
                source="rt", event_id="rt-txn-95", type="resolved", external_id=f"rt:{rt.id}"
            )
        )
        assert rig.connector.backflow.drain() == 1
        specialist.join(30)
        other.state.services.db.close()
    assert answers["specialist"].status_code == 200, answers["specialist"].text
    assert learned == stored == ["helpdesk", "specialist"]
