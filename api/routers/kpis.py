"""GET /v1/kpis: the KPIs (defined in agent/kpis.py) over stored decisions and feedback."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from agent.errors import InputError
from agent.kpis import KPIReport, kpi_report
from api.deps import KeyFirstRoute, ServicesDep, Specialist

router = APIRouter(prefix="/v1", tags=["kpis"], route_class=KeyFirstRoute)

_NUMBER = re.compile(r"[+-]?\d+(?:\.\d*)?")
# a time, then a space where the zone's '+' was: form encoding reads '+' as a space
_PLUS_AS_SPACE = re.compile(r"(.*\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)")


def _written_as_a_date(value: object) -> object:
    """A bound is a date or a time as written in ISO 8601: not a number, which pydantic would
    read as a Unix time (from=20260101 as 1970-08-23)."""
    if not isinstance(value, str):
        return value
    if _NUMBER.fullmatch(value.strip()):
        raise PydanticCustomError(
            "date_bound",
            "{value} is no date: give one in ISO 8601, e.g. 2026-01-01 or "
            "2026-01-01T08:00:00+02:00 (UTC where no zone is given)",
            {"value": repr(value)},
        )
    plus = _PLUS_AS_SPACE.fullmatch(value)
    if plus:
        raise PydanticCustomError(
            "date_bound",
            "{value} is no date: a '+' in a URL stands for a space; write the zone's + as %2B "
            "({encoded}) or give the time in UTC with Z",
            {"value": repr(value), "encoded": f"{plus[1]}%2B{plus[2]}"},
        )
    return value


Bound = Annotated[datetime | None, BeforeValidator(_written_as_a_date)]


@router.get("/kpis", response_model=KPIReport, summary="Escalation KPIs, per team and overall")
def get_kpis(
    caller: Specialist,
    services: ServicesDep,
    request: Request,
    start: Annotated[Bound, Query(alias="from", description="Tickets received from")] = None,
    end: Annotated[Bound, Query(alias="to", description="... up to (exclusive)")] = None,
    team: Annotated[str | None, Query(max_length=200, description="Only this final team")] = None,
) -> KPIReport:
    """Escalation accuracy, first-contact resolution, handling time, volumes, review rate."""
    _only_known(request)
    start, end = _utc(start, "from"), _utc(end, "to")
    if start and end and end <= start:
        raise InputError("to: must be after from")
    policy = services.engine.policy
    per_team = services.ledger.kpi_counts(policy.first_line_team, start, end)
    if team is not None and team not in policy.team_names and team not in per_team:
        # else a typo or an empty field reads as a team without tickets
        raise InputError(
            f"team: {team!r} is no team of the active policy and no ticket in the period ended "
            f"with it; teams: {', '.join(policy.team_names)}"
        )
    return kpi_report(per_team, team=team)


PARAMETERS = ("from", "to", "team")


def _only_known(request: Request) -> None:
    """InputError for a parameter the KPIs do not take, or one given twice: ignored, a
    misnamed bound (start=, since=) answered with the figures of all history."""
    given = request.query_params
    takes = f"GET /v1/kpis takes {', '.join(PARAMETERS)}"
    unknown = sorted(set(given) - set(PARAMETERS))
    if unknown:
        raise InputError(f"{', '.join(unknown)}: no such parameter; {takes}")
    for name in PARAMETERS:
        if len(given.getlist(name)) > 1:
            raise InputError(f"{name}: given {len(given.getlist(name))} times; {takes}")


def _utc(value: datetime | None, name: str) -> datetime | None:
    """The time in UTC (one without a zone is UTC); InputError for one UTC cannot hold."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise InputError(f"{name}: {value.isoformat()} is out of range in UTC") from None
