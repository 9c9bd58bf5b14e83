"""`python -m gate`: the offline pull-request gate over the prod and dr stacks.

Renders both stacks from their committed config, runs the policy pack over the analyzer protocol
and checkov over an ARM export, applies the reviewed waivers, and reports. Every report destination
is checked before the run starts; the reason for any refusal is one line on stderr.
"""

from __future__ import annotations

if __name__ == "__main__":
    # Before the imports below: the render server loads Pulumi and the provider SDK (its longest
    # wait) while this process loads the gate's modules.
    from gate.render_process import launch_early

    launch_early()

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cli import outputs
from cli.exits import EXIT_CODES_HELP, Exit, UsageError, UsageParser, run
from components.settings import SettingsError
from policies.adapter import DEFAULT_RULE_TIMEOUT

from .pipeline import run_gate
from .plan import plan_json, plan_text
from .render import render_stacks
from .reports import console, to_json, to_junit, to_markdown, to_sarif

REPORTS = {
    "json": lambda r: json.dumps(to_json(r), indent=2, sort_keys=True),
    "sarif": lambda r: json.dumps(to_sarif(r), indent=2),
    "junit": to_junit,
    "markdown": to_markdown,
}


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 3600 seconds")
    return value


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = UsageParser(
        prog="python -m gate",
        description=__doc__.split("\n\n")[0],
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="folder holding Pulumi.yaml and the stack files (default: this project)",
    )
    parser.add_argument(
        "--stack", action="append", dest="stacks", help="stack to check (repeatable; default: prod and dr)"
    )
    parser.add_argument("--plan", action="store_true", help="only render and print the plans (no analysis)")
    parser.add_argument("--no-checkov", action="store_true", help="skip checkov (policy pack only)")
    parser.add_argument("--arm-dir", type=Path, help="where to write the ARM templates (default: build/arm)")
    parser.add_argument(
        "--base",
        metavar="REF",
        help="also report what the change does against git revision REF (typically the pull request's "
        "base): creates, updates, replacements, deletions, and the change rules CTY-CHG-*",
    )
    parser.add_argument(
        "--today",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="check waiver expiry as of this UTC date instead of the current one (to replay a past run)",
    )
    parser.add_argument(
        "--rule-timeout",
        type=_positive_seconds,
        default=DEFAULT_RULE_TIMEOUT,
        metavar="SECONDS",
        help=f"longest a rule may take on one resource (default {DEFAULT_RULE_TIMEOUT:g})",
    )
    for name in REPORTS:
        parser.add_argument(
            f"--{name}", metavar="FILE", help=f"write the {name} report to FILE ('-' for stdout)"
        )
    return parser.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    stacks = args.stacks or ["prod", "dr"]
    if not args.project_dir.is_dir():
        raise UsageError(f"--project-dir {args.project_dir}: not a directory")
    if args.plan and args.base:
        raise UsageError("--plan prints the declarations; --base compares them with a revision: give one")
    outputs.check_destinations({f"--{name}": getattr(args, name) for name in REPORTS})
    if args.today is not None:
        # Never silent: a replayed day also revives waivers that have expired since.
        print(
            f"gate: waiver expiry checked as of {args.today} (--today), not the current date", file=sys.stderr
        )
    try:
        if args.plan:
            renderings = render_stacks(args.project_dir, stacks)
            if args.json:
                outputs.write(
                    args.json,
                    json.dumps({"stacks": [plan_json(r) for r in renderings]}, indent=2, sort_keys=True),
                )
            else:
                print("\n\n".join(plan_text(r) for r in renderings))
            return Exit.OK
        result = run_gate(
            args.project_dir,
            stacks,
            checkov=not args.no_checkov,
            arm_dir=args.arm_dir,
            rule_timeout=args.rule_timeout,
            today=args.today,
            base=args.base,
        )
    except SettingsError as error:
        raise UsageError(str(error)) from None
    for name, render in REPORTS.items():
        if getattr(args, name):
            outputs.write(getattr(args, name), render(result))
    if not any(getattr(args, name) == outputs.STDOUT for name in REPORTS):
        print(console(result))
    return Exit.FAILED if result.blocking else Exit.OK


if __name__ == "__main__":
    sys.exit(run("gate", main))
