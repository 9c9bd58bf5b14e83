"""The restore staging account each stack declares for long-term-retention restores
(components/restore_staging.py), as rendered: what Microsoft requires of a restore target, who may
write and read there, and how long the files stay."""

from __future__ import annotations

from conftest import PROJECT_DIR, render_variant

from components import roles
from components.restore_staging import CONTAINER, STAGING_DAYS
from gate.render import reveal
from gate.stack_files import read_stack_config
from helpers import MANAGEMENT_POLICY, ROLE_ASSIGNMENT, STORAGE

READER = {
    "objectId": "0b4e1c9a-5d2f-4e61-9a0c-3f8b7d6e5a41",
    "principalName": "restore-check",
    "principalType": "servicePrincipal",
}


def staging(rendering):
    (account,) = [r for r in rendering.of_type(STORAGE) if r.name == "restore-staging-account"]
    return account


def grants_on_container(rendering):
    return [
        g.plain_inputs
        for g in rendering.of_type(ROLE_ASSIGNMENT)
        if g.plain_inputs["scope"].endswith(f"/blobServices/default/containers/{CONTAINER}")
    ]


def vault_principal(rendering):
    (vault,) = rendering.of_type("azure-native:dataprotection:BackupVault")
    return reveal(vault.outputs)["identity"]["principalId"], vault.id


def test_the_account_meets_microsofts_restore_target_prerequisites(prod):
    account = staging(prod).plain_inputs
    # "Ensure that the target storage account for the restore has the AllowCrossTenantReplication
    # property set to true" (restore-azure-database-postgresql-flex).
    assert account["allowCrossTenantReplication"] is True
    assert "allowedCopyScope" not in account, "AAD would refuse the copy from Microsoft's tenant"
    rules = account["networkRuleSet"]
    assert (rules["defaultAction"], rules["bypass"]) == ("Deny", "AzureServices")
    (own,) = rules["resourceAccessRules"]
    assert own["resourceId"] == vault_principal(prod)[1]
    assert account["allowSharedKeyAccess"] is False and account["allowBlobPublicAccess"] is False


def test_only_the_vault_may_write_unless_readers_are_declared(prod):
    principal, _ = vault_principal(prod)
    (grant,) = grants_on_container(prod)
    assert grant["principalId"] == principal and grant["principalType"] == "ServicePrincipal"
    assert grant["roleDefinitionId"].endswith(roles.STORAGE_BLOB_DATA_CONTRIBUTOR)


def test_declared_readers_get_the_container_and_nothing_more(prod):
    rendering = render_variant("prod", {"continuity:backup": {**_backup(), "restoreReaders": [READER]}})
    readers = [g for g in grants_on_container(rendering) if g["principalId"] == READER["objectId"]]
    assert [(g["principalType"], g["roleDefinitionId"].rsplit("/", 1)[-1]) for g in readers] == [
        ("ServicePrincipal", roles.STORAGE_BLOB_DATA_CONTRIBUTOR)
    ]
    assert not [
        g
        for g in rendering.of_type(ROLE_ASSIGNMENT)
        if g.plain_inputs["principalId"] == READER["objectId"]
        and not g.plain_inputs["scope"].endswith(CONTAINER)
    ]


def test_the_standby_lets_the_peers_vault_restore_into_its_region(prod, dr):
    prod_principal, prod_vault = vault_principal(prod)
    dr_principal, dr_vault = vault_principal(dr)
    rules = staging(dr).plain_inputs["networkRuleSet"]["resourceAccessRules"]
    assert sorted(r["resourceId"] for r in rules) == sorted([dr_vault, prod_vault])
    assert sorted(g["principalId"] for g in grants_on_container(dr)) == sorted([dr_principal, prod_principal])


def test_restored_files_are_deleted_a_day_after_they_land(prod):
    (policy,) = prod.of_type(MANAGEMENT_POLICY)
    (rule,) = policy.plain_inputs["policy"]["rules"]
    assert rule["enabled"] is True and rule["definition"]["filters"]["prefixMatch"] == [f"{CONTAINER}/"]
    assert rule["definition"]["actions"]["baseBlob"]["delete"] == {
        "daysAfterModificationGreaterThan": STAGING_DAYS
    }


def _backup() -> dict:
    return dict(read_stack_config(PROJECT_DIR, "prod").raw("backup") or {})
