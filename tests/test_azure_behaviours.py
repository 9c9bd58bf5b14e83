"""Azure and provider behaviours the program relies on or works around (docs/azure-behaviours.md).

Each test names the source of the behaviour and fails if the defect it guards against comes back.
"""

from __future__ import annotations

import json

import pulumi
import pytest
from conftest import PROJECT_DIR, render_variant

from components import existing
from gate.mocks import OfflineAzure, ProviderError
from gate.render import RenderError, offline_identity
from gate.stack_files import read_stack_config
from helpers import (
    BACKUP_INSTANCE,
    BACKUP_POLICY,
    CONFIGURATION,
    DATABASE,
    ENTRA_ADMIN,
    FIREWALL_RULE,
    KEY,
    LOCK,
    ROLE_ASSIGNMENT,
    SECRET,
    SERVER,
    SLEEP,
    TABLE,
    WORKSPACE,
    parameters,
    server_resource,
    servers,
)

CMK_ROLE = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
ADMIN = {"objectId": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "principalName": "pg-admins"}


def network_with(stack: str, **changes) -> dict:
    """The stack's committed network config with some keys changed."""
    return {**json.loads(read_stack_config(PROJECT_DIR, stack).values["continuity:network"]), **changes}


def one(rendering, token, name):
    (match,) = [r for r in rendering.of_type(token) if r.name == name]
    return match


def writes_of(rendering, server):
    """The resources that write to one server (Azure takes one such operation at a time)."""
    name = server.plain_inputs["serverName"]
    return [
        r
        for token in (CONFIGURATION, DATABASE, ENTRA_ADMIN, FIREWALL_RULE)
        for r in rendering.of_type(token)
        if r.plain_inputs.get("serverName") == name
    ]


def write_chain(rendering, server):
    """The server's writes in the order they wait for each other, starting after its settle; fails
    unless they form one chain: each waits for exactly the write (or settle) before it."""
    writes = {w.urn: w for w in writes_of(rendering, server)}
    previous = one(rendering, SLEEP, f"{server.name}-settled").urn
    ordered = []
    while writes:
        waiting = [w for w in writes.values() if previous in w.dependencies]
        assert len(waiting) == 1, f"{len(waiting)} writes wait for {previous}"
        (write,) = waiting
        assert not set(write.dependencies) & (set(writes) | {w.urn for w in ordered}) - {previous}
        ordered.append(writes.pop(write.urn))
        previous = write.urn
    return ordered


# --- 1. servers and backup instances wait for the grants they need -----------------------------


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_servers_wait_for_their_identities_key_grants(stacks, stack):
    """Servers validate key access at creation, and a grant can take "up to 10 minutes" to take effect
    (role-based-access-control/troubleshooting); the provider retries no 403 (client_azcore.go)."""
    rendering = stacks[stack]
    grants = [
        g for g in rendering.of_type(ROLE_ASSIGNMENT) if g.plain_inputs["roleDefinitionId"].endswith(CMK_ROLE)
    ]
    wait = one(rendering, SLEEP, "key-access")
    assert wait.plain_inputs["createDuration"] == "600s"
    assert grants and {g.urn for g in grants} <= set(wait.dependencies)
    assert set(wait.plain_inputs["triggers"]) == {"key-vault"} | (
        {"geo-backup-key-vault"} if stack == "prod" else set()
    )
    for server in rendering.of_type(SERVER):
        assert wait.urn in server.dependencies


def test_backup_instances_wait_for_the_vaults_grants_and_an_idle_server(prod, promoted_dr):
    for rendering in (prod, promoted_dr):
        wait = one(rendering, SLEEP, "backup-vault-access")
        grants = {g.urn for g in rendering.of_type(ROLE_ASSIGNMENT) if g.name.startswith("backup-vault-")}
        assert len(grants) == 2 and grants <= set(wait.dependencies)
        for instance in rendering.of_type(BACKUP_INSTANCE):
            server = next(
                s
                for s in rendering.of_type(SERVER)
                if s.id == instance.plain_inputs["properties"]["dataSourceInfo"]["resourceID"]
            )
            last_write = write_chain(rendering, server)[-1]
            assert {wait.urn, last_write.urn} <= set(instance.dependencies)


