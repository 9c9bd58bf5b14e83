"""The restore check's own steps (drill/restore_run.py) on real PostgreSQL 15, with Azure's part
played by a local stand-in: the same probe rows, point, archive wait, judgement, record and removal
as `python -m drill restore`, with PostgreSQL's own recovery to the point in place of Azure's
restore (whose requests tests/test_azure_restore.py checks at the HTTP level)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from components.settings import Tenancy
from drill.azure_restore import LEDGER_FILE, Placement, Restored, RestoreError
from drill.localpg import LocalCluster
from drill.promotion import ServerRef
from drill.record import DrillRecord
from drill.restore_check import PROBE_TABLE, ProbeRow, create_probe, write_probe_row
from drill.restore_run import ARCHIVE_MARGIN_SECONDS, ARCHIVE_TIMEOUT_SECONDS, RestoreCheckRun, RestoreSetup
from pg_fixtures import require_postgres
from tenancy.sql import tenancy_sql

SOURCE = ServerRef("knowledge", "ffffffff-ffff-ffff-ffff-ffffffffffff", "rg-cty-prod-aue", "psql-knowledge")
HERE = Placement(SOURCE.subscription_id, SOURCE.resource_group, "australiaeast", "/subscriptions/x/vnet")
EARLIER_ROWS = 5  # probe rows an earlier check left on the source
REFERENCE = "public.reference_codes"
TENANT_TABLE = "public.tenant_rows"
TENANCY = Tenancy.model_validate(
    {
        "projects": {
            "atlas": {"group": {"objectId": "7c1e2a40-3b5d-4f6e-8a9b-0c1d2e3f4a51", "principalName": "grp-a"}}
        },
        "tables": {"postgres": [TENANT_TABLE]},
    }
)


@pytest.fixture(scope="module")
def cluster():
    require_postgres()
    with LocalCluster(standby=False, archive=True) as local:
        with psycopg.connect(local.primary_dsn, password=local.password, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {REFERENCE} (code text PRIMARY KEY, label text NOT NULL)")
            conn.execute(f"INSERT INTO {REFERENCE} VALUES ('AU', 'Australia'), ('NZ', 'New Zealand')")
            # A tenant-scoped table isolated as `python -m tenancy sql` does: the check verifies the
            # restored server keeps it.
            conn.execute(f"CREATE TABLE {TENANT_TABLE} (project_id text NOT NULL, note text)")
            conn.execute(tenancy_sql(TENANCY, "postgres", plain=True).sql)
            create_probe(conn)
            local.backup = local.base_backup()  # what Azure's daily snapshot is to its restores
            for seq in range(1, EARLIER_ROWS + 1):
                write_probe_row(conn, seq, commit_timestamps=False)
        yield local


class LocalStandIn:
    """Azure's part: the restore is recovery of the module's base backup to the point (for `geo`,
    to `geo_point`, the newest geo-copy); removal stops the restored server."""

    def __init__(
        self,
        cluster: LocalCluster,
        past_the_point: bool = False,
        fail: str | None = None,
        after_restore: str | None = None,
    ):
        self.cluster, self.past_the_point, self.fail = cluster, past_the_point, fail
        self.after_restore = after_restore  # SQL run on the restored server: a restore that lost something
        self.geo_point: dt.datetime | None = None

    def source(self, server: ServerRef):
        # The newest geo-copy, or the newest long-term backup: as the check starts.
        with psycopg.connect(self.cluster.primary_dsn, password=self.cluster.password) as conn:
            self.geo_point = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        return SimpleNamespace(name=server.name)

    def restore(self, ledger, source, kind, name, placement, point) -> Restored:
        server_id = f"/subscriptions/{placement.subscription_id}/flexibleServers/{name}"
        ledger.will_create("server", server_id)
        if self.fail:
            raise RestoreError(self.fail)
        target = self.geo_point if kind in ("geo", "vault") else point
        if self.past_the_point:  # recover to now, past every row: a commit after it ends the archive
            with psycopg.connect(
                self.cluster.primary_dsn, password=self.cluster.password, autocommit=True
            ) as conn:
                target = conn.execute("SELECT clock_timestamp()").fetchone()[0]
                conn.execute(f"UPDATE {REFERENCE} SET label = label WHERE code = 'AU'")
        self.cluster.archive_current_wal()
        self.cluster.restore(self.cluster.backup, target.isoformat())
        if self.after_restore:
            with psycopg.connect(
                self.cluster.restored_dsn, password=self.cluster.password, autocommit=True
            ) as conn:
                conn.execute(self.after_restore)
        port = int(conninfo_to_dict(self.cluster.restored_dsn)["port"])
        # A vault restore says which recovery point it restored; the others leave it to the check.
        return Restored(server_id, "localhost", "127.0.0.1", port, point=target if kind == "vault" else None)

    def remove(self, ledger) -> list[str]:
        self.cluster.discard_restored()
        for entry in ledger.pending():
            ledger.deleted(entry["id"])
        return []


def check(cluster, tmp_path, kind="pitr", stand_in=None, tables=(), to=None):
    record = DrillRecord(
        drill_id=f"20261128T101500Z-{kind}-knowledge",
        scenario=kind,
        database="knowledge",
        primary={"stack": "prod", "region": "australiaeast"},
        standby={"stack": "prod", "region": "australiaeast"},
        git_commit="test",
        versions={},
        control_plane="azure",
    )
    setup = RestoreSetup(
        kind=kind,
        database="knowledge",
        source=SOURCE,
        placement=HERE,
        source_dsn=cluster.primary_dsn,
        password=cluster.password,
        rto_seconds=3600.0,
        tables=list(tables),
        to=to,
        before_target=6,
        after_target=4,
    )
    waits: list[float] = []
    folder = tmp_path / record.drill_id
    run = RestoreCheckRun(
        record,
        folder,
        setup,
        stand_in or LocalStandIn(cluster),
        archive_wait=waits.append,
        progress=lambda _: None,
    )
    return run.run(), folder, waits


def test_a_point_the_check_picks_is_restored_exactly_and_the_server_removed(cluster, tmp_path):
    record, folder, waits = check(cluster, tmp_path, tables=[REFERENCE])
    restore = record.restore
    assert record.verdict == "pass", (restore, record.notes)
    # The earlier check's rows, then this check's six, are all before the point; its four after it.
    assert (restore["rows_before_target_found"], restore["rows_after_target_found"]) == (
        restore["rows_before_target"],
        0,
    )
    assert restore["rows_before_target"] >= EARLIER_ROWS + 6 and restore["rows_after_target"] == 4
    assert restore["checksums_match"] and restore["target_seconds"] == 3600.0
    # The point waits out Azure's archive_timeout before the restore is asked for.
    (wait,) = waits
    assert ARCHIVE_TIMEOUT_SECONDS < wait <= ARCHIVE_TIMEOUT_SECONDS + ARCHIVE_MARGIN_SECONDS
    assert [e["deleted"] for e in record.update_summary["disposable"]] == [True]
    assert record.update_summary["left_behind"] == []
    loaded = DrillRecord.load_file(folder / "record.json")
    assert loaded.control_plane == "azure" and loaded.restore == restore
    assert "**Verdict: PASS**" in (folder / "report.md").read_text()
    assert (restore["tenant_tables"], restore["isolation_problems"]) == ([TENANT_TABLE], [])


@pytest.mark.parametrize(
    "lost, problem",
    [
        (
            f"ALTER TABLE {TENANT_TABLE} NO FORCE ROW LEVEL SECURITY",
            f"{TENANT_TABLE}: row-level security is not forced",
        ),
        (f"DROP TABLE {TENANT_TABLE}", f"tenant tables on the source but not restored: {TENANT_TABLE}"),
    ],
)
def test_a_restored_server_that_lost_project_isolation_fails_the_check(cluster, tmp_path, lost, problem):
    record, _folder, _waits = check(cluster, tmp_path, stand_in=LocalStandIn(cluster, after_restore=lost))
    assert record.verdict == "fail"
    assert any(problem in p for p in record.restore["isolation_problems"]), record.restore
    assert record.restore["rows_before_target_found"] == record.restore["rows_before_target"], (
        "the data itself came back"
    )


def test_a_restore_past_the_point_fails_the_check(cluster, tmp_path):
    record, _, _ = check(cluster, tmp_path, stand_in=LocalStandIn(cluster, past_the_point=True))
    assert record.verdict == "fail"
    assert record.restore["rows_after_target_found"] == 4 == len(record.restore["unexpected_rows"])
    assert not record.restore["checksums_match"]


def test_a_geo_restore_is_judged_at_the_newest_row_it_holds(cluster, tmp_path):
    record, _, waits = check(cluster, tmp_path, kind="geo")
    restore = record.restore
    assert record.verdict == "pass", (restore, record.notes)
    assert waits == [], "a geo-restore takes the newest geo-copy: no point to wait for"
    # This check's rows came after the geo-copy; every older row is there, up to the newest one held.
    assert restore["rows_after_target"] == 4 and restore["rows_after_target_found"] == 0
    assert restore["rows_before_target"] == restore["rows_before_target_found"] >= EARLIER_ROWS
    assert record.rpo.target_seconds == 3600.0 and 0 <= record.rpo.measured_seconds < 60
    assert record.rpo.met is True


def test_a_vault_restore_is_judged_at_its_recovery_point(cluster, tmp_path):
    record, _, waits = check(cluster, tmp_path, kind="vault")
    restore = record.restore
    assert record.verdict == "pass", (restore, record.notes)
    assert waits == [], "a long-term backup is already in the vault: nothing to wait for"
    assert restore["kind"] == "vault" and (
        restore["rows_after_target"],
        restore["rows_after_target_found"],
    ) == (4, 0)
    assert restore["rows_before_target"] == restore["rows_before_target_found"] >= EARLIER_ROWS
    assert record.update_summary["operation"].startswith("BackupInstances_TriggerRestore (files)")


def test_a_vault_restore_older_than_every_probe_row_is_a_clear_failure(cluster, tmp_path):
    class Ancient(LocalStandIn):
        def restore(self, ledger, source, kind, name, placement, point):
            restored = super().restore(ledger, source, kind, name, placement, point)
            return dataclasses.replace(restored, point=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))

    record, _, _ = check(cluster, tmp_path, kind="vault", stand_in=Ancient(cluster))
    assert record.verdict == "fail" and record.restore is None
    assert any("no probe row on the source is older than the recovery point" in n for n in record.notes)
    assert [e["deleted"] for e in record.update_summary["disposable"]] == [True]


def test_a_time_that_has_not_passed_is_refused_before_anything_is_created(cluster, tmp_path):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    record, folder, _ = check(cluster, tmp_path, to=later)
    assert record.verdict == "fail" and record.restore is None
    assert any("has not passed yet" in note for note in record.notes)
    assert not (folder / LEDGER_FILE).exists()


def test_a_restore_azure_fails_still_removes_what_was_asked_for(cluster, tmp_path):
    stand_in = LocalStandIn(cluster, fail="Azure refused or failed the restore: quota exceeded")
    record, folder, _ = check(cluster, tmp_path, stand_in=stand_in)
    assert record.verdict == "fail" and any("quota exceeded" in note for note in record.notes)
    assert [e["deleted"] for e in record.update_summary["disposable"]] == [True]
    assert DrillRecord.load_file(folder / "record.json").verdict == "fail"


def test_a_geo_copy_without_probe_rows_is_a_clear_failure():
    rows = [ProbeRow(1, dt.datetime(2026, 11, 28, tzinfo=dt.UTC))]
    with pytest.raises(RestoreError, match="holds no probe rows"):
        RestoreCheckRun._point_of(None, rows, [])
    assert RestoreCheckRun._point_of(None, rows, [1]) == rows[0].committed_at
    assert PROBE_TABLE == "public.restore_probe"


def test_an_interrupted_check_still_removes_its_server_and_keeps_an_aborted_record(cluster, tmp_path):
    class Interrupted(LocalStandIn):
        def restore(self, ledger, *args):
            ledger.will_create("server", "/subscriptions/x/flexibleServers/rc-pitr")
            raise KeyboardInterrupt

    stand_in = Interrupted(cluster)
    with pytest.raises(KeyboardInterrupt):
        check(cluster, tmp_path, stand_in=stand_in)
    folder = tmp_path / "20261128T101500Z-pitr-knowledge"
    record = DrillRecord.load_file(folder / "record.json")
    assert record.verdict == "aborted" and [e["deleted"] for e in record.update_summary["disposable"]] == [
        True
    ]


def test_a_restored_server_that_cannot_be_reached_fails_the_check(cluster, tmp_path):
    class Unreachable(LocalStandIn):
        def restore(self, ledger, *args):
            ledger.will_create("server", "/subscriptions/x/flexibleServers/rc-pitr")
            return Restored("/subscriptions/x/flexibleServers/rc-pitr", "localhost", "127.0.0.1", 1)

    record, _, _ = check(cluster, tmp_path, stand_in=Unreachable(cluster))
    assert record.verdict == "fail" and record.restore is None
    assert any(note.startswith("failed: ") for note in record.notes)
    assert [e["deleted"] for e in record.update_summary["disposable"]] == [True]
