"""`python -m tenancy`: project isolation inside the databases.

sql     the idempotent SQL for one logical database of a stack, from its continuity:tenancy;
        apply it through the writer name after `pulumi up` and after the application's migrations:
          python -m tenancy sql --stack prod --database knowledge | psql "$WRITER_DSN" -v ON_ERROR_STOP=1
apply   the same SQL through CONTINUITY_TENANCY_DSN (all or nothing), then `check`
check   what a database's own catalog shows of isolation (tenancy/catalog.py); exit 1 on a problem
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from cli.exits import EXIT_CODES_HELP, Exit, UsageError, UsageParser, dispatch, run
from cli.outputs import check_destinations, write
from cli.stack_settings import stack_settings

from .catalog import isolation_report
from .sql import TenancySql, tenancy_sql

DSN_ENV = "CONTINUITY_TENANCY_DSN"


def _tenancy_sql(args: argparse.Namespace) -> TenancySql:
    settings = stack_settings(args.stack)
    if settings.tenancy is None:
        raise UsageError(f"--stack {args.stack}: Pulumi.{args.stack}.yaml declares no continuity:tenancy")
    logical = sorted({name for database in settings.databases.values() for name in database.databases})
    if args.database not in logical:
        raise UsageError(
            f"--database {args.database}: stack {args.stack} has no such database (it has: {', '.join(logical)})"
        )
    try:
        return tenancy_sql(settings.tenancy, args.database, plain=args.plain)
    except ValueError as error:
        raise UsageError(f"--database {args.database}: {error}") from None


def cmd_sql(args: argparse.Namespace) -> int:
    check_destinations({"--json": args.json})
    result = _tenancy_sql(args)
    if args.json:
        write(args.json, json.dumps(result.to_json(), indent=2))
    else:
        sys.stdout.write(result.sql)
    return Exit.OK


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _connect() -> Any:
    import psycopg

    dsn = os.environ.get(DSN_ENV)
    if not dsn:
        raise UsageError(
            f"{DSN_ENV}: set it to the database's connection string (its password from PGPASSWORD)"
        )
    try:
        return psycopg.connect(dsn, autocommit=True)
    except psycopg.Error as error:
        raise UsageError(f"{DSN_ENV}: {_first_line(error)}") from None


def cmd_apply(args: argparse.Namespace) -> int:
    """The SQL through the writer (one transaction: all of it or nothing), then the catalog check."""
    import psycopg

    check_destinations({"--json": args.json})
    sql = _tenancy_sql(args).sql
    with _connect() as conn:
        try:
            conn.execute(sql)
        except psycopg.Error as error:
            raise UsageError(f"--database {args.database}: nothing applied: {_first_line(error)}") from None
    sys.stderr.write(f"applied project isolation to database {args.database}\n")
    return cmd_check(args)


def cmd_check(args: argparse.Namespace) -> int:
    import psycopg

    check_destinations({"--json": args.json})
    with _connect() as conn:
        try:
            report = isolation_report(conn)
        except psycopg.Error as error:
            raise UsageError(f"{DSN_ENV}: {_first_line(error)}") from None
    if args.json:
        write(args.json, json.dumps(report.to_json(), indent=2))
    else:
        lines = [f"tenant-scoped tables: {', '.join(report.tables) or 'none'}"]
        lines += [f"project roles: {', '.join(f'{p} ({r})' for p, r in report.projects.items()) or 'none'}"]
        lines += [f"PROBLEM: {problem}" for problem in report.problems] or ["isolation holds"]
        sys.stdout.write("\n".join(lines) + "\n")
    return Exit.FAILED if report.problems else Exit.OK


def parser() -> argparse.ArgumentParser:
    root = UsageParser(
        prog="python -m tenancy",
        description="Project isolation inside the databases.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True, parser_class=UsageParser)
    sql = commands.add_parser("sql", help="the idempotent isolation SQL for one database")
    sql.add_argument("--stack", default="prod", help="whose continuity:tenancy (default prod)")
    sql.add_argument(
        "--database", required=True, help="the logical database (a name in databases.<key>.databases)"
    )
    sql.add_argument("--json", help='write {"roles", "tables", "sql"} to FILE, or - for standard output')
    sql.add_argument("--plain", action="store_true", help="leave out the Azure-only Entra statements")
    sql.set_defaults(func=cmd_sql)
    apply = commands.add_parser("apply", help=f"apply the SQL through {DSN_ENV}, then check")
    apply.add_argument("--stack", default="prod", help="whose continuity:tenancy (default prod)")
    apply.add_argument("--database", required=True, help="the logical database the connection string names")
    apply.add_argument("--plain", action="store_true", help="leave out the Azure-only Entra statements")
    apply.add_argument("--json", help="write the check's report to FILE, or - for standard output")
    apply.set_defaults(func=cmd_apply)
    check = commands.add_parser("check", help=f"isolation as the database's catalog shows it ({DSN_ENV})")
    check.add_argument("--json", help="write the report to FILE, or - for standard output")
    check.set_defaults(func=cmd_check)
    return root


def main(argv: Sequence[str]) -> int:
    return dispatch(parser(), argv)


if __name__ == "__main__":
    sys.exit(run("tenancy", main))
