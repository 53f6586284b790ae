"""install(): listener, handler and enricher registered; threads follow the app's lifespan."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from rt_support import DB_TEXT, RigFactory, rt_ticket

import api.helpdesk
from agent.settings import Settings
from api.helpdesk.fake import FakeHelpdesk
from api.helpdesk.options import HelpdeskOptions
from api.helpdesk.plugin import install
from api.intake.events import WEBHOOK_CALLER


def test_install_registers_and_runs_with_the_app(make_rig: RigFactory, fake: FakeHelpdesk) -> None:
    rig = make_rig(fake, background=True)
    assert rig.connector.listener in rig.app.state.decision_listeners
    assert rig.app.state.helpdesk_handlers["rt"] is rig.connector.handler
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    with TestClient(rig.app):
        assert rig.connector.delivery.alive and rig.connector.backflow._thread is not None
        sent = rt_ticket(rt.id, *DB_TEXT)
        rig.services.store.claim(sent, None, WEBHOOK_CALLER.key_id, "queued")  # RT's own
        enriched = api.helpdesk.enrich(sent)
        assert any(c.startswith("history") for c in fake.calls) and enriched.requester
        rig.decide(rt_ticket(rt.id, *DB_TEXT))
        deadline = time.monotonic() + 5
        while not fake.comments(rt.id) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake.tickets[rt.id].queue == "database"
        assert rig.connector.readiness()["ok"] is True
    assert not rig.connector.delivery.alive
    assert api.helpdesk.enrich(rt_ticket(rt.id, *DB_TEXT)).messages == []


def test_no_helpdesk_configured_is_a_no_op(make_rig: RigFactory, fake: FakeHelpdesk) -> None:
    rig = make_rig(fake)
    before = list(rig.app.state.decision_listeners)
    assert install(rig.app, Settings(), HelpdeskOptions()) is None
    assert rig.app.state.decision_listeners == before
