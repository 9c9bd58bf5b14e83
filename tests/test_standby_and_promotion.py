"""The dr stack as a standby of prod, and the same stack promoted in place."""

from __future__ import annotations

import json

import pytest
from conftest import PROJECT_DIR, render_variant

from gate.changes import property_changes
from gate.render import RenderError, redact
from gate.stack_files import read_stack_config
from helpers import (
    BACKUP_INSTANCE,
    BACKUP_POLICY,
    BACKUP_VAULT,
    METRIC_ALERT,
    ROLE_ASSIGNMENT,
    SECRET,
    SERVER,
    audit_archive,
    by_id,
    key_vaults,
    parameters,
    server_resource,
    servers,
)

# Inputs that must not change when the standby is promoted: the name and place, and the keys.
KEPT_ON_PROMOTION = ("serverName", "location", "dataEncryption", "identity", "administratorLogin")


def test_standby_servers_are_replicas_of_the_prod_servers(prod, dr):
    prod_servers = {k: server_resource(prod, k) for k in servers(prod)}
    for key, replica in servers(dr).items():
        source = prod_servers[key]
        assert replica["createMode"] == "Replica"
        assert replica["sourceServerResourceId"] == source.id
        assert replica["location"] == "australiasoutheast"
        for field in ("sku", "version"):
            assert replica[field] == source.plain_inputs[field]
        assert replica["storage"]["storageSizeGB"] == source.plain_inputs["storage"]["storageSizeGB"]
        assert replica["backup"]["geoRedundantBackup"] == "Disabled"
        assert replica["highAvailability"]["mode"] == "Disabled"
        assert "replica" not in replica
        assert "administratorLoginPassword" not in replica


def test_a_replica_never_follows_a_changed_source_id(prod, dr):
    """After a failback the peer exports a new generation, and after a promotion Azure stops returning
    the source ("returned only when the target server is a read replica"); both are create-only, as is
    availabilityZone, which an HA failover changes. None of them may ever turn into a replacement."""
    for replica in dr.of_type(SERVER):
        assert sorted(replica.ignore_changes) == ["availabilityZone", "sourceServerResourceId"]
    for primary in prod.of_type(SERVER):
        assert primary.ignore_changes == ["availabilityZone"]


def test_standby_has_the_same_server_parameters_as_its_source(prod, dr):
    for key in servers(dr):
        assert parameters(dr, servers(dr)[key]["serverName"]) == parameters(
            prod, servers(prod)[key]["serverName"]
        )


def test_standby_encrypts_with_its_own_regional_key_and_owns_its_vault(dr):
    (vault,) = key_vaults(dr)
    assert vault.plain_inputs["location"] == "australiasoutheast"
    for server in servers(dr).values():
        encryption = server["dataEncryption"]
        assert encryption["primaryKeyURI"].startswith(f"https://{vault.plain_inputs['vaultName']}.")
        assert (
            by_id(dr, encryption["primaryUserAssignedIdentityId"]).plain_inputs["location"]
            == "australiasoutheast"
        )
        assert "geoBackupKeyURI" not in encryption


def test_standby_writes_the_secrets_prod_generated_to_its_own_vault(prod, dr):
    prod_values = {
        s.plain_inputs["secretName"]: s.plain_inputs["properties"]["value"] for s in prod.of_type(SECRET)
    }
    dr_values = {
        s.plain_inputs["secretName"]: s.plain_inputs["properties"]["value"] for s in dr.of_type(SECRET)
    }
    assert dr_values == prod_values
    shown = json.dumps([redact(r.inputs) for r in dr.resources])
    assert not any(value in shown for value in dr_values.values())
    assert not dr.of_type("random:index/randomPassword:RandomPassword"), "secrets are generated once, in prod"


def test_standby_has_a_backup_vault_ready_but_backs_up_nothing_yet(dr):
    assert len(dr.of_type(BACKUP_VAULT)) == 1 and len(dr.of_type(BACKUP_POLICY)) == 1
    assert dr.of_type(BACKUP_INSTANCE) == []


def test_standby_archive_is_geo_redundant_in_a_region_without_zones(dr):
    archive = audit_archive(dr)
    assert archive.plain_inputs["sku"]["name"] == "Standard_GRS"


