"""Two answers on one ticket at once: the knowledge base and the KPIs end on the same one."""

from __future__ import annotations

import threading
import time
from typing import Any

from api_support import TICKET_DB, Api
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db import Database
from api.ledger import Ledger
from api.metrics import Metrics
from api.schemas import FeedbackIn
from api.service import TriageService
from api.tables import FeedbackRow

HOLD_S = 3.0


class SlowFirstWrite(Ledger):
    """A database whose first feedback write lands late: after another feedback is stored,
    or HOLD_S seconds when none can be stored meanwhile."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.first_waiting = threading.Event()
        self.other_stored = threading.Event()
        self._taken = threading.Lock()
        self._first = True

    def add_feedback(
        self, ticket_id: str, key_id: str, feedback: dict[str, Any], session: Session | None = None
    ) -> None:
        with self._taken:
            first, self._first = self._first, False
        if first:
            self.first_waiting.set()
            self.other_stored.wait(HOLD_S)
            super().add_feedback(ticket_id, key_id, feedback, session)
            return
        super().add_feedback(ticket_id, key_id, feedback, session)
        self.other_stored.set()


def test_concurrent_feedback_is_learned_and_stored_in_one_order(api: Api) -> None:
    made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
    ticket_id = made["ticket_id"]
    services = api.services
    ledger = SlowFirstWrite(services.db)
    service = TriageService(services.store, ledger, services.engine, Metrics())
    caller = Principal(key_id="k-spec", name="specialist", role="specialist")
    answers = {
        "early": FeedbackIn(team_correct=True, resolution="early", first_contact_resolved=True),
        "late": FeedbackIn(team_correct=True, resolution="late", first_contact_resolved=False),
    }
    errors: list[BaseException] = []

    def give(name: str) -> None:
        try:
            service.feedback(ticket_id, answers[name], caller)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    early = threading.Thread(target=give, args=("early",))
    early.start()
    assert ledger.first_waiting.wait(30)  # learned, its database write not yet made
    late = threading.Thread(target=give, args=("late",))
    late.start()
    started = time.monotonic()
    for thread in (early, late):
        thread.join(60)
    assert not errors
    assert time.monotonic() - started < 30

    case = api.triager.kb.store.get(ticket_id)
    assert case is not None
    with services.db.session() as session:
        stored = [
            row.feedback["resolution"]
            for row in session.scalars(
                select(FeedbackRow)
                .where(FeedbackRow.ticket_id == ticket_id)
                .order_by(FeedbackRow.id)
            )
        ]
    assert sorted(stored) == ["early", "late"]
    # the answer stored last is the one the case holds, and the KPIs read the same outcome
    assert case.resolution == stored[-1]
    (record,) = services.ledger.outcomes(services.engine.policy.first_line_team)
    assert record.first_contact_resolved == case.first_contact_resolved
