"""The restore check's judgement (drill/restore_check.py): every row up to the restore point there,
none after it, checksums equal, within the RTO. Pure; the rehearsal on real PostgreSQL is in
test_restore_check.py."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drill.restore_check import ProbeRow, verify

T0 = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def rows(*offsets_ms: int) -> list[ProbeRow]:
    return [ProbeRow(seq, T0 + dt.timedelta(milliseconds=ms)) for seq, ms in enumerate(offsets_ms, 1)]


def judged(written, found, target_ms: int, source=None, restored=None, measured=5.0, rto=3600.0):
    return verify(
        "pitr",
        T0 + dt.timedelta(milliseconds=target_ms),
        written,
        found,
        source or {"public.t": "a"},
        restored or {"public.t": "a"},
        measured,
        rto,
    )


def test_a_restore_that_holds_exactly_the_rows_up_to_the_point_passes():
    check = judged(rows(0, 10, 20, 30), [1, 2], target_ms=15)
    assert (check.rows_before_target, check.rows_before_target_found) == (2, 2)
    assert (check.rows_after_target, check.rows_after_target_found) == (2, 0)
    assert check.passed and check.met and check.checksums_match


def test_a_row_committed_exactly_at_the_point_belongs_before_it():
    """recovery_target_inclusive is on by default: recovery stops just after the target."""
    check = judged(rows(0, 10, 20), [1, 2], target_ms=10)
    assert (check.rows_before_target, check.rows_after_target) == (2, 1) and check.passed


@pytest.mark.parametrize(
    ("found", "missing", "unexpected"),
    [([1], [2], []), ([1, 2, 3], [], [3]), ([2, 3, 9], [1], [3, 9])],
)
def test_missing_and_extra_rows_fail_and_are_named(found, missing, unexpected):
    check = judged(rows(0, 10, 20), found, target_ms=15)
    assert not check.passed
    assert (check.missing_rows, check.unexpected_rows) == (missing, unexpected)


def test_a_checksum_difference_fails_and_names_the_table():
    check = judged(
        rows(0),
        [1],
        5,
        source={"public.t": "a", "public.u": "b"},
        restored={"public.t": "a", "public.u": "c"},
    )
    assert not check.passed and not check.checksums_match
    assert check.checksum_differences == ["public.u: source b restored c"]


def test_a_restore_slower_than_the_rto_fails():
    assert judged(rows(0), [1], 5, measured=3600.0).passed
    slow = judged(rows(0), [1], 5, measured=3600.001)
    assert not slow.met and not slow.passed


@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=40, unique=True),
    st.integers(min_value=-1, max_value=10_001),
)
def test_every_row_is_on_exactly_one_side_of_the_point(offsets, target_ms):
    written = rows(*sorted(offsets))
    perfect = [r.seq for r in written if r.committed_at <= T0 + dt.timedelta(milliseconds=target_ms)]
    check = judged(written, perfect, target_ms)
    assert check.rows_before_target + check.rows_after_target == len(written)
    assert check.rows_before_target == sum(1 for ms in offsets if ms <= target_ms)
    assert check.passed


def test_a_table_on_one_side_only_is_a_difference():
    check = judged(rows(0), [1], 5, source={"public.t": "a", "public.gone": "b"}, restored={"public.t": "a"})
    assert check.checksum_differences == ["public.gone: source b restored None"] and not check.passed