def test_waits_follow_config(prod):
    quick = render_variant("prod", {"continuity:waits": {"rbacPropagation": "0s", "serverSettle": "5s"}})
    assert one(quick, SLEEP, "key-access").plain_inputs["createDuration"] == "0s"
    assert one(quick, SLEEP, "knowledge-g1-settled").plain_inputs["createDuration"] == "5s"


# --- 2. built-in Log Analytics tables exist with the workspace ------------------------------------


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_builtin_tables_are_adopted_and_never_deleted(stacks, stack):
    """The provider refuses to create an existing resource (CanCreate, client_azcore.go) and does not
    list tables among the defaults it adopts (defaultResourcesState.go); Azure tables "can't be
    deleted" (manage-logs-tables). So each is imported (import-then-update, pulumi/pulumi#19339)."""
    for table in stacks[stack].of_type(TABLE):
        assert table.import_id == table.id
        assert table.retain_on_delete


def test_creating_a_builtin_table_fails_as_it_would_against_the_provider():
    """Guards the fix: the offline provider refuses exactly what the real one refuses."""
    subscription, tenant = offline_identity()
    azure = OfflineAzure(subscription, tenant, {})
    workspace = {"resourceGroupName": "rg", "workspaceName": "log"}

    def register(token, inputs, import_id=""):
        return azure.new_resource(
            pulumi.runtime.MockResourceArgs(token, "r", inputs, resource_id=import_id, custom=True)
        )

    register(WORKSPACE, workspace)
    table = {**workspace, "tableName": "AzureActivity"}
    table_id = f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/log/tables/AzureActivity"
    with pytest.raises(ProviderError, match="cannot create already existing resource"):
        register(TABLE, table)
    assert register(TABLE, table, import_id=table_id)[0] == table_id
    # A custom table does not exist until created, so it cannot be imported.
    custom = {**workspace, "tableName": "Audit_CL"}
    with pytest.raises(ProviderError, match="does not exist"):
        register(TABLE, custom, import_id=table_id.replace("AzureActivity", "Audit_CL"))
    register(TABLE, custom)


def test_a_preview_never_imports(monkeypatch):
    """In the preview of a first deployment the parent does not exist yet; an import would read a
    missing child and fail. A preview shows a create; the update that follows imports."""
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)
    assert existing.adopt("/x/tables/AzureActivity") is None
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: False)
    assert existing.adopt("/x/tables/AzureActivity") == "/x/tables/AzureActivity"


# --- 3. server parameters on replicas --------------------------------------------------------------


def test_standby_declares_its_sources_parameters_and_adopts_them(prod, dr, promoted_dr):
    """Azure copies parameters to a replica only at creation: "changes to the server parameters on the
    primary server made after creating the read replica aren't automatically replicated"
    (concepts-read-replicas). The standby declares them itself, so TLS and audit settings reach it and
    stay after a promotion; each already exists on the server, so each is imported."""
    for key in servers(dr):
        assert parameters(dr, servers(dr)[key]["serverName"]) == parameters(
            prod, servers(prod)[key]["serverName"]
        )
    for rendering in (prod, dr, promoted_dr):
        for config in rendering.of_type(CONFIGURATION):
            assert config.import_id == config.id


# --- 4. ServerIsBusy --------------------------------------------------------------------------------


def test_server_writes_wait_for_the_server_to_settle_then_run_one_at_a_time(prod):
    """ServerIsBusy after a server change (Azure/azure-postgresql#134, Azure/bicep-registry-modules#4451)
    is not retried by the provider (it retries 409 AnotherOperationInProgress only)."""
    promoted = render_variant(
        "dr",
        {
            "continuity:role": "primary",
            "continuity:databaseAdmin": ADMIN,
            "continuity:network": network_with("dr", allowedCidrs=["203.0.113.0/28"]),
        },
        peer=prod,
    )
    primary = render_variant(
        "prod",
        {
            "continuity:databaseAdmin": ADMIN,
            "continuity:network": network_with("prod", allowedCidrs=["203.0.113.0/28"]),
        },
    )
    for rendering in (primary, promoted):
        for server in rendering.of_type(SERVER):
            settle = one(rendering, SLEEP, f"{server.name}-settled")
            assert settle.plain_inputs["createDuration"] == "60s"
            assert server.urn in settle.dependencies
            assert {"sku", "storageGb", "highAvailability", "version", "createMode"} <= set(
                settle.plain_inputs["triggers"]
            )
            # One chain: the first write waits for the settle, every later one for the write before.
            chain = write_chain(rendering, server)
            assert {w.type for w in chain} >= {CONFIGURATION, ENTRA_ADMIN, FIREWALL_RULE}
            assert len(chain) == len(writes_of(rendering, server))


