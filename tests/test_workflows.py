"""GitHub Actions workflows: actions pinned to commit SHAs, no persisted credentials, least-privilege tokens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
# `uses: owner/repo[/path]@<40 hex> # v1.2.3` on one line; the comment names the pinned release.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+)*\s*$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(.+?)\s*$", re.MULTILINE)


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    assert True in workflow, f"{path.name}: no `on:` triggers"  # YAML 1.1 reads the key `on` as True
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def remote_uses(workflow: dict) -> list[str]:
    refs = [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
    refs += [step["uses"] for step in steps(workflow) if "uses" in step]
    return [ref for ref in refs if not ref.startswith("./")]


def test_the_workflows_exist():
    assert {path.name for path in FILES} >= {"gate.yml", "deploy.yml", "restore-check.yml", "sla-report.yml"}


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_actions_are_pinned_to_a_commit_with_the_version_alongside(path: Path):
    parsed = remote_uses(load(path))
    assert parsed, f"{path.name}: no actions found"
    lines = [line for line in USES_LINE.findall(path.read_text()) if not line.startswith("./")]
    # Every reference YAML sees is a raw `uses:` line, so the comment check below covers all of them.
    assert [line.split()[0] for line in lines] == parsed
    unpinned = [line for line in lines if not PINNED.match(line)]
    assert not unpinned, f"{path.name}: not pinned to a full SHA with a `# vX.Y.Z` comment: {unpinned}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_checkout_does_not_persist_credentials(path: Path):
    checkouts = [step for step in steps(load(path)) if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, step


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_token_permissions_are_least_privilege(path: Path):
    workflow = load(path)
    assert "permissions" in workflow, f"{path.name}: no top-level permissions (the default may be write-all)"
    top = workflow["permissions"]
    assert top in ({}, "read-all") or (
        isinstance(top, dict) and all(level in ("read", "none") for level in top.values())
    ), f"{path.name}: top-level permissions grant write access: {top}"
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{path.name}: job {name} declares no permissions"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_no_expressions_expanded_inside_run_scripts(path: Path):
    # Template injection: values reach scripts through `env:` and are quoted there ("$VAR").
    scripts = [step["run"] for step in steps(load(path)) if "run" in step]
    assert not [script for script in scripts if "${{" in script]


def test_pull_requests_are_compared_with_their_base():
    """The gate step passes the pull request's base commit (through the environment, never spliced
    into the script) and the checkout fetches the history that holds it."""
    workflow = load(WORKFLOWS / "gate.yml")
    (checkout,) = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["fetch-depth"] == 0
    (gate,) = [s for s in steps(workflow) if s.get("name") == "Gate"]
    assert gate["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert '--base "$BASE_SHA"' in gate["run"] and "${{" not in gate["run"]


def test_the_restore_check_runs_monthly_and_by_hand_and_always_keeps_its_evidence():
    workflow = load(WORKFLOWS / "restore-check.yml")
    triggers = workflow[True]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    (cron,) = [entry["cron"] for entry in triggers["schedule"]]
    _minute, _hour, day, month, weekday = cron.split()
    assert (day, month, weekday) == ("1", "*", "*"), "once a month"
    # A cancelled check could leave its disposable server behind.
    assert workflow["concurrency"]["cancel-in-progress"] is False
    (job,) = workflow["jobs"].values()
    (check,) = [s for s in job["steps"] if "python -m drill restore" in s.get("run", "")]
    assert '--kind "$KIND"' in check["run"] and "if" not in check
    kept = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert [s.get("if") for s in kept] == ["always()"] and "record.json" in kept[0]["with"]["path"]
    # Every kind monthly, pitr first: the vault check judges the probe rows pitr checks leave.
    assert '\'["pitr", "geo", "vault"]\'' in job["strategy"]["matrix"]["kind"]
    assert job["strategy"]["max-parallel"] == 1
    assert triggers["workflow_dispatch"]["inputs"]["kind"]["options"] == ["pitr", "geo", "vault"]


def test_the_sla_report_runs_on_the_first_for_the_month_just_ended_and_keeps_its_evidence():
    import subprocess

    workflow = load(WORKFLOWS / "sla-report.yml")
    triggers = workflow[True]
    (cron,) = [entry["cron"] for entry in triggers["schedule"]]
    assert cron.split()[2:] == ["1", "*", "*"], "on the first of every month"
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == ["prod", "dr"]
    (report,) = [s for s in job["steps"] if s.get("name") == "Report"]
    assert "--json" in report["run"] and "--markdown" in report["run"] and "--print-query" in report["run"]
    assert "${{" not in report["run"], "inputs reach the script through the environment only"
    # The default month, computed as the step does, on the first of a month and of a year.
    month_line = next(line for line in report["run"].splitlines() if line.strip().startswith("month="))
    for today, expected in (("2026-12-01", "2026-11"), ("2027-01-01", "2026-12"), ("2027-03-01", "2027-02")):
        script = month_line.strip().replace("$(date -u +%Y-%m-01)", today[:8] + "01") + '\necho "$month"'
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env={"MONTH_INPUT": ""})
        assert done.stdout.strip() == expected, (today, done.stderr)
    kept = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert [s.get("if") for s in kept] == ["always()"] and kept[0]["with"]["path"] == "sla-reports/"
