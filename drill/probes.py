"""Data-plane probes of a drill: heartbeats (for RPO and RTO) and table snapshots (for integrity).

Everything here talks to PostgreSQL through psycopg 3 and nothing else, so the same probes run
against Azure flexible servers and against the local clusters of `drill.localpg`.

Passwords: a DSN never carries one. It is passed separately (`password=`), or comes from libpq's
usual PGPASSWORD / passfile when None, and it is scrubbed from any error raised through `connect`.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from cli import clock
from cli.clock import Clock
from cli.secrets import scrub

HEARTBEAT_TABLE = "continuity_heartbeat"
# One writer id shared by every HeartbeatWriter of a drill, so a resumed drill (a new writer that is
# handed the earlier acks) continues the same sequence; the RTO probe writes under its own id, so its
# rows never count as drill heartbeats.
DRILL_WRITER = "drill"
PROBE_WRITER = "rto-probe"

CONNECT_TIMEOUT_S = 5
# Bounds every statement, and a commit stuck waiting for a synchronous standby that went away.
STATEMENT_TIMEOUT_MS = 30_000

# Unquoted-identifier shape: table names come from config and command lines, and a name that needs
# quoting to mean anything is far more likely a mistake than a real table.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")


def utcnow() -> dt.datetime:
    return clock.system()


# --- connections ---------------------------------------------------------------------------------


def _scrub(text: str, password: str | None) -> str:
    return scrub(text, [password])


def connect(
    dsn: str,
    password: str | None = None,
    *,
    autocommit: bool = False,
    connect_timeout: int = CONNECT_TIMEOUT_S,
) -> psycopg.Connection:
    """Open a connection with bounded connect and statement times.

    libpq and psycopg do not put the password in their messages today; this guarantees it anyway
    (an error echoing a malformed connection string would), since drill errors end up in evidence.
    """
    params: dict[str, Any] = conninfo_to_dict(dsn)
    params.setdefault("connect_timeout", connect_timeout)
    if password is not None:
        params["password"] = password
    try:
        conn = psycopg.Connection.connect(autocommit=autocommit, **params)
        try:
            # Set after connecting rather than as a startup `options` parameter, which PgBouncer
            # (Azure's built-in pooler) refuses.
            conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{STATEMENT_TIMEOUT_MS}ms",))
            if not autocommit:
                conn.commit()
        except BaseException:
            conn.close()
            raise
        return conn
    except psycopg.Error as exc:
        if not (password and (password in str(exc) or password in repr(exc.args))):
            raise
        # Same class, so callers' retry decisions do not change.
        scrubbed = type(exc)(_scrub(str(exc), password))
    # Raised outside the handler so that the original error is not even kept as __context__.
    raise scrubbed


def address(dsn: str) -> str:
    """host and port of a DSN, for evidence (a DSN may name a user and options worth less there)."""
    params = conninfo_to_dict(dsn)
    host, port = str(params.get("host", "")), str(params.get("port", ""))
    return f"host={host}" + (f" port={port}" if port else "")


def is_retryable(exc: BaseException) -> bool:
    """Errors a server in the middle of a failover gives: unreachable, starting up, or read-only."""
    return isinstance(exc, (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction))


def table_identifier(name: str) -> sql.Identifier:
    """`table` or `schema.table`, validated and quoted, never interpolated as text."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.fullmatch(part) for part in parts):
        raise ValueError(
            f"not a table name (expected `table` or `schema.table` of letters, digits, _ or $): {name!r}"
        )
    return sql.Identifier(*parts)


# --- heartbeats ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """One acknowledged heartbeat: the client saw its COMMIT succeed."""

    seq: int
    committed_at: dt.datetime  # server clock_timestamp() of the insert, from RETURNING
    acked_at: dt.datetime  # client clock when the commit returned


