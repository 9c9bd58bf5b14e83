"""Child processes that die with their parent, whatever kills the parent.

A tool's children (the policy pack, render workers, checkov, local PostgreSQL servers) get
PR_SET_PDEATHSIG: the kernel sends them SIGKILL when the tool dies, even by SIGKILL, so nothing is
left listening or serving (prctl(2); Linux). A child run as another user is started through
util-linux `setpriv`, which changes user and sets the signal in the same process that then execs
the program (a parent-death signal is cleared by a change of credentials, so it must come after).
The kernel takes the thread that started a child for its parent ("the 'parent' in this case is
considered to be the thread that created this process", prctl(2)): start a child that must outlive
a short-lived thread from the main thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
from collections.abc import Sequence
from typing import Any

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel for SIGKILL when this process's parent dies (in a child between fork and exec,
    or in a forked worker)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def command_as(user: str | None, group: str | None, command: Sequence[str]) -> list[str]:
    """`command`, run as `user` when given (the caller is root), dying with its parent either way."""
    if user is None:
        return list(command)
    return [
        "setpriv",
        f"--reuid={user}",
        f"--regid={group or user}",
        "--clear-groups",
        "--pdeathsig",
        "KILL",
        "--",
        *command,
    ]


def popen(command: Sequence[str], **options: Any) -> subprocess.Popen[Any]:
    """subprocess.Popen for a child that must not outlive this process."""
    return subprocess.Popen(list(command), preexec_fn=die_with_parent, **options)


def run(command: Sequence[str], **options: Any) -> subprocess.CompletedProcess[Any]:
    """subprocess.run for a child that must not outlive this process (killed on timeout too)."""
    return subprocess.run(list(command), preexec_fn=die_with_parent, **options)


def stop(process: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Terminate, then kill, a child; never raises."""
    if process.poll() is not None:
        return
    try:
        process.terminate()
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except OSError:
        pass