def test_replication_lag_alert_threshold_is_derived_from_rpo(dr):
    lag = {
        a.plain_inputs["ruleName"]: a.plain_inputs["criteria"]["allOf"][0]
        for a in dr.of_type(METRIC_ALERT)
        if a.plain_inputs["criteria"]["allOf"][0]["metricName"] == "physical_replication_delay_in_seconds"
    }
    # RPO 15 min and 1 h, alerted at half the RPO (alerts.lagAlertFraction).
    assert {name: c["threshold"] for name, c in lag.items()} == {
        "knowledge-g1-replication-lag": 450,
        "operational-g1-replication-lag": 1800,
    }
    assert all(c["operator"] == "GreaterThan" and c["timeAggregation"] == "Maximum" for c in lag.values())


def test_promotion_is_an_in_place_update(dr, promoted_dr):
    """The provider PUTs the whole body on update and resends write-only inputs every time
    (crud.CreateOrUpdate, provider/pkg/provider), so after `python -m drill promote` the body must ask
    for neither a replica nor a promotion: createMode Update (updatable, 2025-08-01 spec), no replica
    block, no source; and no create-only input may change (gate/replacement.py)."""
    for before in dr.of_type(SERVER):
        (after,) = [s for s in promoted_dr.of_type(SERVER) if s.urn == before.urn]
        assert [p.path for p in property_changes(before, after) if p.create_only] == []
        for field in KEPT_ON_PROMOTION:
            assert after.plain_inputs.get(field) == before.plain_inputs.get(field), field
        assert (before.plain_inputs["createMode"], after.plain_inputs["createMode"]) == ("Replica", "Update")
        assert "replica" not in after.plain_inputs and "sourceServerResourceId" not in after.plain_inputs
        assert after.plain_inputs["storage"] == before.plain_inputs["storage"]
        assert after.plain_inputs["backup"]["geoRedundantBackup"] == "Disabled"
        # Azure disables HA on promotion; it is re-enabled in a later update.
        assert after.plain_inputs["highAvailability"]["mode"] == "Disabled"


def test_no_body_the_program_sends_can_promote_a_server(prod, dr, promoted_dr):
    for rendering in (prod, dr, promoted_dr):
        for server in rendering.of_type(SERVER):
            assert "replica" not in server.plain_inputs, "promotion is the documented PATCH, never a PUT body"


def test_promoted_region_starts_long_term_retention_backups(promoted_dr):
    instances = {
        i.plain_inputs["properties"]["dataSourceInfo"]["resourceID"]
        for i in promoted_dr.of_type(BACKUP_INSTANCE)
    }
    assert instances == {s.id for s in promoted_dr.of_type(SERVER)}


def test_promoted_servers_have_no_lag_alerts_and_get_an_entra_admin_when_configured(prod):
    admin = {"objectId": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "principalName": "pg-admins"}
    promoted = render_variant(
        "dr", {"continuity:role": "primary", "continuity:databaseAdmin": admin}, peer=prod
    )
    metrics = {a.plain_inputs["criteria"]["allOf"][0]["metricName"] for a in promoted.of_type(METRIC_ALERT)}
    assert "physical_replication_delay_in_seconds" not in metrics
    admins = promoted.of_type("azure-native:dbforpostgresql:AdministratorsMicrosoftEntra")
    assert {a.plain_inputs["principalName"] for a in admins} == {"pg-admins"}
    assert len(admins) == 2


def test_high_availability_returns_in_a_later_update(prod):
    with_ha = render_variant(
        "dr", {"continuity:role": "primary", "continuity:promotion": {"highAvailability": True}}, peer=prod
    )
    for server in servers(with_ha).values():
        # Australia Southeast has no availability zones: same-zone HA is what exists there.
        assert server["highAvailability"]["mode"] == "SameZone"
        assert server["createMode"] == "Update"


