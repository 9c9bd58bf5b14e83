"""`python -m gate`: render the stacks offline and print their plans.

Exit codes: 0 rendered; 2 bad usage, a stack file or config that does not validate, or a render
that fails (always with the reason).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from components.settings import SettingsError

from .render import Rendering, render_stacks, RenderError
from .plan import plan_json, plan_text
from .stack_files import StackFileError

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gate", description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="folder holding Pulumi.yaml and the stack files (default: this project)")
    parser.add_argument("--stack", action="append", dest="stacks",
                        help="stack to render (repeatable; default: prod and dr)")
    parser.add_argument("--json", action="store_true", help="print the plans as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stacks = args.stacks or ["prod", "dr"]
    try:
        renderings: list[Rendering] = render_stacks(args.project_dir, stacks)
    except (SettingsError, StackFileError, RenderError) as error:
        print(f"gate: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"stacks": [plan_json(r) for r in renderings]}, indent=2, sort_keys=True))
    else:
        print("\n\n".join(plan_text(r) for r in renderings))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
