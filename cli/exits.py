"""One exit-code table for every command-line tool (gate, drill, sla), and one handler that applies it.

A tool raises `ToolError` (or a subclass) with one line naming the file, key or argument and what
to do; `run` prints it as `<tool>: <message>` on stderr and exits with the error's code. Nothing a
user can cause ends in a Python traceback: anything unexpected is an internal failure (4), a
Ctrl-C or SIGTERM an interruption (130) after the tool's own clean-up has run.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from enum import IntEnum
from types import FrameType
from typing import NoReturn


class Exit(IntEnum):
    OK = 0  # passed
    FAILED = 1  # a blocked change or a failed verdict: a policy violation, a failed drill or check
    USAGE = 2  # bad usage or input: a named file, key or argument
    RESUMABLE = 3  # stopped and resumable (drill)
    INTERNAL = 4  # internal failure: the tool, not the input, is at fault
    INTERRUPTED = 130  # Ctrl-C or SIGTERM, after clean-up


EXIT_CODES_HELP = """exit codes:
  0    pass
  1    blocked or failed verdict (policy violation, drill or check failed)
  2    bad usage or input (the file, key or argument is named)
  3    stopped and resumable (drill)
  4    internal failure
  130  interrupted (Ctrl-C or SIGTERM), after clean-up"""


class ToolError(Exception):
    """A failure to report in one line, with its exit code."""

    code: Exit = Exit.USAGE

    def __init__(self, message: str, code: Exit | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class UsageError(ToolError):
    code = Exit.USAGE


class UsageParser(argparse.ArgumentParser):
    """argparse whose own usage errors (unknown option, bad value) are a UsageError: exit 2 with the
    reason, through `run`, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(message)


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    """Parse `argv` and run the chosen subcommand (each subparser sets `func`)."""
    args = parser.parse_args(list(argv))
    command: Callable[[argparse.Namespace], int] = args.func
    return command(args)


class InternalError(ToolError):
    code = Exit.INTERNAL


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so the same clean-up runs."""


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise Interrupted()


def run(tool: str, main: Callable[[Sequence[str]], int], argv: Sequence[str] | None = None) -> int:
    """Run a tool's `main` under the shared exit-code table; returns the exit code."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(main(sys.argv[1:] if argv is None else argv))
    except ToolError as error:
        print(f"{tool}: {error}", file=sys.stderr)
        return int(error.code)
    except KeyboardInterrupt:
        print(f"{tool}: interrupted; stopped what it had started", file=sys.stderr)
        return int(Exit.INTERRUPTED)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else int(Exit.USAGE)
    except Exception as error:  # a bug: one line, and the trace only where a maintainer asks for it
        where = traceback.extract_tb(error.__traceback__)[-1]
        print(
            f"{tool}: internal failure: {type(error).__name__} at {where.filename.rsplit('/', 1)[-1]}:"
            f"{where.lineno}: {str(error).splitlines()[0] if str(error) else ''}",
            file=sys.stderr,
        )
        return int(Exit.INTERNAL)
    finally:
        signal.signal(signal.SIGTERM, previous)
