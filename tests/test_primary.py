"""The prod stack (primary region), resource by resource, from its committed config."""

from __future__ import annotations

import json

from gate.render import redact
from helpers import (
    BACKUP_INSTANCE,
    BACKUP_POLICY,
    BACKUP_VAULT,
    BLOB_SERVICE,
    CONFIGURATION,
    DATA_EXPORT,
    DATABASE,
    DIAGNOSTIC,
    IDENTITY,
    KEY,
    RESOURCE_GROUP,
    ROLE_ASSIGNMENT,
    SECRET,
    SERVER,
    STORAGE,
    SUBSCRIPTION_DIAGNOSTIC,
    TABLE,
    VAULT,
    WORKSPACE,
    audit_archive,
    by_id,
    key_vaults,
    parameters,
    servers,
    workspace_id,
)


def test_primary_servers_are_geo_redundant_zone_redundant_and_encrypted_with_keys_in_both_regions(prod):
    vaults = {v.plain_inputs["location"]: v for v in key_vaults(prod)}
    assert set(vaults) == {"australiaeast", "australiasoutheast"}
    for _key, server in servers(prod).items():
        assert server["createMode"] == "Create"
        assert server["location"] == "australiaeast"
        assert server["highAvailability"]["mode"] == "ZoneRedundant"
        assert server["backup"] == {"backupRetentionDays": 35, "geoRedundantBackup": "Enabled"}
        encryption = server["dataEncryption"]
        assert encryption["type"] == "AzureKeyVault"
        assert encryption["primaryKeyURI"].startswith(
            f"https://{vaults['australiaeast'].plain_inputs['vaultName']}."
        )
        # The geo-backup key sits in a vault in the region the geo-backup is stored in (the peer).
        assert encryption["geoBackupKeyURI"].startswith(
            f"https://{vaults['australiasoutheast'].plain_inputs['vaultName']}."
        )
        geo_identity = by_id(prod, encryption["geoBackupUserAssignedIdentityId"])
        assert geo_identity.plain_inputs["location"] == "australiasoutheast"
        assert encryption["geoBackupUserAssignedIdentityId"] != encryption["primaryUserAssignedIdentityId"]
        assert set(server["identity"]["userAssignedIdentities"]) == {
            encryption["primaryUserAssignedIdentityId"],
            encryption["geoBackupUserAssignedIdentityId"],
        }
        assert server["authConfig"]["activeDirectoryAuth"] == "Enabled"
        assert server["network"]["publicNetworkAccess"] == "Disabled"
        assert "replica" not in server and "sourceServerResourceId" not in server


def test_sizes_and_versions_come_from_config(prod):
    assert servers(prod)["knowledge"]["sku"] == {"name": "Standard_D4ds_v5", "tier": "GeneralPurpose"}
    assert servers(prod)["knowledge"]["storage"]["storageSizeGB"] == 256
    assert servers(prod)["operational"]["sku"]["name"] == "Standard_D2ds_v5"
    assert {s["version"] for s in servers(prod).values()} == {"16"}


def test_admin_passwords_are_generated_once_and_only_ever_travel_as_secrets(prod):
    passwords = [r.plain_inputs["administratorLoginPassword"] for r in prod.of_type(SERVER)]
    assert len(set(passwords)) == 2
    secrets = [s for s in prod.of_type(SECRET) if not s.plain_inputs["secretName"].startswith("project-")]
    assert {s.plain_inputs["secretName"] for s in secrets} == {
        "knowledge-admin-password",
        "operational-admin-password",
    }
    assert {s.plain_inputs["properties"]["value"] for s in secrets} == set(passwords)
    shown = json.dumps([redact(r.inputs) for r in prod.resources]) + json.dumps(redact(prod.outputs))
    for password in passwords:
        assert password not in shown, "a password appears outside a secret"


