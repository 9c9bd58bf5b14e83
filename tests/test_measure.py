"""drill.measure: RPO and RTO from what a drill observed (pure functions, no servers needed)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drill.measure import RpoResult, RtoResult, measure_rpo, measure_rto
from drill.probes import Ack

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
SYDNEY = dt.timezone(dt.timedelta(hours=10))  # a fixed offset, as a server in australiaeast may report


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _acks(*seconds: float) -> list[Ack]:
    return [Ack(i, _at(s), _at(s + 0.001)) for i, s in enumerate(seconds, start=1)]


def _present(acks: list[Ack], *seqs: int) -> list[tuple[int, dt.datetime]]:
    return [(a.seq, a.committed_at) for a in acks if a.seq in seqs]


class _NoOffset(dt.tzinfo):
    """A tzinfo that does not know its offset: as ambiguous as a naive time."""

    def utcoffset(self, _: dt.datetime | None) -> None:
        return None


def test_rpo_zero_when_nothing_acknowledged_is_lost():
    acks = _acks(0, 1, 2)
    result = measure_rpo(acks, [(a.seq, a.committed_at) for a in acks])
    assert result == RpoResult(3, _at(2), 3, _at(2), (), 0.0)


def test_rpo_counts_lost_acknowledged_heartbeats():
    acks = _acks(0, 1, 2, 3.5, 4.25)
    result = measure_rpo(acks, [(1, _at(0)), (2, _at(1))])
    assert result.lost_seqs == (3, 4, 5)
    assert result.rpo_seconds == pytest.approx(3.25)
    assert (result.last_acked_seq, result.newest_present_seq) == (5, 2)


def test_rpo_with_gaps_counts_every_missing_heartbeat_and_measures_from_the_newest_present():
    acks = _acks(0, 1, 2, 3, 4, 5)
    # 2, 4 and 6 are gone, 3 and 5 survived: a gap is a loss even when newer rows made it.
    result = measure_rpo(acks, _present(acks, 1, 3, 5, 6))
    assert result.lost_seqs == (2, 4)
    assert (result.last_acked_seq, result.newest_present_seq) == (6, 6)
    assert result.rpo_seconds == 0.0
    result = measure_rpo(acks, _present(acks, 1, 3, 5))
    assert result.lost_seqs == (2, 4, 6)
    assert result.rpo_seconds == pytest.approx(1.0)
    result = measure_rpo(acks, _present(acks, 1, 3))
    assert result.lost_seqs == (2, 4, 5, 6)
    assert result.rpo_seconds == pytest.approx(3.0)  # seq 6 at 5 s minus seq 3 at 2 s


def test_rpo_does_not_depend_on_the_order_acks_and_rows_arrive_in():
    acks = _acks(0, 1, 2, 3)
    present = _present(acks, 1, 2)
    expected = measure_rpo(acks, present)
    assert measure_rpo(list(reversed(acks)), list(reversed(present))) == expected
    assert expected.rpo_seconds == pytest.approx(2.0) and expected.lost_seqs == (3, 4)


def test_rpo_last_ack_is_the_latest_commit_not_the_highest_seq():
    # Two writers: seq 2 committed after seq 3 (sequence values are handed out before commit).
    acks = [Ack(1, _at(0), _at(0)), Ack(3, _at(1), _at(1)), Ack(2, _at(4), _at(4))]
    result = measure_rpo(acks, [(1, _at(0))])
    assert (result.last_acked_seq, result.last_acked_at) == (2, _at(4))
    assert result.rpo_seconds == pytest.approx(4.0)


def test_rpo_newest_present_is_the_latest_commit_not_the_highest_seq():
    acks = [Ack(1, _at(0), _at(0)), Ack(2, _at(9), _at(9))]
    # seq 7 committed at 6 s, seq 8 at 3 s: the loss window starts at 6 s.
    result = measure_rpo(acks, [(1, _at(0)), (8, _at(3)), (7, _at(6))])
    assert (result.newest_present_seq, result.newest_present_at) == (7, _at(6))
    assert result.rpo_seconds == pytest.approx(3.0)


def test_rpo_ties_on_commit_time_go_to_the_higher_seq():
    acks = [Ack(1, _at(1), _at(1)), Ack(2, _at(1), _at(1))]
    result = measure_rpo(acks, [(1, _at(1)), (2, _at(1)), (0, _at(0))])
    assert (result.last_acked_seq, result.newest_present_seq) == (2, 2)
    present_tied = measure_rpo(acks[:1], [(5, _at(1)), (4, _at(1))])
    assert present_tied.newest_present_seq == 5


def test_rpo_across_timezone_offsets_compares_instants_not_wall_clocks():
    # The same instants written with a +10:00 offset: 22:00+10:00 is 12:00Z.
    acks = [Ack(1, _at(0).astimezone(SYDNEY), _at(0)), Ack(2, _at(7).astimezone(SYDNEY), _at(7))]
    result = measure_rpo(acks, [(1, _at(0))])
    assert result.lost_seqs == (2,) and result.rpo_seconds == pytest.approx(7.0)


def test_rpo_is_never_negative_when_an_unacknowledged_row_is_newer_than_the_lost_one():
    acks = _acks(0, 1)
    # seq 2 (acked at 1 s) was lost, but an unacknowledged row committed at 9 s survived.
    result = measure_rpo(acks, [(1, _at(0)), (3, _at(9))])
    assert result.lost_seqs == (2,)
    assert result.rpo_seconds == 0.0


def test_rpo_unacknowledged_survivor_is_present_not_lost():
    acks = _acks(0, 1)
    result = measure_rpo(acks, [(1, _at(0)), (2, _at(1)), (3, _at(2))])
    assert result.lost_seqs == () and result.rpo_seconds == 0.0 and result.newest_present_seq == 3


def test_rpo_unbounded_when_no_heartbeat_survives():
    result = measure_rpo(_acks(0, 1), [])
    assert result == RpoResult(2, _at(1), None, None, (1, 2), None)


def test_rpo_without_acks():
    assert measure_rpo([], []) == RpoResult(None, None, None, None, (), 0.0)
    assert measure_rpo([], [(1, _at(3))]) == RpoResult(None, None, 1, _at(3), (), 0.0)


def test_rpo_rejects_duplicate_and_naive_inputs():
    with pytest.raises(ValueError, match="heartbeat 1 acknowledged twice"):
        measure_rpo([Ack(1, _at(0), _at(0)), Ack(1, _at(1), _at(1))], [])
    with pytest.raises(ValueError, match="timestamps must be timezone-aware: present 1 committed_at"):
        measure_rpo(_acks(0), [(1, dt.datetime(2026, 1, 1))])
    with pytest.raises(ValueError, match="timezone-aware: ack 1 committed_at"):
        measure_rpo([Ack(1, dt.datetime(2026, 1, 1), _at(0))], [])
    with pytest.raises(ValueError, match="timezone-aware: ack 1 committed_at"):
        measure_rpo([Ack(1, dt.datetime(2026, 1, 1, tzinfo=_NoOffset()), _at(0))], [])


@given(
    lost_after=st.integers(min_value=0, max_value=20),
    spacing_ms=st.lists(st.integers(min_value=0, max_value=60_000), min_size=1, max_size=20),
)
def test_rpo_equals_the_committed_time_between_the_newest_survivor_and_the_last_ack(lost_after, spacing_ms):
    """Property: with a contiguous prefix present, RPO is exactly last-ack minus newest-present, >= 0."""
    offsets = [sum(spacing_ms[: i + 1]) / 1000 for i in range(len(spacing_ms))]
    acks = _acks(*offsets)
    kept = min(lost_after, len(acks))
    result = measure_rpo(acks, _present(acks, *range(1, kept + 1)))
    assert result.lost_seqs == tuple(range(kept + 1, len(acks) + 1))
    if kept == len(acks):
        assert result.rpo_seconds == 0.0
    elif kept == 0:
        assert result.rpo_seconds is None
    else:
        assert result.rpo_seconds == pytest.approx(offsets[-1] - offsets[kept - 1])
        assert result.rpo_seconds >= 0


def test_rto_split_sums_to_total():
    result = measure_rto(_at(0), _at(12.5), _at(80.25), _at(391.125))
    assert result == RtoResult(total=391.125, detect=12.5, decide=67.75, execute=310.875)
    assert result.detect + result.decide + result.execute == pytest.approx(result.total)


def test_rto_allows_equal_timestamps():
    assert measure_rto(_at(0), _at(0), _at(0), _at(5)) == RtoResult(5.0, 0.0, 0.0, 5.0)


def test_rto_across_timezone_offsets():
    result = measure_rto(_at(0).astimezone(SYDNEY), _at(2), _at(3).astimezone(SYDNEY), _at(10))
    assert result == RtoResult(10.0, 2.0, 1.0, 7.0)


@pytest.mark.parametrize(
    "stamps, later, earlier",
    [
        ((5, 1, 6, 7), "detected_at", "fault_at"),
        ((0, 5, 4, 7), "decided_at", "detected_at"),
        ((0, 1, 6, 5), "first_write_at", "decided_at"),
    ],
)
def test_rto_rejects_out_of_order(stamps, later, earlier):
    with pytest.raises(
        ValueError, match=f"^{later} .* is before {earlier} .*\\): expected fault_at <= detected_at"
    ):
        measure_rto(*(_at(s) for s in stamps))


@pytest.mark.parametrize("naive", ["fault_at", "detected_at", "decided_at", "first_write_at"])
def test_rto_rejects_naive_timestamps_and_names_them(naive):
    stamps = {"fault_at": _at(0), "detected_at": _at(1), "decided_at": _at(2), "first_write_at": _at(3)}
    stamps[naive] = stamps[naive].replace(tzinfo=None)
    with pytest.raises(ValueError, match=f"timezone-aware: {naive} \\("):
        measure_rto(**stamps)


def test_naive_names_are_all_listed():
    with pytest.raises(ValueError, match="timezone-aware: fault_at, first_write_at \\(naive"):
        measure_rto(dt.datetime(2026, 1, 1), _at(1), _at(2), dt.datetime(2026, 1, 2))
