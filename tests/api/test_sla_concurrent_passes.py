"""Two API processes' SLA passes on one PostgreSQL database never deadlock: a pass takes a
ticket only if no one holds it (it is left to a later pass), so it never waits holding others."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from api_support import free_port
from sqlalchemy import Connection, select, text

from agent.policy import Policy, load_policy
from agent.settings import EXAMPLES_DIR
from api.db import Database
from api.metrics import Metrics
from api.sla import SlaWatch
from api.tables import TicketRow, utcnow

pytestmark = pytest.mark.postgres


def _paging_policy() -> Policy:
    """The example policy, paging a webhook that refuses (each page fails at once)."""
    policy = load_policy(EXAMPLES_DIR / "policy.yaml")
    url = f"http://127.0.0.1:{free_port()}/page"
    return policy.model_copy(
        update={"priorities": policy.priorities.model_copy(update={"oncall_webhook": url})}
    )


def _ticket(
    ticket_id: str, created: datetime, due: datetime, events: list[dict[str, object]]
) -> TicketRow:
    return TicketRow(
        id=ticket_id,
        payload_hash="h",
        payload={"body": ticket_id},
        channel="api",
        status="decided",
        priority="P3",
        escalate=True,
        created_at=created,
        resolution_due=due,
        sla_state="ok",
        sla_events=events,
        front_of_queue=False,
    )


class _Pass(threading.Thread):
    """One process's SLA pass at ``now``, on its own connections, named for pg_stat_activity."""

    def __init__(self, url: str, name: str, policy: Policy, now: datetime) -> None:
        super().__init__(name=name, daemon=True)
        self.db = Database(f"{url}&application_name={name}")
        self.watch = SlaWatch(self.db, lambda: policy, Metrics(), webhook_timeout_s=1.0)
        self.now = now
        self.acted: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.acted = self.watch.check(now=self.now)
        except BaseException as exc:  # reported by the test
            self.error = exc


def _waiting_or_done(probe: Database, one: _Pass) -> None:
    """Until the pass waits for a row lock, or has finished."""
    deadline = time.monotonic() + 20
    with probe.engine.connect() as connection:
        while one.is_alive() and time.monotonic() < deadline:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = :name AND wait_event_type = 'Lock'"
                ),
                {"name": one.name},
            ).scalar_one()
            if waiting:
                return
            time.sleep(0.05)


def test_two_processes_sla_passes_meeting_on_held_rows_do_not_deadlock(pg_url: str) -> None:
    probe = Database(f"{pg_url}&application_name=sla-probe")
    probe.migrate()
    base = utcnow()
    failed_page = {
        "at": base.isoformat(),
        "state": "decided",
        "actions": ["protocol P3", "notify_oncall failed: ConnectError (attempt 1 of 3)"],
        "oncall": "failed",
        "oncall_attempts": 1,
        "oncall_claimed_at": base.isoformat(),
    }
    with probe.session() as session:  # stored in this order: a pass without ORDER BY reads so
        session.add(_ticket("p", base, base + timedelta(hours=10), [failed_page]))
        session.add(_ticket("x", base - timedelta(hours=2), base - timedelta(hours=1), []))
        session.add(_ticket("g", base - timedelta(hours=2), base - timedelta(hours=1), []))
    policy = _paging_policy()
    # 'x' and 'g' are breached at both times; 'p' has a page to send again, and is at risk
    # only at the later time. A pass that waited for held rows would deadlock here: the first
    # holds 'x' and waits for 'g'; the second takes 'p' and waits for 'x'; 'g' is let go and the
    # first, resending p's page, waits for 'p'.
    first = _Pass(pg_url, "sla-first", policy, base)
    second = _Pass(pg_url, "sla-second", policy, base + timedelta(hours=9))
    holder = probe.engine.connect()
    try:
        _meet_on_held_rows(holder, probe, first, second)
        for one in (first, second):
            assert not one.is_alive()
            assert one.error is None, f"{one.name}: {type(one.error).__name__}: {one.error}"
        later = _Pass(pg_url, "sla-later", policy, base + timedelta(hours=9))
        later.start()
        later.join(30)
        later.db.close()
        assert later.error is None
        with probe.session() as session:
            steps = {
                row.id: [(e["deadline"], e["state"]) for e in row.sla_events if "deadline" in e]
                for row in session.scalars(select(TicketRow))
            }
    finally:
        holder.close()
        for db in (first.db, second.db, probe):
            db.close()
    # each step applied once, by one pass or the other (or the later one); none lost or doubled
    assert steps == {
        "p": [("resolution", "at_risk")],
        "x": [("resolution", "breached")],
        "g": [("resolution", "breached")],
    }


def _meet_on_held_rows(holder: Connection, probe: Database, first: _Pass, second: _Pass) -> None:
    """Start the passes while another writer holds 'g', then let it go."""
    with holder.begin():
        # another writer (a review, the back-flow) holds 'g' for a while
        holder.execute(text("UPDATE tickets SET channel = channel WHERE id = 'g'"))
        first.start()
        _waiting_or_done(probe, first)
        second.start()
        _waiting_or_done(probe, second)
    first.join(30)
    second.join(30)
