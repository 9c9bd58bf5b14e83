"""The drill's data plane against real PostgreSQL 15 servers: a primary and a streaming standby on loopback.

Each scenario runs once, in a module-scoped fixture, and the tests assert on what it observed:
  planned   writes stop, the standby catches up, promotion, first write: nothing lost, RPO 0;
  forced    the standby is held back (stops receiving WAL), N more heartbeats are acknowledged,
            the primary dies: exactly those N are lost and the RPO is measured from them;
  replication  hold back / release, and why pausing replay would not do as a hold back.
Skipped only when the PostgreSQL server programs are absent; measure.py is tested without servers.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cli.secrets import REDACTED
from drill.localpg import LocalCluster
from drill.measure import RpoResult, RtoResult, measure_rpo, measure_rto
from drill.probes import (
    PROBE_WRITER,
    Ack,
    HeartbeatWriter,
    TableSnapshot,
    compare,
    connect,
    first_acknowledged_write,
    read_heartbeats,
    snapshot,
    utcnow,
)
from pg_fixtures import (
    KNOWLEDGE_TABLE,
    OPERATIONAL_TABLE,
    capture_drill_logs,
    create_integrity_tables,
    require_postgres,
)

TABLES = [KNOWLEDGE_TABLE, OPERATIONAL_TABLE]
WARMUP = 5
HELD_BACK = 7


def _scalar(dsn: str, password: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    with connect(dsn, password, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
        assert row is not None
        return row[0]


def _seqs(present: list[tuple[int, dt.datetime]]) -> list[int]:
    return [seq for seq, _ in present]


def _write(writer: HeartbeatWriter, count: int, pause: float = 0.01) -> list[Ack]:
    acks = []
    for _ in range(count):
        acks.append(writer.write())
        time.sleep(pause)  # heartbeats are spaced in time, as a drill's are
    return acks


# --- planned switchover --------------------------------------------------------------------------


@dataclass
class Planned:
    cluster: LocalCluster
    embedding: str
    acks: list[Ack]
    lag_before: tuple[int, float | None]
    before: list[TableSnapshot]
    on_standby: list[TableSnapshot]
    standby_write_error: BaseException | None
    recovery_before: bool
    recovery_after: bool
    decided_at: dt.datetime
    probe: Ack
    present: list[tuple[int, dt.datetime]]
    after: list[TableSnapshot]
    rpo: RpoResult
    rto: RtoResult
    logs: list[str]


@pytest.fixture(scope="module")
def planned():
    require_postgres()
    with capture_drill_logs() as logs, LocalCluster() as cluster:
        primary, standby, password = cluster.primary_dsn, cluster.standby_dsn, cluster.password
        writer = HeartbeatWriter(primary, password)
        writer.ensure_table()
        embedding = create_integrity_tables(primary, password)
        _write(writer, 10)
        writer.close()  # a planned switchover stops the writes first
        cluster.wait_caught_up(timeout=30)
        lag_before = cluster.replication_lag()
        before = snapshot(primary, password, TABLES)
        on_standby = snapshot(standby, password, TABLES)
        standby_write_error = None
        try:
            with HeartbeatWriter(standby, password) as on_replica:
                on_replica.write()
        except psycopg.Error as exc:
            standby_write_error = exc
        recovery_before = cluster.is_in_recovery(standby)

        fault_at = detected_at = utcnow()  # planned: the switchover starts, nothing to detect
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The RTO probe starts while the standby is still read-only, as a drill's does: its
            # attempts fail and are retried until the promotion completes.
            probe_future = pool.submit(first_acknowledged_write, standby, password, timeout=30, interval=0.05)
            time.sleep(0.3)
            decided_at = utcnow()
            cluster.promote_standby(wait=True, timeout=30)
            probe = probe_future.result(timeout=40).ack
        recovery_after = cluster.is_in_recovery(standby)
        present = read_heartbeats(standby, password)
        after = snapshot(standby, password, TABLES)
        yield Planned(
            cluster=cluster,
            embedding=embedding,
            acks=list(writer.acks),
            lag_before=lag_before,
            before=before,
            on_standby=on_standby,
            standby_write_error=standby_write_error,
            recovery_before=recovery_before,
            recovery_after=recovery_after,
            decided_at=decided_at,
            probe=probe,
            present=present,
            after=after,
            rpo=measure_rpo(writer.acks, present),
            rto=measure_rto(fault_at, detected_at, decided_at, probe.acked_at),
            logs=logs.lines,
        )


def test_planned_every_acknowledged_heartbeat_survives(planned):
    assert [a.seq for a in planned.acks] == list(range(1, 11))
    assert planned.present == [(a.seq, a.committed_at) for a in planned.acks]
    assert planned.rpo.lost_seqs == ()
    assert planned.rpo.rpo_seconds == 0.0
    assert planned.rpo.last_acked_seq == planned.rpo.newest_present_seq == 10


def test_planned_standby_was_caught_up_and_read_only_before_promotion(planned):
    assert planned.lag_before == (0, 0.0)
    assert planned.recovery_before is True
    assert isinstance(planned.standby_write_error, psycopg.errors.ReadOnlySqlTransaction)
    assert compare(planned.before, planned.on_standby) == []


def test_planned_first_write_is_acknowledged_only_after_promotion(planned):
    assert planned.recovery_after is False
    assert planned.probe.acked_at > planned.decided_at
    # The probe writes under its own writer id: never counted as a drill heartbeat.
    assert planned.probe.seq not in _seqs(planned.present)
    probes = read_heartbeats(planned.cluster.standby_dsn, planned.cluster.password, writer=PROBE_WRITER)
    assert probes == [(planned.probe.seq, planned.probe.committed_at)]
    rto = planned.rto
    assert rto.detect == 0.0 and rto.decide > 0 and rto.execute > 0
    assert rto.total == pytest.approx(rto.detect + rto.decide + rto.execute, abs=1e-9)


def test_planned_integrity_snapshots_identical(planned):
    assert compare(planned.before, planned.after) == []
    assert [(s.table, s.row_count) for s in planned.after] == [(KNOWLEDGE_TABLE, 4), (OPERATIONAL_TABLE, 3)]
    assert all(len(s.checksum) == 32 and int(s.checksum, 16) >= 0 for s in planned.after)


def test_checksum_is_md5_of_row_texts_in_byte_order(planned):
    """The checksum is reproducible outside PostgreSQL: md5 of the rows' text, sorted bytewise."""
    with connect(planned.cluster.standby_dsn, planned.cluster.password, autocommit=True) as conn:
        for snap in planned.after:
            rows = [r[0] for r in conn.execute(f"SELECT t::text FROM {snap.table} AS t").fetchall()]
            expected = hashlib.md5("\n".join(sorted(rows, key=lambda r: r.encode())).encode()).hexdigest()
            assert snap.checksum == expected, snap.table