def test_a_server_change_makes_its_writes_wait_again(prod):
    bigger = json.loads(read_stack_config(PROJECT_DIR, "prod").values["continuity:databases"])
    bigger["knowledge"]["sku"] = "Standard_D8ds_v5"
    changed = render_variant("prod", {"continuity:databases": bigger})
    before = one(prod, SLEEP, "knowledge-g1-settled").plain_inputs["triggers"]
    after = one(changed, SLEEP, "knowledge-g1-settled").plain_inputs["triggers"]
    assert (before["sku"], after["sku"]) == ("Standard_D4ds_v5", "Standard_D8ds_v5")
    assert (
        one(prod, SLEEP, "operational-g1-settled").plain_inputs
        == one(changed, SLEEP, "operational-g1-settled").plain_inputs
    )


# --- 6. storage is a minimum ------------------------------------------------------------------------


def test_storage_never_goes_below_what_azure_has_and_the_replica_follows(prod):
    """ "Storage can only be scaled up, not down" (concepts-storage); autogrow doubles the disk by itself,
    and after a refresh the provider copies the grown size into the state's inputs (provider Read)."""
    knowledge = server_resource(prod, "knowledge")
    grown = render_variant("prod", {}, observed={knowledge.id: {"storage": {"storageSizeGB": 512}}})
    assert servers(grown)["knowledge"]["storage"]["storageSizeGB"] == 512
    assert servers(grown)["operational"]["storage"]["storageSizeGB"] == 128
    assert grown.outputs["servers"]["knowledge"]["requestedStorageGb"] == 512
    assert grown.outputs["servers"]["knowledge"]["storageGb"] == 256
    assert one(grown, SLEEP, "knowledge-g1-settled").plain_inputs["triggers"]["storageGb"] == "512"
    # The replica is never smaller than its source: it grows with it (concepts-read-replicas, "Scale").
    replica = render_variant("dr", {}, peer=grown)
    assert servers(replica)["knowledge"]["storage"]["storageSizeGB"] == 512
    # Growth through config still works.
    config = json.loads(read_stack_config(PROJECT_DIR, "prod").values["continuity:databases"])
    config["knowledge"]["storageGb"] = 1024
    raised = render_variant(
        "prod", {"continuity:databases": config}, observed={knowledge.id: {"storage": {"storageSizeGB": 512}}}
    )
    assert servers(raised)["knowledge"]["storage"]["storageSizeGB"] == 1024


# --- 8. locks and routine changes -----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_no_grant_lies_beneath_a_delete_lock(stacks, promoted_dr, stack):
    """ "A cannot-delete lock on a resource or resource group prevents the deletion of Azure RBAC
    assignments" (lock-resources): a grant under a lock could never be removed."""
    for rendering in (stacks[stack], promoted_dr):
        locked = [lock.plain_inputs["scope"] for lock in rendering.of_type(LOCK)]
        for grant in rendering.of_type(ROLE_ASSIGNMENT):
            scope = grant.plain_inputs["scope"]
            assert not any(scope == lock or scope.startswith(lock + "/") for lock in locked), grant.name


def test_superseded_backup_policies_are_kept_not_deleted(prod, dr):
    """A policy cannot be deleted beneath the vault's lock, nor while in use (UserErrorDppPolicyObjectInUse)."""
    for rendering in (prod, dr):
        (policy,) = rendering.of_type(BACKUP_POLICY)
        assert policy.retain_on_delete


# --- 10. keys and secrets ---------------------------------------------------------------------------


def test_keys_and_secrets_are_never_deleted_by_pulumi(prod, dr):
    """ARM has no DELETE for keys or secrets; the provider would use the vault's data plane, which a
    private vault refuses (custom_keyvault.go). Teardown of a disposable stack deletes the vault."""
    for rendering in (prod, dr):
        assert rendering.of_type(KEY) or rendering.stack == "dr"
        for resource in rendering.of_type(KEY) + rendering.of_type(SECRET):
            assert resource.retain_on_delete, resource.name


