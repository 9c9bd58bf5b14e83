"""The SQL applied after `pulumi up` (drill/setup_sql.py), on a real PostgreSQL 15 primary and standby
with the pg_cron the Azure servers preload.

- The heartbeat keeps a replica's lag signal meaningful while the primary is idle: Azure's lag metric
  is "the time since the last replayed transaction" (concepts-read-replicas), which grows without
  bound on a quiet primary.
- Databases end up owned by a role long-term retention backs up: it "exclude[s] databases owned by
  azuresu or azure_pg_admin" (backup-azure-database-postgresql-flex-support-matrix).
"""

from __future__ import annotations

import time

import pytest
from psycopg.conninfo import make_conninfo

from components.settings import HEARTBEAT_INTERVAL_SECONDS, Database
from drill.localpg import LocalCluster
from drill.probes import connect
from drill.setup_sql import (
    HEARTBEAT_COMMAND,
    HEARTBEAT_JOB,
    HEARTBEAT_SCHEDULE,
    OWNER_ROLE,
    apply,
    setup_scripts,
    verify,
)
from pg_fixtures import require_pg_cron

DATABASE = Database.model_validate(
    {
        "sku": "Standard_D4ds_v5",
        "tier": "GeneralPurpose",
        "storageGb": 256,
        "databases": ["knowledge", "archive"],
        "rto": "1h",
        "rpo": "15min",
    }
)


@pytest.fixture(scope="module")
def cluster():
    require_pg_cron()
    # As the Azure servers are configured (components.database.server_parameters). Azure's pg_cron runs
    # jobs over a local socket connection (cron.host /tmp, read-only there); these servers accept only
    # password logins, so the stand-in runs jobs in background workers instead.
    settings = {
        "shared_preload_libraries": "'pg_cron'",
        "cron.database_name": "'knowledge'",
        "cron.use_background_workers": "on",
        "max_worker_processes": "16",
    }
    with LocalCluster(settings=settings) as cluster:
        with connect(cluster.primary_dsn, cluster.password, autocommit=True) as conn:
            for name in DATABASE.databases:
                conn.execute(f"CREATE DATABASE {name}")
        yield cluster


def scripts():
    return setup_scripts(DATABASE, with_pgaudit=False)  # pgaudit is not packaged for this machine


def on(dsn: str, database: str) -> str:
    return make_conninfo(dsn, dbname=database)


def test_the_schedule_matches_the_interval_the_alerts_assume():
    assert (HEARTBEAT_SCHEDULE, HEARTBEAT_INTERVAL_SECONDS) == ("* * * * *", 60)


def test_setup_applies_verifies_and_can_run_again(cluster):
    assert apply(cluster.primary_dsn, cluster.password, scripts()) == []
    assert apply(cluster.primary_dsn, cluster.password, scripts()) == [], "idempotent"
    with connect(on(cluster.primary_dsn, "knowledge"), cluster.password, autocommit=True) as conn:
        assert (
            conn.execute("SELECT count(*) FROM cron.job WHERE jobname = %s", (HEARTBEAT_JOB,)).fetchone()[0]
            == 1
        )
        owners = dict(
            conn.execute(
                "SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
                "WHERE datname IN ('knowledge', 'archive')"
            ).fetchall()
        )
    assert owners == {"knowledge": OWNER_ROLE, "archive": OWNER_ROLE}
    cluster.wait_caught_up()
    with connect(on(cluster.standby_dsn, "knowledge"), cluster.password, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM continuity.heartbeat").fetchone()[0] == 1


def test_a_database_owned_by_a_role_ltr_skips_is_reported(cluster):
    apply(cluster.primary_dsn, cluster.password, scripts())
    with connect(cluster.primary_dsn, cluster.password, autocommit=True) as conn:
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'azure_pg_admin') "
            "THEN CREATE ROLE azure_pg_admin NOLOGIN; END IF; END $$"
        )
        conn.execute("ALTER DATABASE archive OWNER TO azure_pg_admin")
        try:
            assert verify(cluster.primary_dsn, cluster.password, scripts()) == [
                "database archive is owned by azure_pg_admin: long-term retention skips it"
            ]
        finally:
            conn.execute(f"ALTER DATABASE archive OWNER TO {OWNER_ROLE}")


