"""Where the backup vault restores long-term-retention backups as files.

Azure restores an LTR backup of a PostgreSQL flexible server only "as files" to a storage
container (concepts-backup-restore, "Long-term retention"); the restore check (and a real
recovery) then loads them into a server with pg_restore. What Azure needs of that account
(restore-azure-database-postgresql-flex, backup-azure-database-postgresql-flex-manage):

- AllowCrossTenantReplication true: "the backup data is copied from one storage account to
  another across tenants" (Microsoft's tenant to ours);
- reachable by the vault: default action Deny with the vault as a resource instance and trusted
  Microsoft services allowed, the settings the manage article gives;
- the vault's identity holds Storage Blob Data Contributor, here on the container only.

A standby stack also lets the peer's vault write there: when the peer's region is lost, its
long-term backups are restored from the vault's cross-region copy into this region
(docs/runbooks/restore-from-backup-vault.md, B).

The files are a full copy of production data, so a lifecycle rule deletes them a day after they
were written, whatever happens to the check that asked for them (CTY-RET-009).
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, storage

from . import roles
from .diagnostics import send_diagnostics
from .settings import EntraPrincipal
from .storage_accounts import RESTORE_STAGING, private_account, redundant_sku

CONTAINER = "ltr-restores"
# Lifecycle management runs once a day, so files live one to two days.
# https://learn.microsoft.com/azure/storage/blobs/lifecycle-management-overview
STAGING_DAYS = 1


class RestoreStaging(pulumi.ComponentResource):
    container_url: pulumi.Output[str]
    account_id: pulumi.Output[str]
    account_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        account_name: str,
        location: str,
        resource_group_name: pulumi.Input[str],
        subscription_id: str,
        tenant_id: str,
        vaults: dict[str, tuple[pulumi.Input[str], pulumi.Input[str]]],
        readers: list[EntraPrincipal],
        workspace_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:backup:RestoreStaging", name, None, opts)
        self.account = private_account(
            f"{name}-account",
            account_name=account_name,
            purpose=RESTORE_STAGING,
            location=location,
            resource_group_name=resource_group_name,
            sku=redundant_sku(location),
            network_rule_set=storage.NetworkRuleSetArgs(
                default_action=storage.DefaultAction.DENY,
                bypass=storage.Bypass.AZURE_SERVICES,
                resource_access_rules=[
                    storage.ResourceAccessRuleArgs(tenant_id=tenant_id, resource_id=vault_id)
                    for vault_id, _ in vaults.values()
                ],
            ),
            allow_cross_tenant_replication=True,
            # Copy scope AAD would refuse the copy from Microsoft's tenant.
            allowed_copy_scope=None,
            # Neither protected nor locked: it holds nothing that is not in the vault, and a lock would
            # keep the grants on its container from ever being removed (CTY-DEP-008).
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.container = storage.BlobContainer(
            f"{name}-container",
            container_name=CONTAINER,
            account_name=self.account.name,
            resource_group_name=resource_group_name,
            public_access=storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        storage.ManagementPolicy(
            f"{name}-lifecycle",
            management_policy_name="default",  # the only name Azure accepts
            account_name=self.account.name,
            resource_group_name=resource_group_name,
            policy=storage.ManagementPolicySchemaArgs(
                rules=[
                    storage.ManagementPolicyRuleArgs(
                        name="delete-restored-files",
                        enabled=True,
                        type=storage.RuleType.LIFECYCLE,
                        definition=storage.ManagementPolicyDefinitionArgs(
                            filters=storage.ManagementPolicyFilterArgs(
                                blob_types=["blockBlob"], prefix_match=[f"{CONTAINER}/"]
                            ),
                            actions=storage.ManagementPolicyActionArgs(
                                base_blob=storage.ManagementPolicyBaseBlobArgs(
                                    delete=storage.DateAfterModificationArgs(
                                        days_after_modification_greater_than=STAGING_DAYS
                                    )
                                )
                            ),
                        ),
                    )
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        grants = [
            (key, principal_id, authorization.PrincipalType.SERVICE_PRINCIPAL)
            for key, (_, principal_id) in vaults.items()
        ] + [
            (f"reader-{reader.object_id[:8]}", reader.object_id, roles.principal_type_of(reader))
            for reader in readers
        ]
        for suffix, principal_id, principal_type in grants:
            roles.grant(
                f"{name}-{suffix}",
                role=roles.STORAGE_BLOB_DATA_CONTRIBUTOR,
                principal_id=principal_id,
                principal_type=principal_type,
                scope=self.container.id,
                subscription_id=subscription_id,
                parent=self,
            )
        send_diagnostics(
            f"{name}-blob",
            resource_id=pulumi.Output.concat(self.account.id, "/blobServices/default"),
            workspace_id=workspace_id,
            parent=self,
        )
        self.account_id = self.account.id
        self.account_name = self.account.name
        self.container_url = pulumi.Output.concat(
            self.account.primary_endpoints.apply(lambda endpoints: endpoints.blob.rstrip("/")), "/", CONTAINER
        )
        self.register_outputs({"container_url": self.container_url, "account_id": self.account_id})
