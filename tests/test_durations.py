"""components.durations: one parser and one formatter for every duration the project reads or prints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.durations import Duration, format_seconds

UNITS = ["s", "min", "h", "d", "w", "mo", "y"]


@given(value=st.integers(min_value=0, max_value=10**6), unit=st.sampled_from(UNITS))
def test_iso8601_round_trips(value, unit):
    duration = Duration(value, unit)
    assert Duration.from_iso8601(duration.iso8601) == duration
    assert Duration.parse(str(duration)) == duration


@pytest.mark.parametrize("text", ["P3", "PT3D", "P3H", "3M", "P", "PTM", "P-1D", "P1.5D", "P1Y2M", "p3m"])
def test_from_iso8601_refuses_what_it_cannot_read_exactly(text):
    with pytest.raises(ValueError, match=f"unsupported duration '{text}'"):
        Duration.from_iso8601(text)


@pytest.mark.parametrize(
    "text, seconds",
    [("15min", 900), ("1h", 3600), ("35d", 35 * 86400), ("1w", 604800), ("12mo", 12 * 30 * 86400)],
)
def test_seconds(text, seconds):
    assert Duration.parse(text).seconds == seconds


@pytest.mark.parametrize(
    "seconds, text",
    [
        (900, "15min"),
        (3600, "1h"),
        (30, "30s"),
        (43200, "12h"),
        (5400, "90min"),
        (3660, "61min"),
        (61, "61s"),
        (0, "0s"),
        (None, "none"),
    ],
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(
    "left, right, less, less_or_equal",
    [("1h", "60min", False, True), ("59min", "1h", True, True), ("2h", "1h", False, False)],
)
def test_durations_compare_by_length(left, right, less, less_or_equal):
    a, b = Duration.parse(left), Duration.parse(right)
    assert (a < b, a <= b) == (less, less_or_equal)


def test_a_number_without_unit_is_refused_with_the_units_listed():
    with pytest.raises(ValueError) as caught:
        Duration.parse("15")
    assert str(caught.value) == (
        "'15' is not a duration: use a whole number and one of the units "
        "s, min, h, d, w, mo, y (e.g. '15min', '1h', '90d')"
    )
