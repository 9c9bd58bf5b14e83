"""ARM templates of the rendered stacks, and checkov run on them offline with the project's checks."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from cli.secrets import REDACTED
from components.arm import api_version, arm_type
from gate.arm_export import SCHEMA, URN_KEY, arm_template, is_azure_resource, write_templates
from gate.checkov import (
    CheckOutcome,
    CheckovError,
    checkov_rules,
    findings,
    scan_templates,
    split_resource,
)
from gate.findings import Finding
from gate.render import Rendering, is_secret, reveal
from helpers import LOCK, RESOURCE_GROUP, SECRET, SERVER, VAULT, audit_archive

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checkov"
CUSTOM_CHECKS = {
    "CKV_CONTINUITY_1": "postgres_geo_backup",
    "CKV_CONTINUITY_2": "backup_vault_geo_redundant",
    "CKV_CONTINUITY_3": "backup_vault_cross_region_restore",
}


def secret_values(rendering: Rendering) -> set[str]:
    """The generated admin passwords, as the servers and the vault secrets receive them."""
    values = {
        reveal(r.inputs["administratorLoginPassword"])
        for r in rendering.of_type(SERVER)
        if "administratorLoginPassword" in r.inputs
    }
    for secret in rendering.of_type(SECRET):
        assert is_secret(secret.inputs["properties"])
        values.add(reveal(secret.inputs["properties"])["value"])
    return values


def arm_resources(template: dict, arm_resource_type: str) -> list[dict]:
    return [r for r in template["resources"] if r["type"] == arm_resource_type]


def outcomes_of(outcomes: list[CheckOutcome], check_id: str) -> list[CheckOutcome]:
    return [o for o in outcomes if o.check_id == check_id]


@pytest.fixture(scope="session")
def templates(prod, dr) -> dict[str, dict]:
    return {"prod": arm_template(prod), "dr": arm_template(dr)}


@pytest.fixture(scope="session")
def template_files(prod, dr, tmp_path_factory) -> dict[str, Path]:
    return write_templates([prod, dr], tmp_path_factory.mktemp("arm"))


@pytest.fixture(scope="session")
def weakened_prod(templates, tmp_path_factory) -> Path:
    """prod's template with purge protection off on its key vault (a known built-in failure)."""
    template = copy.deepcopy(templates["prod"])
    vault = next(
        r for r in arm_resources(template, "Microsoft.KeyVault/vaults") if r["name"].startswith("kv-cty-prod")
    )
    vault["properties"]["enablePurgeProtection"] = False
    path = tmp_path_factory.mktemp("arm-weakened") / "prod.json"
    path.write_text(json.dumps(template, indent=2))
    return path


@pytest.fixture(scope="session")
def scanned(template_files, weakened_prod) -> dict[Path, list[CheckOutcome]]:
    """One checkov process over both stacks, the weakened prod template and every fixture: its
    start-up is most of its run, and outcomes are per template."""
    return scan_templates(
        [template_files["prod"], template_files["dr"], weakened_prod, *sorted(FIXTURES.glob("*.json"))]
    )


@pytest.fixture(scope="session")
def stack_outcomes(scanned, template_files, weakened_prod) -> dict[str, list[CheckOutcome]]:
    return {
        "prod": scanned[template_files["prod"].resolve()],
        "dr": scanned[template_files["dr"].resolve()],
        "weakened-prod": scanned[weakened_prod.resolve()],
    }


@pytest.fixture(scope="session")
def fixture_outcomes(scanned) -> dict[str, list[CheckOutcome]]:
    """Outcomes by fixture file stem."""
    return {path.stem: scanned[path.resolve()] for path in sorted(FIXTURES.glob("*.json"))}


# --- the ARM templates -------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_template_has_every_azure_resource_with_its_arm_type_and_pinned_api_version(
    stack, templates, request
):
    rendering: Rendering = request.getfixturevalue(stack)
    template = templates[stack]
    assert template["$schema"] == SCHEMA
    assert template["contentVersion"] == "1.0.0.0"
    azure = [r for r in rendering.resources if is_azure_resource(r)]
    assert len(template["resources"]) == len(azure) > 50
    by_urn = {r["metadata"][URN_KEY]: r for r in template["resources"]}
    assert set(by_urn) == {r.urn for r in azure}
    for resource in azure:
        entry = by_urn[resource.urn]
        assert entry["type"] == arm_type(resource.type).resource_type
        assert entry["apiVersion"] == api_version(resource.type)
        # The ARM name is the id's name segments joined by "/".
        if resource.type == RESOURCE_GROUP:
            expected_name = resource.id.rsplit("/", 1)[-1]
        else:
            expected_name = "/".join(resource.id.split("/providers/")[-1].split("/")[2::2])
        assert entry["name"] == expected_name, resource.urn
    # Nothing that is not Azure (generated passwords) is in the template.
    assert not any("random:" in urn for urn in by_urn)


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_template_carries_no_secret_value(stack, templates, request):
    rendering: Rendering = request.getfixturevalue(stack)
    secrets = secret_values(rendering)
    # knowledge and operational admin passwords, atlas's and borealis's project secrets
    assert len(secrets) == 4 and all(len(v) >= 16 for v in secrets)
    text = json.dumps(templates[stack])
    for value in secrets:
        assert value not in text
    for entry in arm_resources(templates[stack], "Microsoft.KeyVault/vaults/secrets"):
        assert entry["properties"]["value"] == REDACTED
    if stack == "prod":
        for entry in arm_resources(templates[stack], "Microsoft.DBforPostgreSQL/flexibleServers"):
            assert entry["properties"]["administratorLoginPassword"] == REDACTED


