"""A local primary and streaming standby, for rehearsing a drill's data plane without Azure.

`LocalCluster` runs two PostgreSQL servers from the distribution's binaries, in a temporary folder,
on 127.0.0.1 only: a primary, and a physical standby made from it with `pg_basebackup -R` that
streams WAL from it, as an Azure read replica does. It can hold the standby back (a replica that
stopped receiving, so what the primary writes next is lost on promotion), stop the primary as a
region loss would, and promote the standby.

initdb and postgres refuse to run as root, and CI runs as root: when root, every server program runs
as an unprivileged OS user (`nobody` unless told otherwise) through `setpriv`, and the folder is
owned by that user. Clients (psycopg in this process) connect over TCP with SCRAM passwords.

Nothing outlives the process that started the cluster: each postmaster runs in the foreground as
its child, with a parent-death signal (cli/children.py), so even a SIGKILL of the drill stops both
servers; a folder left behind by a killed run is removed by the next run. The drill role's
password is generated per cluster and never written to disk, a command line, a DSN, a log, a repr
or an exception: the server stores it as a SCRAM verifier it reads from a pipe, pg_basebackup and
the standby's walreceiver read it from their own environment (PGPASSWORD).

initdb's output depends only on the server programs and the options given to it, so it runs once
per process: each cluster starts from a copy of that template (initdb is most of a start-up).
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import psycopg
from psycopg import sql

from cli import children
from cli.exits import UsageError
from cli.secrets import REDACTED, scrub

from .probes import connect

Found = TypeVar("Found")


def poll(check: Callable[[], Found | None], timeout: float, interval: float) -> Found | None:
    """`check()` every `interval` seconds until it returns something other than None, which is
    returned; None once `timeout` seconds have passed without it."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


log = logging.getLogger(__name__)

PG_BIN_DIR = Path(os.environ.get("CONTINUITY_PG_BIN", "/usr/lib/postgresql/15/bin"))
REQUIRED_BINARIES = ("initdb", "pg_basebackup", "postgres")
DEFAULT_OS_USER = "nobody"
FOLDER_PREFIX = "continuity-drill-"
ROLE = "drill"
STANDBY_NAME = "continuity_standby"  # application_name of the standby's walreceiver
COMMAND_TIMEOUT_S = 60.0


def missing_binaries(bin_dir: Path = PG_BIN_DIR) -> list[str]:
    """The server programs a LocalCluster needs that are not there (empty when it can run)."""
    return [name for name in REQUIRED_BINARIES if not os.access(bin_dir / name, os.X_OK)]


class LocalClusterError(RuntimeError):
    pass


class MissingPostgres(UsageError):
    """The PostgreSQL server programs are not installed (exit 2: run bin/setup)."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_folders(root: Path | None = None, prefix: str = FOLDER_PREFIX) -> list[Path]:
    """Remove the folders named `<prefix><pid>-...` whose process is gone (killed before it could
    clean up): by default, the clusters' folders in the temporary folder."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{prefix}*-*"):
        owner = folder.name[len(prefix) :].split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _free_port() -> int:
    # The kernel picks a free port; another process could take it before the server binds, which
    # `_start` detects and retries with a new one.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _conninfo(**params: object) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items())


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802 and 7677), in its own
    form "SCRAM-SHA-256$<iteration count>:<salt>$<StoredKey>:<ServerKey>" (PostgreSQL catalog
    pg_authid, rolpassword). A password "already in ... SCRAM-encrypted format" is "stored as-is"
    (PostgreSQL CREATE ROLE), so the server never sees the password itself. 4096 iterations is
    PostgreSQL's own default (scram_iterations). Generated passwords here are ASCII, which
    SASLprep leaves unchanged."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


# initdb's data folder by (server programs, OS user), made once per process: see `_template`.
_templates: dict[tuple[Path, str | None], Path] = {}
_templates_lock = threading.Lock()


def _remove_template(folder: Path, owner: int) -> None:
    if os.getpid() == owner:  # not from a forked child that inherited the exit handler
        shutil.rmtree(folder, ignore_errors=True)


