"""Loading a long-term-retention file into a server (drill/dump_load.py) on real PostgreSQL 15: a
pg_dump archive and a plain script both arrive whole, chunk boundaries do not matter, the errors
Microsoft says to ignore are ignored and any other error fails the load, naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from drill.azure_restore import RestoreError
from drill.dump_load import ARCHIVE_MAGIC, IGNORABLE, load_dump, require_client
from drill.localpg import PG_BIN_DIR, LocalCluster
from pg_fixtures import require_postgres

ROWS = [(1, "pgvector on flexible server"), (2, "geo-redundant backup"), (3, "ünïcödé ✓")]


@pytest.fixture(scope="module")
def cluster():
    require_postgres()
    with LocalCluster(standby=False) as local:
        with psycopg.connect(local.primary_dsn, password=local.password, autocommit=True) as conn:
            conn.execute("CREATE DATABASE source")
        with psycopg.connect(
            make_conninfo(local.primary_dsn, dbname="source"), password=local.password
        ) as conn:
            conn.execute("CREATE TABLE public.documents (id int PRIMARY KEY, body text NOT NULL)")
            conn.cursor().executemany("INSERT INTO public.documents VALUES (%s, %s)", ROWS)
        yield local


def dump(cluster: LocalCluster, *options: str) -> bytes:
    """pg_dump of the source database, as Azure Backup takes it ("native pg_dump")."""
    return subprocess.run(
        [
            str(PG_BIN_DIR / "pg_dump"),
            *options,
            "--dbname",
            make_conninfo(cluster.primary_dsn, dbname="source"),
        ],
        capture_output=True,
        check=True,
        env={**os.environ, "PGPASSWORD": cluster.password},
    ).stdout


def rows(cluster: LocalCluster, database: str) -> list[tuple]:
    with psycopg.connect(
        make_conninfo(cluster.primary_dsn, dbname=database), password=cluster.password
    ) as conn:
        return conn.execute("SELECT id, body FROM public.documents ORDER BY id").fetchall()


def chunked(content: bytes, size: int) -> list[bytes]:
    return [content[i : i + size] for i in range(0, len(content), size)]


@pytest.mark.parametrize("chunk", [3, 4096], ids=["3-byte chunks", "4 KiB chunks"])
def test_a_custom_format_archive_is_restored_whole(cluster, chunk):
    archive = dump(cluster, "--format=custom")
    assert archive.startswith(ARCHIVE_MAGIC)
    database = f"restored_custom_{chunk}"
    load_dump(chunked(archive, chunk), cluster.primary_dsn, cluster.password, database, bin_dir=PG_BIN_DIR)
    assert rows(cluster, database) == ROWS


def test_a_plain_script_goes_to_psql(cluster):
    script = dump(cluster, "--format=plain", "--no-owner")
    load_dump(
        chunked(script, 1000), cluster.primary_dsn, cluster.password, "restored_plain", bin_dir=PG_BIN_DIR
    )
    assert rows(cluster, "restored_plain") == ROWS


def test_an_error_that_matters_fails_the_load_and_names_it(cluster):
    script = b"CREATE TABLE public.documents (id int PRIMARY KEY);\nINSERT INTO public.nowhere VALUES (1);\n"
    with pytest.raises(RestoreError) as error:
        load_dump([script], cluster.primary_dsn, cluster.password, "restored_bad", bin_dir=PG_BIN_DIR)
    assert str(error.value) == (
        'restored_bad: loading the restored file failed: ERROR:  relation "public.nowhere" does not exist'
    )


def test_the_new_database_is_made_from_the_servers_own_postgres_database(cluster):
    """The admin connection string names the database being restored, which does not exist yet."""
    target = make_conninfo(cluster.primary_dsn, dbname="restored_named")
    load_dump(
        [dump(cluster, "--format=custom")], target, cluster.password, "restored_named", bin_dir=PG_BIN_DIR
    )
    assert rows(cluster, "restored_named") == ROWS


def test_a_runners_psqlrc_does_not_change_the_load(cluster, tmp_path, monkeypatch, capfd):
    rc = tmp_path / "psqlrc"
    rc.write_text("\\set AUTOCOMMIT off\n")  # would roll the whole script back when psql ends
    monkeypatch.setenv("PSQLRC", str(rc))
    script = dump(cluster, "--format=plain", "--no-owner")
    load_dump([script], cluster.primary_dsn, cluster.password, "restored_psqlrc", bin_dir=PG_BIN_DIR)
    assert rows(cluster, "restored_psqlrc") == ROWS
    assert capfd.readouterr().out == "", "psql's command tags are not the check's output"


def fake_program(directory, name: str, stderr: bytes, exit_code: int, stdout: str = ""):
    """A stand-in for pg_restore or psql that swallows its input, writes `stdout` and `stderr`, exits."""
    (directory / f"{name}.stderr").write_bytes(stderr)
    program = directory / name
    program.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        "if '--version' not in sys.argv:\n"
        "    sys.stdin.buffer.read()\n"
        f"sys.stdout.write({stdout!r})\n"
        f"sys.stderr.buffer.write(pathlib.Path({str(directory / (name + '.stderr'))!r}).read_bytes())\n"
        f"sys.exit({exit_code})\n"
    )
    program.chmod(0o755)


ARCHIVE = ARCHIVE_MAGIC + b" an archive"


def test_a_silent_failure_is_still_a_failure(cluster, tmp_path):
    fake_program(tmp_path, "pg_restore", b"", 3)
    with pytest.raises(RestoreError) as error:
        load_dump([ARCHIVE], cluster.primary_dsn, cluster.password, "restored_silent", bin_dir=tmp_path)
    assert str(error.value) == "restored_silent: loading the restored file failed: exit 3"


def test_pg_restores_closing_count_of_ignorable_errors_is_not_an_error(cluster, tmp_path):
    fake_program(
        tmp_path,
        "pg_restore",
        b'pg_restore: error: could not execute query: ERROR:  extension "pg_aadauth" is not available\n'
        b"pg_restore: warning: errors ignored on restore: 1\n",
        1,
    )
    load_dump([ARCHIVE], cluster.primary_dsn, cluster.password, "restored_counted", bin_dir=tmp_path)


def test_reported_errors_are_cut_short_and_need_not_be_utf8(cluster, tmp_path):
    long = b"pg_restore: error: could not execute query: ERROR:  " + b"x" * 300 + b"\n"
    fake_program(tmp_path, "pg_restore", long + b"pg_restore: error: \xff not utf-8\n", 1)
    with pytest.raises(RestoreError) as error:
        load_dump([ARCHIVE], cluster.primary_dsn, cluster.password, "restored_long", bin_dir=tmp_path)
    first = long.decode().strip()[:200]
    assert (
        str(error.value)
        == f"restored_long: loading the restored file failed: {first}; pg_restore: error: \ufffd not utf-8"
    )


def test_without_a_directory_the_programs_come_from_the_path(cluster, tmp_path, monkeypatch):
    fake_program(tmp_path, "pg_restore", b"pg_restore: error: the one on PATH\n", 1)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(RestoreError, match="the one on PATH"):
        load_dump([ARCHIVE], cluster.primary_dsn, cluster.password, "restored_path")


def test_errors_microsoft_says_to_ignore_do_not_fail_the_load(cluster):
    script = (
        b"CREATE EXTENSION IF NOT EXISTS pg_aadauth;\n"
        b"CREATE TABLE public.documents (id int PRIMARY KEY, body text NOT NULL);\n"
        b"INSERT INTO public.documents VALUES (1, 'kept');\n"
    )
    load_dump([script], cluster.primary_dsn, cluster.password, "restored_ignorable", bin_dir=PG_BIN_DIR)
    assert rows(cluster, "restored_ignorable") == [(1, "kept")]


def test_an_empty_file_is_refused(cluster):
    with pytest.raises(RestoreError, match=r"^the restored file is empty$"):
        load_dump([b""], cluster.primary_dsn, cluster.password, "restored_empty", bin_dir=PG_BIN_DIR)


def test_the_password_reaches_the_program_only_through_its_environment(cluster, monkeypatch):
    archive = dump(cluster, "--format=custom")
    seen = []
    real = subprocess.Popen

    def spy(command, **kwargs):
        seen.append((command, kwargs["env"].get("PGPASSWORD")))
        return real(command, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spy)
    load_dump(
        [archive],
        cluster.primary_dsn,
        cluster.password,
        "restored_env",
        bin_dir=PG_BIN_DIR,
    )
    ((command, password),) = seen
    assert password == cluster.password and not any(cluster.password in part for part in command)


@pytest.mark.parametrize(
    "line, ignorable",
    [
        (
            'pg_restore: error: could not execute query: ERROR:  extension "pg_aadauth" is not allow-listed',
            True,
        ),
        ('pg_restore: error: could not execute query: ERROR:  role "azure_pg_admin" already exists', True),
        ("pg_restore: error: could not execute query: ERROR:  must be superuser to create superusers", True),
        (
            'pg_restore: error: could not execute query: ERROR:  relation "public.documents" does not exist',
            False,
        ),
        ('pg_restore: error: could not execute query: ERROR:  role "app" already exists', False),
    ],
)
def test_only_the_documented_errors_are_ignorable(line, ignorable):
    assert bool(IGNORABLE.search(line)) is ignorable


def test_the_client_must_be_at_least_the_servers_major_version(tmp_path):
    require_postgres()
    require_client(15, bin_dir=PG_BIN_DIR)
    require_client(14, bin_dir=PG_BIN_DIR)
    with pytest.raises(RestoreError, match=r"pg_restore is PostgreSQL 15, older than the server's 16"):
        require_client(16, bin_dir=PG_BIN_DIR)
    with pytest.raises(RestoreError, match=r"pg_restore cannot run: install PostgreSQL client programs 16"):
        require_client(16, bin_dir=tmp_path)


def test_a_plain_script_goes_to_the_psql_of_the_directory_given(cluster, tmp_path):
    fake_program(tmp_path, "psql", b"psql: error: the one in the directory\n", 0)
    with pytest.raises(RestoreError, match="the one in the directory"):
        load_dump([b"SELECT 1;"], cluster.primary_dsn, cluster.password, "restored_dir", bin_dir=tmp_path)


@pytest.mark.parametrize(
    "printed, shown", [("pg_restore from somewhere", "pg_restore from somewhere"), ("", "unknown")]
)
def test_a_client_that_does_not_say_its_version_is_refused_saying_what_it_said(tmp_path, printed, shown):
    fake_program(tmp_path, "pg_restore", b"", 0, stdout=printed)
    with pytest.raises(RestoreError) as error:
        require_client(16, bin_dir=tmp_path)
    assert str(error.value) == (
        f"{tmp_path}/pg_restore is PostgreSQL {shown}, older than the server's 16: "
        "install PostgreSQL client programs 16 or later"
    )