def test_server_parameters_enforce_tls_audit_and_allow_pgvector_only_where_asked(prod):
    for key, server in servers(prod).items():
        params = parameters(prod, server["serverName"])
        assert params["require_secure_transport"] == "on"
        assert params["ssl_min_protocol_version"] == "TLSv1.2"
        assert "pgaudit" in params["shared_preload_libraries"].split(",")
        assert params["pgaudit.log"] == "ddl,role"
        assert params["log_connections"] == params["log_disconnections"] == "on"
        extensions = params["azure.extensions"].split(",")
        assert ("vector" in extensions) == (key == "knowledge")
        assert "pgaudit" in extensions


def test_server_parameter_writes_are_serialised(prod):
    # Azure rejects concurrent parameter updates on one server: each write waits for the previous.
    for server in prod.of_type(SERVER):
        name = server.plain_inputs["serverName"]
        configs = [c for c in prod.of_type(CONFIGURATION) if c.plain_inputs["serverName"] == name]
        urns = {c.urn for c in configs}
        first = [c for c in configs if not urns & set(c.dependencies)]
        assert len(first) == 1, "exactly one parameter write starts the chain"


def test_databases_are_created_on_the_primary(prod):
    names = sorted(d.plain_inputs["databaseName"] for d in prod.of_type(DATABASE))
    assert names == ["decisions", "knowledge", "patterns"]


def test_key_vaults_are_premium_rbac_purge_protected_and_private(prod):
    for vault in prod.of_type(VAULT):
        props = vault.plain_inputs["properties"]
        assert props["sku"] == {"family": "A", "name": "premium"}
        assert props["enableRbacAuthorization"] is True
        assert props["enablePurgeProtection"] is True
        assert props["enableSoftDelete"] is True and props["softDeleteRetentionInDays"] == 90
        assert props["publicNetworkAccess"] == "Disabled"
        assert props["networkAcls"]["defaultAction"] == "Deny"


def test_customer_managed_keys_are_hsm_backed_and_rotate(prod):
    keys = prod.of_type(KEY)
    assert len(keys) == 2
    for key in keys:
        props = key.plain_inputs["properties"]
        assert props["kty"] == "RSA-HSM" and props["keySize"] == 3072
        actions = {a["action"]["type"]: a["trigger"] for a in props["rotationPolicy"]["lifetimeActions"]}
        assert actions["rotate"] == {"timeAfterCreate": "P1Y"}
        assert actions["notify"] == {"timeBeforeExpiry": "P30D"}
        assert props["rotationPolicy"]["attributes"]["expiryTime"] == "P2Y"


def test_each_key_identity_may_unwrap_keys_only_in_its_own_vaults_resource_group(prod):
    """The grant sits on the resource group that holds the key's vault, and that group holds no other
    vault: a grant beneath the vault's delete lock could never be removed (lock-resources: "A
    cannot-delete lock on a resource or resource group prevents the deletion of Azure RBAC assignments")."""
    grants = [
        g
        for g in prod.of_type(ROLE_ASSIGNMENT)
        if g.plain_inputs["roleDefinitionId"].endswith("e147488a-f6f5-4113-8e2d-b22465e65bf6")
    ]
    vaults = key_vaults(prod)
    assert len(grants) == len(vaults) == 2
    for grant in grants:
        scope = grant.plain_inputs["scope"]
        assert scope.rsplit("/", 2)[-2] == "resourceGroups"
        assert [v for v in vaults if v.id.startswith(scope + "/")] != []
        assert len([v for v in vaults if v.id.startswith(scope + "/")]) == 1
        (identity,) = [
            i for i in prod.of_type(IDENTITY) if grant.plain_inputs["principalId"] == i.outputs["principalId"]
        ]
        assert identity.id.startswith(scope + "/")


def test_workspace_retention_and_long_retention_of_audit_tables(prod):
    (workspace,) = prod.of_type(WORKSPACE)
    assert workspace.plain_inputs["retentionInDays"] == 90
    assert workspace.plain_inputs["features"]["disableLocalAuth"] is True
    tables = {t.plain_inputs["tableName"]: t.plain_inputs for t in prod.of_type(TABLE)}
    assert set(tables) == {"AzureActivity", "AzureDiagnostics", "LAQueryLogs"}
    for table in tables.values():
        assert table["retentionInDays"] == 90 and table["totalRetentionInDays"] == 365