def test_knowledge_embedding_column_type(planned):
    """vector(3) where pgvector is installed; real[] otherwise (create_integrity_tables warns)."""
    column_type = _scalar(
        planned.cluster.standby_dsn,
        planned.cluster.password,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = 'knowledge.documents'::regclass AND attname = 'embedding'",
    )
    assert column_type == planned.embedding
    assert planned.embedding in ("vector(3)", "real[]")


# --- forced failover -----------------------------------------------------------------------------


@dataclass
class Forced:
    cluster: LocalCluster
    acks: list[Ack]
    held: list[Ack]
    senders_after_hold: int
    received_at_hold: str
    received_after_writes: str
    lag_held: tuple[int, float | None]
    detect_error: BaseException | None
    recovery_after: bool
    probe: Ack
    present: list[tuple[int, dt.datetime]]
    before: list[TableSnapshot]
    after: list[TableSnapshot]
    rpo: RpoResult
    rto: RtoResult
    fault_at: dt.datetime
    dead_probe_error: BaseException | None
    logs: list[str]


@pytest.fixture(scope="module")
def forced():
    require_postgres()
    with capture_drill_logs() as logs, LocalCluster() as cluster:
        primary, standby, password = cluster.primary_dsn, cluster.standby_dsn, cluster.password
        writer = HeartbeatWriter(primary, password)
        writer.ensure_table()
        create_integrity_tables(primary, password)
        _write(writer, WARMUP)
        cluster.wait_caught_up(timeout=30)

        cluster.hold_back_standby()
        senders_after_hold = _scalar(primary, password, "SELECT count(*) FROM pg_stat_replication")
        received_at_hold = _scalar(standby, password, "SELECT pg_last_wal_receive_lsn()::text")
        with connect(primary, password, autocommit=True) as conn:
            held = []
            for i in range(HELD_BACK):  # each acknowledged; the operational table changes too
                held.extend(_write(writer, 1, pause=0.02))
                conn.execute(f"INSERT INTO {OPERATIONAL_TABLE} (decision) VALUES (%s)", (f"held back {i}",))
        lag_held = cluster.replication_lag()
        received_after_writes = _scalar(standby, password, "SELECT pg_last_wal_receive_lsn()::text")
        before = snapshot(primary, password, TABLES)  # the primary's last state

        fault_at = utcnow()
        cluster.stop_primary()
        detect_error = None
        try:
            writer.write()  # the drill's detection: the next heartbeat fails
        except psycopg.Error as exc:
            detect_error = exc
        detected_at = utcnow()
        decided_at = utcnow()
        cluster.promote_standby(wait=True, timeout=30)
        probe = first_acknowledged_write(standby, password, timeout=30, interval=0.05).ack
        recovery_after = cluster.is_in_recovery(standby)
        present = read_heartbeats(standby, password)
        after = snapshot(standby, password, TABLES)
        dead_probe_error = None
        try:  # the old primary is gone: connection failures are retried, within a bounded time
            first_acknowledged_write(primary, password, timeout=0.5, interval=0.1)
        except TimeoutError as exc:
            dead_probe_error = exc
        yield Forced(
            cluster=cluster,
            acks=list(writer.acks),
            held=held,
            senders_after_hold=senders_after_hold,
            received_at_hold=received_at_hold,
            received_after_writes=received_after_writes,
            lag_held=lag_held,
            detect_error=detect_error,
            recovery_after=recovery_after,
            probe=probe,
            present=present,
            before=before,
            after=after,
            rpo=measure_rpo(writer.acks, present),
            rto=measure_rto(fault_at, detected_at, decided_at, probe.acked_at),
            fault_at=fault_at,
            dead_probe_error=dead_probe_error,
            logs=logs.lines,
        )


