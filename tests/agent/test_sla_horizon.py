"""A business-hours SLA that could not come due within years is refused when the policy loads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from agent.errors import PolicyError
from agent.policy import loads_policy
from agent.priority import sla_for

POLICY = """
first_line_team: desk
teams: [{name: desk, tier: 1}]
priorities:
  business_hours: {days: [mon], start: "08:00", end: "08:01"}
  levels:
    P3: {first_response_hours: 1, resolution_hours: 8760, business_hours: true}
"""


def test_a_year_of_business_hours_at_a_minute_a_week_is_refused_with_its_path() -> None:
    # 8760 hours at a minute a week end some 10,000 years on: past any date a due time can hold
    with pytest.raises(PolicyError) as info:
        loads_policy(POLICY, "p.yaml")
    message = str(info.value)
    assert "priorities.levels.P3.resolution_hours" in message
    assert "within 10 years" in message
    assert "a week" in message


def test_holidays_count_against_the_horizon() -> None:
    # 10 h on Mondays: 4,000 hours take under 8 years; 150 Mondays off push them past 10
    policy = POLICY.replace('end: "08:01"', 'end: "18:00"')
    policy = policy.replace("resolution_hours: 8760", "resolution_hours: 4000")
    assert loads_policy(policy).priorities.levels["P3"].resolution_hours == 4000
    mondays = [date(2027, 1, 4) + timedelta(weeks=i) for i in range(150)]
    listed = ", ".join(d.isoformat() for d in mondays)
    with pytest.raises(PolicyError, match="within 10 years"):
        loads_policy(policy.replace('"18:00"}', f'"18:00", holidays: [{listed}]}}'))


def test_an_accepted_long_business_hours_sla_gets_due_times() -> None:
    # a year of business hours on a working week takes about three and a half years
    policy = loads_policy(
        POLICY.replace('end: "08:01"', 'end: "18:00"').replace("[mon]", "[mon, tue, wed, thu, fri]")
    )
    sla = sla_for(policy, "P3", datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    assert sla is not None
    assert datetime(2029, 1, 1, tzinfo=UTC) < sla.resolution_due < datetime(2031, 1, 1, tzinfo=UTC)
