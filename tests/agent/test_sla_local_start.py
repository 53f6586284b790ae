"""SLA due times from an arrival given in a local time zone are counted in real hours."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from agent.hours import WorkingHours, add_business_hours
from agent.policy import loads_policy
from agent.priority import sla_for

BERLIN = ZoneInfo("Europe/Berlin")

POLICY = """
first_line_team: desk
teams: [{name: desk, tier: 1}]
priorities:
  business_hours: {timezone: Europe/Berlin, days: [sat], start: "22:00", end: "06:00"}
  levels:
    P1: {first_response_hours: 0.5, resolution_hours: 4, business_hours: false}
    P3: {first_response_hours: 1, resolution_hours: 6, business_hours: true}
"""


def test_business_hours_from_a_local_arrival_on_a_daylight_saving_night() -> None:
    night = WorkingHours(timezone="Europe/Berlin", days=["sat"], start=time(22), end=time(6))
    # Saturday 28 March 2026, 23:00 CET (22:00 UTC); clocks go from 02:00 to 03:00 that night.
    local = datetime(2026, 3, 28, 23, 0, tzinfo=BERLIN)
    expected = datetime(2026, 3, 29, 4, 0, tzinfo=UTC)  # 6 real hours: 06:00 CEST, the close
    assert add_business_hours(local, 6, night) == expected
    assert add_business_hours(local.astimezone(UTC), 6, night) == expected


def test_an_around_the_clock_level_from_a_local_arrival_across_daylight_saving() -> None:
    policy = loads_policy(POLICY, "test.yaml")
    local = datetime(2026, 3, 29, 1, 45, tzinfo=BERLIN)  # 01:45 CET, 00:45 UTC
    sla = sla_for(policy, "P1", local)
    assert sla is not None
    assert sla.first_response_due == datetime(2026, 3, 29, 1, 15, tzinfo=UTC)  # 03:15 CEST
    assert sla.resolution_due == datetime(2026, 3, 29, 4, 45, tzinfo=UTC)  # 06:45 CEST
    business = sla_for(policy, "P3", local)
    assert business is not None
    # 3 h 15 min left in that night (to 06:00 CEST), 2 h 45 min in the next Saturday's
    assert business.first_response_due == datetime(2026, 3, 29, 1, 45, tzinfo=UTC)
    assert business.resolution_due == datetime(2026, 4, 4, 22, 45, tzinfo=UTC)  # 00:45 CEST