class HeartbeatWriter:
    """Writes numbered heartbeats, one transaction each, and remembers which were acknowledged.

    A heartbeat is acknowledged only once COMMIT has returned: a write that fails at any point,
    including a commit whose outcome is unknown, is not in `acks` (it may or may not be on the
    server, which is why RPO counts only acknowledged heartbeats as losses).
    """

    def __init__(
        self,
        dsn: str,
        password: str | None = None,
        table: str = HEARTBEAT_TABLE,
        writer_id: str = DRILL_WRITER,
        clock: Clock = utcnow,
    ):
        self.dsn = dsn
        self.clock = clock  # stamps each ack: the drill's clock, the one every RTO timestamp uses
        self.table = table
        self.writer_id = writer_id
        self.acks: list[Ack] = []
        self._identifier = table_identifier(table)
        self._password = password
        self._conn: psycopg.Connection | None = None
        # Highest seq ever tried: a failed write's seq is not reused, since it may have committed.
        self._highest_tried = 0

    def __repr__(self) -> str:
        return f"HeartbeatWriter(dsn={self.dsn!r}, table={self.table!r}, writer_id={self.writer_id!r}, acks={len(self.acks)})"

    @property
    def last_ack(self) -> Ack | None:
        return self.acks[-1] if self.acks else None

    def ensure_table(self) -> None:
        """Create the heartbeat table if missing; continue after any seq this writer already stored."""
        with connect(self.dsn, self._password, autocommit=True) as conn:
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " writer text NOT NULL, seq bigint NOT NULL, committed_at timestamptz NOT NULL,"
                    " PRIMARY KEY (writer, seq))"
                ).format(self._identifier)
            )
            row = conn.execute(
                sql.SQL("SELECT coalesce(max(seq), 0) FROM {} WHERE writer = %s").format(self._identifier),
                (self.writer_id,),
            ).fetchone()
            self._highest_tried = max(self._highest_tried, int(row[0]) if row else 0)

    def _next_seq(self) -> int:
        # `acks` may have been extended by the caller (a resumed drill): continue after them too.
        return max(self._highest_tried, max((a.seq for a in self.acks), default=0)) + 1

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.dsn, self._password, autocommit=False)
        return self._conn

    def write(self, seq: int | None = None) -> Ack:
        """Insert one heartbeat and commit it; returns the Ack, or raises (and nothing is acked)."""
        seq = self._next_seq() if seq is None else seq
        self._highest_tried = max(self._highest_tried, seq)
        try:
            conn = self._connection()
            row = conn.execute(
                sql.SQL(
                    "INSERT INTO {} (writer, seq, committed_at) VALUES (%s, %s, clock_timestamp()) RETURNING committed_at"
                ).format(self._identifier),
                (self.writer_id, seq),
            ).fetchone()
            conn.commit()
        except psycopg.Error:
            # The connection may be half-dead (server gone, or in an aborted transaction): start
            # the next write on a fresh one.
            self.close()
            raise
        assert row is not None
        ack = Ack(seq, row[0], self.clock())
        self.acks.append(ack)
        return ack

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def __enter__(self) -> HeartbeatWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_heartbeats(
    dsn: str, password: str | None = None, table: str = HEARTBEAT_TABLE, writer: str | None = DRILL_WRITER
) -> list[tuple[int, dt.datetime]]:
    """(seq, committed_at) of the heartbeats present, by seq; `writer=None` reads every writer's."""
    query = sql.SQL("SELECT seq, committed_at FROM {}").format(table_identifier(table))
    params: tuple[Any, ...] = ()
    if writer is not None:
        query += sql.SQL(" WHERE writer = %s")
        params = (writer,)
    query += sql.SQL(" ORDER BY seq")
    with connect(dsn, password, autocommit=True) as conn:
        return [(int(seq), at) for seq, at in conn.execute(query, params).fetchall()]


@dataclass(frozen=True)
class FirstWrite:
    """The end of the RTO: the first heartbeat acknowledged on the promoted server.

    `elsewhere` are heartbeats the writer name acknowledged before it reached the promoted server:
    the name still led to the old primary, which accepted them (an unfenced planned drill, or DNS
    not moved yet). They are split-brain writes an application would have made, and are reported.
    """

    ack: Ack
    elsewhere: tuple[Ack, ...] = ()


def _landed(dsn: str, password: str | None, table: str, writer_id: str, seq: int) -> bool:
    with connect(dsn, password, autocommit=True) as conn:
        row = conn.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE writer = %s AND seq = %s)").format(
                table_identifier(table)
            ),
            (writer_id, seq),
        ).fetchone()
    return bool(row and row[0])


