"""The restore check against Azure (`python -m drill restore`): restore a database's server (or its
long-term backup) into a disposable server, check it holds what its source held at the restore
point, time it against the RTO, and always remove it.

1. The source (the server behind the writer name) takes numbered probe rows
   (drill/restore_check.py). For `pitr` without `--to`, the check picks the point itself, in a
   quiet gap between two rows, and takes the checksums of the probe table and of the `--table`s
   there; then it writes rows after the point and waits until the point is archived: WAL reaches
   Azure's backup storage at the latest after `archive_timeout`, which flexible servers fix at
   300 s (server-parameters, read-only; "the delay RPO ... can be up to 5 minutes",
   concepts-backup-restore).
2. Azure restores into a new server (drill/azure_restore.py), which gets a private endpoint; the
   restore time runs from the request to the first query the restored server answers.
3. Judged as the local rehearsal is: every row at or before the point present, none after it,
   checksums equal, within the RTO. With `--to TIME` (a point that has passed) and for `geo`
   (Azure picks the newest geo-copy, "up to one hour" behind, concepts-backup-restore), only the
   probe table's rows and checksum up to the point can be compared, as rows earlier checks left;
   a geo-restore's point is the newest probe row it holds, and the data it lost, counted to the
   request, is judged against the hour Microsoft states. A `vault` restore's point is the recovery
   point Azure restored (drill/vault_restore.py); with no probe row older than it there is nothing
   to compare, which fails the check rather than passing it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg

from policies.rules.continuity import MECHANISM_FIGURES
from tenancy.catalog import isolation_report, kept_after_restore

from .azure_restore import LEDGER_FILE, Ledger, Placement, Restored, RestoreError, disposable_name
from .probes import connect
from .promotion import ServerRef
from .record import DrillRecord
from .report import finish
from .restore_check import (
    PROBE_TABLE,
    ProbeRow,
    checksums,
    create_probe,
    next_seq,
    probe_checksum,
    probe_rows,
    probe_seqs,
    verify,
    write_probe_row,
)

ARCHIVE_TIMEOUT_SECONDS = 300
# Room for the upload after the switch, and for the gap between the client's and Azure's clocks.
ARCHIVE_MARGIN_SECONDS = 60
# Quiet time on each side of a chosen point: wider than on loopback, for network round trips.
RESTORE_POINT_GAP_S = 1.0
GEO_RESTORE_RPO_SECONDS = MECHANISM_FIGURES["geoRestore"]["rpo"]
OPERATIONS = {
    "pitr": "Servers_CreateOrUpdate (PointInTimeRestore), private endpoint; both deleted",
    "geo": "Servers_CreateOrUpdate (GeoRestore), private endpoint; both deleted",
    "vault": "BackupInstances_TriggerRestore (files), Servers_CreateOrUpdate (Create), private endpoint, "
    "pg_restore; files, server and endpoint deleted",
}


class Restorer(Protocol):
    """What makes and removes the restored server (AzureRestorer; a local stand-in in tests)."""

    def source(self, server: ServerRef) -> Any: ...

    def restore(
        self, ledger: Ledger, source: Any, kind: str, name: str, placement: Placement, point: dt.datetime
    ) -> Restored: ...

    def remove(self, ledger: Ledger) -> list[str]: ...


@dataclass
class RestoreSetup:
    kind: str  # pitr | geo | vault
    database: str
    source: ServerRef
    placement: Placement
    source_dsn: str  # without a password
    password: str | None
    rto_seconds: float
    tables: list[str] = field(default_factory=list)
    to: dt.datetime | None = None
    before_target: int = 20
    after_target: int = 7


def _server_now(connection: Any) -> dt.datetime:
    ((moment,),) = connection.execute("SELECT clock_timestamp()").fetchall()
    return moment  # type: ignore[no-any-return]


class RestoreCheckRun:
    """One check, from probe rows to removal. `archive_wait` is the several-minute wait for Azure's
    WAL archive, which a local stand-in replaces with a WAL switch."""

    def __init__(
        self,
        record: DrillRecord,
        folder: Path,
        setup: RestoreSetup,
        restorer: Restorer,
        *,
        archive_wait: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] = print,
    ):
        self.record, self.folder, self.setup, self.restorer = record, folder, setup, restorer
        self.archive_wait, self.progress = archive_wait, progress

    def run(self) -> DrillRecord:
        ledger = Ledger(self.folder / LEDGER_FILE)
        interrupted: BaseException | None = None
        try:
            self._check(ledger)
        except (RestoreError, psycopg.Error) as error:
            self.record.notes.append(f"failed: {error}")
        except BaseException as error:  # interrupted (Ctrl-C, SIGTERM): remove, record, then stop
            interrupted = error
            self.record.notes.append(f"interrupted ({type(error).__name__}) before the check finished")
        finally:
            left = self.restorer.remove(ledger)
            self.record.update_summary = {
                "operation": OPERATIONS[self.setup.kind],
                "disposable": ledger.entries,
                "left_behind": left,
            }
            if left:
                self.record.notes.append("NOT REMOVED (delete by hand, they cost money): " + "; ".join(left))
        finish(self.record, self.folder)
        if interrupted is not None:
            self.record.verdict = "aborted"
            self.record.save(self.folder)
            raise interrupted
        return self.record

    # --- steps --------------------------------------------------------------------------------
    def _check(self, ledger: Ledger) -> None:
        setup, record = self.setup, self.record
        source = self.restorer.source(setup.source)
        tables = [*setup.tables, PROBE_TABLE]
        with connect(setup.source_dsn, setup.password, autocommit=True) as conn:
            create_probe(conn)
            source_isolation = isolation_report(conn)
            point, at_point = self._write_rows(conn, tables)
        record.stamp("restore_started_at")
        started = time.monotonic()
        name = disposable_name(setup.kind, setup.database, setup.source, record.drill_id.split("-", 1)[0])
        restored = self.restorer.restore(
            ledger, source, setup.kind, name, setup.placement, point or dt.datetime.now(dt.UTC)
        )
        record.standby["endpoint"] = f"{restored.fqdn} (disposable, {setup.placement.location})"
        with connect(
            restored.dsn(setup.source_dsn), restored.password or setup.password, autocommit=True
        ) as conn:
            measured = time.monotonic() - started
            record.stamp("restore_finished_at")
            found = probe_seqs(conn)
            restored_sums = checksums(conn, tables if at_point else [PROBE_TABLE])
            restored_isolation = isolation_report(conn)
        point = restored.point or point  # a vault restore is of the recovery point Azure chose
        with connect(setup.source_dsn, setup.password, autocommit=True) as conn:
            # Every probe row the source holds, earlier checks' too: those must all be restored.
            written = probe_rows(conn)
            if at_point is None:
                point = self._point_of(point, written, found)
                through = max((r.seq for r in written if r.committed_at <= point), default=0)
                at_point = {PROBE_TABLE: probe_checksum(conn, through)}
        assert point is not None
        if setup.kind == "vault" and not any(r.committed_at <= point for r in written):
            raise RestoreError(
                f"no probe row on the source is older than the recovery point ({point.isoformat()}): nothing "
                "to compare with; run a pitr check first and this one after the next long-term backup"
            )
        check = verify(
            setup.kind, point, written, found, at_point, restored_sums, measured, setup.rto_seconds
        )
        check.tenant_tables = restored_isolation.tables
        check.isolation_problems = kept_after_restore(source_isolation, restored_isolation)
        record.restore = check.to_json()
        record.rto.target_seconds, record.rto.measured_seconds = check.target_seconds, check.measured_seconds
        if setup.kind == "geo":
            requested = dt.datetime.fromisoformat(record.timestamps["restore_started_at"])
            record.rpo.target_seconds = float(GEO_RESTORE_RPO_SECONDS)
            record.rpo.measured_seconds = max(0.0, (requested - point).total_seconds())

    def _write_rows(self, conn: Any, tables: list[str]) -> tuple[dt.datetime | None, dict[str, str] | None]:
        """Probe rows on the source: around a point the check picks (pitr), or after a chosen
        point or the newest geo-copy, which the restored server must not hold. Returns the point
        (None for geo: Azure picks it) and, for a point the check picked, the checksums there."""
        setup, first = self.setup, next_seq(conn)
        point, at_point = setup.to, None
        if setup.kind == "pitr" and point is None:
            for n in range(setup.before_target):
                write_probe_row(conn, first + n, commit_timestamps=False)
            last_commit = _server_now(conn)  # every row above has committed by now
            time.sleep(RESTORE_POINT_GAP_S)
            point = last_commit + dt.timedelta(seconds=RESTORE_POINT_GAP_S / 2)
            at_point = checksums(conn, tables)
            time.sleep(RESTORE_POINT_GAP_S)
            first += setup.before_target
        elif point is not None and point > _server_now(conn):
            raise RestoreError(f"--to {point.isoformat()}: that point has not passed yet on the source")
        for n in range(setup.after_target):
            write_probe_row(conn, first + n, commit_timestamps=False)
        if setup.kind == "pitr":
            assert point is not None
            archived_at = point + dt.timedelta(seconds=ARCHIVE_TIMEOUT_SECONDS + ARCHIVE_MARGIN_SECONDS)
            wait = (archived_at - _server_now(conn)).total_seconds()
            if wait > 0:
                self.progress(f"waiting {wait:.0f}s until the point is in Azure's WAL archive")
                self.archive_wait(wait)
        return point, at_point

    @staticmethod
    def _point_of(point: dt.datetime | None, written: list[ProbeRow], found: list[int]) -> dt.datetime:
        """The point a geo-restore reached: when the newest probe row it holds was written."""
        if point is not None:
            return point
        times = {row.seq: row.committed_at for row in written}
        held = [times[seq] for seq in found if seq in times]
        if not held:
            raise RestoreError(
                "the geo-restored server holds no probe rows: the geo-copy is older than the first restore "
                "check on this server (geo-backups lag up to an hour); run the check again later"
            )
        return max(held)
