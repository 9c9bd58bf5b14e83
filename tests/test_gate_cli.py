"""`python -m gate` as CI and people run it: plans, JSON, and clear failures with exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_DIR, TODAY

from helpers import gate_in_process


def run_gate(*args: str) -> subprocess.CompletedProcess:
    """The gate as CI runs it, in its own process, with waiver expiry checked as of the suite's day."""
    return subprocess.run(
        [sys.executable, "-m", "gate", "--today", TODAY.isoformat(), *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )


def copy_stack_files(tmp_path: Path, edit_prod=None) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dr.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    if edit_prod:
        document = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
        edit_prod(document["config"])
        (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def test_plan_lists_both_stacks_with_the_settings_that_matter(capsys):
    result = gate_in_process(capsys, "--plan")
    assert result.returncode == 0, result.stderr
    assert "Stack prod: region australiaeast, role primary" in result.stdout
    assert "Stack dr: region australiasoutheast, role standby (servers created as replica)" in result.stdout
    assert (
        "createMode = Replica" in result.stdout and "highAvailability.mode = ZoneRedundant" in result.stdout
    )


def test_json_plan_is_complete_and_carries_no_secret(prod, capsys):
    result = gate_in_process(capsys, "--plan", "--json", "-")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert [s["stack"] for s in plan["stacks"]] == ["prod", "dr"]
    assert plan["stacks"][0]["resourceCount"] == sum(1 for r in prod.resources if r.custom)
    assert plan["stacks"][0]["outputs"]["sharedSecrets"] == "[secret]"
    passwords = {s.plain_inputs["properties"]["value"] for s in prod.of_type("azure-native:keyvault:Secret")}
    assert passwords and not any(p in result.stdout for p in passwords)


def test_bad_config_exits_2_naming_file_and_key_paths(tmp_path, capsys):
    def break_prod(config):
        config["continuity:databases"]["knowledge"]["rpo"] = "15"
        config["continuity:logs"]["retention"] = "30d"

    result = gate_in_process(
        capsys, "--project-dir", str(copy_stack_files(tmp_path, break_prod)), "--no-checkov"
    )
    assert result.returncode == 2
    assert "Pulumi.prod.yaml: continuity:databases.knowledge.rpo: '15' is not a duration" in result.stderr
    assert "Pulumi.prod.yaml: continuity:logs.retention: must be at least 90d" in result.stderr
    assert result.stdout == ""


def test_unknown_stack_exits_2(tmp_path, capsys):
    result = gate_in_process(
        capsys, "--project-dir", str(copy_stack_files(tmp_path)), "--stack", "staging", "--no-checkov"
    )
    assert result.returncode == 2
    assert "Pulumi.staging.yaml: no such stack file" in result.stderr


def test_bad_usage_exits_2_with_the_reason(capsys):
    result = gate_in_process(capsys, "--frobnicate")
    assert result.returncode == 2 and "unrecognized arguments: --frobnicate" in result.stderr


# The JSON report of both stacks as of TODAY, checkov included. Taken with the gate of commit 7cd7d24,
# which rendered, evaluated and scanned one after the other; a change that changes findings updates
# it (CONTINUITY_UPDATE_SNAPSHOTS=1) and the diff is read in review.
REVIEWED_REPORT = PROJECT_DIR / "tests" / "fixtures" / "gate" / "report.json"


def assert_same_as_reviewed_report(text: str) -> None:
    if os.environ.get("CONTINUITY_UPDATE_SNAPSHOTS"):
        REVIEWED_REPORT.write_text(text)
    assert text == REVIEWED_REPORT.read_text(), f"the gate's JSON report differs from {REVIEWED_REPORT}"


def test_full_gate_passes_the_shipped_stacks_with_the_reviewed_waivers_and_writes_every_report(tmp_path):
    """End to end as CI runs it: its own process, checkov included, every report."""
    result = run_gate(
        "--arm-dir",
        str(tmp_path / "arm"),
        "--sarif",
        str(tmp_path / "g.sarif"),
        "--junit",
        str(tmp_path / "g.xml"),
        "--markdown",
        str(tmp_path / "g.md"),
        "--json",
        str(tmp_path / "g.json"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: 0 blocking findings" in result.stdout
    # Byte for byte the report of the gate before it was made faster (concurrent pack and checkov,
    # renders without the cycle collector): what runs differently must find the same.
    assert_same_as_reviewed_report((tmp_path / "g.json").read_text())
    report = json.loads((tmp_path / "g.json").read_text())
    waived = {(f["ruleId"], f["stack"]) for f in report["findings"] if f["status"] == "waived"}
    assert waived == {
        ("CKV_AZURE_41", "prod"),
        ("CKV_AZURE_41", "dr"),
        ("CKV_AZURE_59", "prod"),
        ("CKV_AZURE_59", "dr"),
    }
    assert report["summary"]["blocking"] == 0 and report["summary"]["checkovRan"] is True
    assert report["summary"]["exitCode"] == 0
    assert json.loads((tmp_path / "g.sarif").read_text())["version"] == "2.1.0"
    assert "**PASS**" in (tmp_path / "g.md").read_text()
    assert "<testsuites" in (tmp_path / "g.xml").read_text()
    template = json.loads((tmp_path / "arm" / "prod.json").read_text())
    assert template["contentVersion"] == "1.0.0.0" and template["$schema"].endswith(
        "deploymentTemplate.json#"
    )


def test_gate_exits_1_naming_rule_and_resource_when_a_stack_is_weakened(tmp_path, capsys):
    """End to end from a stack file: HA off on the knowledge base fails CTY-RES-002, and its 99.95 %
    objective, above the 99.9 % Microsoft guarantees without HA, fails CTY-SLA-001."""

    def weaken(config):
        config["continuity:databases"]["knowledge"]["highAvailability"] = False

    project = copy_stack_files(tmp_path, weaken)
    for name in ("__main__.py", "components", "policies"):
        source = PROJECT_DIR / name
        (project / name).symlink_to(source, target_is_directory=source.is_dir())
    result = gate_in_process(capsys, "--project-dir", str(project), "--no-checkov")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CTY-RES-002" in result.stdout and "prod/knowledge-g1" in result.stdout
    assert "CTY-SLA-001" in result.stdout
    assert "FAIL: 2 blocking findings" in result.stdout


def test_program_itself_refuses_bad_config_before_declaring_anything():
    """What `pulumi up` would do with the same stack file: fail with the settings errors."""
    from gate.render import offline_identity
    from gate.stack_files import read_stack_config

    config = read_stack_config(PROJECT_DIR, "prod").with_overrides({"continuity:colour": "blue"})
    subscription, tenant = offline_identity()
    request = {
        "projectDir": str(PROJECT_DIR),
        "stack": "prod",
        "values": config.values,
        "secretKeys": [],
        "peerOutputs": {},
        "subscriptionId": subscription,
        "tenantId": tenant,
    }
    worker = subprocess.run(
        [sys.executable, "-m", "gate.render_server", "--once"],
        input=json.dumps(request),
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    answer = json.loads(worker.stdout)
    assert "continuity:colour: unknown key" in answer["error"]
    assert "stack 'prod'" in answer["error"]
    assert answer["declared"] == 0


def test_pack_config_out_of_step_with_the_stacks_is_refused(tmp_path):
    """policies/config/<stack>.json is what `pulumi preview` uses: the gate refuses to disagree with it."""
    from gate.pipeline import GateConfigError
    from gate.pipeline import run_gate as run

    pack = tmp_path / "policies"
    shutil.copytree(PROJECT_DIR / "policies", pack, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    config = json.loads((pack / "config" / "prod.json").read_text())
    config["CTY-DEP-003"]["peerRegion"] = "westeurope"
    (pack / "config" / "prod.json").write_text(json.dumps(config))
    with pytest.raises(GateConfigError) as caught:
        run(PROJECT_DIR, ["prod", "dr"], pack_dir=pack)
    assert (
        "policies/config/prod.json: CTY-DEP-003.peerRegion is 'westeurope' but the stacks say "
        "'australiasoutheast'"
    ) in str(caught.value)
