"""Restore checks: does a restored server hold exactly what its source held at the restore point?

A probe table takes numbered rows, one transaction each, while the restore point passes; the
restored server must have every row committed at or before the point and none committed after it.
Every table's checksum on the restored server must equal the source's taken at the point. The
check is the same whatever made the restored server (a local rehearsal of point-in-time recovery,
or an Azure restore).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

PROBE_TABLE = "public.restore_probe"


@dataclass(frozen=True)
class ProbeRow:
    seq: int
    committed_at: dt.datetime  # the commit's own timestamp, as recovery compares it with the target


@dataclass
class RestoreCheck:
    """What the record keeps of a restore (the `restore` object of a drill record)."""

    kind: str  # pitr (local rehearsal or Azure), geo, vault
    target_time: str
    rows_before_target: int
    rows_before_target_found: int
    rows_after_target: int
    rows_after_target_found: int
    checksums_match: bool
    measured_seconds: float
    target_seconds: float
    met: bool  # restored within the RTO
    checksum_differences: list[str] = field(default_factory=list)
    missing_rows: list[int] = field(default_factory=list)
    unexpected_rows: list[int] = field(default_factory=list)
    # Project isolation as the restored server's catalog shows it (tenancy/catalog.py).
    tenant_tables: list[str] = field(default_factory=list)
    isolation_problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.met
            and self.checksums_match
            and self.rows_before_target_found == self.rows_before_target
            and self.rows_after_target_found == 0
            and not self.isolation_problems
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def create_probe(connection: psycopg.Connection) -> None:
    """The probe table; it stays on the source, so later checks (a geo-restore, a restore to a
    chosen time) can judge rows earlier checks wrote."""
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (seq bigint PRIMARY KEY, note text NOT NULL, "
        "written_at timestamptz NOT NULL DEFAULT clock_timestamp())"
    )


def next_seq(connection: psycopg.Connection) -> int:
    ((last,),) = connection.execute(f"SELECT coalesce(max(seq), 0) FROM {PROBE_TABLE}").fetchall()
    return int(last) + 1


def write_probe_row(connection: psycopg.Connection, seq: int, commit_timestamps: bool = True) -> ProbeRow:
    """One numbered row in its own transaction, with the time recovery compares with its target.

    With `commit_timestamps` that is the commit timestamp the server recorded
    (track_commit_timestamp, which a local rehearsal turns on). Without (an Azure server, where the
    parameter is off by default and needs a restart: server-parameters), it is the server clock when
    the row was written, milliseconds before its commit: a row whose transaction is open at a
    target could be judged on the wrong side of it, which a target chosen in a quiet gap between
    rows rules out (run_restore_check)."""
    with connection.transaction():
        ((written_at,),) = connection.execute(
            f"INSERT INTO {PROBE_TABLE} (seq, note) VALUES (%s, %s) RETURNING written_at", (seq, f"row {seq}")
        ).fetchall()
    if not commit_timestamps:
        return ProbeRow(seq, written_at)
    # Without track_commit_timestamp the server refuses this query ("could not get commit timestamp data").
    ((committed_at,),) = connection.execute(
        f"SELECT pg_xact_commit_timestamp(xmin) FROM {PROBE_TABLE} WHERE seq = %s", (seq,)
    ).fetchall()
    return ProbeRow(seq, committed_at)


def probe_rows(connection: psycopg.Connection) -> list[ProbeRow]:
    """Every probe row the source holds, timed by when it was written (earlier checks' rows too)."""
    return [
        ProbeRow(int(seq), written_at)
        for seq, written_at in connection.execute(
            f"SELECT seq, written_at FROM {PROBE_TABLE} ORDER BY seq"
        ).fetchall()
    ]


def probe_checksum(connection: psycopg.Connection, through_seq: int) -> str:
    """The checksum `checksums` gives the probe table, of its rows up to `through_seq` only: the
    source's probe table as of a point that has passed."""
    query = sql.SQL(
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} AS t WHERE t.seq <= %s"
    ).format(sql.Identifier(*PROBE_TABLE.split(".", 1)))
    ((digest,),) = connection.execute(query, (through_seq,)).fetchall()
    return str(digest)


def checksums(connection: psycopg.Connection, tables: Iterable[str]) -> dict[str, str]:
    """md5 of each table's rows as text, in a fixed order: equal checksums, equal contents."""
    found = {}
    for table in tables:
        schema, name = table.split(".", 1)
        query = sql.SQL(
            "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} AS t"
        ).format(sql.Identifier(schema, name))
        ((digest,),) = connection.execute(query).fetchall()  # an aggregate: always one row
        found[table] = str(digest)
    return found


def probe_seqs(connection: psycopg.Connection) -> list[int]:
    return [int(r[0]) for r in connection.execute(f"SELECT seq FROM {PROBE_TABLE} ORDER BY seq").fetchall()]


def verify(
    kind: str,
    target: dt.datetime,
    written: Sequence[ProbeRow],
    found_seqs: Iterable[int],
    source_checksums: dict[str, str],
    restored_checksums: dict[str, str],
    measured_seconds: float,
    target_seconds: float,
) -> RestoreCheck:
    """Judge a restore: rows at or before `target` present, rows after it absent, checksums equal,
    restored within the RTO. A row committed exactly at the target is included, as recovery
    includes it: recovery_target_inclusive defaults to on, in PostgreSQL (runtime-config-wal,
    "Recovery Target") and, read-only, on Azure's flexible servers (server-parameters-table-write-
    ahead-log---recovery-target)."""
    found = set(found_seqs)
    before = [r.seq for r in written if r.committed_at <= target]
    after = [r.seq for r in written if r.committed_at > target]
    differences = sorted(
        f"{table}: source {source_checksums.get(table)} restored {restored_checksums.get(table)}"
        for table in source_checksums.keys() | restored_checksums.keys()
        if source_checksums.get(table) != restored_checksums.get(table)
    )
    return RestoreCheck(
        kind=kind,
        target_time=target.isoformat(),
        rows_before_target=len(before),
        rows_before_target_found=sum(1 for seq in before if seq in found),
        rows_after_target=len(after),
        rows_after_target_found=sum(1 for seq in after if seq in found),
        checksums_match=not differences,
        measured_seconds=measured_seconds,
        target_seconds=target_seconds,
        met=measured_seconds <= target_seconds,
        checksum_differences=differences,
        missing_rows=[seq for seq in before if seq not in found],
        unexpected_rows=sorted(found - set(before)),
    )
