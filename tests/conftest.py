"""Shared renders of the real stacks: rendering is deterministic, so each variant is rendered once."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from drill.localpg import sweep_stale_folders
from gate.render import Rendering, qualified, render_stack, render_stacks
from gate.render_process import RENDER_CACHE_VARIABLE
from gate.stack_files import read_stack_config

# Property tests explore the same examples on every run (reproducible in CI) and keep no database.
settings.register_profile("continuity", derandomize=True, database=None, deadline=None)
settings.load_profile("continuity")

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The day every test checks waiver expiry on: results must not depend on the day the suite runs.
TODAY = dt.date(2026, 11, 27)


# Scratch files in memory when the machine has room there: the tests' PostgreSQL clusters create
# and copy thousands of small files, which cost a disk-backed file system several times more
# system time. Small /dev/shm mounts (64 MB in a default container) are left alone.
MEMORY_FOLDER = Path("/dev/shm")
MEMORY_NEEDED_BYTES = 2 * 1024**3
SCRATCH_PREFIX = "continuity-tests-"


def _scratch_in_memory() -> str | None:
    """A folder of its own in /dev/shm for this run's temporary files, or None to keep TMPDIR."""
    if os.environ.get("TMPDIR") or not MEMORY_FOLDER.is_dir() or not os.access(MEMORY_FOLDER, os.W_OK):
        return None
    sweep_stale_folders(MEMORY_FOLDER, SCRATCH_PREFIX)  # a killed run's: they hold memory
    stats = os.statvfs(MEMORY_FOLDER)
    if stats.f_bavail * stats.f_frsize < MEMORY_NEEDED_BYTES:
        return None
    folder = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=MEMORY_FOLDER)
    os.chmod(folder, 0o1777)  # as /tmp: servers run as an unprivileged user make their folders here
    return folder


def pytest_configure(config: pytest.Config) -> None:
    """Made by the main process only, inherited by the workers and the programs tests start:
    - the temporary folder (see `_scratch_in_memory`);
    - one render cache for the whole run, so that each distinct stack is rendered once."""
    if hasattr(config, "workerinput"):
        return
    scratch = _scratch_in_memory()
    if scratch:
        config._continuity_scratch = scratch  # type: ignore[attr-defined]
        os.environ["TMPDIR"] = scratch
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    if not os.environ.get(RENDER_CACHE_VARIABLE):
        config._continuity_render_cache = tempfile.mkdtemp(prefix="continuity-renders-")  # type: ignore[attr-defined]
        os.environ[RENDER_CACHE_VARIABLE] = config._continuity_render_cache  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    cache = getattr(config, "_continuity_render_cache", None)
    if cache:
        shutil.rmtree(cache, ignore_errors=True)
        os.environ.pop(RENDER_CACHE_VARIABLE, None)
    scratch = getattr(config, "_continuity_scratch", None)
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
        os.environ.pop("TMPDIR", None)
        tempfile.tempdir = None


# The files that take longest (seconds of one of three workers on two cores, from the first test's
# start to the last one's end), run first: each file runs whole on one worker (bin/test: --dist
# loadfile, --no-loadscope-reorder so that this order holds), so a long file started last would
# leave the others idle at the end. test_setup_sql mostly waits for
# pg_cron's next minute, which costs nothing while the others run. Order only: a file missing here
# runs after these.
LONGEST_FIRST = (
    "test_setup_sql.py",  # 27-52 s, mostly waiting for pg_cron's next minute
    "test_checkov.py",  # 29 s
    "test_robustness.py",  # 24 s
    "test_restore_run.py",  # 22 s
    "test_sla_report.py",  # 22 s
    "test_gate_mutations.py",  # 21 s
    "test_change_safety.py",  # 21 s
    "test_azure_behaviours.py",  # 18 s
    "test_render.py",  # 16 s
    "test_gate_cli.py",  # 15 s
    "test_change_safety_cli.py",  # 14 s
    "test_drill.py",  # 13 s
    "test_drill_dataplane.py",  # 12 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file kept


@pytest.fixture(scope="session")
def project_dir() -> Path:
    return PROJECT_DIR


@pytest.fixture(scope="session")
def stacks() -> dict[str, Rendering]:
    prod, dr = render_stacks(PROJECT_DIR, ["prod", "dr"])
    return {"prod": prod, "dr": dr}


@pytest.fixture(scope="session")
def prod(stacks) -> Rendering:
    return stacks["prod"]


@pytest.fixture(scope="session")
def dr(stacks) -> Rendering:
    return stacks["dr"]


def render_variant(
    stack: str,
    overrides: dict,
    peer: Rendering | None = None,
    secret_keys=frozenset(),
    observed: dict | None = None,
    outside_state=frozenset(),
) -> Rendering:
    """Render a stack from its committed file with some config keys replaced, and optionally with
    resources that already exist in Azure (`observed`, see gate/mocks.py)."""
    config = read_stack_config(PROJECT_DIR, stack).with_overrides(overrides, frozenset(secret_keys))
    exports = {qualified(peer.stack): peer.outputs} if peer else {}
    return render_stack(
        PROJECT_DIR, config, exports, observed=observed, outside_state=frozenset(outside_state)
    )


@pytest.fixture(scope="session")
def promoted_dr(prod) -> Rendering:
    """The dr stack after a drill or failover set `continuity:role primary`."""
    return render_variant("dr", {"continuity:role": "primary"}, peer=prod)


@pytest.fixture(scope="session")
def gate_result():
    """One run of the gate (policy pack, no checkov) over the committed stacks."""
    from gate.pipeline import run_gate

    return run_gate(PROJECT_DIR, ["prod", "dr"], checkov=False, today=TODAY)
