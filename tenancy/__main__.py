"""`python -m tenancy`: project isolation inside the databases.

sql     the idempotent SQL for one logical database of a stack, from its continuity:tenancy;
        apply it through the writer name after `pulumi up` and after the application's migrations:
          python -m tenancy sql --stack prod --database knowledge | psql "$WRITER_DSN" -v ON_ERROR_STOP=1
check   what a database's own catalog shows of isolation (tenancy/catalog.py); exit 1 on a problem
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from cli.exits import EXIT_CODES_HELP, Exit, UsageError, UsageParser, run
from cli.outputs import check_destinations, write
from cli.stack_settings import stack_settings

from .catalog import isolation_report
from .sql import tenancy_sql

DSN_ENV = "CONTINUITY_TENANCY_DSN"


def cmd_sql(args: argparse.Namespace) -> int:
    check_destinations({"--json": args.json})
    settings = stack_settings(args.stack)
    if settings.tenancy is None:
        raise UsageError(f"--stack {args.stack}: Pulumi.{args.stack}.yaml declares no continuity:tenancy")
    logical = sorted({name for database in settings.databases.values() for name in database.databases})
    if args.database not in logical:
        raise UsageError(
            f"--database {args.database}: stack {args.stack} has no such database (it has: {', '.join(logical)})"
        )
    try:
        result = tenancy_sql(settings.tenancy, args.database, plain=args.plain)
    except ValueError as error:
        raise UsageError(f"--database {args.database}: {error}") from None
    if args.json:
        write(args.json, json.dumps(result.to_json(), indent=2))
    else:
        sys.stdout.write(result.sql)
    return Exit.OK


def cmd_check(args: argparse.Namespace) -> int:
    import psycopg

    check_destinations({"--json": args.json})
    dsn = os.environ.get(DSN_ENV)
    if not dsn:
        raise UsageError(
            f"{DSN_ENV}: set it to the database's connection string (its password from PGPASSWORD)"
        )
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            report = isolation_report(conn)
    except psycopg.Error as error:
        raise UsageError(f"{DSN_ENV}: {str(error).strip().splitlines()[0]}") from None
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
    check = commands.add_parser("check", help=f"isolation as the database's catalog shows it ({DSN_ENV})")
    check.add_argument("--json", help="write the report to FILE, or - for standard output")
    check.set_defaults(func=cmd_check)
    return root


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(run("tenancy", main))