def test_audit_archive_is_immutable_private_and_fed_by_data_export(prod):
    archive = audit_archive(prod)
    inputs = archive.plain_inputs
    assert inputs["sku"]["name"] == "Standard_GZRS"
    assert inputs["minimumTlsVersion"] == "TLS1_2"
    assert inputs["enableHttpsTrafficOnly"] is True
    assert inputs["allowBlobPublicAccess"] is False
    assert inputs["allowSharedKeyAccess"] is False
    assert inputs["encryption"]["requireInfrastructureEncryption"] is True
    worm = inputs["immutableStorageWithVersioning"]
    assert worm["enabled"] is True
    assert worm["immutabilityPolicy"] == {
        "immutabilityPeriodSinceCreationInDays": 365,
        "state": "Unlocked",
        "allowProtectedAppendWrites": True,
    }
    (blob_service,) = prod.of_type(BLOB_SERVICE)
    assert blob_service.plain_inputs["isVersioningEnabled"] is True
    (export,) = prod.of_type(DATA_EXPORT)
    assert export.plain_inputs["resourceId"] == archive.id
    assert export.plain_inputs["tableNames"] == ["AzureActivity", "LAQueryLogs"]
    assert export.plain_inputs["enable"] is True


def test_activity_log_goes_to_workspace_and_archive(prod):
    (setting,) = prod.of_type(SUBSCRIPTION_DIAGNOSTIC)
    inputs = setting.plain_inputs
    assert inputs["workspaceId"] == workspace_id(prod)
    assert inputs["storageAccountId"] == audit_archive(prod).id
    assert {log["category"] for log in inputs["logs"]} >= {
        "Administrative",
        "Security",
        "ServiceHealth",
        "Policy",
    }


def test_every_resource_that_can_send_diagnostics_sends_them_to_the_workspace(prod, dr):
    for rendering in (prod, dr):
        settings = {d.plain_inputs["resourceUri"]: d.plain_inputs for d in rendering.of_type(DIAGNOSTIC)}
        sources = [r.id for t in (SERVER, VAULT, BACKUP_VAULT, WORKSPACE) for r in rendering.of_type(t)]
        sources += [f"{s.id}/blobServices/default" for s in rendering.of_type(STORAGE)]
        for source in sources:
            assert source in settings, f"{source} sends no diagnostics"
            assert settings[source]["workspaceId"] == workspace_id(rendering)
            assert any(log.get("categoryGroup") in ("allLogs", "audit") for log in settings[source]["logs"])


def test_logs_that_export_cannot_read_are_archived_by_their_diagnostic_settings(prod):
    archive_id = audit_archive(prod).id
    settings = {d.plain_inputs["resourceUri"]: d.plain_inputs for d in prod.of_type(DIAGNOSTIC)}
    for server in prod.of_type(SERVER):
        assert settings[server.id]["storageAccountId"] == archive_id
    home_vault = next(v for v in key_vaults(prod) if v.plain_inputs["location"] == "australiaeast")
    assert settings[home_vault.id]["storageAccountId"] == archive_id


def test_backup_vault_is_geo_redundant_with_cross_region_restore_soft_delete_and_immutability(prod):
    (vault,) = prod.of_type(BACKUP_VAULT)
    props = vault.plain_inputs["properties"]
    assert props["storageSettings"] == [{"datastoreType": "VaultStore", "type": "GeoRedundant"}]
    assert props["featureSettings"]["crossRegionRestoreSettings"]["state"] == "Enabled"
    assert props["securitySettings"]["softDeleteSettings"] == {"state": "On", "retentionDurationInDays": 14}
    assert props["securitySettings"]["immutabilitySettings"]["state"] == "Unlocked"
    assert props["monitoringSettings"]["azureMonitorAlertSettings"]["alertsForAllJobFailures"] == "Enabled"
    assert vault.plain_inputs["identity"]["type"] == "SystemAssigned"