class _Server:
    """One PostgreSQL data directory and, while running, its postmaster."""

    def __init__(self, name: str, data_dir: Path, log_file: Path):
        self.name = name
        self.data_dir = data_dir
        self.log_file = log_file
        self.port: int | None = None
        self.process: subprocess.Popen[Any] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exited(self, within: float) -> bool:
        """Whether the postmaster has exited, or does within `within` seconds."""
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            return False
        return True

    def dsn(self) -> str:
        if self.port is None:
            raise LocalClusterError(f"the {self.name} server has not been started")
        return _conninfo(host="127.0.0.1", port=self.port, dbname="postgres", user=ROLE)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None


class LocalCluster:
    """A primary and its streaming standby on loopback, removed with everything they wrote on exit.

    Use as a context manager. DSNs have no password: pass `cluster.password` separately.
    """

    def __init__(
        self,
        *,
        bin_dir: Path = PG_BIN_DIR,
        os_user: str | None = None,
        timeout: float = COMMAND_TIMEOUT_S,
        settings: dict[str, str] | None = None,
        standby: bool = True,
        archive: bool = False,
        logins: tuple[str, ...] = (),
    ):
        self.bin_dir = bin_dir
        # A streaming standby (failover drills); a WAL archive and base backups (restore checks).
        self.with_standby = standby
        self.with_archive = archive
        # Extra postgresql.conf settings (values as written in the file), e.g. preloaded libraries.
        self.extra_settings = dict(settings or {})
        # Other roles that may sign in from loopback with a password (tests' non-superuser logins).
        self.logins = logins
        self.timeout = timeout
        self._password = secrets.token_urlsafe(24)
        self._base: Path | None = None
        self._primary: _Server | None = None
        self._standby: _Server | None = None
        self._restored: _Server | None = None
        self._held_back = False
        # Run the servers as another user only when root: a developer's own account can run them.
        self._os_user = os_user or (DEFAULT_OS_USER if os.geteuid() == 0 else None)

    # --- public surface ------------------------------------------------------------------------

    @property
    def password(self) -> str:
        return self._password

    @property
    def primary_dsn(self) -> str:
        return self._server("primary").dsn()

    @property
    def standby_dsn(self) -> str:
        return self._server("standby").dsn()

    @property
    def writer_dsn(self) -> str:
        """The local stand-in for the writer name: libpq tries both servers, in order, and keeps
        the first that accepts writes (`target_session_attrs=read-write`: "the server must not be
        in hot standby mode and the default_transaction_read_only parameter must be off",
        PostgreSQL libpq-connect), so it follows the promotion as the writer name does once the
        failover has moved it."""
        primary, standby = self._server("primary"), self._server("standby")
        if primary.port is None or standby.port is None:
            raise LocalClusterError("the cluster has not been started")
        return _conninfo(
            host="127.0.0.1,127.0.0.1",
            port=f"{primary.port},{standby.port}",
            dbname="postgres",
            user=ROLE,
            target_session_attrs="read-write",
        )

    @property
    def held_back(self) -> bool:
        return self._held_back

    @property
    def restored_dsn(self) -> str:
        return self._server("restored").dsn()

    def _servers(self) -> list[_Server]:
        return [s for s in (self._primary, self._standby, self._restored) if s is not None]

    def __repr__(self) -> str:
        ports = {s.name: s.port for s in self._servers()}
        return f"LocalCluster(base={str(self._base)!r}, ports={ports}, role={ROLE!r}, password={REDACTED!r})"

    __str__ = __repr__

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def server_logs(self) -> dict[str, str]:
        """Each server's log so far (for diagnostics, and to check what the servers wrote)."""
        return {
            s.name: s.log_file.read_text(errors="replace") if s.log_file.exists() else ""
            for s in self._servers()
        }

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        missing = missing_binaries(self.bin_dir)
        if missing:
            raise MissingPostgres(
                f"PostgreSQL server programs missing in {self.bin_dir}: {', '.join(missing)}; "
                "install the Debian package postgresql-15 (bin/setup) or set CONTINUITY_PG_BIN"
            )
        sweep_stale_folders()
        base = self._base = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
        self._own(base)  # mkdtemp made it 0700: private to the server user, and holds its sockets
        self._primary = _Server("primary", base / "primary", base / "primary.log")
        if self.with_archive:
            (base / "archive").mkdir(mode=0o700)
            self._own(base / "archive")

        self._init_primary()
        self._start(self._primary)
        if self.with_standby:
            self._standby = _Server("standby", base / "standby", base / "standby.log")
            self._create_standby()
            self._start(self._standby)
            self._wait_streaming()
        log.info("local cluster up: %s", {s.name: s.port for s in self._servers()})

    def close(self) -> None:
        """Stop whatever still runs and delete the folder; never raises, so it is safe in cleanup."""
        for server in reversed(self._servers()):
            if server.running:
                self._stop(server, mode="fast")
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            log.info("local cluster removed: %s", self._base)
            self._base = None

    # --- replication control ---------------------------------------------------------------------

    def hold_back_standby(self, timeout: float = 30.0) -> None:
        """Stop the standby RECEIVING WAL (not just replaying it), until `release_standby()`.

        Pausing replay is not enough: promotion replays everything already received, so the
        "lost" writes would survive. The standby is pointed at a port nobody listens on, which
        makes its walreceiver restart (PostgreSQL 13+ restarts it when primary_conninfo changes on
        reload), and any walsender left on the primary is terminated. Done only once the primary
        shows no standby connected and the standby's walreceiver, if any, is not the old one.
        """
        if self._held_back:
            return
        dead_port = _free_port()
        self._set_primary_conninfo(self._standby_conninfo(port=dead_port))
        self._held_back = True
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while True:
            with self._connect(self.primary_dsn) as conn:
                senders = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = %s",
                    (STANDBY_NAME,),
                ).fetchall()
            with self._connect(self.standby_dsn) as conn:
                receiver = conn.execute("SELECT status, conninfo FROM pg_stat_wal_receiver").fetchone()
            old_receiver = receiver is not None and f"port={dead_port}" not in (receiver[1] or "").split()
            now = time.monotonic()
            if senders or old_receiver:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            # Disconnected for a whole second, i.e. across the walreceiver's retry interval: a
            # reconnection to the primary would have shown up by then.
            if quiet_since is not None and now - quiet_since >= 1.0:
                log.info(
                    "standby held back: no walsender on the primary, walreceiver aimed at port %s", dead_port
                )
                return
            if now >= deadline:
                raise LocalClusterError(f"standby still connected to the primary after {timeout:g} s")
            time.sleep(0.1)

    def release_standby(self, timeout: float = 30.0) -> None:
        """Reconnect the standby to the primary and wait until it streams again."""
        if not self._held_back:
            return
        self._set_primary_conninfo(self._standby_conninfo())
        self._held_back = False
        self._wait_streaming(timeout)

    def wait_caught_up(self, timeout: float = 30.0) -> str:
        """Wait until the standby has replayed all WAL the primary had written when called; returns that LSN."""
        with self._connect(self.primary_dsn) as conn:
            target = str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]
        replayed = None
        with self._connect(self.standby_dsn) as conn:

            def caught_up() -> str | None:
                nonlocal replayed
                replayed, behind = conn.execute(
                    "SELECT pg_last_wal_replay_lsn(), pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())",
                    (target,),
                ).fetchone()  # type: ignore[misc]
                return target if behind is not None and behind <= 0 else None

            if poll(caught_up, timeout, 0.05) is None:
                raise TimeoutError(
                    f"standby replayed up to {replayed}, primary is at {target}: not caught up within {timeout:g} s"
                )
        return target

    def replication_lag(self) -> tuple[int, float | None]:
        """(bytes, seconds) the standby is behind, from SQL on both servers.

        bytes: primary's current WAL position minus the standby's replay position (measured from
        both ends, so it is right even while the standby is disconnected).
        seconds: 0 when nothing is behind; else the primary's replay_lag for the standby while it
        streams; else, disconnected, the age of the last transaction the standby replayed (an upper
        bound); None when the standby has never replayed a transaction.
        """
        with self._connect(self.primary_dsn) as conn:
            current = str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]
            row = conn.execute(
                "SELECT extract(epoch FROM replay_lag) FROM pg_stat_replication WHERE application_name = %s",
                (STANDBY_NAME,),
            ).fetchone()
            streaming_lag = float(row[0]) if row and row[0] is not None else None
        with self._connect(self.standby_dsn) as conn:
            behind, age = conn.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()),"
                " extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())",
                (current,),
            ).fetchone()  # type: ignore[misc]
        lag_bytes = max(0, int(behind or 0))
        if lag_bytes == 0:
            return 0, 0.0
        if streaming_lag is not None:
            return lag_bytes, streaming_lag
        return lag_bytes, float(age) if age is not None else None

    # --- failover ----------------------------------------------------------------------------------

    def fence_primary(self) -> None:
        """Make the primary refuse writes, as a planned switchover's quiesce does: new transactions
        default to read-only (which libpq's `target_session_attrs=read-write` sees) and every other
        session is ended, so none keeps writing on a connection made before."""
        with self._connect(self.primary_dsn) as conn:
            conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        log.info("primary fenced: read-only for new transactions, client sessions ended")

    def stop_primary(self) -> None:
        """Immediate shutdown, as a region loss: no checkpoint, nothing more sent to the standby."""
        self._stop(self._server("primary"), mode="immediate")

    def promote_standby(self, wait: bool = True, timeout: int = 60) -> bool:
        """`pg_promote()` on the standby; with wait, raise unless it left recovery within `timeout` s."""
        with self._connect(self.standby_dsn) as conn:
            done = bool(conn.execute("SELECT pg_promote(%s, %s)", (wait, timeout)).fetchone()[0])  # type: ignore[index]
        if wait and not done:
            raise TimeoutError(
                f"standby not promoted within {timeout} s:\n{self._server('standby').log_tail()}"
            )
        log.info("standby promotion %s", "done" if wait else "requested")
        return done

    def is_in_recovery(self, dsn: str) -> bool:
        with self._connect(dsn) as conn:
            return bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])  # type: ignore[index]

    # --- backups and point-in-time restore (PostgreSQL "continuous-archiving") ---------------------

    def _archive_settings(self) -> dict[str, str]:
        assert self._base is not None
        archive = self._base / "archive"
        return {
            "archive_mode": "on",
            # Never overwrite a segment already archived ("continuous-archiving": the command "should
            # refuse to overwrite any pre-existing archive file").
            "archive_command": f"'test ! -f {archive}/%f && cp %p {archive}/%f'",
            # Commit times as recovery compares them with recovery_target_time.
            "track_commit_timestamp": "on",
        }

    def base_backup(self) -> Path:
        """A base backup of the primary (pg_basebackup, with the WAL it needs to be consistent)."""
        primary = self._server("primary")
        assert self._base is not None
        folder = self._base / "base-backup"
        shutil.rmtree(folder, ignore_errors=True)  # a later backup replaces an earlier one
        self._run(
            "pg_basebackup", "-D", str(folder), "-h", "127.0.0.1", "-p", str(primary.port), "-U", ROLE,
            "-w", "-X", "stream", "-c", "fast", "--no-sync", env={"PGPASSWORD": self._password},
        )  # fmt: skip
        return folder

    def archive_current_wal(self, timeout: float = 30.0) -> str:
        """Close the current WAL segment and wait until the archiver has copied it; returns its name."""
        with self._connect(self.primary_dsn) as conn:
            segment = str(conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0])  # type: ignore[index]
            row = None

            def archived() -> str | None:
                nonlocal row
                row = conn.execute(
                    "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver"
                ).fetchone()
                # Segment names sort in WAL order within a timeline.
                return segment if row and row[0] is not None and row[0] >= segment else None

            if poll(archived, timeout, 0.05) is None:
                raise LocalClusterError(
                    f"WAL segment {segment} not archived within {timeout:g} s (last archived "
                    f"{row[0] if row else None}, last failed {row[1] if row else None})"
                    f"\nprimary log:\n{self._server('primary').log_tail()}"
                )
        return segment

    def restore(self, backup: Path, target_time: str, timeout: float | None = None) -> None:
        """A new server from `backup` and the archived WAL, recovered to `target_time` (an ISO 8601
        timestamp with its offset) and promoted there, as a point-in-time restore does."""
        assert self._base is not None
        restored = self._restored = _Server("restored", self._base / "restored", self._base / "restored.log")
        self._copy_owned(backup, restored.data_dir)
        archive = self._base / "archive"
        recovery = {
            "restore_command": f"'cp {archive}/%f %p'",
            "recovery_target_time": f"'{target_time}'",
            # Stop at the target and take writes there, as an Azure restored server does.
            "recovery_target_action": "'promote'",
            "archive_mode": "off",  # the restored server must not write into the source's archive
        }
        with open(restored.data_dir / "postgresql.auto.conf", "a") as conf:
            conf.write("".join(f"{k} = {v}\n" for k, v in recovery.items()))
        (restored.data_dir / "recovery.signal").touch()
        self._own(restored.data_dir / "recovery.signal")
        self._start(restored)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                if not self.is_in_recovery(restored.dsn()):
                    break
            except psycopg.OperationalError as error:
                # The server stops with FATAL "recovery ended before configured recovery target was
                # reached" when the archive ends first (PostgreSQL 13 and later; tested on 15 in
                # test_restore_check.py::test_a_point_beyond_the_archive_is_a_clear_failure_not_a_hang);
                # a refused connection may come while it is still shutting down.
                if not restored.exited(within=10.0):
                    raise LocalClusterError(f"the restored server refused a connection: {error}") from None
            if time.monotonic() >= deadline or not restored.running:
                raise LocalClusterError(
                    f"the restored server did not finish recovery to {target_time}\n"
                    f"restored log:\n{restored.log_tail()}"
                )
            time.sleep(0.05)
        log.info("restored server promoted at %s", target_time)

    def discard_restored(self) -> None:
        """Stop the restored server and remove it, as a restore check removes its disposable server."""
        if self._restored is not None:
            self._stop(self._restored, mode="fast")
            shutil.rmtree(self._restored.data_dir, ignore_errors=True)
            self._restored = None

    # --- internals -------------------------------------------------------------------------------

    def _server(self, name: str) -> _Server:
        server = {"primary": self._primary, "standby": self._standby, "restored": self._restored}[name]
        if server is None:
            raise LocalClusterError("the cluster has not been started")
        return server

    def _connect(self, dsn: str) -> psycopg.Connection:
        return connect(dsn, self._password, autocommit=True)

    def _user_ids(self) -> tuple[int, int] | None:
        if self._os_user is None:
            return None
        try:
            entry = pwd.getpwnam(self._os_user)
        except KeyError:
            raise LocalClusterError(
                f"OS user {self._os_user!r} to run PostgreSQL as does not exist"
            ) from None
        return entry.pw_uid, entry.pw_gid

    def _own(self, path: Path) -> None:
        ids = self._user_ids()
        if ids is not None:
            os.chown(path, *ids)

    def _write_private(self, path: Path, text: str) -> None:
        """A file only the server user can read (password files, configuration)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self._own(path)

    def _command(self, program: str, *args: str) -> list[str]:
        group = None
        if self._os_user is not None:
            group = self._group_name()
        return children.command_as(self._os_user, group, [str(self.bin_dir / program), *args])

    def _group_name(self) -> str:
        import grp

        ids = self._user_ids()
        assert ids is not None
        return grp.getgrgid(ids[1]).gr_name

    def _environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        # Nothing of the caller's libpq environment (PGPASSWORD, PGHOST...) leaks into the tools.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        environment.update(extra or {})
        return environment

    def _run(
        self,
        program: str,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        input: str | None = None,
        hidden: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        """Run a server program to completion; `input` is its standard input, and `hidden` are
        values (besides the password) kept out of the error it may raise."""
        command = self._command(program, *args)
        assert self._base is not None
        try:
            done = children.run(
                command,
                cwd=self._base,
                env=self._environment(env),
                capture_output=True,
                text=True,
                timeout=timeout or self.timeout,
                **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}),
            )
        except subprocess.TimeoutExpired:
            raise LocalClusterError(
                f"{program} did not finish within {timeout or self.timeout:g} s"
            ) from None
        if done.returncode != 0:
            output = scrub((done.stderr or done.stdout).strip()[-2000:], [self._password, *hidden])
            raise LocalClusterError(f"{program} failed (exit {done.returncode}): {output}")
        return done

    def _template(self) -> Path:
        """initdb's data folder for these server programs and this OS user, made on first use and
        removed when the process exits (or, if it is killed, by the next `sweep_stale_folders`).
        The role has no password there and pg_hba.conf is replaced: a cluster sets both."""
        key = (self.bin_dir, self._os_user)
        with _templates_lock:
            template = _templates.get(key)
            if template is not None and template.is_dir():
                return template
            folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-template-"))
            atexit.register(_remove_template, folder, os.getpid())
            self._own(folder)
            # --no-sync and locale C: fast, and the same on every machine. 1 MB WAL segments
            # instead of 16: every switch, archive copy and restore copies a sixteenth of the bytes,
            # and nothing here depends on the size ("a power of 2 between 1 and 1024", initdb).
            self._run(
                "initdb",
                "-D",
                str(folder / "data"),
                "-U",
                ROLE,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--wal-segsize=1",
            )
            _templates[key] = folder / "data"
            return folder / "data"

    def _copy_owned(self, source: Path, target: Path) -> None:
        """A copy of a data folder, owned by the server user and private to it, as postgres requires."""
        shutil.copytree(source, target, symlinks=True)
        for path in [target, *target.rglob("*")]:
            self._own(path)
        target.chmod(0o700)

    def _init_primary(self) -> None:
        primary = self._server("primary")
        assert self._base is not None
        self._copy_owned(self._template(), primary.data_dir)
        # Single-user mode: no server listens while the role gets its password, and the verifier
        # arrives on standard input. exit_on_error: a refused statement is a non-zero exit.
        verifier = scram_verifier(self._password)
        self._run(
            "postgres",
            "--single",
            "-D",
            str(primary.data_dir),
            "-c",
            "exit_on_error=on",
            "postgres",
            input=f"ALTER ROLE {ROLE} PASSWORD '{verifier}';\n",
            hidden=(verifier,),
        )
        # Replaces initdb's file: password authentication, from loopback only, nothing else.
        self._write_private(
            primary.data_dir / "pg_hba.conf",
            "\n".join(
                [
                    "# drill.localpg: SCRAM passwords only, loopback only",
                    f"local  all          {ROLE}                 scram-sha-256",
                    f"host   all          {ROLE}  127.0.0.1/32   scram-sha-256",
                    f"host   replication  {ROLE}  127.0.0.1/32   scram-sha-256",
                    *(
                        f'host   all          "{login}"  127.0.0.1/32   scram-sha-256'
                        for login in self.logins
                    ),
                    "",
                ]
            ),
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self._base}'",  # not /var/run/postgresql: root-owned
            "wal_level": "replica",
            "max_wal_senders": "4",
            "wal_keep_size": "'256MB'",  # a held-back standby can catch up again without a slot
            "hot_standby": "on",
            "wal_receiver_status_interval": "'1s'",  # fresher replay_lag / pg_stat_replication
            "wal_retrieve_retry_interval": "'500ms'",  # a released standby reconnects quickly
            "max_connections": "30",
            "shared_buffers": "'16MB'",
            # Dynamic shared memory as files in the data folder ("memory-mapped files stored in the
            # data directory", PostgreSQL runtime-config-resource), not /dev/shm segments: a server
            # killed outright leaves them in its folder, which is removed, instead of in memory.
            "dynamic_shared_memory_type": "mmap",
            "password_encryption": "'scram-sha-256'",
            "log_line_prefix": "'%m [%p] '",
            **(self._archive_settings() if self.with_archive else {}),
            **self.extra_settings,
        }
        with open(primary.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# drill.localpg\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))

    def _standby_conninfo(self, port: int | None = None) -> str:
        primary = self._server("primary")
        # No password here: the standby's walreceiver finds it in its postmaster's environment.
        return _conninfo(
            host="127.0.0.1",
            port=port or primary.port,
            user=ROLE,
            application_name=STANDBY_NAME,
            connect_timeout=5,
        )

    def _create_standby(self) -> None:
        primary, standby = self._server("primary"), self._server("standby")
        assert self._base is not None
        self._run(
            "pg_basebackup",
            "-D",
            str(standby.data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            ROLE,
            "-w",
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
            env={"PGPASSWORD": self._password},
        )
        # -R wrote standby.signal and a primary_conninfo spelling out every libpq option in force,
        # the password from PGPASSWORD included. Replace it with a short one of our own, without
        # the password, which hold_back/release_standby vary.
        auto_conf = standby.data_dir / "postgresql.auto.conf"
        kept = [
            line for line in auto_conf.read_text().splitlines() if not line.startswith("primary_conninfo")
        ]
        kept.append(f"primary_conninfo = '{self._standby_conninfo()}'")
        self._write_private(auto_conf, "\n".join(kept) + "\n")

    def _set_primary_conninfo(self, conninfo: str) -> None:
        with self._connect(self.standby_dsn) as conn:
            conn.execute(sql.SQL("ALTER SYSTEM SET primary_conninfo = {}").format(sql.Literal(conninfo)))
            conn.execute("SELECT pg_reload_conf()")

    def _start(self, server: _Server, attempts: int = 3) -> None:
        """Run the postmaster in the foreground as this process's child, and wait until it accepts
        connections. The port is given on the command line, not in the configuration: the
        standby's copy of postgresql.conf must not inherit the primary's."""
        assert self._base is not None
        # The standby's walreceiver authenticates with the password from its environment.
        env = {"PGPASSWORD": self._password} if server.name == "standby" else None
        for attempt in range(1, attempts + 1):
            server.port = _free_port()
            with open(server.log_file, "ab") as log_file:
                server.process = children.popen(
                    self._command("postgres", "-D", str(server.data_dir), "-p", str(server.port)),
                    cwd=self._base,
                    env=self._environment(env),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_accepting(server):
                return
            if "already in use" in server.log_tail() and attempt < attempts:
                log.warning(
                    "port %s was taken before the %s server bound it; retrying", server.port, server.name
                )
                continue
            self._stop(server, "immediate")
            raise LocalClusterError(
                f"the {server.name} server did not start\n{server.name} log:\n{server.log_tail()}"
            )

    def _wait_accepting(self, server: _Server) -> bool:
        def settled() -> bool | None:
            """True once it accepts connections, False if it exited, None while it starts."""
            if not server.running:
                return False
            pid_file = server.data_dir / "postmaster.pid"
            lines = pid_file.read_text().splitlines() if pid_file.exists() else []
            # postmaster.pid's eighth line is the status, "ready" once it accepts connections.
            return True if len(lines) >= 8 and lines[7].strip() in ("ready", "standby") else None

        return poll(settled, self.timeout, 0.05) is True

    # Shutdown modes as the postmaster's signals: smart, fast and immediate (PostgreSQL "server-shutdown").
    _SHUTDOWN_SIGNALS: ClassVar[dict[str, signal.Signals]] = {
        "smart": signal.SIGTERM,
        "fast": signal.SIGINT,
        "immediate": signal.SIGQUIT,
    }

    def _stop(self, server: _Server, mode: str) -> None:
        """Stop a server; escalate to immediate, then to SIGKILL of its postmaster."""
        process = server.process
        if process is None or process.poll() is not None:
            server.process = None
            return
        for how in dict.fromkeys([mode, "immediate"]):
            try:
                process.send_signal(self._SHUTDOWN_SIGNALS[how])
                process.wait(timeout=30)
                log.info("%s server stopped (%s)", server.name, how)
                server.process = None
                return
            except subprocess.TimeoutExpired:
                log.warning("the %s server did not stop (%s) within 30 s", server.name, how)
            except OSError:
                break
        process.kill()
        process.wait()
        server.process = None

    def _wait_streaming(self, timeout: float = 30.0) -> None:
        state = "absent"

        def streaming() -> bool | None:
            nonlocal state
            with self._connect(self.primary_dsn) as conn:
                row = conn.execute(
                    "SELECT state FROM pg_stat_replication WHERE application_name = %s", (STANDBY_NAME,)
                ).fetchone()
            state = row[0] if row is not None else "absent"
            return True if state == "streaming" else None

        if poll(streaming, timeout, 0.1) is None:
            raise LocalClusterError(
                f"standby not streaming after {timeout:g} s (state {state})"
                f"\nstandby log:\n{self._server('standby').log_tail()}"
            )
