"""A reviewer's claim lives as long as its holder gives signs of life, and no longer.

The process deciding a review can die with the ticket claimed ("deciding"): the next reviewer
takes it once the claim's lease ran out, and the ticket is decided once. Other writers holding
the ticket's row meanwhile (a helpdesk move checked, an SLA page's outcome) are no sign of life
of the reviewer and must not keep the dead claim alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from api_support import AppFactory, waiting_ticket
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from api.db import Database
from api.review_claim import ReviewClaims
from api.store import held_row
from api.tables import DecisionRow, ReviewRow, TicketRow, utcnow

REPO = Path(__file__).resolve().parents[2]
LEASE_S = 3.0

# A second service process on the same data directory: its reviewer claims the ticket, and the
# process is killed while it decides (the run resumed, the decision not stored).
DYING_REVIEWER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from agent.policy import load_policy
    from agent.settings import Settings
    from api.auth import Principal
    from api.intake.standin import CheapStandInEngine
    from api.main import build_services
    from api.options import ServiceOptions
    from api.schemas import ReviewIn

    data_dir, ticket_id, lease_s, marker = sys.argv[1:5]

    class Deciding(CheapStandInEngine):
        def resume(self, thread_id, review):
            Path(marker).write_text("deciding")
            time.sleep(600)  # killed here

    settings = Settings(data_dir=Path(data_dir))
    engine = Deciding(load_policy(settings.policy_path))
    options = ServiceOptions(start_background=False, adopt_after_s=float(lease_s))
    services = build_services(settings, engine, options)
    caller = Principal(key_id="gone", name="gone reviewer", role="reviewer")
    services.service.review(ticket_id, ReviewIn(team="network"), caller)
    """
)


def _hold_now_and_then(db: Database, ticket_id: str, stop: threading.Event) -> None:
    """Hold the ticket's row every half second and change nothing, as a helpdesk move checked
    against a ticket that did not move does."""
    while not stop.wait(0.5):
        with db.session() as session:
            held_row(session, ticket_id)


@pytest.mark.parametrize("other_writers", [False, True], ids=["quiet", "row-held-by-others"])
def test_a_claim_whose_process_died_is_taken_by_the_next_reviewer_once_its_lease_ran_out(
    make_api: AppFactory, tmp_path: Path, other_writers: bool
) -> None:
    api = make_api(adopt_after_s=LEASE_S)
    ticket_id = waiting_ticket(api)
    marker = tmp_path / "deciding"
    dying = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DYING_REVIEWER,
            str(api.services.settings.data_dir),
            ticket_id,
            str(LEASE_S),
            str(marker),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    stop = threading.Event()
    holder = threading.Thread(target=_hold_now_and_then, args=(api.services.db, ticket_id, stop))
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            assert dying.poll() is None, "the reviewer's process ended before deciding"
            time.sleep(0.1)
        assert marker.exists()
        taken = api.client.post(
            f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
        )
        assert taken.status_code == 409
        assert "another reviewer is deciding it" in taken.json()["detail"]
        dying.send_signal(signal.SIGKILL)
        dying.wait(10)
        if other_writers:
            holder.start()
        done = None
        deadline = time.monotonic() + 10 * LEASE_S
        while time.monotonic() < deadline:
            done = api.client.post(
                f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
            )
            if done.status_code != 409:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        if holder.is_alive():
            holder.join(10)
        if dying.poll() is None:
            dying.kill()
            dying.wait(10)
    assert done is not None and done.status_code == 200, done.text if done else None
    assert done.json()["learned"] is True
    with api.services.db.session() as session:
        human = session.scalars(
            select(DecisionRow.team).where(
                DecisionRow.ticket_id == ticket_id, DecisionRow.decided_by == "human"
            )
        ).all()
        reviews = session.scalar(select(func.count()).select_from(ReviewRow))
    assert list(human) == ["hardware"]
    assert reviews == 1
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert (view["status"], view["decision"]["team"]) == ("decided", "hardware")


def _add_claimed(db: Database, ticket_id: str, quiet_for_s: float) -> None:
    with db.session() as session:
        session.add(
            TicketRow(
                id=ticket_id,
                payload_hash="h",
                payload={"body": "x"},
                channel="api",
                status="deciding",
                claim_token="gone",
                sla_state="ok",
                sla_events=[],
                front_of_queue=False,
            )
        )
    with db.session() as session:
        session.execute(
            update(TicketRow)
            .where(TicketRow.id == ticket_id)
            .values(updated_at=utcnow() - timedelta(seconds=quiet_for_s))
        )


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_holding_a_row_keeps_other_writers_out_but_renews_no_claim(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    url = url or f"sqlite:///{tmp_path / 'c.sqlite'}"
    here, there = Database(url), Database(url)  # two processes on one database
    try:
        here.migrate()
        _add_claimed(here, "t1", quiet_for_s=61)
        before = _updated_at(here, "t1")
        with here.session() as session:
            row = held_row(session, "t1")
            assert row is not None and row.status == "deciding"
            # held: another process's write of the row waits until this session ends
            assert not _writes_at_once(there, "t1")
        assert _updated_at(here, "t1") == before
        # the claim's holder was quiet for longer than the lease: the next reviewer takes it
        assert ReviewClaims(there, stale_after_s=60).claim("t1") is not None
    finally:
        here.close()
        there.close()


def _updated_at(db: Database, ticket_id: str) -> object:
    with db.session() as session:
        return session.scalar(select(TicketRow.updated_at).where(TicketRow.id == ticket_id))


def _writes_at_once(db: Database, ticket_id: str) -> bool:
    """Whether a write of the row goes through without waiting (False: someone holds it)."""
    try:
        with db.engine.connect() as conn:
            if db.engine.dialect.name == "sqlite":
                conn.execute(text("PRAGMA busy_timeout = 0"))
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(text("SET LOCAL lock_timeout = '100ms'"))
                conn.execute(update(TicketRow).where(TicketRow.id == ticket_id).values(error="x"))
            conn.rollback()
        return True
    except OperationalError:
        return False


def test_the_queue_shows_which_tickets_a_reviewer_is_deciding_now(make_api: AppFactory) -> None:
    api = make_api(adopt_after_s=LEASE_S)
    free, taken = waiting_ticket(api), waiting_ticket(api)
    claims = api.services.service.claims
    assert claims.claim(taken) is not None  # another reviewer is deciding it

    def queue() -> dict[str, bool]:
        items = api.client.get("/v1/review", headers=api.auth("reviewer")).json()
        return {item["id"]: item["being_decided"] for item in items}

    assert queue() == {free: False, taken: True}
    # its reviewer's process gave no sign of life for longer than the lease: free to take
    with api.services.db.session() as session:
        session.execute(
            update(TicketRow)
            .where(TicketRow.id == taken)
            .values(updated_at=utcnow() - timedelta(seconds=LEASE_S + 1))
        )
    assert queue() == {free: False, taken: False}