def test_forced_hold_back_stops_the_standby_receiving(forced):
    assert forced.senders_after_hold == 0
    assert forced.received_after_writes == forced.received_at_hold  # not one more WAL byte received
    lag_bytes, lag_seconds = forced.lag_held
    assert lag_bytes > 0 and lag_seconds is not None and lag_seconds > 0


def test_forced_loses_exactly_the_heartbeats_written_while_held_back(forced):
    assert len(forced.held) == HELD_BACK
    assert (
        forced.rpo.lost_seqs
        == tuple(a.seq for a in forced.held)
        == tuple(range(WARMUP + 1, WARMUP + HELD_BACK + 1))
    )
    assert _seqs(forced.present) == list(range(1, WARMUP + 1))
    assert forced.rpo.newest_present_seq == WARMUP
    assert forced.rpo.last_acked_seq == WARMUP + HELD_BACK


def test_forced_rpo_is_measured_from_commit_times(forced):
    newest_present = forced.acks[WARMUP - 1]
    last_acked = forced.held[-1]
    assert forced.rpo.newest_present_at == newest_present.committed_at
    assert forced.rpo.last_acked_at == last_acked.committed_at
    expected = (last_acked.committed_at - newest_present.committed_at).total_seconds()
    assert forced.rpo.rpo_seconds is not None and forced.rpo.rpo_seconds > 0
    assert forced.rpo.rpo_seconds == pytest.approx(expected, abs=1e-6)