def test_template_uses_arm_layout(prod, templates):
    template = templates["prod"]
    (server, *_) = arm_resources(template, "Microsoft.DBforPostgreSQL/flexibleServers")
    assert server["location"] == "australiaeast" and server["tags"]["environment"] == "prod"
    assert server["sku"]["tier"] == "GeneralPurpose" and "identity" in server
    assert server["properties"]["backup"]["geoRedundantBackup"] == "Enabled"
    for key in ("serverName", "resourceGroupName", "location", "tags", "sku", "identity"):
        assert key not in server["properties"]
    # Resources whose inputs already hold `properties` are not nested twice.
    for arm_resource_type in ("Microsoft.KeyVault/vaults", "Microsoft.DataProtection/backupVaults"):
        for entry in arm_resources(template, arm_resource_type):
            assert "properties" not in entry["properties"]
    (vault, *_) = arm_resources(template, "Microsoft.KeyVault/vaults")
    assert vault["properties"]["enablePurgeProtection"] is True
    (backup_vault,) = arm_resources(template, "Microsoft.DataProtection/backupVaults")
    assert backup_vault["identity"] == {"type": "SystemAssigned"}
    assert backup_vault["properties"]["storageSettings"][0]["type"] == "GeoRedundant"
    # Inputs the provider renames are written with ARM's names.
    accounts = arm_resources(template, "Microsoft.Storage/storageAccounts")
    assert len(accounts) == 2, "the audit archive and the restore staging account"
    for storage in accounts:
        assert storage["kind"] == "StorageV2" and storage["sku"]["name"] == "Standard_GZRS"
        assert storage["properties"]["supportsHttpsTrafficOnly"] is True
        assert storage["properties"]["networkAcls"]["defaultAction"] == "Deny"
    (staging,) = [a for a in accounts if a["tags"]["purpose"] == "restore-staging"]
    assert staging["properties"]["networkAcls"]["resourceAccessRules"][0]["resourceId"].endswith(
        "/backupVaults/bvault-cty-prod-aue"
    )
    (container,) = arm_resources(template, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container["name"].endswith("/default/ltr-restores"), (
        "the name ARM expects: account/default/container"
    )
    (workspace,) = arm_resources(template, "Microsoft.OperationalInsights/workspaces")
    assert workspace["properties"]["sku"] == {"name": "PerGB2018"} and "sku" not in workspace
    (export,) = arm_resources(template, "Microsoft.OperationalInsights/workspaces/dataExports")
    assert export["properties"]["destination"]["resourceId"] == storage_id(prod)
    alert = arm_resources(template, "Microsoft.Insights/metricAlerts")[0]
    assert "odata.type" in alert["properties"]["criteria"]
    # Child resources are named parent/child.
    servers = {s["name"] for s in arm_resources(template, "Microsoft.DBforPostgreSQL/flexibleServers")}
    for config in arm_resources(template, "Microsoft.DBforPostgreSQL/flexibleServers/configurations"):
        parent, child = config["name"].split("/")
        assert parent in servers and child


def test_template_is_the_same_for_the_same_stack(prod, templates):
    assert arm_template(prod) == templates["prod"]
    urns = [r["metadata"][URN_KEY] for r in templates["prod"]["resources"]]
    assert urns == sorted(urns)


def storage_id(rendering: Rendering) -> str:
    return audit_archive(rendering).id


def test_extension_resources_name_their_scope(prod, templates):
    template = templates["prod"]
    by_urn = {r["metadata"][URN_KEY]: r for r in template["resources"]}
    for lock in prod.of_type(LOCK):
        assert by_urn[lock.urn]["scope"] == lock.plain_inputs["scope"]
    diagnostics = arm_resources(template, "Microsoft.Insights/diagnosticSettings")
    assert diagnostics and all(
        d["scope"].startswith(f"/subscriptions/{prod.subscription_id}") for d in diagnostics
    )
    for assignment in arm_resources(template, "Microsoft.Authorization/roleAssignments"):
        assert assignment["scope"] and "scope" not in assignment["properties"]
    assert not any("scope" in r for r in arm_resources(template, "Microsoft.KeyVault/vaults"))


def test_write_templates_writes_one_file_per_stack(template_files, templates):
    assert set(template_files) == {"prod", "dr"}
    for stack, path in template_files.items():
        assert path.name == f"{stack}.json"
        assert json.loads(path.read_text()) == templates[stack]


# --- checkov on the real stacks ------------------------------------------------------------------------


def test_checkov_runs_builtin_arm_checks_on_the_stacks(stack_outcomes):
    for stack in ("prod", "dr"):
        outcomes = stack_outcomes[stack]
        # Built-in checks on the Key Vaults and keys of the stack.
        purge = outcomes_of(outcomes, "CKV_AZURE_110")
        assert purge and all(o.result == "PASSED" for o in purge)
        hsm = outcomes_of(outcomes, "CKV_AZURE_112")
        assert hsm and all(o.result == "PASSED" for o in hsm)
        # Every outcome points back to the rendered resource.
        assert all(o.urn.startswith(f"urn:pulumi:{stack}::continuity::") for o in outcomes)


def test_custom_checks_pass_on_the_real_stacks(stack_outcomes):
    for stack, servers, vaults in (("prod", 2, 1), ("dr", 2, 1)):
        outcomes = stack_outcomes[stack]
        expected = {"CKV_CONTINUITY_1": servers, "CKV_CONTINUITY_2": vaults, "CKV_CONTINUITY_3": vaults}
        for check_id, count in expected.items():
            results = outcomes_of(outcomes, check_id)
            assert [o.result for o in results] == ["PASSED"] * count, (stack, check_id)


def test_failed_builtin_check_becomes_a_finding_with_the_urn(prod, stack_outcomes):
    (vault,) = [v for v in prod.of_type(VAULT) if v.plain_inputs["vaultName"].startswith("kv-cty-prod")]
    found = findings(stack_outcomes["weakened-prod"], "prod")
    (purge,) = [f for f in found if f.rule_id == "CKV_AZURE_110"]
    assert purge == Finding(
        rule_id="CKV_AZURE_110",
        source="checkov",
        stack="prod",
        urn=vault.urn,
        resource_type="Microsoft.KeyVault/vaults",
        resource_name=vault.plain_inputs["vaultName"],
        message="Ensure that key vault enables purge protection",
        severity="medium",
        enforcement="mandatory",
    )
    assert purge.blocks
    # Findings are exactly the failed outcomes.
    failed = [o for o in stack_outcomes["weakened-prod"] if o.result == "FAILED"]
    assert len(found) == len(failed) and {f.rule_id for f in found} == {o.check_id for o in failed}


def test_checkov_rules_describe_every_check_that_ran(stack_outcomes):
    rules = checkov_rules(stack_outcomes["prod"])
    assert {"CKV_AZURE_110", "CKV_CONTINUITY_1", "CKV_CONTINUITY_2", "CKV_CONTINUITY_3"} <= set(rules)
    custom = rules["CKV_CONTINUITY_1"]
    assert custom.source == "checkov" and custom.concern == "checkov"
    assert custom.title.startswith("Ensure PostgreSQL flexible servers keep geo-redundant backups")
    assert custom.help_uri and custom.help_uri.startswith("https://learn.microsoft.com/")
    assert rules["CKV_AZURE_110"].title == "Ensure that key vault enables purge protection"
    assert all(r.severity == "medium" and r.enforcement == "mandatory" for r in rules.values())


def test_missing_checkov_environment_is_a_usage_error_that_says_what_to_do(template_files, tmp_path):
    from cli.exits import Exit
    from gate.checkov import CheckovMissing

    with pytest.raises(CheckovMissing) as error:
        scan_templates([template_files["prod"]], checkov=tmp_path / ".venv-checkov" / "bin" / "checkov")
    assert "run bin/setup" in str(error.value) and "--no-checkov" in str(error.value)
    assert error.value.code is Exit.USAGE


def fake_checkov(folder: Path, script: str) -> Path:
    """A checkov environment whose Python runs `script` (sh) instead of checkov."""
    bin_dir = folder / ".venv-checkov" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "checkov").write_text("")
    python = bin_dir / "python"
    python.write_text("#!/bin/sh\n" + script)
    python.chmod(0o755)
    return bin_dir / "checkov"


