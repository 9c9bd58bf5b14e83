"""`python -m gate --base REF` end to end: a git repository holding the project with one more
commit, the gate run against it, and the base's program rendered beside the gate's own modules."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_DIR

from helpers import gate_in_process
from policies.waivers import WAIVERS_FILE_ENV


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """A git repository holding this project, with one more commit that flips dr's role."""
    if not (PROJECT_DIR / ".git").exists():
        pytest.skip("the project is not a git checkout here")
    folder = tmp_path_factory.mktemp("history") / "repo"
    subprocess.run(["git", "clone", "-q", str(PROJECT_DIR), str(folder)], check=True)
    _git(folder, "config", "user.email", "gate@example.com")
    _git(folder, "config", "user.name", "gate")
    # The checkout under test, not the last commit: what the tests exercise is the working tree.
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dr.yaml"):
        shutil.copy(PROJECT_DIR / name, folder / name)
    shutil.rmtree(folder / "components")
    shutil.copytree(
        PROJECT_DIR / "components", folder / "components", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.rmtree(folder / "policies")
    shutil.copytree(
        PROJECT_DIR / "policies", folder / "policies", ignore=shutil.ignore_patterns("__pycache__")
    )
    _git(folder, "add", "-A")
    _git(folder, "commit", "-q", "--allow-empty", "-m", "base")
    stack_file = folder / "Pulumi.dr.yaml"
    stack_file.write_text(
        stack_file.read_text().replace("continuity:role: standby", "continuity:role: primary")
    )
    return folder


def test_the_gate_compares_with_a_git_revision_and_takes_acknowledgements(
    history, tmp_path, monkeypatch, capsys
):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        (PROJECT_DIR / "policies" / "waivers.yaml").read_text()
        + "- rule: CTY-CHG-006\n  stack: dr\n  resource: platform\n  reason: planned drill\n"
        "  owner: platform-engineering\n  expires: 2026-12-10\n"
    )
    monkeypatch.setenv(WAIVERS_FILE_ENV, str(waivers))
    report, markdown = tmp_path / "gate.json", tmp_path / "gate.md"
    sarif, junit = tmp_path / "gate.sarif", tmp_path / "gate.xml"
    run = gate_in_process(
        capsys, "--project-dir", str(history), "--base", "HEAD", "--no-checkov",
        "--json", str(report), "--markdown", str(markdown), "--sarif", str(sarif), "--junit", str(junit),
    )  # fmt: skip
    result = json.loads(report.read_text())
    assert run.returncode == 0, [f for f in result["findings"] if f["blocks"]]
    (flip,) = [f for f in result["findings"] if f["ruleId"] == "CTY-CHG-006"]
    assert flip["status"] == "waived" and flip["waiver"]["reason"] == "planned drill"
    changes = result["changes"]
    assert changes["ref"] == "HEAD" and len(changes["commit"]) == 40
    assert "current environment" in changes["renderedWith"]
    assert {r["action"] for r in changes["stacks"]["prod"]["resources"]} == {"unchanged"}
    assert changes["stacks"]["dr"]["counts"]["delete"] == 2  # the replication-lag alerts
    # Console, SARIF (its own run, the waiver as an accepted suppression) and JUnit say the same.
    assert (
        "  Changes against HEAD (" in run.stdout
        and "    delete alerts-knowledge-g1-replication-lag" in run.stdout
    )
    (change_run,) = [
        r
        for r in json.loads(sarif.read_text())["runs"]
        if r["tool"]["driver"]["name"] == "continuity-change-safety"
    ]
    (acknowledged,) = change_run["results"]
    assert acknowledged["ruleId"] == "CTY-CHG-006" and acknowledged["suppressions"][0]["status"] == "accepted"
    assert (
        '<testcase classname="dr.change-safety" name="CTY-CHG-006 The stack\'s role flips">'
        in junit.read_text()
    )
    text = markdown.read_text()
    assert "### What this change does" in text
    assert "| dr | **delete** | `alerts-knowledge-g1-replication-lag`" in text


def test_a_revision_that_does_not_exist_is_a_usage_error(history, capsys):
    run = gate_in_process(capsys, "--project-dir", str(history), "--base", "no-such-branch", "--no-checkov")
    assert run.returncode == 2
    assert "--base no-such-branch: no such revision" in run.stderr


def test_another_revisions_program_runs_beside_the_gates_own_components(tmp_path):
    """The render server keeps the gate's modules on this checkout's `components` (ARM ids, settings
    types) while the base's program imports its own, even when the two differ module by module."""
    program = tmp_path / "components"
    program.mkdir()
    (program / "__init__.py").write_text("")
    (program / "only_in_the_base.py").write_text("REVISION = 'base'\n")
    script = (
        "import sys; from pathlib import Path\n"
        "import gate.runtime as runtime, gate.mocks as mocks\n"
        f"runtime.use_program_from(Path({str(tmp_path)!r}))\n"
        "import components.only_in_the_base as base\n"
        "print(base.REVISION, mocks.arm_type.__module__, 'components.arm' in sys.modules)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    # The base's module is found; the gate's ARM helper is still this checkout's, and the base
    # would import its own `components.arm` afresh.
    assert ran.stdout.split() == ["base", "components.arm", "False"]
