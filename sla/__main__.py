"""`python -m sla`: service levels.

document      docs/sla.md, from the committed stacks' continuity:sla, on standard output
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cli.exits import EXIT_CODES_HELP, Exit, UsageError, run
from components.settings import Settings, SettingsError, load_settings
from gate.stack_files import read_stack_config, stack_names

from .document import sla_document

PROJECT_DIR = Path(__file__).resolve().parent.parent


def committed_stacks() -> dict[str, Settings]:
    stacks = {}
    for stack in stack_names(PROJECT_DIR):
        config = read_stack_config(PROJECT_DIR, stack)
        try:
            stacks[stack] = load_settings(config.values, config.secret_keys)
        except SettingsError as error:
            raise UsageError(f"{config.path.name}: {error}") from None
    return stacks


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
    return root


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(run("sla", main))
