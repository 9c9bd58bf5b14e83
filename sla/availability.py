"""A database's availability over a calendar month, minute by minute, as docs/sla.md defines it.

- A minute is available when a sample of `is_db_alive` in it has Maximum >= 1 ("1 for available and
  0 for not-available", one sample a minute: concepts-monitoring). A minute with no sample is
  unavailable: silence is not proof of health.
- Minutes inside the declared maintenance window are excluded: neither up nor down.
- An incident is a run of unavailable minutes; it ends (exclusive) at the first minute that is
  available again or excluded, so maintenance never counts as part of one.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from components.facts import MAINTENANCE_WINDOW_MINUTES
from components.settings import MaintenanceWindow

MINUTE = dt.timedelta(minutes=1)
MINUTES_A_WEEK = 7 * 24 * 60


@dataclass(frozen=True)
class Incident:
    start: dt.datetime
    end: dt.datetime  # exclusive: the first minute available again (or excluded)

    @property
    def minutes(self) -> int:
        return int((self.end - self.start) / MINUTE)


@dataclass
class MonthlyAvailability:
    objective: float  # percent
    availability: float  # percent of the minutes not excluded
    met: bool
    downtime_minutes: int
    excluded_minutes: int
    incidents: list[Incident] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["incidents"] = [
            {"start": i.start.isoformat(), "end": i.end.isoformat(), "minutes": i.minutes}
            for i in self.incidents
        ]
        return data


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """The first minute of `month` (YYYY-MM) and of the month after, in UTC; ValueError if malformed."""
    try:
        start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ValueError(f"{month!r} is not a month in the form YYYY-MM") from None
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + dt.timedelta(days=days)


def minutes(start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Each minute from `start` up to `end`; a count fixed first, so no slip can make it endless."""
    for offset in range(int((end - start) / MINUTE)):
        yield start + offset * MINUTE


def in_window(minute: dt.datetime, window: MaintenanceWindow) -> bool:
    """Whether `minute` falls in the weekly window's hour (which may run past midnight, and from
    Saturday into Sunday)."""
    return _in_window(minute, window.start_minute_of_week)


def _in_window(minute: dt.datetime, window_start: int) -> bool:
    # Python's weekday() counts from Monday; the window's week starts on Sunday.
    of_week = ((minute.weekday() + 1) % 7) * 1440 + minute.hour * 60 + minute.minute
    return (of_week - window_start) % MINUTES_A_WEEK < MAINTENANCE_WINDOW_MINUTES


def minute_state(minute: dt.datetime, alive: Mapping[dt.datetime, float], window_start: int) -> str:
    """excluded (the maintenance window), up (a sample >= 1) or down (below 1, or no sample)."""
    if _in_window(minute, window_start):
        return "excluded"
    return "up" if alive.get(minute, 0.0) >= 1 else "down"


def monthly_availability(
    month: str, alive: Mapping[dt.datetime, float], objective: float, window: MaintenanceWindow
) -> MonthlyAvailability:
    """Judge one database's month from `alive` (minute start, UTC -> the largest is_db_alive sample
    in that minute)."""
    start, end = month_bounds(month)
    up = down = excluded = 0
    incidents: list[Incident] = []
    outage: dt.datetime | None = None
    window_start = window.start_minute_of_week
    for minute in minutes(start, end):
        state = minute_state(minute, alive, window_start)
        if state == "down":
            down += 1
            outage = outage or minute
            continue
        if outage is not None:
            incidents.append(Incident(outage, minute))
            outage = None
        if state == "up":
            up += 1
        else:
            excluded += 1
    if outage is not None:
        incidents.append(Incident(outage, end))
    counted = up + down
    availability = 100.0 * up / counted if counted else 100.0
    return MonthlyAvailability(
        objective=objective,
        availability=availability,
        # Exactly, not in floating point: 99.9 % of a month is met to the minute.
        met=counted == 0 or Fraction(100 * up, counted) >= Fraction(str(objective)),
        downtime_minutes=down,
        excluded_minutes=excluded,
        incidents=incidents,
    )
