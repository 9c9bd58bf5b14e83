"""Restore checks: the point-in-time restore rehearsed on real PostgreSQL 15, and the judgement
(drill/restore_check.py) that every row up to the restore point is there and none after it."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from drill.localpg import LocalCluster, LocalClusterError
from drill.record import DrillRecord
from drill.rehearsal import rehearse_pitr
from drill.restore_check import (
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
from pg_fixtures import require_postgres


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    require_postgres()
    drills = tmp_path_factory.mktemp("rehearsals")
    record, folder = rehearse_pitr(drills, after_target=5, before_target=12)
    return record, folder


def test_the_pitr_rehearsal_restores_to_the_point_on_real_postgres(rehearsal):
    record, folder = rehearsal
    restore = record.restore
    assert record.verdict == "pass", restore
    assert (restore["rows_before_target"], restore["rows_before_target_found"]) == (12, 12)
    assert (restore["rows_after_target"], restore["rows_after_target_found"]) == (5, 0)
    assert restore["checksums_match"] and restore["checksum_differences"] == []
    assert restore["target_seconds"] == 3600.0 and 0 < restore["measured_seconds"] < restore["target_seconds"]
    assert record.rto.measured_seconds == restore["measured_seconds"]
    # The evidence: a record valid against the published schema, and its report.
    loaded = DrillRecord.load_file(folder / "record.json")
    assert loaded.restore == restore and loaded.scenario == "pitr"
    report = (folder / "report.md").read_text()
    assert (
        "**Verdict: PASS**" in report and "| rows committed after the point | 0 of 5 | 0 | True |" in report
    )


def test_a_version_1_record_still_reads(rehearsal, tmp_path):
    """Records written before restore checks (schema version 1) stay valid."""
    _, folder = rehearsal
    data = json.loads((folder / "record.json").read_text())
    data["schema_version"] = 1
    del data["restore"]
    old = tmp_path / "record.json"
    old.write_text(json.dumps(data))
    loaded = DrillRecord.load_file(old)
    assert loaded.restore is None and loaded.to_json()["schema_version"] == 2


def test_a_restore_that_went_past_the_point_is_caught_on_real_postgres():
    """Recover deliberately past the intended point: the check sees the rows written after it."""
    require_postgres()
    with LocalCluster(standby=False, archive=True) as local:
        with psycopg.connect(local.primary_dsn, password=local.password, autocommit=True) as source:
            create_probe(source)
            backup = local.base_backup()
            written = [write_probe_row(source, seq) for seq in range(1, 4)]
            intended = written[-1].committed_at
            expected = checksums(source, [PROBE_TABLE])  # the source as of the intended point
            written += [write_probe_row(source, seq) for seq in range(4, 6)]
            # A table of the same name in another schema is another table.
            source.execute("CREATE SCHEMA other")
            source.execute("CREATE TABLE other.restore_probe (seq bigint)")
            other = checksums(source, ["other.restore_probe", PROBE_TABLE])
            assert other["other.restore_probe"] == "d41d8cd98f00b204e9800998ecf8427e"  # md5 of nothing
            assert other[PROBE_TABLE] != other["other.restore_probe"]
        local.archive_current_wal()
        too_far = written[3].committed_at + (written[4].committed_at - written[3].committed_at) / 2
        local.restore(backup, too_far.isoformat())
        with psycopg.connect(local.restored_dsn, password=local.password, autocommit=True) as restored:
            check = verify(
                "pitr",
                intended,
                written,
                probe_seqs(restored),
                expected,
                checksums(restored, [PROBE_TABLE]),
                1.0,
                3600.0,
            )
    assert (check.rows_after_target, check.rows_after_target_found) == (2, 1)
    assert check.unexpected_rows == [4] and not check.checksums_match and not check.passed


def test_a_point_beyond_the_archive_is_a_clear_failure_not_a_hang():
    """PostgreSQL refuses to end recovery short of its target: the restore says so, with the log."""
    require_postgres()
    with LocalCluster(standby=False, archive=True) as local:
        with psycopg.connect(local.primary_dsn, password=local.password, autocommit=True) as source:
            create_probe(source)
            backup = local.base_backup()
            last = write_probe_row(source, 1)
        local.archive_current_wal()
        beyond = last.committed_at + dt.timedelta(hours=1)
        with pytest.raises(
            LocalClusterError, match=r"the restored server did not (start|finish recovery)"
        ) as failed:
            local.restore(backup, beyond.isoformat())
    assert "recovery ended before configured recovery target was reached" in str(failed.value)


def test_commit_times_need_track_commit_timestamp():
    require_postgres()
    with LocalCluster(standby=False) as local:
        with psycopg.connect(local.primary_dsn, password=local.password, autocommit=True) as source:
            create_probe(source)
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="commit timestamp"):
                write_probe_row(source, 1)


def test_probe_rows_stay_on_the_source_in_order_with_their_times_and_a_checksum_up_to_any_row():
    """What a later check (a geo-restore, a restore to a past time) reads back from the source."""
    require_postgres()
    with LocalCluster(standby=False) as local:
        with psycopg.connect(local.primary_dsn, password=local.password, autocommit=True) as conn:
            create_probe(conn)
            create_probe(conn)  # a second check finds the table there
            assert next_seq(conn) == 1
            rows = [write_probe_row(conn, seq, commit_timestamps=False) for seq in (1, 2, 3)]
            assert [r.seq for r in rows] == [1, 2, 3] and next_seq(conn) == 4
            assert all(isinstance(r.committed_at, dt.datetime) for r in rows)
            assert rows[0].committed_at < rows[1].committed_at < rows[2].committed_at
            assert probe_rows(conn) == rows, "the times read back are the ones the writes returned"
            ((note,),) = conn.execute(f"SELECT note FROM {PROBE_TABLE} WHERE seq = 2").fetchall()
            assert note == "row 2"
            whole = checksums(conn, [PROBE_TABLE])[PROBE_TABLE]
            assert probe_checksum(conn, 3) == whole and probe_checksum(conn, 2) != whole
            conn.execute(f"DELETE FROM {PROBE_TABLE} WHERE seq = 3")
            assert probe_checksum(conn, 2) == checksums(conn, [PROBE_TABLE])[PROBE_TABLE]
            conn.execute(f"DELETE FROM {PROBE_TABLE}")
            assert probe_checksum(conn, 2) == checksums(conn, [PROBE_TABLE])[PROBE_TABLE]
            assert probe_rows(conn) == [] and ProbeRow(1, rows[0].committed_at) == rows[0]
