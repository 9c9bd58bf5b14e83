"""Restore checks: the point-in-time restore rehearsed on real PostgreSQL 15, and the judgement
(drill/restore_check.py) that every row up to the restore point is there and none after it."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drill.localpg import LocalCluster, LocalClusterError
from drill.record import DrillRecord
from drill.rehearsal import rehearse_pitr
from drill.restore_check import (
    PROBE_TABLE,
    ProbeRow,
    checksums,
    create_probe,
    probe_seqs,
    verify,
    write_probe_row,
)
from pg_fixtures import require_postgres

T0 = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def rows(*offsets_ms: int) -> list[ProbeRow]:
    return [ProbeRow(seq, T0 + dt.timedelta(milliseconds=ms)) for seq, ms in enumerate(offsets_ms, 1)]


def judged(written, found, target_ms: int, source=None, restored=None, measured=5.0, rto=3600.0):
    return verify(
        "pitr",
        T0 + dt.timedelta(milliseconds=target_ms),
        written,
        found,
        source or {"public.t": "a"},
        restored or {"public.t": "a"},
        measured,
        rto,
    )


def test_a_restore_that_holds_exactly_the_rows_up_to_the_point_passes():
    check = judged(rows(0, 10, 20, 30), [1, 2], target_ms=15)
    assert (check.rows_before_target, check.rows_before_target_found) == (2, 2)
    assert (check.rows_after_target, check.rows_after_target_found) == (2, 0)
    assert check.passed and check.met and check.checksums_match


def test_a_row_committed_exactly_at_the_point_belongs_before_it():
    """recovery_target_inclusive is on by default: recovery stops just after the target."""
    check = judged(rows(0, 10, 20), [1, 2], target_ms=10)
    assert (check.rows_before_target, check.rows_after_target) == (2, 1) and check.passed


@pytest.mark.parametrize(
    ("found", "missing", "unexpected"),
    [([1], [2], []), ([1, 2, 3], [], [3]), ([2, 3, 9], [1], [3, 9])],
)
def test_missing_and_extra_rows_fail_and_are_named(found, missing, unexpected):
    check = judged(rows(0, 10, 20), found, target_ms=15)
    assert not check.passed
    assert (check.missing_rows, check.unexpected_rows) == (missing, unexpected)


def test_a_checksum_difference_fails_and_names_the_table():
    check = judged(
        rows(0),
        [1],
        5,
        source={"public.t": "a", "public.u": "b"},
        restored={"public.t": "a", "public.u": "c"},
    )
    assert not check.passed and not check.checksums_match
    assert check.checksum_differences == ["public.u: source b restored c"]


def test_a_restore_slower_than_the_rto_fails():
    assert judged(rows(0), [1], 5, measured=3600.0).passed
    slow = judged(rows(0), [1], 5, measured=3600.001)
    assert not slow.met and not slow.passed


@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=40, unique=True),
    st.integers(min_value=-1, max_value=10_001),
)
def test_every_row_is_on_exactly_one_side_of_the_point(offsets, target_ms):
    written = rows(*sorted(offsets))
    perfect = [r.seq for r in written if r.committed_at <= T0 + dt.timedelta(milliseconds=target_ms)]
    check = judged(written, perfect, target_ms)
    assert check.rows_before_target + check.rows_after_target == len(written)
    assert check.rows_before_target == sum(1 for ms in offsets if ms <= target_ms)
    assert check.passed


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
