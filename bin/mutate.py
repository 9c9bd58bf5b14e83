"""Mutation testing for one target: `.venv/bin/python bin/mutate.py TARGET` (see `--help`).

Targets and what each one mutates and runs are declared in pyproject.toml under
[tool.continuity.mutation.TARGET]. The run happens in a scratch copy of the working tree
(build/mutation/TARGET), so the tree itself is never touched. Mutants that survive and were
reviewed as equivalent (no test can tell them apart from the original) are listed in
mutation-equivalents.toml with a one-line reason; any other survivor is reported as unreviewed
and fails the run, as does a score under the target's `min_score`.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import TypedDict

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS_FILE = ROOT / "mutation-equivalents.toml"
# Everything a test may read, besides the packages: the program's entry point, the stacks, the pack
# configuration and the documents that staleness tests compare.
ALSO_COPY = [
    "__main__.py",
    "Pulumi.yaml",
    "Pulumi.prod.yaml",
    "Pulumi.dr.yaml",
    "pytest.ini",
    "checkov_checks",
    "docs",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-checkov.txt",
]
PACKAGES = ["cli", "components", "drill", "gate", "policies", "sla", "tenancy"]
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


class Target(TypedDict, total=False):
    mutate: list[str]  # globs of the files to mutate
    tests: list[str]  # the test files that must catch the mutants
    min_score: float
    # Decorators applied after the definition instead, in the scratch copy: mutmut leaves decorated
    # functions alone, and a registering decorator (policies' @rule) would hide every check.
    undecorate: list[str]


def undecorate(source: str, names: list[str]) -> str:
    """`source` with each function decorated only by a call of one of `names` rewritten as the plain
    function followed by `f = decorator(...)(f)`: the same registration, done after the definition."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and len(node.decorator_list) == 1
        and isinstance(node.decorator_list[0], ast.Call)
        and isinstance(node.decorator_list[0].func, ast.Name)
        and node.decorator_list[0].func.id in names
        and node.col_offset == 0
    ]
    for node in sorted(found, key=lambda n: n.lineno, reverse=True):
        decorator = node.decorator_list[0]
        call = ast.get_source_segment(source, decorator)
        assert call is not None and node.end_lineno is not None
        lines.insert(node.end_lineno, f"{node.name} = {call}({node.name})\n")
        del lines[decorator.lineno - 1 : node.lineno - 1]
    return "".join(lines)


def _targets() -> dict[str, Target]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    targets: dict[str, Target] = config["tool"]["continuity"]["mutation"]
    return targets


def _scratch_copy(target: str, spec: Target) -> Path:
    """A copy of the tracked tree with a [tool.mutmut] section for this target only."""
    scratch = ROOT / "build" / "mutation" / target
    shutil.rmtree(scratch, ignore_errors=True)
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    for name in tracked:
        source = ROOT / name
        if source.is_file() and not name.startswith(("build/", "mutants/")):
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, scratch / name)
    # Installed, not tracked: the Kusto language service the KQL tests run (bin/setup installs it).
    kusto_modules = ROOT / "tests" / "kusto" / "node_modules"
    if kusto_modules.is_dir():
        (scratch / "tests" / "kusto" / "node_modules").symlink_to(kusto_modules, target_is_directory=True)
    for name in tracked:
        if any(fnmatch.fnmatch(name, glob) for glob in spec["mutate"]) and spec.get("undecorate"):
            path = scratch / name
            path.write_text(
                undecorate(path.read_text(encoding="utf-8"), spec["undecorate"]), encoding="utf-8"
            )
    mutmut_config = (
        "[tool.mutmut]\n"
        f"source_paths = {_toml_list(PACKAGES)}\n"
        f"only_mutate = {_toml_list(spec['mutate'])}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(spec['tests'])}\n"
        f"also_copy = {_toml_list(ALSO_COPY)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"]\n'
    )
    # The policy pack runs as its own process from policies/; a mutated module it imports looks
    # for mutmut's configuration in its working directory.
    for folder in (scratch, scratch / "policies"):
        (folder / "pyproject.toml").write_text(mutmut_config, encoding="utf-8")
    return scratch


def _statuses(scratch: Path) -> dict[str, str]:
    """mutant name -> status, as `mutmut results --all true` lists them."""
    listing = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=scratch,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    statuses = {}
    for line in listing.splitlines():
        name, _, status = line.strip().partition(": ")
        if name and status:
            statuses[name] = status.strip()
    return statuses


def main(argv: list[str] | None = None) -> int:
    targets = _targets()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", choices=sorted(targets))
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant runs (default 2)")
    args = parser.parse_args(argv)
    spec = targets[args.target]
    scratch = _scratch_copy(args.target, spec)
    run = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)], cwd=scratch
    )
    if run.returncode != 0:
        print(f"mutmut run failed with exit code {run.returncode}", file=sys.stderr)
        return 4
    statuses = _statuses(scratch)
    equivalents = tomllib.loads(EQUIVALENTS_FILE.read_text(encoding="utf-8")).get(args.target, {})
    survivors = sorted(name for name, status in statuses.items() if status not in KILLED)
    unreviewed = [name for name in survivors if name not in equivalents]
    stale = sorted(set(equivalents) - set(survivors))
    counted = len(statuses) - len(set(survivors) & set(equivalents))
    killed = len(statuses) - len(survivors)
    score = killed / counted if counted else 1.0
    print(
        f"\n{args.target}: {len(statuses)} mutants, {killed} killed, "
        f"{len(survivors) - len(unreviewed)} reviewed as equivalent, {len(unreviewed)} unreviewed survivors"
    )
    print(f"{args.target}: kill rate {score:.1%} of non-equivalent mutants (target {spec['min_score']:.0%})")
    for name in unreviewed:
        print(f"  unreviewed: {name} ({statuses[name]})  -> `mutmut show {name}` in {scratch}")
    for name in stale:
        print(f"  listed as equivalent but no longer surviving (remove it): {name}")
    return 0 if score >= spec["min_score"] and not unreviewed else 1


if __name__ == "__main__":
    sys.exit(main())
