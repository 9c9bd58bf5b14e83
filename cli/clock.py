"""The current time, read in one place so that every caller can be handed another clock.

Waiver expiry and drill timestamps read a `Clock`; tests pass `fixed(...)` (or a stepping clock)
so that no result depends on the day or the speed of the machine, and `python -m gate --today`
replays a past day's waiver check. Always UTC: a waiver expires at the end of its day in UTC,
wherever the gate runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]  # returns a timezone-aware instant


def system() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fixed(at: dt.datetime) -> Clock:
    """A clock stopped at `at` (timezone-aware)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a clock needs a timezone-aware instant, not {at.isoformat()}")
    return lambda: at


def today(clock: Clock | None = None) -> dt.date:
    """The clock's current date in UTC (the system clock's when none is given)."""
    return (clock or system)().astimezone(dt.UTC).date()