def test_a_checkov_that_crashes_is_an_internal_error_with_its_stderr(template_files, tmp_path):
    from cli.exits import Exit

    checkov = fake_checkov(tmp_path, "read line; echo 'checkov: out of memory' >&2; exit 3\n")
    with pytest.raises(CheckovError) as error:
        scan_templates([template_files["prod"]], checkov=checkov)
    assert "checkov failed (exit 3)" in str(error.value) and "checkov: out of memory" in str(error.value)
    assert str(template_files["prod"].resolve()) in str(error.value)  # the command, for a rerun by hand
    assert error.value.code is Exit.INTERNAL


def test_checkov_started_ahead_is_handed_the_scan_and_stopped_if_never_used(template_files, tmp_path):
    from gate.checkov import CheckovProcess

    # What the worker reads is what the `checkov` command would get as its arguments.
    checkov = fake_checkov(tmp_path, f'read line; echo "$line" > {tmp_path / "argv"}; exit 3\n')
    with CheckovProcess(checkov) as started, pytest.raises(CheckovError):
        started.scan([template_files["prod"]])
    argv = json.loads((tmp_path / "argv").read_text())
    assert argv[:2] == ["--file", str(template_files["prod"].resolve())] and "--skip-download" in argv
    # A gate that fails before its scan leaves no checkov behind.
    with CheckovProcess() as unused:
        pass
    assert unused.process.poll() is not None


