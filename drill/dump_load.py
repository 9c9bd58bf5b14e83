"""Load a database file that a long-term-retention restore wrote into a server, as Microsoft's
restore article does it (restore-azure-database-postgresql-flex, "Restore the database"): create an
empty database, then stream the file into `pg_restore --no-owner` as the server's admin.

LTR backups are "taken as logical backups using native pg_dump" (concepts-backup-restore); the
article calls the files `.sql` yet pipes them into pg_restore, which reads only pg_dump's archive
formats. The first bytes decide: a custom-format archive starts with `PGDMP`; anything else is
taken as a plain SQL script and goes to psql. The runner needs PostgreSQL client programs at least
as new as the server (pg_restore refuses archives from a newer pg_dump).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from .azure_restore import RestoreError

ARCHIVE_MAGIC = b"PGDMP"
# Errors the support matrix says to ignore on a flexible server (backup-azure-database-postgresql-
# flex-support-matrix, "Restore limitations"): objects only Azure's own roles may create, and
# service roles every new server already has.
IGNORABLE = re.compile(
    r"pg_catalog|pg_aadauth|role \"(azure_pg_admin|azuresu|replication)\" already exists"
    r"|must be superuser to create superusers|pg_use_reserved_connections"
)
# What a failed load reports: enough lines to see the cause, never the data.
REPORTED_ERRORS = 5


def require_client(server_major: int, bin_dir: Path | None = None) -> None:
    """Refuse, before anything is made in Azure, when pg_restore is missing or older than the server:
    "pg_restore ... will not read archives made by a newer pg_dump" (PostgreSQL docs, app-pgrestore)."""
    program = _program("pg_restore", bin_dir)
    try:
        run = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        raise RestoreError(
            f"{program} cannot run: install PostgreSQL client programs {server_major} or later"
        ) from None
    found = re.search(r"\(PostgreSQL\) (\d+)", run.stdout)
    if found is None or int(found.group(1)) < server_major:
        version = found.group(1) if found else run.stdout.strip() or "unknown"
        raise RestoreError(
            f"{program} is PostgreSQL {version}, older than the server's {server_major}: "
            f"install PostgreSQL client programs {server_major} or later"
        )


def create_database(admin_dsn: str, password: str, database: str) -> None:
    """An empty database to restore into ("you must create a new, empty database")."""
    with psycopg.connect(
        make_conninfo(admin_dsn, dbname="postgres", password=password), autocommit=True
    ) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def load_dump(
    chunks: Iterable[bytes], admin_dsn: str, password: str, database: str, bin_dir: Path | None = None
) -> None:
    """Create `database` on the server `admin_dsn` reaches and load the file `chunks` holds into it.
    Raises RestoreError naming the errors that matter; the password goes to the programs through
    their environment, never their command line."""
    create_database(admin_dsn, password, database)
    stream = iter(chunks)
    first = _first_bytes(stream, len(ARCHIVE_MAGIC))
    target = make_conninfo(admin_dsn, dbname=database)
    if first[0].startswith(ARCHIVE_MAGIC):
        command = [_program("pg_restore", bin_dir), "--no-owner", "--no-privileges", "--dbname", target]
    else:
        # psql reads the script from standard input; a runner's ~/.psqlrc must not change what it does.
        command = [_program("psql", bin_dir), "--no-psqlrc", "--dbname", target]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, "PGPASSWORD": password},
        )
        assert process.stdin is not None
        try:
            for chunk in [*first, *stream]:
                process.stdin.write(chunk)
        except BrokenPipeError:
            pass  # the program stopped early; its errors say why
        finally:
            process.stdin.close()
            process.wait()
        errors.seek(0)
        text = errors.read().decode(errors="replace")
    lines = [line for line in text.splitlines() if "error" in line.lower()]
    serious = [line for line in lines if not IGNORABLE.search(line) and not _summary(line)]
    if serious or (process.returncode != 0 and not lines):
        shown = (
            "; ".join(line.strip()[:200] for line in serious[:REPORTED_ERRORS])
            or f"exit {process.returncode}"
        )
        raise RestoreError(f"{database}: loading the restored file failed: {shown}")


def _summary(line: str) -> bool:
    """pg_restore's closing count of the errors it reported one by one."""
    return "errors ignored on restore" in line


def _first_bytes(stream: Iterator[bytes], wanted: int) -> list[bytes]:
    """Chunks from the start of `stream` until they hold `wanted` bytes, joined into one."""
    head = b""
    for chunk in stream:
        head += chunk
        if len(head) >= wanted:
            break
    if not head:
        raise RestoreError("the restored file is empty")
    return [head]


def _program(name: str, bin_dir: Path | None) -> str:
    return str(bin_dir / name) if bin_dir else name
