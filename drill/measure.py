"""RPO and RTO from what a drill observed: pure functions, no I/O, so they are tested exhaustively.

RPO (data lost): heartbeats are the evidence. A heartbeat the client saw committed (an ack) that is
missing on the promoted server is lost; the RPO is how much committed time was lost: the commit
time of the last acknowledged heartbeat minus that of the newest heartbeat still present. Both are
server timestamps of the same timeline of writes, so the clocks of the client do not enter it.

RTO (time without a writable primary): fault -> detected -> decided -> first acknowledged write on
the promoted server, split into detect, decide and execute. All four must come from one clock (the
drill's), timezone-aware.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


class Acknowledged(Protocol):
    """What measure needs of an ack (drill.probes.Ack), without importing the database driver."""

    @property
    def seq(self) -> int: ...

    @property
    def committed_at(self) -> dt.datetime: ...


@dataclass(frozen=True)
class RpoResult:
    last_acked_seq: int | None
    last_acked_at: dt.datetime | None
    newest_present_seq: int | None
    newest_present_at: dt.datetime | None
    lost_seqs: tuple[int, ...]
    # 0.0 when no acknowledged heartbeat was lost; None when heartbeats were lost and none at all is
    # present, so the loss window cannot be bounded from heartbeats.
    rpo_seconds: float | None


@dataclass(frozen=True)
class RtoResult:
    """Seconds; total == detect + decide + execute."""

    total: float
    detect: float  # fault -> detected
    decide: float  # detected -> decided (promotion ordered)
    execute: float  # decided -> first acknowledged write on the promoted server


def _require_aware(**timestamps: dt.datetime) -> None:
    naive = [name for name, value in timestamps.items() if value.tzinfo is None or value.utcoffset() is None]
    if naive:
        raise ValueError(
            f"timestamps must be timezone-aware: {', '.join(naive)} "
            "(naive and aware times cannot be compared, and naive ones are ambiguous)"
        )


def measure_rpo(acks: Sequence[Acknowledged], present: Iterable[tuple[int, dt.datetime]]) -> RpoResult:
    """Lost heartbeats and RPO from the acks of the old primary and the (seq, committed_at) found after promotion.

    `present` may hold heartbeats that were never acknowledged (a commit whose reply was lost):
    they are not losses, but they are data the promoted server has, so they count as present.
    """
    seen: set[int] = set()
    for ack in acks:
        if ack.seq in seen:
            raise ValueError(f"heartbeat {ack.seq} acknowledged twice: acks must have distinct seqs")
        seen.add(ack.seq)
        _require_aware(**{f"ack {ack.seq} committed_at": ack.committed_at})
    present = list(present)
    for seq, at in present:
        _require_aware(**{f"present {seq} committed_at": at})

    present_seqs = {seq for seq, _ in present}
    lost = tuple(sorted(ack.seq for ack in acks if ack.seq not in present_seqs))
    last = max(acks, key=lambda a: (a.committed_at, a.seq), default=None)
    newest = max(present, key=lambda p: (p[1], p[0]), default=None)

    if not lost:
        rpo: float | None = 0.0
    elif newest is None:
        rpo = None
    else:
        assert last is not None  # something was lost, so something was acknowledged
        # Never negative: with several writers, a surviving unacknowledged row can be newer.
        rpo = max(0.0, (last.committed_at - newest[1]).total_seconds())
    return RpoResult(
        last_acked_seq=last.seq if last else None,
        last_acked_at=last.committed_at if last else None,
        newest_present_seq=newest[0] if newest else None,
        newest_present_at=newest[1] if newest else None,
        lost_seqs=lost,
        rpo_seconds=rpo,
    )


def measure_rto(
    fault_at: dt.datetime, detected_at: dt.datetime, decided_at: dt.datetime, first_write_at: dt.datetime
) -> RtoResult:
    """RTO and its split; raises ValueError unless fault_at <= detected_at <= decided_at <= first_write_at."""
    stamps = {
        "fault_at": fault_at,
        "detected_at": detected_at,
        "decided_at": decided_at,
        "first_write_at": first_write_at,
    }
    _require_aware(**stamps)
    names = list(stamps)
    for earlier, later in itertools.pairwise(names):
        if stamps[later] < stamps[earlier]:
            raise ValueError(
                f"{later} ({stamps[later].isoformat()}) is before {earlier} ({stamps[earlier].isoformat()}): "
                "expected fault_at <= detected_at <= decided_at <= first_write_at"
            )
    detect = (detected_at - fault_at).total_seconds()
    decide = (decided_at - detected_at).total_seconds()
    execute = (first_write_at - decided_at).total_seconds()
    # The parts add up to the total up to float rounding (each is a whole number of microseconds).
    return RtoResult(
        total=(first_write_at - fault_at).total_seconds(), detect=detect, decide=decide, execute=execute
    )
