"""The people's KPIs on self-written records (the datasets carry no outcomes or timings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.kpis import OutcomeRecord, compute_kpis

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def rec(
    tid: str,
    team: str,
    first: str | None,
    *,
    escalated: bool = True,
    fcr: bool | None = None,
    hours: float | None = None,
    review: bool = False,
) -> OutcomeRecord:
    return OutcomeRecord(
        ticket_id=tid,
        team=team,
        first_route=first,
        escalated=escalated,
        first_contact_resolved=fcr,
        handling_hours=hours,
        needed_review=review,
    )


RECORDS = [
    rec("1", "network", "network", fcr=True, hours=10),
    rec("2", "network", "database", fcr=False, hours=30, review=True),
    rec("3", "database", "database", fcr=True, hours=2),
    rec("4", "database", "database"),  # outcome and time unknown
    rec("5", "service desk", "service desk", escalated=False, hours=100),
]


def test_overall_figures_count_only_escalated_tickets() -> None:
    report = compute_kpis(RECORDS)
    assert report.n == 5
    assert report.escalated == 4
    assert report.escalation_accuracy_rate == pytest.approx(3 / 4)
    assert report.first_contact_resolution_rate == pytest.approx(2 / 3)
    # the first-line ticket's 100 h must not count
    assert report.avg_handling_hours == pytest.approx(14.0)
    assert report.review_rate == pytest.approx(1 / 5)


def test_targets_state_whether_met() -> None:
    targets = compute_kpis(RECORDS).targets
    assert targets["escalation_accuracy_rate"].target == 0.90
    assert targets["escalation_accuracy_rate"].met is False
    assert targets["first_contact_resolution_rate"].met is True
    assert targets["avg_handling_hours"].better == "lower"
    assert targets["avg_handling_hours"].met is True


def test_per_team_and_team_filter() -> None:
    report = compute_kpis(RECORDS)
    assert set(report.per_team) == {"network", "database", "service desk"}
    assert report.per_team["network"].escalation_accuracy_rate == pytest.approx(0.5)
    assert report.per_team["database"].escalation_accuracy_rate == pytest.approx(1.0)
    assert report.per_team["service desk"].escalation_accuracy_rate is None

    only = compute_kpis(RECORDS, team="network")
    assert only.n == 2
    assert only.avg_handling_hours == pytest.approx(20.0)
    assert set(only.per_team) == {"network"}


def test_not_computable_is_none_not_zero() -> None:
    report = compute_kpis([rec("1", "a", None, escalated=True)])
    assert report.escalation_accuracy_rate is None
    assert report.first_contact_resolution_rate is None
    assert report.avg_handling_hours is None
    assert report.targets["avg_handling_hours"].met is None

    empty = compute_kpis([])
    assert empty.n == 0
    assert empty.review_rate is None
    assert empty.per_team == {}


def test_handling_time_derived_from_timestamps() -> None:
    record = OutcomeRecord(
        ticket_id="x",
        team="a",
        first_route="a",
        escalated=True,
        decided_at=T0,
        resolved_at=T0 + timedelta(hours=30),
    )
    report = compute_kpis([record])
    assert report.avg_handling_hours == pytest.approx(30.0)
    assert report.targets["avg_handling_hours"].met is False