def test_disposable_stacks_can_be_torn_down(prod):
    disposable = render_variant("prod", {"continuity:protect": "false"})
    assert disposable.of_type(LOCK) == []
    assert not any(r.protect for r in disposable.resources)
    assert all(k.retain_on_delete for k in disposable.of_type(KEY) + disposable.of_type(SECRET))


def test_a_key_that_differs_from_the_live_one_is_refused_before_anything_is_declared(prod):
    """Keys_CreateIfNotExist: "If it already exists, then the existing key is returned without any write
    operations being performed ... does not update existing keys" (keyvault 2024-11-01 keys.json)."""
    key = one(prod, KEY, "key-vault-postgres-cmk")
    live = {
        "kty": "RSA-HSM",
        "keySize": 3072,
        "rotationPolicy": {
            "attributes": {"expiryTime": "P2Y"},
            "lifetimeActions": [
                {"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P18M"}},
                {"action": {"type": "notify"}, "trigger": {"timeBeforeExpiry": "P30D"}},
            ],
        },
    }
    with pytest.raises(RenderError) as caught:
        render_variant("prod", {}, observed={key.id: live})
    message = str(caught.value)
    assert "key postgres-cmk in vault kv-cty-prod-aue-" in message and "'rotate': 'P18M'" in message
    assert "docs/runbooks/key-rotation-policy.md" in message
    assert caught.value.declared == 0, "refused before any resource was declared"
    # The same key as declared passes.
    live["rotationPolicy"]["lifetimeActions"][0]["trigger"]["timeAfterCreate"] = "P1Y"
    assert render_variant("prod", {}, observed={key.id: live}).of_type(KEY)


# --- 12. the Entra administrator of a promoted replica -------------------------------------------------


def test_an_entra_admin_replicated_to_a_promoted_replica_is_adopted_not_created_twice(prod):
    """Administrators "can only be added/deleted on primary servers, they replicate automatically on
    replicas" (Azure CLI PR #24713); after a promotion the server may already have it."""
    knowledge_name = servers(render_variant("dr", {}, peer=prod))["knowledge"]["serverName"]
    subscription, _ = offline_identity()
    admin_id = (
        f"/subscriptions/{subscription}/resourceGroups/rg-cty-dr-ase/providers/Microsoft.DBforPostgreSQL/"
        f"flexibleServers/{knowledge_name}/administrators/{ADMIN['objectId']}"
    )
    overrides = {"continuity:role": "primary", "continuity:databaseAdmin": ADMIN}
    promoted = render_variant(
        "dr",
        overrides,
        peer=prod,
        observed={admin_id: {"principalName": "pg-admins"}},
        outside_state={admin_id},
    )
    admins = {a.plain_inputs["serverName"]: a for a in promoted.of_type(ENTRA_ADMIN)}
    assert admins[knowledge_name].import_id == admin_id
    (other,) = [a for name, a in admins.items() if name != knowledge_name]
    assert other.import_id == ""
    # Without the adoption the provider would refuse the second create; the offline provider does too.
    with pytest.raises(ProviderError, match="cannot create already existing resource"):
        OfflineAzure(subscription, "t", {}, {admin_id: {}}, frozenset({admin_id})).new_resource(
            pulumi.runtime.MockResourceArgs(
                ENTRA_ADMIN,
                "a",
                {
                    "resourceGroupName": "rg-cty-dr-ase",
                    "serverName": knowledge_name,
                    "objectId": ADMIN["objectId"],
                },
                custom=True,
            )
        )


# --- reading what exists -----------------------------------------------------------------------------


def test_only_a_404_means_not_there():
    """The provider formats ARM errors as `Status=404 Code="ResourceNotFound" ...` (PulumiAzcoreResponseError
    in client_azcore.go); any other failure stops the program rather than let it guess."""

    def missing():
        raise Exception(
            "invoke of azure-native:dbforpostgresql:getServer failed: request failed /x: "
            'Status=404 Code="ResourceGroupNotFound" Message="Resource group not found."'
        )

    def forbidden():
        raise Exception(
            'invoke failed: request failed /x: Status=403 Code="AuthorizationFailed" Message="no"'
        )

    assert existing.lookup(missing, "server x") is None
    with pytest.raises(
        existing.ExistingStateError, match=r"could not read server x from Azure: .*Status=403"
    ):
        existing.lookup(forbidden, "server x")
    assert existing.lookup(lambda: {"storage": 1}, "server x") == {"storage": 1}