def test_the_promote_option_is_no_longer_a_config_value():
    from components.settings import SettingsError, load_settings

    config = read_stack_config(PROJECT_DIR, "dr").with_overrides(
        {"continuity:promotion": {"option": "Forced"}}
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(config.values, config.secret_keys)
    assert (
        "continuity:promotion.option: promotion is Microsoft's documented PATCH, run by `python -m drill promote"
        in str(caught.value)
    )


@pytest.mark.parametrize(
    "sku, tier, storage, fragment",
    [
        (
            "Standard_D2ds_v5",
            "GeneralPurpose",
            256,
            "2 vCores (Standard_D2ds_v5) are fewer than the source's 4",
        ),
        (
            "Standard_E2ds_v5",
            "MemoryOptimized",
            256,
            "2 vCores (Standard_E2ds_v5) are fewer than the source's 4",
        ),
        ("Standard_D4ds_v5", "GeneralPurpose", 128, "128 GiB storage is less than the source's 256 GiB"),
    ],
)
def test_a_replica_smaller_than_its_source_is_refused(prod, sku, tier, storage, fragment):
    """ "Compute on the primary must always be equal or smaller than the compute on the smallest
    replica", and so must storage (concepts-read-replicas, "Scale")."""
    databases = json.loads(read_stack_config(PROJECT_DIR, "dr").values["continuity:databases"])
    databases["knowledge"].update(sku=sku, tier=tier, storageGb=storage)
    # The check gates the replica's source id, so no replica is declared from a smaller spec.
    with pytest.raises(RenderError) as caught:
        render_variant("dr", {"continuity:databases": databases}, peer=prod)
    assert (
        "a replica must be at least as large as its source, neither on the Burstable tier, with the same "
        "version and targets" in str(caught.value)
    )
    assert f"continuity:databases.knowledge: {fragment}" in str(caught.value)


def test_a_replica_larger_than_its_source_is_how_scaling_up_starts(prod):
    """Scaling up: "First scale up a replica's compute, then scale up the primary" (concepts-read-replicas)."""
    databases = json.loads(read_stack_config(PROJECT_DIR, "dr").values["continuity:databases"])
    databases["knowledge"].update(sku="Standard_E8ds_v5", tier="MemoryOptimized", storageGb=512)
    bigger = render_variant("dr", {"continuity:databases": databases}, peer=prod)
    replica = servers(bigger)["knowledge"]
    assert replica["sku"] == {"name": "Standard_E8ds_v5", "tier": "MemoryOptimized"}
    assert replica["storage"]["storageSizeGB"] == 512
    assert replica["sourceServerResourceId"] == server_resource(prod, "knowledge").id


def test_a_replica_of_another_version_is_refused(prod):
    databases = json.loads(read_stack_config(PROJECT_DIR, "dr").values["continuity:databases"])
    databases["knowledge"]["version"] = "17"
    with pytest.raises(RenderError) as caught:
        render_variant("dr", {"continuity:databases": databases}, peer=prod)
    assert (
        "continuity:databases.knowledge.version is '17' here but '16' in organization/continuity/prod"
        in str(caught.value)
    )


def test_a_new_generation_is_a_new_server_never_a_replacement(prod):
    databases = json.loads(read_stack_config(PROJECT_DIR, "prod").values["continuity:databases"])
    databases["knowledge"]["generation"] = 2
    rebuilt = render_variant("prod", {"continuity:databases": databases})
    before, after = server_resource(prod, "knowledge"), server_resource(rebuilt, "knowledge")
    assert before.urn != after.urn, "a new logical resource, so Pulumi creates instead of replacing"
    assert after.plain_inputs["serverName"].split("-g")[1].startswith("2-")
    assert server_resource(rebuilt, "operational").urn == server_resource(prod, "operational").urn

    # The old generation's alerts stay in Azure until removed: no name may collide.
    def names(rendering, token, field):
        return {r.plain_inputs[field] for r in rendering.of_type(token) if "knowledge" in r.name}

    assert names(prod, METRIC_ALERT, "ruleName")
    assert not names(prod, METRIC_ALERT, "ruleName") & names(rebuilt, METRIC_ALERT, "ruleName")

    # Grants are per resource group, not per server: a new generation needs none (and no wait).
    def grants(rendering):
        return {
            (g.plain_inputs["roleAssignmentName"], g.plain_inputs["scope"])
            for g in rendering.of_type(ROLE_ASSIGNMENT)
        }

    assert grants(rebuilt) == grants(prod)


def test_a_changed_retention_policy_is_a_new_policy(prod):
    changed = render_variant("prod", {"continuity:backup": {"longTermRetention": {"yearly": "10y"}}})
    (old,), (new,) = prod.of_type(BACKUP_POLICY), changed.of_type(BACKUP_POLICY)
    assert old.plain_inputs["backupPolicyName"] != new.plain_inputs["backupPolicyName"]
    assert {
        i.plain_inputs["properties"]["policyInfo"]["policyId"] for i in changed.of_type(BACKUP_INSTANCE)
    } == {new.id}
