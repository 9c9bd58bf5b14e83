"""The SQL each server needs after `pulumi up`: idempotent, applied through the writer, safe to re-run.

- Extensions: pgaudit (audit logging), pg_cron (the heartbeat) and the database's own (`vector`).
  Azure requires them allow-listed (`azure.extensions`) and, for pg_cron and pgaudit, preloaded
  (`shared_preload_libraries`, a restart after the first deployment); components.database sets both.
- The heartbeat. A replica's lag metric is "the time since the last replayed transaction. For
  instance if no transactions are occurring on your primary server, and the last transaction was
  replayed 5 seconds ago, then the Read Replica Lag shows 5-second delay" (concepts-read-replicas),
  so a quiet primary would page on-call. A pg_cron job updates one row every minute; the replica
  replays it, and its lag stays under a minute while healthy. pg_cron's launcher starts only once
  recovery has finished (`BgWorkerStart_RecoveryFinished`), so the job runs on the writer alone,
  and on a promoted replica from its promotion on (the job is in the replicated `cron.job` table).
  It lives in `cron.database_name`, the server's first database.
- Database ownership. Azure Backup's long-term retention "exclude[s] databases owned by azuresu or
  azure_pg_admin" (backup-azure-database-postgresql-flex-support-matrix), and a database created
  through ARM can end up owned by azuresu (Azure/bicep-registry-modules#3596). Each application
  database is given to a dedicated NOLOGIN owner role, so LTR backs it up.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from components.facts import OWNER_ROLE
from components.settings import Database

from .probes import connect

HEARTBEAT_SCHEMA = "continuity"
HEARTBEAT_TABLE = f"{HEARTBEAT_SCHEMA}.heartbeat"
HEARTBEAT_JOB = "continuity-heartbeat"
# pg_cron schedules in cron syntax: every minute is its finest standard step.
HEARTBEAT_SCHEDULE = "* * * * *"
HEARTBEAT_COMMAND = f"UPDATE {HEARTBEAT_TABLE} SET beat_at = now() WHERE id = 1"
# Owners that long-term retention skips.
SKIPPED_OWNERS = ("azuresu", "azure_pg_admin")


class SetupError(Exception):
    pass


def _identifier(name: str) -> str:
    return sql.Identifier(name).as_string(None)


def _literal(text: str) -> str:
    return sql.Literal(text).as_string(None)


def owner_sql(database: str) -> str:
    return "\n".join(
        [
            "DO $$ BEGIN",
            f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(OWNER_ROLE)}) THEN",
            f"    CREATE ROLE {_identifier(OWNER_ROLE)} NOLOGIN;",
            "  END IF;",
            "END $$;",
            # ALTER DATABASE ... OWNER TO needs membership of the new owner.
            f"GRANT {_identifier(OWNER_ROLE)} TO CURRENT_USER;",
            f"ALTER DATABASE {_identifier(database)} OWNER TO {_identifier(OWNER_ROLE)};",
        ]
    )


def heartbeat_sql() -> str:
    return "\n".join(
        [
            "CREATE EXTENSION IF NOT EXISTS pg_cron;",
            f"CREATE SCHEMA IF NOT EXISTS {HEARTBEAT_SCHEMA};",
            f"CREATE TABLE IF NOT EXISTS {HEARTBEAT_TABLE} (id int PRIMARY KEY CHECK (id = 1), beat_at timestamptz NOT NULL);",
            f"INSERT INTO {HEARTBEAT_TABLE} VALUES (1, now()) ON CONFLICT (id) DO NOTHING;",
            # A job of the same name is updated in place (pg_cron 1.3+), so a re-run keeps one job.
            f"SELECT cron.schedule({_literal(HEARTBEAT_JOB)}, {_literal(HEARTBEAT_SCHEDULE)}, {_literal(HEARTBEAT_COMMAND)});",
        ]
    )


@dataclass(frozen=True)
class SetupScript:
    database: str  # where to connect
    sql: str


def setup_scripts(database: Database, *, with_pgaudit: bool = True) -> list[SetupScript]:
    """The scripts for one server, in order: per database, its extensions and owner; the heartbeat in
    the first database (`cron.database_name`). `with_pgaudit` is off where pgaudit is not installed
    (a local rehearsal)."""
    scripts = []
    for index, name in enumerate(database.databases):
        extensions = sorted(
            {e.lower() for e in database.extensions} | ({"pgaudit"} if with_pgaudit else set())
        )
        lines = [f"CREATE EXTENSION IF NOT EXISTS {_identifier(e)};" for e in extensions]
        lines.append(owner_sql(name))
        if index == 0:
            lines.append(heartbeat_sql())
        scripts.append(SetupScript(name, "\n".join(lines)))
    return scripts


def apply(dsn: str, password: str | None, scripts: list[SetupScript]) -> list[str]:
    """Run the scripts on the writer (`dsn` has no password) and check the result; returns findings."""
    for script in scripts:
        try:
            with connect(make_conninfo(dsn, dbname=script.database), password, autocommit=True) as conn:
                conn.execute(script.sql)
        except psycopg.Error as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise SetupError(f"database {script.database}: {reason}") from None
    return verify(dsn, password, scripts)


def verify(dsn: str, password: str | None, scripts: list[SetupScript]) -> list[str]:
    """What is not as the setup leaves it: skipped owners, a missing or changed heartbeat job."""
    problems = []
    names = [s.database for s in scripts]
    with connect(make_conninfo(dsn, dbname=names[0]), password, autocommit=True) as conn:
        for name, owner in conn.execute(
            "SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
            "WHERE datname = ANY(%s) ORDER BY datname",
            (names,),
        ).fetchall():
            if owner in SKIPPED_OWNERS:
                problems.append(f"database {name} is owned by {owner}: long-term retention skips it")
        jobs = conn.execute(
            "SELECT schedule, command, active FROM cron.job WHERE jobname = %s", (HEARTBEAT_JOB,)
        ).fetchall()
        if jobs != [(HEARTBEAT_SCHEDULE, HEARTBEAT_COMMAND, True)]:
            problems.append(
                f"heartbeat job {HEARTBEAT_JOB} is {jobs or 'missing'}, expected one active job "
                f"'{HEARTBEAT_SCHEDULE}' running {HEARTBEAT_COMMAND!r}"
            )
    return problems
