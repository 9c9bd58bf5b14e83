"""`python -m sla`: service levels.

document      docs/sla.md, from the committed stacks' continuity:sla, on standard output
report        a month's availability per database against its objective, from the stack's
              workspace (the Azure login) or a saved response (--from-file)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli.exits import EXIT_CODES_HELP, Exit, InternalError, UsageError, dispatch, run
from cli.files import load_json
from cli.outputs import check_destinations, write
from cli.stack_outputs import stack_outputs
from cli.stack_settings import committed_stacks, stack_settings

from .availability import month_bounds
from .document import sla_document
from .live import month_query, query_workspace
from .report import markdown, monthly_report, server_prefixes
from .samples import SampleError, read_samples

PROJECT_DIR = Path(__file__).resolve().parent.parent
# A month of per-minute samples is 44,640 rows a server, some 5 MB of JSON each in AzureMetrics.
RESPONSE_MAX_BYTES = 64 << 20


def _from_workspace(stack: str, query: str, month: str) -> dict[str, Any]:
    try:
        workspace_id = str(stack_outputs(stack)["workspaceId"])
    except KeyError:
        raise UsageError(f"stack {stack}: its outputs have no workspaceId: has it been deployed?") from None
    start, end = month_bounds(month)
    try:
        return query_workspace(workspace_id, query, start, end)
    except Exception as error:  # Azure's SDK raises many kinds; each is reported the same way
        raise InternalError(f"querying {workspace_id} failed: {error}") from None


def cmd_report(args: argparse.Namespace) -> int:
    check_destinations({"--json": args.json, "--markdown": args.markdown})
    try:
        start, end = month_bounds(args.month)
    except ValueError as error:
        raise UsageError(f"--month: {error}") from None
    settings = stack_settings(args.stack)
    if settings.sla is None:
        raise UsageError(f"--stack {args.stack}: Pulumi.{args.stack}.yaml declares no continuity:sla")
    query = month_query(list(server_prefixes(settings).values()), start, end)
    if args.print_query:
        sys.stdout.write(query + "\n")
        return Exit.OK
    source = args.from_file or f"the workspace of stack {args.stack}"
    try:
        if args.from_file is None:
            payload = _from_workspace(args.stack, query, args.month)
        else:
            payload = load_json(Path(args.from_file), "--from-file", max_bytes=RESPONSE_MAX_BYTES)
        report = monthly_report(args.month, settings, read_samples(payload))
    except (SampleError, ValueError) as error:
        raise UsageError(f"{source}: {error}") from None
    if args.json:
        write(args.json, json.dumps(report, indent=2))
    if args.markdown:
        write(args.markdown, markdown(report, args.stack))
    if not args.json and not args.markdown:
        sys.stdout.write(markdown(report, args.stack))
    return Exit.OK if all(d["met"] for d in report["databases"].values()) else Exit.FAILED


def cmd_document(args: argparse.Namespace) -> int:
    sys.stdout.write(sla_document(committed_stacks()))
    return Exit.OK


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m sla",
        description="Service levels as code.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("document", help="docs/sla.md from the committed stacks").set_defaults(
        func=cmd_document
    )
    report = commands.add_parser("report", help="a month's availability per database against its objective")
    report.add_argument("--month", required=True, help="the calendar month, YYYY-MM (UTC)")
    report.add_argument("--stack", default="prod", help="whose servers and objectives (default prod)")
    report.add_argument(
        "--from-file",
        help="a saved Log Analytics query or metrics API response (JSON) instead of querying the workspace",
    )
    report.add_argument("--print-query", action="store_true", help="print the KQL the report runs, and stop")
    report.add_argument("--json", help="write the report as JSON to FILE, or - for standard output")
    report.add_argument("--markdown", help="write the report as Markdown to FILE, or - for standard output")
    report.set_defaults(func=cmd_report)
    return root


def main(argv: Sequence[str]) -> int:
    return dispatch(parser(), argv)


if __name__ == "__main__":
    sys.exit(run("sla", main))
