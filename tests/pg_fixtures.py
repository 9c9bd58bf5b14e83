"""Helpers for tests that run real PostgreSQL servers (drill.localpg)."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

import psycopg
import pytest

from drill.localpg import PG_BIN_DIR, missing_binaries
from drill.probes import connect

KNOWLEDGE_TABLE = "knowledge.documents"  # schema-qualified on purpose
OPERATIONAL_TABLE = "public.decision_log"


def require_postgres() -> None:
    """Skip, saying why, when the PostgreSQL 15 server programs are not installed."""
    missing = missing_binaries()
    if missing:
        pytest.skip(
            f"PostgreSQL server programs not found in {PG_BIN_DIR} ({', '.join(missing)}): "
            "install the Debian package postgresql-15 (bin/setup) or set CONTINUITY_PG_BIN"
        )


def require_pg_cron() -> None:
    """Skip, saying why, when pg_cron (the heartbeat job's scheduler) is not installed."""
    require_postgres()
    if not (PG_BIN_DIR.parent / "lib" / "pg_cron.so").exists():
        pytest.skip("pg_cron not found: install the Debian package postgresql-15-cron (bin/setup)")


class LogCapture(logging.Handler):
    """Every record the drill package logs, formatted, for module-scoped fixtures (caplog is per test)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def capture_drill_logs() -> Iterator[LogCapture]:
    handler = LogCapture()
    logger = logging.getLogger("drill")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def create_integrity_tables(dsn: str, password: str) -> str:
    """A pgvector-style knowledge table and a plain operational table, with awkward contents.

    Returns the embedding column's type. pgvector is not installable on this machine (no Debian
    package for PostgreSQL 15 on bookworm): when `CREATE EXTENSION vector` fails the column is
    `real[]`, which snapshot() handles the same way (through the row's text form), and a warning
    says so in the test report.
    """
    with connect(dsn, password, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            embedding = "vector(3)"
        except psycopg.Error as exc:
            embedding = "real[]"
            warnings.warn(
                f"pgvector unavailable ({str(exc).strip().splitlines()[0]}): the knowledge table's "
                "embedding column is real[] as a stand-in",
                stacklevel=2,
            )
        conn.execute("CREATE SCHEMA knowledge")
        conn.execute(
            f"CREATE TABLE {KNOWLEDGE_TABLE} (id bigint PRIMARY KEY, body text, embedding {embedding})"
        )
        conn.execute(
            f"CREATE TABLE {OPERATIONAL_TABLE} (id bigserial PRIMARY KEY, decided_at timestamptz"
            " DEFAULT clock_timestamp(), decision text NOT NULL, details jsonb)"
        )
        # Inserted out of order, with NULLs, newlines, quotes and non-ASCII text, and floats whose
        # text form must be stable: the checksum must not depend on any of it.
        vectors = {3: [0.1, -1.5e-07, 3.0], 1: [1.0, 2.0, 3.0], 2: None, 4: [1 / 3, 0.0, -0.0]}
        bodies = {
            3: "runbook: promote the replica",
            1: "line one\nline two",
            2: 'Zürich "quoted" ,comma',
            4: None,
        }
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {KNOWLEDGE_TABLE} VALUES (%s, %s, %s::text::{embedding})",
                [(key, bodies[key], _embedding_literal(vectors[key], embedding)) for key in vectors],
            )
        conn.execute(
            f"INSERT INTO {OPERATIONAL_TABLE} (decision, details) VALUES"
            " ('scale out', '{\"nodes\": 3}'), ('rotate key', NULL), ('failover drill', '{\"a\": [1, 2]}')"
        )
    return embedding


def _embedding_literal(values: list[float] | None, embedding: str) -> str | None:
    if values is None:
        return None
    text = ",".join(repr(v) for v in values)
    return f"[{text}]" if embedding.startswith("vector") else f"{{{text}}}"
