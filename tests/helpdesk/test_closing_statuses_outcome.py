"""A reopen is counted from the configured closing statuses (TRIAGE_HELPDESK_CLOSED_STATUSES),
in the outcome the KPIs read and in the enrichment before triage."""

from __future__ import annotations

from rt_support import DB_TEXT, RigFactory, rt_ticket

from agent.kpis import compute_kpis
from api.helpdesk.fake import FakeHelpdesk
from api.hooks import HelpdeskEvent
from api.intake.events import WEBHOOK_CALLER

CLOSING = ["resolved", "rejected", "deleted", "cancelled"]


def test_a_reopen_from_a_custom_closing_status_is_no_first_contact_resolution(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake, closed_statuses=CLOSING)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    rig.decide(rt_ticket(rt.id, *DB_TEXT))
    rig.connector.delivery.drain()
    fake.set_field(rt.id, "Status", "cancelled", "mehmet.yilmaz@example.com")
    fake.set_field(rt.id, "Status", "open", "alice@example.com")  # it was not solved
    fake.record(rt.id, "Correspond", "mehmet.yilmaz@example.com", content="Patched the DB.")
    fake.set_field(rt.id, "Status", "resolved", "mehmet.yilmaz@example.com")
    event = HelpdeskEvent(source="rt", event_id="txn-9", type="resolved", external_id=f"rt:{rt.id}")
    rig.connector.handler.handle(event)
    assert rig.connector.backflow.drain() == 1
    report = compute_kpis(rig.services.ledger.outcomes("service_desk"))
    assert report.escalation_accuracy_rate == 1.0
    assert report.first_contact_resolution_rate == 0.0


def test_enrichment_counts_reopens_from_the_configured_closing_statuses(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    fake.set_field(rt.id, "Status", "cancelled", "root")
    fake.set_field(rt.id, "Status", "open", "alice@example.com")
    fake.set_field(rt.id, "Status", "closed", "root")  # no closing status unless configured
    fake.set_field(rt.id, "Status", "open", "alice@example.com")
    counted = []
    for rig in (make_rig(fake, closed_statuses=CLOSING), make_rig(fake)):
        sent = rt_ticket(rt.id, *DB_TEXT)
        rig.services.store.claim(sent, None, WEBHOOK_CALLER.key_id, "queued")  # RT sent it
        counted.append(rig.connector.enricher.enrich(sent).reopen_count)
    assert counted == [1, 0]
