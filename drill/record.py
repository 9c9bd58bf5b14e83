"""The drill record: what happened, measured against the targets, kept as JSON evidence.

The record is also the state of a drill in progress: it is saved after every step, so an
interrupted drill resumes from the step after the last one completed (`python -m drill resume`).
Its JSON form is published as drill/drill-record.schema.json.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cli.clock import Clock, system
from cli.exits import UsageError
from cli.files import load_json

SCHEMA_FILE = Path(__file__).resolve().parent / "drill-record.schema.json"
SCHEMA_VERSION = 2
# Versions still read: version 1 (before restore checks) has no `restore` object.
READABLE_VERSIONS = (1, 2)
DRILL_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z0-9-]+$")
STEPS = ("preflight", "baseline", "fault", "promote", "verify", "report")


def now(read: Clock = system) -> str:
    return read().astimezone(dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class Heartbeat:
    seq: int
    committed_at: str  # server time of the commit
    acked_at: str  # client time the commit returned


@dataclass
class Measurement:
    target_seconds: float | None = None
    measured_seconds: float | None = None
    met: bool | None = None


@dataclass
class DrillRecord:
    drill_id: str
    scenario: str  # planned | forced (failover) | pitr | geo (restore check)
    database: str
    primary: dict[str, str]  # {"stack": ..., "region": ...}
    standby: dict[str, str]
    git_commit: str
    versions: dict[str, str]
    control_plane: str  # pulumi | local | azure (a restore check)
    schema_version: int = SCHEMA_VERSION
    completed_steps: list[str] = field(default_factory=list)
    timestamps: dict[str, str] = field(default_factory=dict)
    preflight: dict[str, Any] = field(default_factory=dict)
    forced: dict[str, str] | None = None  # {"reason": ..., "by": ...} when preflight was overridden
    heartbeats: list[Heartbeat] = field(default_factory=list)
    pre_failover_lag: dict[str, float | None] = field(default_factory=dict)
    update_summary: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)
    rto: Measurement = field(default_factory=Measurement)
    rto_split: dict[str, float] = field(default_factory=dict)
    rpo: Measurement = field(default_factory=Measurement)
    lost_heartbeats: list[int] = field(default_factory=list)
    integrity: dict[str, Any] = field(default_factory=dict)
    # A restore check's result (drill/restore_check.py RestoreCheck.to_json), None for a failover.
    restore: dict[str, Any] | None = None
    verdict: str | None = None  # pass | fail | aborted
    notes: list[str] = field(default_factory=list)
    # Where every timestamp of the drill comes from (not part of the record).
    clock: Clock = field(default=system, repr=False, compare=False)

    # --- steps --------------------------------------------------------------------------------
    def next_step(self) -> str | None:
        return next((step for step in STEPS if step not in self.completed_steps), None)

    def complete(self, step: str) -> None:
        if step != self.next_step():
            raise ValueError(f"step {step} completed out of order (next is {self.next_step()})")
        self.completed_steps.append(step)
        self.timestamps[f"{step}_completed_at"] = now(self.clock)

    def stamp(self, name: str, value: str | None = None) -> str:
        self.timestamps[name] = value or now(self.clock)
        return self.timestamps[name]

    # --- JSON ---------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["clock"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DrillRecord:
        data = dict(data)
        if data.get("schema_version") not in READABLE_VERSIONS:
            raise ValueError(
                f"drill record schema version {data.get('schema_version')} is not one of {list(READABLE_VERSIONS)}"
            )
        data["schema_version"] = SCHEMA_VERSION  # a version 1 record reads as one without a restore
        data["heartbeats"] = [Heartbeat(**h) for h in data.get("heartbeats", [])]
        data["rto"] = Measurement(**data.get("rto", {}))
        data["rpo"] = Measurement(**data.get("rpo", {}))
        return cls(**data)

    def save(self, folder: Path) -> Path:
        """Write atomically: a crash mid-write must not lose the previous state."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "record.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
        temporary.replace(path)
        return path

    @classmethod
    def load(cls, folder: Path) -> DrillRecord:
        path = folder / "record.json"
        if not path.exists():
            raise UsageError(f"{path}: no drill record (was the drill started with `python -m drill run`?)")
        return cls.load_file(path)

    @classmethod
    def load_file(cls, path: Path) -> DrillRecord:
        """A record from its file, checked against the published schema; UsageError naming what is wrong."""
        import jsonschema

        data = load_json(path, "drill record")
        schema = json.loads(SCHEMA_FILE.read_text())
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "the record"
            raise UsageError(f"{path}: not a drill record: {where}: {error.message[:200]}")
        return cls.from_json(data)
