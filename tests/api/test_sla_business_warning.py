"""A business-hours SLA clock is at risk by business time left, not by nights and weekends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_support import TICKET_DB, TICKET_REVIEW, Api, AppFactory

# Friday 27 November 2026, 17:30 in Berlin: half an hour before the example policy's close
# (business hours 08:00-18:00 Europe/Berlin, Monday to Friday; P3: 4 h first response).
FRIDAY_EVENING = "2026-11-27T16:30:00Z"


def test_a_first_response_due_after_the_weekend_is_not_at_risk_on_sunday(api: Api) -> None:
    _first_response_after_the_weekend(api)


@pytest.mark.postgres
def test_the_business_hours_clock_is_read_from_the_decision_on_postgres(
    pg_url: str, make_api: AppFactory
) -> None:
    _first_response_after_the_weekend(make_api(pg_url))


def _first_response_after_the_weekend(api: Api) -> None:
    ticket = {**TICKET_REVIEW, "received_at": FRIDAY_EVENING}
    made = api.client.post("/v1/triage", json=ticket, headers=api.auth("helpdesk")).json()
    assert made["needs_review"] and made["escalate"] and made["sla"]["business_hours"]
    # 30 min on Friday, 3 h 30 min on Monday from 08:00 CET: due 11:30 CET
    due = datetime.fromisoformat(made["sla"]["first_response_due"])
    assert due == datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    sunday_night = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)  # 3 h 30 min of 4 h still left
    assert api.services.sla.at_risk(now=sunday_night) == []
    assert api.services.sla.check(now=sunday_night) == []  # no raise, no page on a Sunday
    # at risk once 80 % of the 4 business hours are used: 48 min left, 10:42 CET on Monday
    assert api.services.sla.at_risk(now=due - timedelta(minutes=49)) == []
    at_risk = api.services.sla.at_risk(now=due - timedelta(minutes=47))
    assert [(t.id, t.state, t.deadline) for t in at_risk] == [
        (made["ticket_id"], "at_risk", "first_response")
    ]


def test_a_resolution_in_business_hours_warns_by_business_hours_left(api: Api) -> None:
    ticket = {**TICKET_DB, "received_at": FRIDAY_EVENING}
    made = api.client.post("/v1/triage", json=ticket, headers=api.auth("helpdesk")).json()
    assert (made["priority"], made["escalate"]) == ("P3", True)
    # 24 h: 30 min on Friday, 10 h on Monday and Tuesday, 3 h 30 min on Wednesday (11:30 CET)
    due = datetime.fromisoformat(made["sla"]["resolution_due"])
    assert due == datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
    # 4 h 48 min left (20 %) at 16:42 CET on Tuesday; at 14:00 CET 7 h 30 min are left
    assert api.services.sla.at_risk(now=datetime(2026, 12, 1, 13, 0, tzinfo=UTC)) == []
    assert api.services.sla.at_risk(now=datetime(2026, 12, 1, 15, 41, tzinfo=UTC)) == []
    at_risk = api.services.sla.at_risk(now=datetime(2026, 12, 1, 15, 43, tzinfo=UTC))
    assert [(t.id, t.state) for t in at_risk] == [(made["ticket_id"], "at_risk")]
