"""The program as a git revision has it, for comparing a change with its base.

Only the program is taken from the revision (its `__main__.py`, `components/`, `Pulumi.yaml` and
stack files); it runs under the current gate, mocks and installed packages, so the base is
rendered with the current environment, as the reports say. The checkout is a temporary folder,
removed (with the render server that used it) when the `with` block ends.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cli.exits import UsageError

from .render import Declaration, declare_stacks, stop_render_server
from .stack_files import stack_names

GIT_TIMEOUT_SECONDS = 120


class BaseError(UsageError):
    """A base that cannot be read or rendered: exit code 2, naming the revision."""


@dataclass(frozen=True)
class Base:
    ref: str  # as given (`origin/main`, a SHA)
    commit: str  # the full commit it resolves to
    declarations: dict[str, Declaration | None]  # None: the stack does not exist at the base

    def declaration(self, stack: str) -> Declaration | None:
        return self.declarations.get(stack)


def _git(project_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(project_dir), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise BaseError("--base needs git, which is not installed") from None
    except subprocess.TimeoutExpired:
        raise BaseError(f"--base: git {args[0]} took more than {GIT_TIMEOUT_SECONDS} s") from None


def _program_member(name: str) -> bool:
    """What of a revision the render needs: the program, its components and its stack files."""
    return (
        name in ("__main__.py", "Pulumi.yaml")
        or (name.startswith("Pulumi.") and name.endswith(".yaml") and "/" not in name)
        or (name.startswith("components/") and ".." not in name.split("/"))
    )


def resolve(project_dir: Path, ref: str) -> str:
    """The commit `ref` names in the repository holding `project_dir`."""
    if ref.startswith("-"):
        raise BaseError(f"--base {ref}: a revision does not start with '-'")
    inside = _git(project_dir, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0:
        raise BaseError(f"--base: {project_dir} is not inside a git repository")
    found = _git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise BaseError(
            f"--base {ref}: no such revision in this repository (a shallow clone may lack it: "
            f"fetch it, e.g. git fetch origin {ref})"
        )
    return found.stdout.decode().strip()


@contextmanager
def checkout(project_dir: Path, ref: str) -> Iterator[tuple[str, Path]]:
    """(commit, folder) holding the program as `ref` has it, for the length of the block."""
    commit = resolve(project_dir, ref)
    prefix = _git(project_dir, "rev-parse", "--show-prefix").stdout.decode().strip()
    archive = _git(project_dir, "archive", "--format=tar", f"{commit}:{prefix}" if prefix else commit)
    if archive.returncode != 0:
        raise BaseError(
            f"--base {ref}: git archive failed: {archive.stderr.decode(errors='replace').strip()}"
        )
    folder = Path(tempfile.mkdtemp(prefix="continuity-base-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            members = [m for m in tar.getmembers() if _program_member(m.name) and (m.isfile() or m.isdir())]
            tar.extractall(folder, members=members, filter="data")
        if not (folder / "__main__.py").is_file() or not (folder / "components").is_dir():
            raise BaseError(
                f"--base {ref}: the revision {commit[:12]} has no program (__main__.py, components/)"
            )
        yield commit, folder
    finally:
        stop_render_server(folder)
        shutil.rmtree(folder, ignore_errors=True)


def render_base(project_dir: Path, ref: str, stacks: list[str]) -> Base:
    """Render `stacks` as `ref` declares them, checked by that revision's own settings model; a
    stack without a stack file there is new (None)."""
    with checkout(project_dir, ref) as (commit, folder):
        present = [s for s in stacks if s in stack_names(folder)]
        try:
            declared = declare_stacks(folder, present) if present else []
        except UsageError as error:  # a bad stack file, or the program failed there
            raise BaseError(
                f"--base {ref} ({commit[:12]}): the revision's program does not render with the current "
                f"environment: {error}"
            ) from None
    by_stack = {d.stack: d for d in declared}
    return Base(ref, commit, {s: by_stack.get(s) for s in stacks})
