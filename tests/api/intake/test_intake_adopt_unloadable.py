"""Adoption at start of an unfinished ticket whose stored JSON no longer loads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_support import wait_for
from intake_fakes import CuedEngine
from intake_support import IntakeFactory
from sqlalchemy import update

from agent.models import Ticket
from agent.policy import Policy
from api.tables import TicketRow


def test_an_abandoned_ticket_that_no_longer_loads_is_dead_lettered_and_the_start_goes_on(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), start=False, intake_workers=1)
    store, db = api.services.store, api.services.db
    # Accepted outside the intake (an older version's in-process workers), then abandoned.
    ids = []
    for n in range(2):
        ticket = Ticket.model_validate({"subject": "printer jams", "external_id": f"old{n}"})
        ids.append(store.claim(ticket, f"old-{n}", "helpdesk", "queued").id)
    broken, fine = ids
    quiet = datetime.now(UTC) - timedelta(seconds=api.services.options.adopt_after_s + 60)
    with db.session() as session:
        row = session.get(TicketRow, broken)
        row.payload = {**row.payload, "channel": "fax"}  # stored by another version
        session.execute(update(TicketRow).values(updated_at=quiet))
    api.app.state.adoption.start()  # not a start that fails on one ticket
    intake = api.app.state.intake
    intake.start()
    assert wait_for(lambda: store.status(fine) == "decided", 20)
    # Before a person, with the field that fails named, instead of unfinished for good.
    assert wait_for(lambda: len(intake.dead_letters.list()) == 1, 20)
    (letter,) = intake.dead_letters.list()
    assert letter.ticket_id == broken and "no longer loads" in letter.error
    assert "channel" in letter.error
    assert wait_for(lambda: store.status(broken) == "failed", 10)