def test_forced_failed_write_is_not_acknowledged(forced):
    assert isinstance(forced.detect_error, psycopg.OperationalError)
    assert [a.seq for a in forced.acks] == list(range(1, WARMUP + HELD_BACK + 1))


def test_forced_promoted_server_takes_writes(forced):
    assert forced.recovery_after is False
    assert forced.probe.acked_at > forced.fault_at
    rto = forced.rto
    assert rto.detect > 0 and rto.execute > 0
    assert rto.total == pytest.approx((forced.probe.acked_at - forced.fault_at).total_seconds())
    assert rto.total == pytest.approx(rto.detect + rto.decide + rto.execute, abs=1e-9)


def test_forced_integrity_flags_only_the_table_changed_while_held_back(forced):
    differences = compare(forced.before, forced.after)
    assert differences == [f"{OPERATIONAL_TABLE}: row count {3 + HELD_BACK} -> 3"]
    knowledge_before, knowledge_after = forced.before[0], forced.after[0]
    assert knowledge_before.table == KNOWLEDGE_TABLE and knowledge_before == knowledge_after


def test_probe_gives_up_on_a_dead_server_within_its_timeout(forced):
    assert isinstance(forced.dead_probe_error, TimeoutError)
    message = str(forced.dead_probe_error)
    assert "no heartbeat acknowledged" in message and "OperationalError" in message


# --- replication control -------------------------------------------------------------------------


@dataclass
class Replication:
    seqs_while_held: list[int]
    caught_up_error: BaseException | None
    seqs_released: list[int]
    lag_released: tuple[int, float | None]
    pause_state: str
    seqs_while_paused: list[int]
    acks: list[Ack]
    present_after_promotion: list[tuple[int, dt.datetime]]


