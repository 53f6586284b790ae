"""Priority floors and raises, tags, and SLA due times in business hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from agent.errors import PolicyError
from agent.hours import WorkingHours, add_business_hours, on_shift
from agent.models import Account, TeamScore, Ticket
from agent.policy import Policy, loads_policy
from agent.priority import PriorityChoice, choose_priority, sla_for
from agent.rules import RuleEngine
from knowledge.base import RoutePrediction

POLICY = """
first_line_team: desk
teams: [{name: desk, tier: 1}, {name: sre}]
rules:
  - id: outage
    match: {keywords: [outage]}
    actions: {escalate_to: sre, raise_priority_to: P1, add_tags: [Outage]}
complexity:
  urgency_cues: [urgent, dringend]
  high_complexity_at: 2.0
  requires_expertise_at: 1.0
priorities:
  scale: [P1, P2, P3, P4]
  default: P3
  urgency_raises: 1
  by_account_tier: {vip: P2}
  by_severity: {critical: P1}
  business_hours:
    {timezone: Europe/Berlin, days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
  levels:
    P1: {first_response_hours: 1, resolution_hours: 4, business_hours: false,
         actions: [jump_queue, notify_oncall]}
    P3: {first_response_hours: 4, resolution_hours: 16, actions: [start_sla_clock]}
    P4: {first_response_hours: 8, resolution_hours: 40}
"""

# Friday 2026-11-27 15:00 Berlin (14:00 UTC): two business hours left in the week.
FRIDAY_AFTERNOON = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


@pytest.fixture
def policy() -> Policy:
    return loads_policy(POLICY, "test.yaml")


def _choose(
    policy: Policy,
    ticket: Ticket,
    learned: str | None = None,
    escalate: bool = False,
) -> PriorityChoice:
    engine = RuleEngine(policy)
    hits = engine.evaluate(ticket, ticket.text)
    prediction = None
    if learned:
        prediction = RoutePrediction(
            teams=[TeamScore(team="desk", score=0.9)],
            priorities=[TeamScore(team=learned, score=0.7)],
            confidence=0.9,
            model_version="m",
        )
    cx = engine.complexity(ticket, ticket.text)
    return choose_priority(policy, ticket, hits, cx, prediction, escalate, FRIDAY_AFTERNOON)


def test_default_priority_and_business_hours_sla_across_the_weekend(policy: Policy) -> None:
    choice = _choose(policy, Ticket(body="question about reports"))
    assert choice.priority == "P3"
    assert choice.sla is not None and choice.sla.business_hours
    # 2 h on Friday (15-17 Berlin), then 2 h on Monday from 09:00 Berlin = 11:00 Berlin = 10:00 UTC.
    assert choice.sla.first_response_due == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    # 16 h: 2 Fri + 8 Mon + 6 Tue -> Tuesday 15:00 Berlin = 14:00 UTC.
    assert choice.sla.resolution_due == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert choice.sla.actions == ["start_sla_clock"]
    assert any(e.kind == "sla" and "start_sla_clock" in e.detail for e in choice.evidence)


def test_wall_clock_sla_and_protocol_for_p1(policy: Policy) -> None:
    choice = _choose(policy, Ticket(body="total outage"), escalate=True)
    assert choice.priority == "P1"
    assert choice.sla is not None and not choice.sla.business_hours
    assert choice.sla.first_response_due == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert choice.sla.actions == ["jump_queue", "notify_oncall"]
    assert "Outage" in choice.tags


def test_account_tier_and_severity_raise_the_floor(policy: Policy) -> None:
    vip = _choose(policy, Ticket(body="hello", account=Account(tier="vip")))
    assert vip.priority == "P2"
    assert any("account tier vip raises P3 -> P2" in e.detail for e in vip.evidence)
    assert _choose(policy, Ticket(body="hello", severity="critical")).priority == "P1"


def test_urgency_cues_raise_by_the_configured_steps(policy: Policy) -> None:
    choice = _choose(policy, Ticket(body="Bitte dringend ansehen"))
    assert choice.priority == "P2"
    assert any("'dringend'" in e.detail for e in choice.evidence)


def test_priority_is_never_lowered_by_ticket_text_or_learned_label(policy: Policy) -> None:
    ticket = Ticket(body="not urgent at all, low priority, whenever", account=Account(tier="vip"))
    assert _choose(policy, ticket, learned="P4").priority in ("P2", "P1")
    assert _choose(policy, Ticket(body="no rush"), learned="P4").priority == "P4"


def test_learned_priority_off_the_scale_is_ignored(policy: Policy) -> None:
    choice = _choose(policy, Ticket(body="hello"), learned="high")
    assert choice.priority == "P3"
    assert choice.evidence[0].detail == "policy default P3"


def test_a_learned_priority_below_the_policy_confidence_leaves_the_default(
    policy: Policy,
) -> None:
    """A guessed P1 at 0.70 would page on-call; a policy asking for 0.80 keeps P3."""
    assert _choose(policy, Ticket(body="hello"), learned="P1").priority == "P1"
    priorities = policy.priorities.model_copy(update={"learned_min_confidence": 0.8})
    strict = policy.model_copy(update={"priorities": priorities})
    choice = _choose(strict, Ticket(body="hello"), learned="P1")
    assert choice.priority == "P3"
    assert choice.sla is not None and "notify_oncall" not in choice.sla.actions
    assert choice.evidence[0].detail == (
        "policy default P3: learned priority P1 (0.70) is below learned_min_confidence 0.80"
    )
    # the floors still raise it as before
    vip = _choose(strict, Ticket(body="hello", account=Account(tier="vip")), learned="P1")
    assert vip.priority == "P2"


def test_complexity_tags(policy: Policy) -> None:
    body = "urgent: ORA-00600? no rule, but outage"
    escalated = _choose(policy, Ticket(body=body, reopen_count=2), escalate=True)
    assert "High Complexity" in escalated.tags and "Requires Expertise" in escalated.tags
    first_line = _choose(policy, Ticket(body="urgent", reopen_count=0), escalate=False)
    assert "Requires Expertise" not in first_line.tags


def test_level_without_sla_gives_none_with_evidence(policy: Policy) -> None:
    choice = _choose(policy, Ticket(body="hello", account=Account(tier="vip")))
    assert choice.sla is None
    assert any(e.kind == "sla" and "no SLA level for P2" in e.detail for e in choice.evidence)


def test_business_hours_start_before_opening_and_on_weekends() -> None:
    hours = WorkingHours(timezone="UTC", start=time(9), end=time(17))
    sunday = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    assert add_business_hours(sunday, 1, hours) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    early = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert add_business_hours(early, 8, hours) == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def test_business_hours_are_real_hours_across_a_daylight_saving_switch() -> None:
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    berlin = WorkingHours(timezone="Europe/Berlin", days=every_day, start=time(0), end=time(23, 59))
    # 23:00 CET; the clocks go from 02:00 to 03:00 that night: 59 minutes, then 9 h 01 min
    start = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert add_business_hours(start, 10, berlin) == datetime(2026, 3, 29, 8, 1, tzinfo=UTC)
    # and back in October: the night has an hour more
    autumn = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)  # 23:00 CEST
    assert add_business_hours(autumn, 10, berlin) == datetime(2026, 10, 25, 7, 1, tzinfo=UTC)


def test_on_shift_reads_the_members_time_zone() -> None:
    tokyo = WorkingHours(timezone="Asia/Tokyo", start=time(9), end=time(18))
    assert on_shift(tokyo, datetime(2026, 11, 25, 1, 0, tzinfo=UTC))  # 10:00 in Tokyo
    assert not on_shift(tokyo, datetime(2026, 11, 25, 12, 0, tzinfo=UTC))  # 21:00 in Tokyo


def test_unknown_time_zone_is_a_policy_error_naming_the_path() -> None:
    text = "first_line_team: a\nteams:\n  - name: a\n    working_hours: {timezone: Mars/Olympus}\n"
    where = r"p\.yaml: line 4: teams\[0\]\.working_hours\.timezone: .*Mars/Olympus"
    with pytest.raises(PolicyError, match=where):
        loads_policy(text, "p.yaml")


def test_an_overnight_shift_belongs_to_the_day_it_starts() -> None:
    night = WorkingHours(timezone="UTC", days=["mon"], start=time(22), end=time(6))
    assert night.overnight
    assert on_shift(night, datetime(2026, 11, 30, 23, 30, tzinfo=UTC))  # Monday 23:30
    assert on_shift(night, datetime(2026, 12, 1, 5, 30, tzinfo=UTC))  # Tuesday 05:30
    assert not on_shift(night, datetime(2026, 11, 30, 12, 0, tzinfo=UTC))  # Monday noon
    assert not on_shift(night, datetime(2026, 12, 1, 6, 0, tzinfo=UTC))  # the shift has ended
    assert not on_shift(night, datetime(2026, 11, 30, 5, 30, tzinfo=UTC))  # Sunday's: none
    assert not on_shift(night, datetime(2026, 12, 1, 23, 30, tzinfo=UTC))  # Tuesday's: none
    # Sunday night runs into Monday morning, across the week boundary
    sunday = WorkingHours(timezone="UTC", days=["sun"], start=time(22), end=time(6))
    assert on_shift(sunday, datetime(2026, 11, 30, 5, 30, tzinfo=UTC))
    assert not on_shift(sunday, datetime(2026, 11, 29, 5, 30, tzinfo=UTC))


def test_an_overnight_shift_on_a_daylight_saving_night_is_read_in_its_zone() -> None:
    # Berlin goes from 02:00 to 03:00 in the night of Saturday 28 March 2026
    night = WorkingHours(timezone="Europe/Berlin", days=["sat"], start=time(22), end=time(6))
    assert on_shift(night, datetime(2026, 3, 29, 3, 30, tzinfo=UTC))  # 05:30 CEST on Sunday
    assert not on_shift(night, datetime(2026, 3, 29, 4, 30, tzinfo=UTC))  # 06:30 CEST
    assert not on_shift(night, datetime(2026, 3, 28, 20, 30, tzinfo=UTC))  # 21:30 CET


def test_business_hours_count_across_an_overnight_window() -> None:
    night = WorkingHours(timezone="UTC", start=time(22), end=time(6))  # mon-fri nights
    monday_noon = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert add_business_hours(monday_noon, 3, night) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    # 8 hours in Monday's night, 2 more in Tuesday's
    assert add_business_hours(monday_noon, 10, night) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    # a ticket at 05:00 on Tuesday is inside Monday's shift: one hour left in it
    tuesday_five = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert add_business_hours(tuesday_five, 2, night) == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    # Friday's night ends on Saturday morning; the next starts on Monday evening
    saturday_five = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)
    assert add_business_hours(saturday_five, 2, night) == datetime(2026, 12, 7, 23, 0, tzinfo=UTC)


def test_business_hours_of_a_sunday_night_run_into_monday() -> None:
    sunday = WorkingHours(timezone="UTC", days=["sun"], start=time(22), end=time(6))
    monday_three = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert add_business_hours(monday_three, 2, sunday) == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    # three hours left that night, the fourth in the next Sunday's
    assert add_business_hours(monday_three, 4, sunday) == datetime(2026, 12, 6, 23, 0, tzinfo=UTC)


def test_business_hours_of_an_overnight_shift_are_real_hours_across_daylight_saving() -> None:
    night = WorkingHours(timezone="Europe/Berlin", days=["sat"], start=time(22), end=time(6))
    # 22:00 CET to 06:00 CEST is 7 hours: the eighth is in the next Saturday's night (22:00 CEST)
    spring = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert add_business_hours(spring, 7, night) == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)
    assert add_business_hours(spring, 8, night) == datetime(2026, 4, 4, 21, 0, tzinfo=UTC)
    # 22:00 CEST to 06:00 CET is 9 hours
    autumn = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    assert add_business_hours(autumn, 9, night) == datetime(2026, 10, 25, 5, 0, tzinfo=UTC)
    assert add_business_hours(autumn, 10, night) == datetime(2026, 10, 31, 22, 0, tzinfo=UTC)


def test_business_hours_sla_clocks_pause_on_the_policy_s_holidays() -> None:
    """Christmas in Berlin: 24 Dec 2025 is a Wednesday, 25-26 Dec Thursday and Friday."""
    text = POLICY.replace(
        'start: "09:00", end: "17:00"}',
        'start: "09:00", end: "17:00",\n     holidays: [2025-12-25, "2025-12-26"]}',
    )
    policy = loads_policy(text, "test.yaml")
    assert policy.priorities.business_hours.holidays == [date(2025, 12, 25), date(2025, 12, 26)]
    # Wednesday 24 Dec 15:00 Berlin: 2 h that day, then nothing until Monday 29 Dec 09:00
    wednesday = datetime(2025, 12, 24, 14, 0, tzinfo=UTC)
    choice = sla_for(policy, "P3", wednesday)
    assert choice is not None
    assert choice.first_response_due == datetime(2025, 12, 29, 10, 0, tzinfo=UTC)  # 11:00
    # 16 h: 2 on the 24th, 8 on the 29th, 6 on the 30th -> 15:00 Berlin
    assert choice.resolution_due == datetime(2025, 12, 30, 14, 0, tzinfo=UTC)


def test_nobody_is_on_shift_on_a_holiday_nor_in_its_night() -> None:
    day = WorkingHours(timezone="Asia/Tokyo", holidays=[date(2027, 1, 1)])
    assert not on_shift(day, datetime(2027, 1, 1, 1, 0, tzinfo=UTC))  # 10:00 on 1 Jan in Tokyo
    assert on_shift(day, datetime(2027, 1, 4, 1, 0, tzinfo=UTC))  # Monday 4 Jan
    # the night shift of 31 Dec runs into the holiday; the holiday's own night does not run
    night = WorkingHours(start=time(22), end=time(6), days=["thu", "fri"], holidays=["2027-01-01"])
    assert on_shift(night, datetime(2027, 1, 1, 5, 0, tzinfo=UTC))  # Thursday 31 Dec's night
    assert not on_shift(night, datetime(2027, 1, 1, 23, 0, tzinfo=UTC))  # Friday 1 Jan's night
    assert add_business_hours(datetime(2027, 1, 1, 12, 0, tzinfo=UTC), 1, night) == datetime(
        2027, 1, 7, 23, 0, tzinfo=UTC
    )


def test_a_holiday_that_is_not_a_date_is_refused_at_its_path() -> None:
    text = POLICY.replace(
        'start: "09:00", end: "17:00"}', 'start: "09:00", end: "17:00", holidays: [25.12.2026]}'
    )
    with pytest.raises(
        PolicyError, match=r"test\.yaml: line 19: priorities\.business_hours\.holidays\[0\]"
    ):
        loads_policy(text, "test.yaml")