def test_long_term_retention_policy_weekly_3_months_12_monthly_7_yearly(prod):
    (policy,) = prod.of_type(BACKUP_POLICY)
    props = policy.plain_inputs["properties"]
    assert props["datasourceTypes"] == ["Microsoft.DBforPostgreSQL/flexibleServers"]
    rules = {rule["name"]: rule for rule in props["policyRules"]}
    schedule = rules["BackupWeekly"]["trigger"]["schedule"]["repeatingTimeIntervals"]
    assert schedule == ["R/2024-01-07T02:00:00+00:00/P1W"]  # 2024-01-07 is a Sunday
    retention = {
        name: rule["lifecycles"][0]["deleteAfter"]["duration"]
        for name, rule in rules.items()
        if rule["objectType"] == "AzureRetentionRule"
    }
    assert retention == {"Default": "P3M", "Monthly": "P12M", "Yearly": "P7Y"}
    tags = {t["tagInfo"]["tagName"]: t for t in rules["BackupWeekly"]["trigger"]["taggingCriteria"]}
    assert tags["Monthly"]["criteria"][0]["absoluteCriteria"] == ["FirstOfMonth"]
    assert tags["Yearly"]["criteria"][0]["absoluteCriteria"] == ["FirstOfYear"]
    assert (
        tags["Yearly"]["taggingPriority"]
        < tags["Monthly"]["taggingPriority"]
        < tags["Default"]["taggingPriority"]
    )


def test_each_primary_server_has_a_backup_instance_and_the_vault_has_the_roles_it_needs(prod):
    """Body and grants as Microsoft documents them for PostgreSQL flexible server: dataSourceInfo and
    dataSourceSetInfo both name the server (backup-azure-database-postgresql-flex-use-rest-api; the
    Az.DataProtection manifest AzureDatabaseForPGFlexServer.json sets enableDataSourceSetInfo), and the
    vault's identity holds the LTR backup role and Reader (backup-azure-database-postgresql-flex-overview),
    here on the servers' resource group."""
    (vault,) = prod.of_type(BACKUP_VAULT)
    (policy,) = prod.of_type(BACKUP_POLICY)
    instances = {
        i.plain_inputs["properties"]["dataSourceInfo"]["resourceID"]: i for i in prod.of_type(BACKUP_INSTANCE)
    }
    assert set(instances) == {s.id for s in prod.of_type(SERVER)}
    for _server_id, instance in instances.items():
        props = instance.plain_inputs["properties"]
        assert props["policyInfo"]["policyId"] == policy.id
        assert props["dataSourceInfo"]["datasourceType"] == "Microsoft.DBforPostgreSQL/flexibleServers"
        assert props["dataSourceInfo"]["resourceLocation"] == "australiaeast"
        assert props["dataSourceInfo"]["objectType"] == "Datasource"
        assert props["dataSourceSetInfo"] == {**props["dataSourceInfo"], "objectType": "DatasourceSet"}
    grants = [g.plain_inputs for g in prod.of_type(ROLE_ASSIGNMENT)]
    home_group = next(
        g for g in prod.of_type(RESOURCE_GROUP) if g.plain_inputs["location"] == "australiaeast"
    )
    ltr = [g for g in grants if g["roleDefinitionId"].endswith("c088a766-074b-43ba-90d4-1fb21feae531")]
    readers = [g for g in grants if g["roleDefinitionId"].endswith("acdd72a7-3385-48ef-bd42-f606fba81ae7")]
    assert [g["scope"] for g in ltr] == [g["scope"] for g in readers] == [home_group.id]
    assert all(server_id.startswith(home_group.id + "/") for server_id in instances)
    vault_principal = vault.outputs["identity"]["principalId"]
    assert {g["principalId"] for g in ltr + readers} == {vault_principal}
