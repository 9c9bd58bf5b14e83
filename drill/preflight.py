"""Preflight: whether a drill may start, checked before anything changes.

1. the policy gate over the standby stack rendered as primary (what `up` will deploy);
2. the replica: still a replica, replicating, and lagging less than the RPO target;
3. the writer name: it reaches a server that accepts writes (today's primary), so the RTO measured
   through it after promotion means something;
4. the targets the drill will be judged against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from .probes import address


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Preflight:
    checks: list[Check] = field(default_factory=list)
    gate: dict[str, Any] = field(default_factory=dict)
    lag: dict[str, float | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [vars(c) for c in self.checks], "gate": self.gate, "lag": self.lag}


def gate_on_promoted(
    project_dir: Path, primary_stack: str, standby_stack: str
) -> tuple[Check, dict[str, Any]]:
    """The policy pack over the standby stack as it will be after `continuity:role primary`."""
    from gate.analyzer import PolicyPackProcess, load_pack_config
    from gate.pipeline import analyze, rule_info
    from gate.render import RenderError, render_stacks

    try:
        _, promoted = render_stacks(
            project_dir,
            [primary_stack, standby_stack],
            overrides={standby_stack: {"continuity:role": "primary"}},
        )
    except RenderError as error:
        # e.g. mutually replicating stacks during a failback: a failed check, overridable with --force.
        return Check("policy gate on the promoted standby", False, f"cannot render: {error}"), {
            "stack": standby_stack,
            "renderedAs": "primary",
            "error": str(error),
        }
    with PolicyPackProcess() as pack:
        rules = {p.name: rule_info(p) for p in pack.info()}
        findings = analyze([promoted], {standby_stack: load_pack_config(standby_stack)}, pack, rules)
    blocking = [f"{f.rule_id} {f.resource_name}: {f.message}" for f in findings if f.blocks]
    advisory = [f"{f.rule_id} {f.resource_name}: {f.message}" for f in findings if not f.blocks]
    summary = {"stack": standby_stack, "renderedAs": "primary", "blocking": blocking, "advisory": advisory}
    detail = (
        f"{len(blocking)} blocking, {len(advisory)} advisory (recorded degradations)"
        if not blocking
        else "; ".join(blocking)
    )
    return Check("policy gate on the promoted standby", not blocking, detail), summary


def replication_lag(primary_dsn: str, password: str | None) -> dict[str, float | None]:
    """Lag of the standby as the primary sees it (pg_stat_replication): bytes and replay seconds."""
    with psycopg.connect(primary_dsn, password=password, connect_timeout=10) as connection:
        row = connection.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), extract(epoch FROM replay_lag) "
            "FROM pg_stat_replication ORDER BY replay_lsn NULLS LAST LIMIT 1"
        ).fetchone()
    if row is None:
        return {"bytes": None, "seconds": None}
    return {
        "bytes": float(row[0]) if row[0] is not None else None,
        "seconds": float(row[1]) if row[1] is not None else 0.0,
    }


def writer_check(writer_dsn: str, password: str | None) -> Check:
    """The writer name resolves and leads to a server that is not in recovery."""
    name = "writer name reaches the primary"
    try:
        with psycopg.connect(writer_dsn, password=password, connect_timeout=10) as connection:
            row = connection.execute("SELECT pg_is_in_recovery()").fetchone()
            assert row is not None  # a SELECT without FROM returns one row
            in_recovery = row[0]
    except psycopg.Error as error:
        return Check(name, False, f"cannot connect through {address(writer_dsn)}: {type(error).__name__}")
    return Check(
        name,
        not in_recovery,
        f"{address(writer_dsn)} "
        + ("accepts writes" if not in_recovery else "leads to a server in recovery"),
    )


def replica_checks(
    primary_dsn: str, standby_dsn: str, password: str | None, rpo_seconds: float, writer_dsn: str
) -> tuple[list[Check], dict[str, float | None]]:
    checks = [writer_check(writer_dsn, password)]
    try:
        with psycopg.connect(standby_dsn, password=password, connect_timeout=10) as connection:
            row = connection.execute("SELECT pg_is_in_recovery()").fetchone()
            assert row is not None  # a SELECT without FROM returns one row
            in_recovery = row[0]
        checks.append(
            Check(
                "standby is a replica",
                bool(in_recovery),
                "in recovery" if in_recovery else "the standby is already writable",
            )
        )
    except psycopg.Error as error:
        checks.append(Check("standby is a replica", False, f"cannot connect: {type(error).__name__}"))
    try:
        lag = replication_lag(primary_dsn, password)
    except psycopg.Error as error:
        checks.append(
            Check("replication running", False, f"cannot read pg_stat_replication: {type(error).__name__}")
        )
        return checks, {"bytes": None, "seconds": None}
    streaming = lag["bytes"] is not None
    checks.append(
        Check(
            "replication running",
            streaming,
            f"{lag['bytes']:.0f} bytes behind" if streaming else "no replica connected to the primary",
        )
    )
    if streaming:
        checks.append(
            Check(
                "lag within the RPO target",
                (lag["seconds"] or 0) < rpo_seconds,
                f"{lag['seconds'] or 0:.1f}s replay lag, target {rpo_seconds:.0f}s",
            )
        )
    return checks, lag
