"""Durations written with units in config ("15min", "1h", "35d", "12mo", "7y").

Targets and retention periods are always given with a unit so that "15" can never be read as
minutes by one reader and days by another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

# Calendar units are approximated only for comparisons; ISO 8601 output keeps them exact.
_UNIT_SECONDS = {
    "s": 1,
    "min": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mo": 30 * 86400,
    "y": 365 * 86400,
}
_PATTERN = re.compile(r"^\s*(\d+)\s*(s|min|h|d|w|mo|y)\s*$")
_ISO_DATE_UNITS = {"d": "D", "w": "W", "mo": "M", "y": "Y"}
_ISO_TIME_UNITS = {"s": "S", "min": "M", "h": "H"}
_ISO_PATTERN = re.compile(r"^P(T?)(\d+)([A-Z])$")


@dataclass(frozen=True, order=False)
class Duration:
    value: int
    unit: str

    @classmethod
    def parse(cls, text: Any) -> Duration:
        if isinstance(text, Duration):
            return text
        if isinstance(text, bool) or not isinstance(text, str):
            raise ValueError(f"expected a duration with a unit (e.g. '15min', '1h', '90d'), got {text!r}")
        match = _PATTERN.match(text)
        if not match:
            raise ValueError(
                f"'{text}' is not a duration: use a whole number and one of the units "
                "s, min, h, d, w, mo, y (e.g. '15min', '1h', '90d')"
            )
        return cls(int(match.group(1)), match.group(2))

    @property
    def seconds(self) -> int:
        return self.value * _UNIT_SECONDS[self.unit]

    @property
    def days(self) -> float:
        return self.seconds / 86400

    @property
    def iso8601(self) -> str:
        """ISO 8601 duration as Azure expects it (P3M, P7Y, PT15M, P90D)."""
        if self.unit in _ISO_DATE_UNITS:
            return f"P{self.value}{_ISO_DATE_UNITS[self.unit]}"
        return f"PT{self.value}{_ISO_TIME_UNITS[self.unit]}"

    @classmethod
    def from_iso8601(cls, text: str) -> Duration:
        """The inverse of `iso8601`, for durations Azure writes back (one number, one unit)."""
        match = _ISO_PATTERN.match(text)
        designators = _ISO_TIME_UNITS if match and match.group(1) else _ISO_DATE_UNITS
        units = [unit for unit, letter in designators.items() if match and letter == match.group(3)]
        if not match or not units:
            raise ValueError(f"unsupported duration {text!r}: expected one number and one unit (P3M, PT15M)")
        return cls(int(match.group(2)), units[0])

    def __str__(self) -> str:
        return f"{self.value}{self.unit}"

    def __lt__(self, other: Duration) -> bool:
        return self.seconds < other.seconds

    def __le__(self, other: Duration) -> bool:
        return self.seconds <= other.seconds

    @classmethod
    def __get_pydantic_core_schema__(
        cls, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


def format_seconds(seconds: int | None) -> str:
    """A figure in seconds in the largest whole unit (1h, 15min, 30s, 0s); "none" when there is none."""
    if seconds is None:
        return "none"
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}min"
    return f"{seconds}s"
