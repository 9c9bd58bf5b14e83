"""Regional Log Analytics workspace, long retention for audit tables, and an immutable audit archive."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import monitor, storage
from pulumi_azure_native import operationalinsights as la

from . import existing
from .arm import resource_id
from .diagnostics import send_diagnostics
from .facts import ip_rule_values
from .protection import Protection
from .settings import Logs
from .storage_accounts import AUDIT_ARCHIVE, private_account, redundant_sku

TABLE = "azure-native:operationalinsights:Table"

# Every activity-log category, so deletes, policy and health events are all kept.
# https://learn.microsoft.com/azure/azure-monitor/platform/activity-log-schema
ACTIVITY_LOG_CATEGORIES = (
    "Administrative",
    "Security",
    "ServiceHealth",
    "Alert",
    "Recommendation",
    "Policy",
    "Autoscale",
    "ResourceHealth",
)


class Observability(pulumi.ComponentResource):
    workspace_id: pulumi.Output[str]
    workspace_name: pulumi.Output[str]
    archive_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        workspace_name: str,
        archive_account_name: str,
        activity_log_setting_name: str,
        location: str,
        subscription_id: str,
        resource_group: str,
        resource_group_name: pulumi.Input[str],
        logs: Logs,
        allowed_cidrs: list[str],
        protection: Protection,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:observability:Observability", name, None, opts)

        self.workspace = la.Workspace(
            f"{name}-workspace",
            workspace_name=workspace_name,
            location=location,
            resource_group_name=resource_group_name,
            sku=la.WorkspaceSkuArgs(name=la.WorkspaceSkuNameEnum.PER_GB2018),
            retention_in_days=int(logs.retention.days),
            features=la.WorkspaceFeaturesArgs(
                # Entra ID only: no shared workspace keys.
                disable_local_auth=True,
                enable_log_access_using_only_resource_permissions=True,
            ),
            opts=protection.options(self),
        )
        protection.lock(
            f"{name}-workspace", self.workspace, "Holds the audit trail of the platform.", parent=self
        )

        # The audit tables are Azure's built-in tables: they exist as soon as the workspace does, and
        # the provider neither creates an existing table nor lists tables among the resources it
        # adopts (provider/pkg/openapi/defaults/defaultResourcesState.go). So each is adopted with
        # `import` and updated to the declared retention; Azure tables cannot be deleted ("An Azure
        # table ... can't be deleted", manage-logs-tables), so dropping one from the list leaves its
        # retention as it was instead of failing.
        for table in logs.audit_tables:
            table_id = resource_id(
                TABLE,
                {"resourceGroupName": resource_group, "workspaceName": workspace_name, "tableName": table},
                subscription_id,
            )
            la.Table(
                f"{name}-retention-{table}",
                table_name=table,
                workspace_name=self.workspace.name,
                resource_group_name=resource_group_name,
                # A PUT resets unspecified retention to the defaults, so both values are always given.
                retention_in_days=int(logs.retention.days),
                total_retention_in_days=int(logs.audit_retention.days),
                opts=pulumi.ResourceOptions(
                    parent=self, import_=existing.adopt(table_id), retain_on_delete=True
                ),
            )

        self.archive = private_account(
            f"{name}-archive",
            account_name=archive_account_name,
            purpose=AUDIT_ARCHIVE,
            location=location,
            resource_group_name=resource_group_name,
            sku=redundant_sku(location),
            # Reachable only by trusted Azure services (data export, diagnostic settings) and the
            # configured CIDRs.
            network_rule_set=storage.NetworkRuleSetArgs(
                default_action=storage.DefaultAction.DENY,
                bypass=storage.Bypass.AZURE_SERVICES,
                ip_rules=[
                    storage.IPRuleArgs(i_p_address_or_range=v)
                    for cidr in allowed_cidrs
                    for v in ip_rule_values(cidr)
                ],
            ),
            access_tier=storage.AccessTier.COOL,
            # Version-level WORM for every blob in the account, including containers that data export
            # creates itself. Append writes stay allowed because export appends to hourly blobs.
            # https://learn.microsoft.com/azure/azure-monitor/logs/logs-data-export
            immutable_storage_with_versioning=storage.ImmutableStorageAccountArgs(
                enabled=True,
                immutability_policy=storage.AccountImmutabilityPolicyPropertiesArgs(
                    immutability_period_since_creation_in_days=int(logs.archive_immutability.days),
                    state=storage.AccountImmutabilityPolicyState.LOCKED
                    if logs.lock_archive
                    else storage.AccountImmutabilityPolicyState.UNLOCKED,
                    allow_protected_append_writes=True,
                ),
            ),
            opts=protection.options(self),
        )
        protection.lock(f"{name}-archive", self.archive, "Immutable audit archive.", parent=self)
        storage.BlobServiceProperties(
            f"{name}-archive-blob-service",
            account_name=self.archive.name,
            resource_group_name=resource_group_name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=30),
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=30),
            opts=pulumi.ResourceOptions(parent=self),
        )

        la.DataExport(
            f"{name}-archive-export",
            data_export_name="audit-archive",
            workspace_name=self.workspace.name,
            resource_group_name=resource_group_name,
            resource_id=self.archive.id,
            table_names=list(logs.archive_tables),
            enable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

        # The subscription's activity log (deletes, role changes, policy, service health) to this
        # region's workspace and archive: each region keeps its own copy of the change trail.
        monitor.SubscriptionDiagnosticSetting(
            f"{name}-activity-log",
            name=activity_log_setting_name,
            workspace_id=self.workspace.id,
            storage_account_id=self.archive.id,
            logs=[
                monitor.SubscriptionLogSettingsArgs(category=category, enabled=True)
                for category in ACTIVITY_LOG_CATEGORIES
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

        # Who queried the logs (LAQueryLogs) is itself audit data.
        send_diagnostics(
            f"{name}-workspace",
            resource_id=self.workspace.id,
            workspace_id=self.workspace.id,
            category_groups=("audit",),
            parent=self,
        )
        send_diagnostics(
            f"{name}-archive-blob",
            resource_id=pulumi.Output.concat(self.archive.id, "/blobServices/default"),
            workspace_id=self.workspace.id,
            parent=self,
        )

        self.workspace_id = self.workspace.id
        self.workspace_name = self.workspace.name
        self.archive_id = self.archive.id
        self.archive_name = self.archive.name
        self.register_outputs(
            {
                "workspace_id": self.workspace_id,
                "workspace_name": self.workspace_name,
                "archive_id": self.archive_id,
            }
        )
