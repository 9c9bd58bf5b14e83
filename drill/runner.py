"""The drill itself: preflight, baseline, fault, promote, verify, report — saved after each step.

Timeline and measurements (all times UTC):
  fault_at      planned: the switchover starts; forced: the primary is made unusable
  detected_at   planned: = fault_at; forced: the first heartbeat write that fails
  decided_at    the promotion is ordered
  promoted_at   the control plane reports the promotion done
  first_write   the first heartbeat written through the writer name (what applications use) and
                acknowledged by the promoted server, so name resolution is part of the RTO
RTO = first_write - fault_at = detect + decide + execute.
RPO = commit time of the last acknowledged heartbeat - commit time of the newest one present after
promotion; lost heartbeats = acknowledged sequence numbers missing on the promoted server.
Writes elsewhere = heartbeats the writer name had acknowledged on another server after promotion
(the old primary, not fenced, while the name still led there): writes an application would lose.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .control import ControlPlane
from .measure import measure_rpo, measure_rto
from .preflight import Preflight
from .probes import (
    Ack,
    HeartbeatWriter,
    TableSnapshot,
    compare,
    first_acknowledged_write,
    read_heartbeats,
    snapshot,
)
from .record import DrillRecord, Heartbeat
from .report import finish


class PreflightFailed(Exception):
    pass


@dataclass
class DataPlane:
    """Where the drill writes and reads. DSNs carry no password; it is passed separately.

    `primary_dsn` and `standby_dsn` reach each server by its own address; `writer_dsn` is the stable
    writer name applications use, which the failover moves to the promoted server.
    """

    primary_dsn: str
    standby_dsn: str
    writer_dsn: str
    password: str | None
    tables: list[str] = field(default_factory=list)


@dataclass
class DrillOptions:
    option: str  # Planned | Forced (the promote option)
    warmup_heartbeats: int = 20
    heartbeat_interval: float = 0.05
    # Forced rehearsal only: heartbeats written while the standby is held back (they must be lost).
    held_back_heartbeats: int = 0
    hold_back: Callable[[], None] | None = None
    first_write_timeout: float = 600.0


def _parse(timestamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(timestamp)


def _ack(heartbeat: Heartbeat) -> Ack:
    return Ack(heartbeat.seq, _parse(heartbeat.committed_at), _parse(heartbeat.acked_at))


def _heartbeat(ack: Ack) -> Heartbeat:
    return Heartbeat(ack.seq, ack.committed_at.isoformat(), ack.acked_at.isoformat())


class DrillRunner:
    def __init__(
        self,
        record: DrillRecord,
        folder: Path,
        data: DataPlane,
        control: ControlPlane,
        options: DrillOptions,
        preflight: Callable[[], Preflight],
    ):
        self.record, self.folder, self.data, self.control, self.options = (
            record,
            folder,
            data,
            control,
            options,
        )
        self.preflight = preflight

    def run(self, stop_after: str | None = None) -> DrillRecord:
        """Run (or resume) until done; `stop_after` ends early after a step, as an interruption would."""
        steps = {
            "preflight": self._preflight,
            "baseline": self._baseline,
            "fault": self._fault,
            "promote": self._promote,
            "verify": self._verify,
            "report": self._report,
        }
        while (step := self.record.next_step()) is not None:
            steps[step]()
            self.record.complete(step)
            self.record.save(self.folder)
            if step == stop_after:
                break
        return self.record

    # --- steps ----------------------------------------------------------------------------------
    def _preflight(self) -> None:
        result = self.preflight()
        self.record.preflight = result.to_json()
        self.record.gate = result.gate
        self.record.pre_failover_lag = result.lag
        if not result.ok and self.record.forced is None:
            self.record.verdict = "aborted"
            self.record.notes.append("preflight failed; nothing was changed")
            self.record.save(self.folder)
            failed = "; ".join(f"{c.name}: {c.detail}" for c in result.checks if not c.ok)
            raise PreflightFailed(
                f"preflight failed ({failed}); rerun with --force --reason '...' to override"
            )
        if not result.ok and self.record.forced is not None:  # (not forced: raised above)
            self.record.notes.append(f"preflight failed and was overridden: {self.record.forced['reason']}")

    def _writer(self) -> HeartbeatWriter:
        writer = HeartbeatWriter(self.data.primary_dsn, password=self.data.password, clock=self.record.clock)
        writer.acks.extend(_ack(h) for h in self.record.heartbeats)  # resume continues the sequence
        return writer

    def _write(self, writer: HeartbeatWriter, count: int) -> None:
        for _ in range(count):
            self.record.heartbeats.append(_heartbeat(writer.write()))
            time.sleep(self.options.heartbeat_interval)

    def _baseline(self) -> None:
        writer = self._writer()
        writer.ensure_table()
        self._write(writer, self.options.warmup_heartbeats)
        self.record.integrity["baseline"] = [
            vars(s) for s in snapshot(self.data.primary_dsn, self.data.password, self.data.tables)
        ]

    def _fault(self) -> None:
        if self.options.option == "Planned":
            self.record.stamp("fault_at")
            self.record.stamp("detected_at", self.record.timestamps["fault_at"])
            self.record.notes.append(f"quiesce: {self.control.quiesce()}")
            return
        if self.options.held_back_heartbeats:
            if self.options.hold_back is None:
                raise ValueError("held-back heartbeats need a way to hold the standby back")
            self.options.hold_back()
            self._write(self._writer(), self.options.held_back_heartbeats)
        self.record.stamp("fault_at")
        self.record.notes.append(f"fault: {self.control.inject_fault()}")
        # Detection: the writer's next heartbeat fails against the primary.
        writer = self._writer()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.record.heartbeats.append(_heartbeat(writer.write()))
            except Exception:  # any failure to write is the signal
                break
            time.sleep(self.options.heartbeat_interval)
        self.record.stamp("detected_at")

    def _promote(self) -> None:
        self.record.stamp("decided_at")
        self.record.update_summary = self.control.promote(self.options.option)
        self.record.stamp("promoted_at")

    def _verify(self) -> None:
        first = first_acknowledged_write(
            self.data.writer_dsn,
            self.data.password,
            landed_on=self.data.standby_dsn,
            timeout=self.options.first_write_timeout,
            interval=0.2,
            clock=self.record.clock,
        )
        ack = first.ack
        self.record.integrity["writes_elsewhere"] = [vars(_heartbeat(a)) for a in first.elsewhere]
        # The drill's clock for every timestamp of the RTO, so clock skew with the server cannot bend it.
        self.record.stamp("first_write_at", ack.acked_at.isoformat())
        # The RTO probe writes under its own writer id, so only the drill's heartbeats are read back.
        present = read_heartbeats(self.data.standby_dsn, self.data.password)
        rpo = measure_rpo([_ack(h) for h in self.record.heartbeats], present)
        t = self.record.timestamps
        rto = measure_rto(
            _parse(t["fault_at"]), _parse(t["detected_at"]), _parse(t["decided_at"]), ack.acked_at
        )
        self.record.rto.measured_seconds = rto.total
        self.record.rto_split = {"detect": rto.detect, "decide": rto.decide, "execute": rto.execute}
        self.record.rpo.measured_seconds = rpo.rpo_seconds
        self.record.lost_heartbeats = list(rpo.lost_seqs)
        after = snapshot(self.data.standby_dsn, self.data.password, self.data.tables)
        baseline = self.record.integrity.get("baseline", [])
        self.record.integrity["after"] = [vars(s) for s in after]
        self.record.integrity["differences"] = compare([TableSnapshot(**s) for s in baseline], after)

    def _report(self) -> None:
        finish(self.record, self.folder)
