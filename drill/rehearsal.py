"""Drills and restore checks rehearsed on local PostgreSQL servers: the real data plane, a local
control plane.

`python -m drill rehearse` starts a primary and a streaming standby on loopback, seeds a knowledge
table (with an embedding column) and an operational table, and runs the same DrillRunner a real
drill runs, with `pg_promote()` in place of `pulumi up`. The writer name is stood in for by a libpq
multi-host DSN with `target_session_attrs=read-write`: it reaches whichever server accepts writes,
as the private DNS record does once the failover has moved it (it moves by itself, not by the
control plane, which is the one difference; the planned scenario fences the old primary so that
the stand-in cannot pick it).

`python -m drill rehearse --scenario pitr` rehearses a point-in-time restore instead: one server
with WAL archiving, a base backup, and a second server recovered from both to a chosen point.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import psycopg

from cli.exits import UsageError

from .control import LocalControlPlane
from .localpg import LocalCluster
from .preflight import Check, Preflight, gate_on_promoted, replica_checks
from .probes import address
from .record import DrillRecord
from .report import finish
from .restore_check import PROBE_TABLE, checksums, create_probe, probe_seqs, verify, write_probe_row
from .runner import DataPlane, DrillOptions, DrillRunner

TABLES = ["public.knowledge_chunks", "public.decisions"]
# Quiet time on each side of a restore point: commits are at least this far from it.
RESTORE_POINT_GAP_S = 0.2


def seed(dsn: str, password: str) -> str:
    """Demo tables; the embedding is pgvector's `vector` where the extension exists, else real[]."""
    with psycopg.connect(dsn, password=password, autocommit=True) as connection:
        try:
            connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
            embedding = "vector(3)"
        except psycopg.Error:
            embedding = "real[]"
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS knowledge_chunks (id bigint PRIMARY KEY, content text, "
            f"embedding {embedding})"
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS decisions (id bigint PRIMARY KEY, decided_at timestamptz, "
            "summary text)"
        )
        literal = "'[0.1,0.2,0.3]'" if embedding.startswith("vector") else "ARRAY[0.1,0.2,0.3]::real[]"
        connection.execute(
            f"INSERT INTO knowledge_chunks SELECT g, 'chunk ' || g, {literal} "
            "FROM generate_series(1, 200) g ON CONFLICT DO NOTHING"
        )
        connection.execute(
            "INSERT INTO decisions SELECT g, now(), 'decision ' || g FROM generate_series(1, 50) g "
            "ON CONFLICT DO NOTHING"
        )
    return embedding


def rehearse(
    scenario: str,
    drills_dir: Path,
    *,
    held_back: int = 7,
    stop_after: str | None = None,
    cluster: LocalCluster | None = None,
    gate_check: tuple[Check, dict[str, Any]] | None = None,
) -> tuple[DrillRecord, Path]:
    """Run a whole drill locally. `gate_check` reuses an earlier (check, summary) of the policy gate."""
    from cli.stack_settings import stack_settings

    from .__main__ import new_record

    primary_settings, standby_settings = stack_settings("prod"), stack_settings("dr")
    record = new_record(
        scenario, "knowledge", primary_settings, standby_settings, "prod", "dr", "local", suffix="-rehearsal"
    )
    record.primary["endpoint"] = "local primary (loopback)"
    record.standby["endpoint"] = "local standby (loopback)"
    folder = drills_dir / record.drill_id

    def run(local: LocalCluster) -> DrillRecord:
        # The writer name's local stand-in: libpq multi-host, first server that accepts writes.
        record.standby["writer"] = (
            f"{address(local.writer_dsn)} target_session_attrs=read-write (local stand-in)"
        )
        embedding = seed(local.primary_dsn, local.password)
        record.notes.append(f"knowledge_chunks.embedding is {embedding} on the local servers")
        local.wait_caught_up(timeout=60)

        def preflight() -> Preflight:
            result = Preflight()
            check, result.gate = gate_check or gate_on_promoted(
                Path(__file__).resolve().parent.parent, "prod", "dr"
            )
            result.checks.append(check)
            checks, result.lag = replica_checks(
                local.primary_dsn,
                local.standby_dsn,
                local.password,
                standby_settings.databases["knowledge"].rpo.seconds,
                local.writer_dsn,
            )
            result.checks += checks
            return result

        options = DrillOptions(
            "Planned" if scenario == "planned" else "Forced",
            held_back_heartbeats=held_back if scenario == "forced" else 0,
            hold_back=local.hold_back_standby,
            first_write_timeout=60,
        )
        data = DataPlane(local.primary_dsn, local.standby_dsn, local.writer_dsn, local.password, TABLES)
        return DrillRunner(record, folder, data, LocalControlPlane(local), options, preflight).run(stop_after)

    if cluster is not None:
        return run(cluster), folder
    with LocalCluster() as local:
        return run(local), folder


def rehearse_pitr(
    drills_dir: Path,
    *,
    database: str = "knowledge",
    after_target: int = 7,
    before_target: int = 20,
    cluster: LocalCluster | None = None,
) -> tuple[DrillRecord, Path]:
    """A point-in-time restore rehearsed on real PostgreSQL: WAL archiving, a base backup, numbered
    rows written while a restore point passes, a new server recovered to that point, and the
    check (drill/restore_check.py) that it holds exactly what the source held there, within the
    database's RTO. `cluster` is a started LocalCluster(standby=False, archive=True) to use."""
    from cli.stack_settings import stack_settings

    from .__main__ import new_record

    settings = stack_settings("prod")
    if database not in settings.databases:
        raise UsageError(
            f"--database {database}: not one of {sorted(settings.databases)} in Pulumi.prod.yaml"
        )
    record = new_record("pitr", database, settings, settings, "prod", "prod", "local", suffix="-rehearsal")
    record.primary["endpoint"] = "local source server (loopback)"
    record.standby["endpoint"] = "local restored server (loopback)"
    record.rpo.target_seconds = None  # a restore to a chosen point has no replication to lose
    folder = drills_dir / record.drill_id

    def run(local: LocalCluster) -> DrillRecord:
        embedding = seed(local.primary_dsn, local.password)
        record.notes.append(f"knowledge_chunks.embedding is {embedding} on the local servers")
        tables = [*TABLES, PROBE_TABLE]
        with psycopg.connect(local.primary_dsn, password=local.password, autocommit=True) as source:
            create_probe(source)
            backup = local.base_backup()
            record.stamp("base_backup_at")
            written = [write_probe_row(source, seq) for seq in range(1, before_target + 1)]
            # The restore point falls in a gap between two commits, so no commit sits on it.
            time.sleep(RESTORE_POINT_GAP_S)
            target = written[-1].committed_at + dt.timedelta(seconds=RESTORE_POINT_GAP_S / 2)
            at_target = checksums(source, tables)
            time.sleep(RESTORE_POINT_GAP_S)
            written += [write_probe_row(source, before_target + n) for n in range(1, after_target + 1)]
            # A change to a table that existed before the point: the restore must not carry it.
            source.execute("UPDATE public.decisions SET summary = summary || ' (revised)' WHERE id = 1")
        local.archive_current_wal()
        record.stamp("restore_started_at")
        started = time.monotonic()
        local.restore(backup, target.isoformat())
        measured = time.monotonic() - started
        record.stamp("restore_finished_at")
        with psycopg.connect(local.restored_dsn, password=local.password, autocommit=True) as restored:
            check = verify(
                "pitr",
                target,
                written,
                probe_seqs(restored),
                at_target,
                checksums(restored, tables),
                measured,
                float(settings.databases[database].rto.seconds),
            )
        record.restore = check.to_json()
        record.rto.target_seconds, record.rto.measured_seconds = check.target_seconds, check.measured_seconds
        finish(record, folder)
        return record

    if cluster is not None:
        return run(cluster), folder
    with LocalCluster(standby=False, archive=True) as local:
        return run(local), folder
