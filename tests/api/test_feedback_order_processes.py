"""Two API processes on one database and one knowledge base answering the same ticket at once:
the case and the KPIs end on the same feedback, the one stored last."""

from __future__ import annotations

import threading
import time

import pytest
from api_support import TICKET_DB, AppFactory
from sqlalchemy import select
from test_feedback_order import HOLD_S, SlowFirstWrite

from api.auth import Principal
from api.db import Database
from api.engine import LockedEngine
from api.ledger import Ledger
from api.metrics import Metrics
from api.schemas import FeedbackIn
from api.service import TriageService
from api.store import TicketStore
from api.tables import FeedbackRow


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_feedback_given_in_two_processes_is_learned_and_stored_in_one_order(
    backend: str, make_api: AppFactory, request: pytest.FixtureRequest
) -> None:
    api = make_api(request.getfixturevalue("pg_url") if backend == "postgres" else None)
    made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
    ticket_id = made["ticket_id"]
    url = api.services.settings.sqlalchemy_url
    # each process has its own connections and its own engine lock; the knowledge base is the
    # one they share (a Chroma server)
    first_db, second_db = Database(url), Database(url)
    slow = SlowFirstWrite(first_db)
    first = TriageService(TicketStore(first_db), slow, LockedEngine(api.triager), Metrics())
    second = TriageService(
        TicketStore(second_db), Ledger(second_db), LockedEngine(api.triager), Metrics()
    )
    caller = Principal(key_id="k-spec", name="specialist", role="specialist")
    errors: list[BaseException] = []

    def give(service: TriageService, resolution: str, fcr: bool) -> None:
        answer = FeedbackIn(team_correct=True, resolution=resolution, first_contact_resolved=fcr)
        try:
            service.feedback(ticket_id, answer, caller)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    early = threading.Thread(target=give, args=(first, "early", True))
    late = threading.Thread(target=give, args=(second, "late", False))
    try:
        early.start()
        assert slow.first_waiting.wait(30)  # learned, its database write not yet made
        late.start()
        started = time.monotonic()
        for thread in (early, late):
            thread.join(60)
        assert not errors, errors
        assert time.monotonic() - started < 30 + HOLD_S
    finally:
        first_db.close()
        second_db.close()

    case = api.triager.kb.store.get(ticket_id)
    assert case is not None
    with api.services.db.session() as session:
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
    (record,) = api.services.ledger.outcomes(api.services.engine.policy.first_line_team)
    assert record.first_contact_resolved == case.first_contact_resolved
