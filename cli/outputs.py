"""Report destinations (`--json FILE|-` and friends), checked before any work starts.

A destination is `-` (standard output) or a file path whose folder exists or can be created and is
writable, and which is not itself a folder. Checking first means a long run never ends by losing
its reports to a typo.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from .exits import UsageError

STDOUT = "-"


def check_destinations(destinations: Mapping[str, str | None]) -> None:
    """Refuse unusable destinations, naming the option; at most one may be standard output."""
    to_stdout = [option for option, value in destinations.items() if value == STDOUT]
    if len(to_stdout) > 1:
        raise UsageError(f"only one report can go to standard output, not {', '.join(to_stdout)}")
    for option, value in destinations.items():
        if value is None or value == STDOUT:
            continue
        if not value.strip():
            raise UsageError(f"{option}: an empty path; give a file or '-'")
        path = Path(value)
        if path.is_dir():
            raise UsageError(f"{option} {value}: is a directory; give a file path")
        folder = _existing_ancestor(path.parent)
        if not folder.is_dir():
            raise UsageError(f"{option} {value}: {folder} is not a directory")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {value}: {folder} is not writable")
        if path.exists() and not os.access(path, os.W_OK):
            raise UsageError(f"{option} {value}: the file is not writable")


def _existing_ancestor(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def write(destination: str, text: str) -> None:
    if destination == STDOUT:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    path = Path(destination)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + ("" if text.endswith("\n") else "\n"))
    except OSError as error:
        raise UsageError(f"{destination}: cannot write: {error.strerror}") from None
