"""Each project's secret in each region, granted to that project's group alone at the secret's own
scope; rotating or removing one project's secret leaves every other project's secret and grant
exactly as they were."""

from __future__ import annotations

import json

import pytest
from conftest import PROJECT_DIR, render_variant

from components.facts import KEY_VAULT_SECRETS_USER, PROJECT_SECRETS, PURPOSE_TAG
from gate.stack_files import read_stack_config
from helpers import LOCK, ROLE_ASSIGNMENT, VAULT

SECRET = "azure-native:keyvault:Secret"
RANDOM = "random:index/randomPassword:RandomPassword"
GROUPS = {"atlas": "7c1e2a40-3b5d-4f6e-8a9b-0c1d2e3f4a51", "borealis": "9d3f4b62-5c7e-4a8f-9b0c-1d2e3f4a5b62"}


def project_vault(rendering):
    (vault,) = [
        v for v in rendering.of_type(VAULT) if v.plain_inputs["tags"].get(PURPOSE_TAG) == PROJECT_SECRETS
    ]
    return vault


def project_resources(rendering, project: str) -> dict[str, dict]:
    """The project's secret, its grant and (in the generating stack) its random value, by type."""
    found = {}
    for resource in rendering.resources:
        if resource.name in (
            f"project-secrets-project-{project}-key",
            f"project-{project}-key-reader",
            f"project-{project}-key",
        ):
            found[resource.type] = resource.plain_inputs
    return found


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_each_project_reads_its_own_secret_in_each_region_and_nothing_else(stack, prod, dr):
    rendering = {"prod": prod, "dr": dr}[stack]
    vault = project_vault(rendering)
    vault_id = vault.outputs["id"]
    assert vault.plain_inputs["properties"]["enableRbacAuthorization"] is True
    assert vault.plain_inputs["properties"]["enablePurgeProtection"] is True
    assert vault.plain_inputs["properties"]["publicNetworkAccess"] == "Disabled"
    assert not [lock for lock in rendering.of_type(LOCK) if lock.plain_inputs.get("scope") == vault_id]
    for project, object_id in GROUPS.items():
        secret_name = f"project-{project}-key"
        found = project_resources(rendering, project)
        secret, grant = found[SECRET], found[ROLE_ASSIGNMENT]
        assert secret["secretName"] == secret_name and secret["tags"]["project"] == project
        assert secret["vaultName"] == vault.plain_inputs["vaultName"]
        assert grant["scope"] == f"{vault_id}/secrets/{secret_name}"
        assert (grant["principalId"], grant["principalType"]) == (object_id, "Group")
        assert grant["roleDefinitionId"].endswith(f"/roleDefinitions/{KEY_VAULT_SECRETS_USER}")
    grants_to_projects = [
        g for g in rendering.of_type(ROLE_ASSIGNMENT) if g.plain_inputs["principalId"] in GROUPS.values()
    ]
    assert len(grants_to_projects) == 2, "one grant per project, on its secret alone"
    main_vault_secrets = [
        s for s in rendering.of_type(SECRET) if s.plain_inputs["vaultName"] != vault.plain_inputs["vaultName"]
    ]
    assert not [s for s in main_vault_secrets if s.plain_inputs["secretName"].startswith("project-")]


def test_the_standby_holds_the_value_the_primary_generated(prod, dr):
    generated = project_resources(prod, "atlas")
    assert RANDOM in generated and RANDOM not in project_resources(dr, "atlas")
    value = generated[SECRET]["properties"]["value"]
    assert value.startswith("offline-password-")
    assert project_resources(dr, "atlas")[SECRET]["properties"]["value"] == value


def tenancy_with(change) -> dict:
    tenancy = json.loads(read_stack_config(PROJECT_DIR, "prod").values["continuity:tenancy"])
    change(tenancy)
    return {"continuity:tenancy": json.dumps(tenancy)}


def test_rotating_one_project_s_secret_touches_no_other_project(prod):
    rotated = render_variant(
        "prod", tenancy_with(lambda t: t["projects"]["borealis"].update(secretVersion=2))
    )
    before, after = project_resources(prod, "borealis"), project_resources(rotated, "borealis")
    # A changed keeper makes the random provider create a new value: the rotation.
    assert before[RANDOM]["keepers"] == {"secretVersion": "1"} and after[RANDOM]["keepers"] == {
        "secretVersion": "2"
    }
    assert before[ROLE_ASSIGNMENT] == after[ROLE_ASSIGNMENT], "the grant stays: its scope has no version"
    assert project_resources(prod, "atlas") == project_resources(rotated, "atlas")


def test_removing_a_project_removes_its_grant_and_leaves_the_others_alone(prod):
    without = render_variant("prod", tenancy_with(lambda t: t["projects"].pop("borealis")))
    assert project_resources(without, "borealis") == {}
    assert project_resources(prod, "atlas") == project_resources(without, "atlas")
    others = lambda r: sorted(  # noqa: E731
        json.dumps(x.plain_inputs, sort_keys=True)
        for x in r.of_type(ROLE_ASSIGNMENT)
        if x.plain_inputs["principalId"] not in GROUPS.values()
    )
    assert others(prod) == others(without), "no other grant changes"


def test_the_gate_wants_the_same_projects_in_both_stack_files(prod, dr):
    from types import SimpleNamespace

    from gate.pipeline import stack_file_consistency

    assert stack_file_consistency(dr, prod) == []
    fewer = dr.settings.tenancy.model_copy(
        update={"projects": {"atlas": dr.settings.tenancy.projects["atlas"]}}
    )
    changed = SimpleNamespace(stack="dr", settings=dr.settings.model_copy(update={"tenancy": fewer}))
    assert stack_file_consistency(changed, prod) == [
        "Pulumi.dr.yaml: continuity:tenancy differs from Pulumi.prod.yaml's; both stacks declare the same projects and tables"
    ]
