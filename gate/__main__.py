"""`python -m gate`: the offline pull-request gate over the prod and dr stacks.

Renders both stacks from their committed config, runs the policy pack over the analyzer protocol
and checkov over an ARM export, applies the reviewed waivers, and reports.

Exit codes: 0 no unwaived mandatory violation; 1 at least one; 2 bad usage, a stack file, config,
pack config or waiver file that does not validate, or a program that fails to render (always with
the reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from components.settings import SettingsError

from .analyzer import PolicyPackError
from .checkov import CheckovError
from .pipeline import GateConfigError, run_gate
from .plan import plan_json, plan_text
from .render import RenderError, render_stacks
from .reports import console, to_json, to_junit, to_markdown, to_sarif
from .stack_files import StackFileError

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2
REPORTS = {
    "json": lambda r: json.dumps(to_json(r), indent=2, sort_keys=True),
    "sarif": lambda r: json.dumps(to_sarif(r), indent=2),
    "junit": to_junit,
    "markdown": to_markdown,
}


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: exit 2 with the reason, as documented
        self.print_usage(sys.stderr)
        print(f"gate: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = Parser(prog="python -m gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project-dir", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="folder holding Pulumi.yaml and the stack files (default: this project)")
    parser.add_argument("--stack", action="append", dest="stacks",
                        help="stack to check (repeatable; default: prod and dr)")
    parser.add_argument("--plan", action="store_true", help="only render and print the plans (no analysis)")
    parser.add_argument("--no-checkov", action="store_true", help="skip checkov (policy pack only)")
    parser.add_argument("--arm-dir", type=Path, help="where to write the ARM templates (default: build/arm)")
    for name in REPORTS:
        parser.add_argument(f"--{name}", metavar="FILE", help=f"write the {name} report to FILE ('-' for stdout)")
    return parser.parse_args(argv)


def emit(text: str, destination: str) -> None:
    if destination == "-":
        print(text)
    else:
        path = Path(destination)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + ("" if text.endswith("\n") else "\n"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stacks = args.stacks or ["prod", "dr"]
    try:
        if args.plan:
            renderings = render_stacks(args.project_dir, stacks)
            if args.json:
                emit(json.dumps({"stacks": [plan_json(r) for r in renderings]}, indent=2, sort_keys=True), args.json)
            else:
                print("\n\n".join(plan_text(r) for r in renderings))
            return EXIT_OK
        result = run_gate(args.project_dir, stacks, checkov=not args.no_checkov, arm_dir=args.arm_dir)
    except (SettingsError, StackFileError, RenderError, GateConfigError, PolicyPackError, CheckovError) as error:
        print(f"gate: {error}", file=sys.stderr)
        return EXIT_USAGE
    to_stdout = [name for name in REPORTS if getattr(args, name) == "-"]
    if len(to_stdout) > 1:
        print(f"gate: only one report can go to stdout, not {to_stdout}", file=sys.stderr)
        return EXIT_USAGE
    for name, render in REPORTS.items():
        if getattr(args, name):
            emit(render(result), getattr(args, name))
    if not to_stdout:
        print(console(result))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