def test_the_worker_scans_nothing_when_the_gate_sends_nothing(tmp_path):
    """The worker's own branch for a gate that failed before its scan: end of input, exit 0 without
    running checkov. Run over a stand-in `checkov.main` that records any scan, so that the worker's
    logic is what is tested here and checkov's import (seconds) is not paid for it; the real checkov
    runs through the same worker in the tests above."""
    from gate.checkov import CHECKOV, WORKER

    stand_in = tmp_path / "checkov"
    stand_in.mkdir()
    (stand_in / "__init__.py").write_text("")
    (stand_in / "main.py").write_text(
        "class Checkov:\n"
        "    def __init__(self, argv):\n"
        "        print('scanned', argv)\n"
        "    def run(self):\n"
        "        return 0\n"
    )
    for sent, printed in (("", ""), ("\n", ""), ('["--file", "x.json"]\n', "scanned ['--file', 'x.json']\n")):
        run = subprocess.run(
            [str(CHECKOV.parent / "python"), "-P", str(WORKER)],
            input=sent,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
        )
        assert (run.returncode, run.stdout) == (0, printed), sent


def test_unparsable_template_is_an_error(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"$schema": "' + SCHEMA + '", "resources": [')
    # Read before checkov is handed it: the gate's own message, naming the file, not checkov's.
    with pytest.raises(
        CheckovError, match=f"^could not parse the ARM template {re.escape(str(broken.resolve()))}"
    ):
        scan_templates([broken])


def test_template_checkov_does_not_scan_is_an_error(tmp_path):
    """checkov silently skips JSON it does not take for ARM: that must not pass as 'no findings'."""
    unscanned = tmp_path / "unscanned.json"
    unscanned.write_text(
        json.dumps({"resources": [{"type": "Microsoft.KeyVault/vaults", "name": "kv", "properties": {}}]})
    )
    with pytest.raises(CheckovError, match="scanned 0 of their 1 resources"):
        scan_templates([unscanned])


def test_split_resource_keeps_dots_in_names():
    assert split_resource("Microsoft.KeyVault/vaults/secrets.kv-a/b.c") == (
        "Microsoft.KeyVault/vaults/secrets",
        "kv-a/b.c",
    )


# --- the project's checks on fixtures ---------------------------------------------------------------------


@pytest.mark.parametrize("check_id", sorted(CUSTOM_CHECKS))
def test_custom_check_fails_its_fail_fixture_and_passes_its_pass_fixture(check_id, fixture_outcomes):
    stem = CUSTOM_CHECKS[check_id]
    failing = outcomes_of(fixture_outcomes[f"{stem}_fail"], check_id)
    assert failing and all(o.result == "FAILED" for o in failing), failing
    passing = outcomes_of(fixture_outcomes[f"{stem}_pass"], check_id)
    assert passing and all(o.result == "PASSED" for o in passing), passing


def test_replica_is_exempt_from_the_geo_backup_check(fixture_outcomes):
    results = {
        o.resource_name: o.result
        for o in outcomes_of(fixture_outcomes["postgres_geo_backup_pass"], "CKV_CONTINUITY_1")
    }
    assert results == {"psql-primary": "PASSED", "psql-replica": "PASSED"}
    (failed,) = findings(fixture_outcomes["postgres_geo_backup_fail"], "fixture")
    assert (failed.rule_id, failed.resource_type, failed.resource_name, failed.urn) == (
        "CKV_CONTINUITY_1",
        "Microsoft.DBforPostgreSQL/flexibleServers",
        "psql-no-geo-backup",
        "",
    )
