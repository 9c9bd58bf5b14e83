"""Starting the render server's process (see `gate.render_server`), from a module light enough to
import first: `python -m gate` starts it before loading its own modules, so the server loads Pulumi
and the provider SDK (its longest wait) while the gate loads the rest."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from cli import children

# The checkout the gate and its render server run from.
CODE_ROOT = Path(__file__).resolve().parent.parent

# A directory of answers shared between processes (the test suite's workers and the gates they
# start; a cache CI keeps): named by this variable, off when unset. Answers are filed under a hash
# of everything a render depends on, so a changed program, mock or pin is a different file.
RENDER_CACHE_VARIABLE = "CONTINUITY_RENDER_CACHE"

# Server processes started ahead of their first render, by program root; each is taken once.
_early: dict[Path, tuple[subprocess.Popen[str], IO[bytes]]] = {}


def launch(code_root: Path) -> tuple[subprocess.Popen[str], IO[bytes]]:
    """A render server for the program under `code_root`, and the file its stderr goes to."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; its owner closes it
    process = children.popen(
        [sys.executable, "-m", "gate.render_server", str(code_root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=str(CODE_ROOT),
        text=True,
    )
    return process, log


def launch_early() -> None:
    """Start this checkout's render server now, for the first render to take; not with a render
    cache, which usually answers every render (the server would load for nothing: 202 MB of peak
    memory instead of 101 MB for the gate without checkov, in no less time)."""
    if not os.environ.get(RENDER_CACHE_VARIABLE):
        _early.setdefault(CODE_ROOT, launch(CODE_ROOT))


def take(code_root: Path) -> tuple[subprocess.Popen[str], IO[bytes]]:
    """The server started early for `code_root` if there is one still running, else a new one."""
    started = _early.pop(code_root, None)
    if started is not None and started[0].poll() is None:
        return started
    return launch(code_root)
