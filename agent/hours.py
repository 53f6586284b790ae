"""Working hours: when a person or the business is on shift, and business time between moments.

A shift is read in its own time zone and counted in real time, so a shift across a daylight-saving
switch is an hour shorter or longer. An end before the start is a night shift running into the
next day; it belongs to the day it starts. An end written "24:00" is the next day's midnight.
A holiday (a local date) has no shift: nobody is on shift and business-hours SLA clocks pause.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.errors import PolicyError
from agent.models import as_utc

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WORKDAYS: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = time.max  # how working hours store an end written as "24:00"


class WorkingHours(BaseModel):
    """When a person or the business is on shift, in a named time zone."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    days: list[Weekday] = Field(default_factory=lambda: list(_WORKDAYS), min_length=1)
    start: time = time(8, 0)
    end: time = time(18, 0)
    holidays: list[date] = Field(
        default_factory=list,
        description="Local dates with no shift (a night shift of that date too); SLA clocks "
        "in business hours pause on them",
    )

    @field_validator("start", "end", mode="before")
    @classmethod
    def _plain_time(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"a time as text, e.g. '08:30' ({value:g} is a number)")
        if isinstance(value, str) and re.fullmatch(r"\d:\d\d(:\d\d)?", value.strip()):
            return "0" + value.strip()  # 9:00 means 09:00
        if isinstance(value, str) and re.fullmatch(r"24:00(:00)?", value.strip()):
            return END_OF_DAY  # around the clock: "23:59" would leave a minute a day uncovered
        return value

    @field_validator("start", "end")
    @classmethod
    def _no_offset(cls, value: time) -> time:
        if value.tzinfo is not None:
            # compared with local wall-clock times, an offset would fail every shift check
            raise ValueError("a time without an offset (it is read in the zone of 'timezone')")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (expected e.g. Europe/Berlin)") from None
        return name

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.end == self.start:
            # none or all of the day: write 00:00 to 24:00 for around the clock
            raise ValueError(
                "end equals start; for around the clock write start: 00:00, end: 24:00"
            )
        if self.start == END_OF_DAY:
            raise ValueError("start: 24:00 ends a day; a day starts at 00:00")
        return self

    def works(self, day: date) -> bool:
        """Whether a shift starts on that local day (a working day, not a holiday)."""
        return _WEEKDAYS[day.weekday()] in self.days and day not in self.holidays

    @property
    def overnight(self) -> bool:
        """Whether the shift runs past midnight (end before start) into the next day."""
        return self.end < self.start


def zone(name: str) -> ZoneInfo:
    """The named time zone; an unknown name is a policy error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PolicyError(f"unknown time zone {name!r} in working hours: {exc}") from None


def on_shift(hours: WorkingHours, when: datetime) -> bool:
    """Whether `when` falls inside the working hours, read in their own time zone."""
    moment = as_utc(when)
    today = moment.astimezone(zone(hours.timezone)).date()
    # an overnight shift belongs to the day it starts: at 05:30 it is yesterday's shift
    days = (today - timedelta(days=1), today) if hours.overnight else (today,)
    for day in days:
        if hours.works(day):
            opens, closes = _shift(day, hours)
            if opens <= moment < closes:
                return True
    return False


def add_business_hours(start: datetime, hours: float, business: WorkingHours) -> datetime:
    """The moment `hours` of business time after `start` have passed (in UTC)."""
    if not business.days:
        raise PolicyError("business hours list no working days")
    # in UTC: adding to a time in a zone with daylight saving would add wall-clock hours
    current = as_utc(start).astimezone(UTC)
    day = current.astimezone(zone(business.timezone)).date()
    if business.overnight:
        day -= timedelta(days=1)  # the shift that started yesterday may still be open
    left = timedelta(hours=hours)
    while True:
        if business.works(day):
            opens, closes = _shift(day, business)
            current = max(current, opens)
            # Real time, not wall-clock time: a shift spanning a daylight-saving switch is an
            # hour shorter or longer, and an hour added on its far side must not land an hour off.
            if closes > current:
                if left <= closes - current:
                    return current + left
                left -= closes - current
                current = closes
        day += timedelta(days=1)


def longest_business_span(hours: float, business: WorkingHours) -> timedelta:
    """At most how long in real time ``hours`` of business time take from any start: up to a
    week to the first shift, then whole weeks of shifts, each listed holiday costing one shift
    (a daylight-saving switch aside, an hour on a few days a year)."""
    shift = shift_length(business)
    weekly = shift * len(set(business.days))
    needed = timedelta(hours=hours) + shift * len(set(business.holidays))
    return timedelta(weeks=1) + timedelta(weeks=needed / weekly)


def shift_length(hours: WorkingHours) -> timedelta:
    """How long one shift lasts on the wall clock (a night shift's end is the next day's)."""

    def since_midnight(clock: time) -> timedelta:
        if clock == END_OF_DAY:
            return timedelta(days=1)
        return timedelta(hours=clock.hour, minutes=clock.minute, seconds=clock.second)

    length = since_midnight(hours.end) - since_midnight(hours.start)
    return length + timedelta(days=1) if hours.overnight else length


def business_time(start: datetime, end: datetime, business: WorkingHours) -> timedelta:
    """How much business time lies between two moments (none when `end` is not after `start`)."""
    current, end = as_utc(start).astimezone(UTC), as_utc(end).astimezone(UTC)
    day = current.astimezone(zone(business.timezone)).date()
    if business.overnight:
        day -= timedelta(days=1)  # the shift that started the day before may still be open
    last_day = end.astimezone(zone(business.timezone)).date()
    total = timedelta(0)
    while current < end and day <= last_day:
        if business.works(day):
            opens, closes = _shift(day, business)
            if opens >= end:
                break
            current = max(current, opens)
            if closes > current:
                total += min(closes, end) - current
                current = closes
        day += timedelta(days=1)
    return total


def _shift(day: date, hours: WorkingHours) -> tuple[datetime, datetime]:
    """When the shift starting on that local day opens and closes, in UTC."""
    tz = zone(hours.timezone)
    closing_day = day + timedelta(days=1) if hours.overnight else day
    return _at(day, hours.start, tz), _at(closing_day, hours.end, tz)


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """That local day at that wall-clock time, in UTC; 24:00 is the next day's midnight."""
    if clock == END_OF_DAY:
        return _at(day + timedelta(days=1), time(0, 0), tz)
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)