def first_acknowledged_write(
    dsn: str,
    password: str | None = None,
    timeout: float = 600.0,
    interval: float = 0.2,
    table: str = HEARTBEAT_TABLE,
    writer_id: str = PROBE_WRITER,
    *,
    landed_on: str | None = None,
    clock: Clock = utcnow,
) -> FirstWrite:
    """Retry a heartbeat through `dsn` until one is acknowledged by the promoted server (end of RTO).

    `dsn` is what applications use: the writer name (or, locally, its stand-in). With `landed_on`
    (the promoted server's own address), an acknowledged heartbeat counts only once it is read back
    there; one that is not went to another server, and the next attempt reconnects, so the name is
    resolved again. Without it, `dsn` is the promoted server itself.

    Retried: connection failures and server-side unavailability (OperationalError, e.g. refused,
    starting up, shutting down) and read-only errors (still in recovery). Anything else, e.g. a
    missing table, is a broken drill and is raised at once. Each attempt uses a new seq derived
    from the clock (microseconds), so probe rows never collide, across attempts or drills.
    """
    deadline = time.monotonic() + timeout
    last_error = "no attempt made"
    elsewhere: list[Ack] = []
    writer = HeartbeatWriter(dsn, password, table, writer_id, clock)
    try:
        while True:
            try:
                ack = writer.write(seq=time.time_ns() // 1_000)
                if landed_on is None or _landed(landed_on, password, table, writer_id, ack.seq):
                    return FirstWrite(ack, tuple(elsewhere))
                elsewhere.append(ack)
                writer.close()  # the next attempt connects, and resolves the name, afresh
                last_error = "acknowledged by a server other than the promoted one"
            except psycopg.Error as exc:
                if not is_retryable(exc):
                    raise
                writer.close()  # e.g. the read-back failed: do not keep a connection that may be elsewhere
                last_error = f"{type(exc).__name__}: {_scrub(str(exc), password)}".strip()
            if time.monotonic() + interval >= deadline:
                raise TimeoutError(
                    f"no heartbeat acknowledged by {dsn} within {timeout:g} s; last error: {last_error}"
                )
            time.sleep(interval)
    finally:
        writer.close()


# --- integrity -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSnapshot:
    table: str
    row_count: int
    checksum: str  # md5 over the rows' text forms, in byte order


def snapshot(dsn: str, password: str | None, tables: Iterable[str]) -> list[TableSnapshot]:
    """Row count and checksum of each table, all read in one consistent (repeatable-read) snapshot.

    Rows are compared through their text form (`t::text`), so any column type works, pgvector's
    `vector` included, without knowing the schema. Ordering by that text under the "C" collation
    makes the checksum independent of physical row order and of the database's collation. The
    aggregate holds a table's text in memory: meant for drill-sized tables, not for terabytes.
    """
    names = list(tables)
    identifiers = [table_identifier(name) for name in names]  # validate all before connecting
    query = sql.SQL(
        "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\"), ''))"
        " FROM {} AS t"
    )
    result = []
    with connect(dsn, password) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True  # also works on a standby
        with conn.transaction():
            for name, identifier in zip(names, identifiers, strict=False):
                row = conn.execute(query.format(identifier)).fetchone()
                assert row is not None
                result.append(TableSnapshot(name, int(row[0]), str(row[1])))
    return result


def compare(before: Sequence[TableSnapshot], after: Sequence[TableSnapshot]) -> list[str]:
    """What differs between two snapshots, one line per difference; empty when identical."""
    differences = []
    later = {s.table: s for s in after}
    for old in before:
        new = later.pop(old.table, None)
        if new is None:
            differences.append(f"{old.table}: missing after (had {old.row_count} rows)")
        elif old.row_count != new.row_count:
            differences.append(f"{old.table}: row count {old.row_count} -> {new.row_count}")
        elif old.checksum != new.checksum:
            differences.append(
                f"{old.table}: same row count ({old.row_count}) but contents differ "
                f"(checksum {old.checksum} -> {new.checksum})"
            )
    differences.extend(f"{table}: only in the later snapshot" for table in later)
    return differences