def test_a_changed_or_missing_heartbeat_job_is_reported(cluster):
    apply(cluster.primary_dsn, cluster.password, scripts())
    with connect(on(cluster.primary_dsn, "knowledge"), cluster.password, autocommit=True) as conn:
        conn.execute(
            "SELECT cron.alter_job(jobid, schedule => '*/5 * * * *') FROM cron.job WHERE jobname = %s",
            (HEARTBEAT_JOB,),
        )
        problems = verify(cluster.primary_dsn, cluster.password, scripts())
        assert len(problems) == 1 and "'*/5 * * * *'" in problems[0]
        conn.execute("SELECT cron.unschedule(%s)", (HEARTBEAT_JOB,))
        assert "is missing" in verify(cluster.primary_dsn, cluster.password, scripts())[0]
    assert apply(cluster.primary_dsn, cluster.password, scripts()) == []


def replay_age(cluster) -> float:
    """Azure's replica-lag definition on the local standby: seconds since the last replayed transaction."""
    with connect(cluster.standby_dsn, cluster.password, autocommit=True) as conn:
        return float(
            conn.execute(
                "SELECT extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
            ).fetchone()[0]
        )


def test_an_idle_primary_makes_the_lag_signal_grow_and_a_heartbeat_resets_it(cluster):
    apply(cluster.primary_dsn, cluster.password, scripts())
    with connect(on(cluster.primary_dsn, "knowledge"), cluster.password, autocommit=True) as conn:
        # Held while idling: a scheduled beat landing in the pause would be the write this test leaves out.
        conn.execute(
            "SELECT cron.alter_job(jobid, active => false) FROM cron.job WHERE jobname = %s", (HEARTBEAT_JOB,)
        )
        try:
            conn.execute(HEARTBEAT_COMMAND)
            cluster.wait_caught_up()
            time.sleep(2.5)  # nothing written meanwhile
            idle = replay_age(cluster)
            assert idle >= 2.0, "without writes the metric grows although nothing is behind"
            conn.execute(HEARTBEAT_COMMAND)
            cluster.wait_caught_up()
            assert replay_age(cluster) < idle - 1.5
        finally:
            conn.execute(
                "SELECT cron.alter_job(jobid, active => true) FROM cron.job WHERE jobname = %s",
                (HEARTBEAT_JOB,),
            )


def test_pg_cron_runs_the_heartbeat_on_the_primary_every_minute(cluster):
    apply(cluster.primary_dsn, cluster.password, scripts())
    with connect(on(cluster.primary_dsn, "knowledge"), cluster.password, autocommit=True) as conn:
        (before,) = conn.execute("SELECT beat_at FROM continuity.heartbeat").fetchone()
        deadline = time.monotonic() + HEARTBEAT_INTERVAL_SECONDS + 15
        beat = before
        while beat == before and time.monotonic() < deadline:
            time.sleep(1)
            (beat,) = conn.execute("SELECT beat_at FROM continuity.heartbeat").fetchone()
        runs = conn.execute(
            "SELECT status FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = %s",
            (HEARTBEAT_JOB,),
        ).fetchall()
    assert beat > before, f"pg_cron did not run the heartbeat within {HEARTBEAT_INTERVAL_SECONDS + 15}s"
    assert ("succeeded",) in runs
    cluster.wait_caught_up()
    with connect(on(cluster.standby_dsn, "knowledge"), cluster.password, autocommit=True) as conn:
        assert conn.execute("SELECT beat_at FROM continuity.heartbeat").fetchone()[0] == beat