@pytest.fixture(scope="module")
def replication():
    require_postgres()
    with LocalCluster() as cluster:
        primary, standby, password = cluster.primary_dsn, cluster.standby_dsn, cluster.password
        writer = HeartbeatWriter(primary, password)
        writer.ensure_table()
        _write(writer, 3)
        cluster.wait_caught_up(timeout=30)

        cluster.hold_back_standby()
        _write(writer, 3)
        time.sleep(0.5)
        seqs_while_held = _seqs(read_heartbeats(standby, password))
        caught_up_error = None
        try:
            cluster.wait_caught_up(timeout=0.5)
        except TimeoutError as exc:
            caught_up_error = exc
        cluster.release_standby()
        cluster.wait_caught_up(timeout=30)
        seqs_released = _seqs(read_heartbeats(standby, password))
        lag_released = cluster.replication_lag()

        # Pausing replay is not holding back: the standby still receives, and promotion replays.
        with connect(standby, password, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            _write(writer, 5)
            target = _scalar(primary, password, "SELECT pg_current_wal_lsn()::text")
            deadline = time.monotonic() + 10
            while not conn.execute("SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
                assert time.monotonic() < deadline, "standby did not receive the WAL written while paused"
                time.sleep(0.05)
            pause_state = conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0]
        seqs_while_paused = _seqs(read_heartbeats(standby, password))
        writer.close()
        cluster.stop_primary()
        cluster.promote_standby(wait=True, timeout=30)
        yield Replication(
            seqs_while_held=seqs_while_held,
            caught_up_error=caught_up_error,
            seqs_released=seqs_released,
            lag_released=lag_released,
            pause_state=pause_state,
            seqs_while_paused=seqs_while_paused,
            acks=list(writer.acks),
            present_after_promotion=read_heartbeats(standby, password),
        )


def test_hold_back_then_release_catches_up(replication):
    assert replication.seqs_while_held == [1, 2, 3]
    assert isinstance(replication.caught_up_error, TimeoutError)
    assert replication.seqs_released == [1, 2, 3, 4, 5, 6]
    assert replication.lag_released == (0, 0.0)


def test_paused_replay_is_not_a_hold_back(replication):
    """PostgreSQL ends a replay pause on promotion and replays all WAL received: nothing is lost."""
    assert replication.pause_state == "paused"
    assert replication.seqs_while_paused == [1, 2, 3, 4, 5, 6]
    rpo = measure_rpo(replication.acks, replication.present_after_promotion)
    assert _seqs(replication.present_after_promotion) == list(range(1, 12))
    assert rpo.lost_seqs == () and rpo.rpo_seconds == 0.0


# --- lifecycle -----------------------------------------------------------------------------------


def test_failed_start_stops_the_primary_and_removes_the_folder(monkeypatch):
    require_postgres()
    seen: dict[str, Any] = {}

    def broken_standby(self: LocalCluster) -> None:
        seen["base"], seen["pid"] = self._base, self._server("primary").postmaster_pid()
        raise RuntimeError("standby creation failed")

    monkeypatch.setattr(LocalCluster, "_create_standby", broken_standby)
    with pytest.raises(RuntimeError, match="standby creation failed"):
        with LocalCluster():
            pass  # pragma: no cover - never entered
    assert seen["pid"] is not None and not seen["base"].exists()
    assert not _running(seen["pid"])  # the primary's postmaster is gone


def _running(pid: int) -> bool:
    """Alive and not a zombie (a stopped postmaster is reaped by init, maybe not yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_only_the_folders_of_processes_that_are_gone_are_swept(tmp_path):
    import subprocess
    import sys

    from drill.localpg import sweep_stale_folders

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone, alive = int(ended.stdout), os.getpid()
    for name in (f"scratch-{gone}-a", f"scratch-{alive}-b", f"other-{gone}-c", "scratch-notapid-d"):
        (tmp_path / name).mkdir()
    assert sweep_stale_folders(tmp_path, "scratch-") == [tmp_path / f"scratch-{gone}-a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"other-{gone}-c",
        f"scratch-{alive}-b",
        "scratch-notapid-d",
    ]


def test_missing_binaries_are_reported_before_anything_is_created(tmp_path):
    from drill.localpg import MissingPostgres

    with pytest.raises(
        MissingPostgres, match=r"PostgreSQL server programs missing .*initdb, pg_basebackup, postgres"
    ):
        with LocalCluster(bin_dir=tmp_path):
            pass  # pragma: no cover - never entered


# --- the password stays secret -------------------------------------------------------------------


def _full_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.args)


def test_password_absent_from_cluster_dsns_and_reprs(planned):
    cluster = planned.cluster
    password = cluster.password
    assert len(password) >= 24
    texts = [
        str(cluster),
        repr(cluster),
        cluster.primary_dsn,
        cluster.standby_dsn,
        repr(HeartbeatWriter(cluster.primary_dsn, password)),
    ]
    for text in texts:
        assert password not in text
    assert all("password" not in dsn for dsn in (cluster.primary_dsn, cluster.standby_dsn))
    assert REDACTED in repr(cluster)


def test_password_absent_from_connection_errors(planned, forced):
    cluster = planned.cluster
    password = cluster.password
    port = cluster.primary_dsn.split("port=")[1].split()[0]
    bad = {
        "refused": forced.cluster.primary_dsn,  # stopped server
        "no such user": f"host=127.0.0.1 port={port} dbname=postgres user=intruder",
        "wrong database": f"host=127.0.0.1 port={port} dbname=nowhere user=drill",
        # libpq echoes a bad option value: the one place a password could appear (if misplaced).
        "echoed option": f"host=127.0.0.1 port={port} user=drill sslmode={password}",
    }
    for case, dsn in bad.items():
        with pytest.raises(psycopg.Error) as info:
            connect(dsn, password).close()
        assert password not in _full_text(info.value), case
        assert info.value.__context__ is None or password not in _full_text(info.value.__context__), case
    assert forced.dead_probe_error is not None and password not in _full_text(forced.dead_probe_error)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(cluster.primary_dsn, "not-the-password").close()


def test_password_absent_from_logs(planned, forced):
    for scenario in (planned, forced):
        lines = "\n".join(scenario.logs)
        assert "local cluster up" in lines and "standby promotion done" in lines
        assert scenario.cluster.password not in lines
        server_logs = scenario.cluster.server_logs()
        assert set(server_logs) == {"primary", "standby"} and all(server_logs.values())
        assert all(scenario.cluster.password not in text for text in server_logs.values())


def test_the_stored_verifier_is_the_one_libpq_computes_for_the_password(planned, forced):
    """The role's password is set as a SCRAM verifier computed here (drill.localpg.scram_verifier):
    libpq's own PQencryptPasswordConn, given the same salt and iteration count, gives the same."""
    from drill.localpg import scram_verifier

    with connect(planned.cluster.standby_dsn, planned.cluster.password, autocommit=True) as conn:
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'drill'").fetchone()[0]
        for password in ("s3cret/with+symbols=", planned.cluster.password):
            libpq = conn.pgconn.encrypt_password(password.encode(), b"drill", b"scram-sha-256").decode()
            iterations, salt = libpq.split("$")[1].split(":")
            assert scram_verifier(password, base64.b64decode(salt), int(iterations)) == libpq
    assert stored.startswith("SCRAM-SHA-256$4096:") and planned.cluster.password not in stored
    # Clusters copied from one template still each have a password of their own.
    assert planned.cluster.password != forced.cluster.password


def test_a_refused_password_step_is_an_error_without_the_verifier(monkeypatch):
    """initdb's template runs once per process; the password step on each copy must not fail silently."""
    import drill.localpg as localpg

    require_postgres()
    # A verifier the statement cannot take: its quote ends the string early.
    broken = "SCRAM-SHA-256$4096:c2FsdA==$eA==:eQ==' trailing"
    monkeypatch.setattr(localpg, "scram_verifier", lambda password: broken)
    with pytest.raises(localpg.LocalClusterError, match="postgres failed") as failed:
        with LocalCluster(standby=False):
            pass  # pragma: no cover - never entered
    assert "syntax error" in str(failed.value) and "eA==:eQ==" not in str(failed.value)


# --- probes without a server ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["decision_log; DROP TABLE x", "a.b.c", "", "knowledge.", '"quoted"', "1table"]
)
def test_table_names_are_validated_before_connecting(name):
    with pytest.raises(ValueError, match="not a table name"):
        snapshot("host=127.0.0.1 port=1", None, [name])
    with pytest.raises(ValueError, match="not a table name"):
        HeartbeatWriter("host=127.0.0.1 port=1", table=name)


def test_compare_reports_each_kind_of_difference():
    before = [TableSnapshot("a", 1, "x"), TableSnapshot("b", 2, "y"), TableSnapshot("c", 3, "z")]
    after = [TableSnapshot("a", 1, "x"), TableSnapshot("b", 2, "w"), TableSnapshot("d", 0, "v")]
    assert compare(before, after) == [
        "b: same row count (2) but contents differ (checksum y -> w)",
        "c: missing after (had 3 rows)",
        "d: only in the later snapshot",
    ]
    assert compare(before, list(before)) == []


def test_poll_returns_the_first_answer_or_none_after_the_timeout():
    from drill.localpg import poll

    answers = iter([None, None, "ready"])
    assert poll(lambda: next(answers), timeout=5.0, interval=0.0) == "ready"
    calls = []
    assert poll(lambda: calls.append(1), timeout=0.0, interval=0.0) is None
    assert calls == [1], "asked once even with no time to wait"
    assert poll(lambda: False, timeout=5.0, interval=0.0) is False, "False is an answer, not a reason to wait"
