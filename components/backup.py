"""Long-term retention of PostgreSQL backups in a Data Protection backup vault.

The vault is geo-redundant with cross-region restore, so an LTR copy survives the loss of its
region. Every stack has a vault (a standby's waits, ready for promotion); backup instances exist only
for servers that are writable in this stack.

The vault's identity needs "PostgreSQL Flexible Server Long Term Retention Backup" on the server and
"Reader" on the server's resource group (backup-azure-database-postgresql-flex-overview; the same
pair in Az.DataProtection's AzureDatabaseForPGFlexServer.json manifest). Both are granted on the
resource group, once per stack and whatever the role: a promotion then needs no new grant (and no
wait for one), and no grant lies beneath a server's delete lock, where it could never be removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

import pulumi
from pulumi_azure_native import dataprotection as dp

from . import roles
from .diagnostics import send_diagnostics
from .protection import Protection
from .settings import Backup, LongTermRetention, Waits
from .waits import wait

# The args class of a data source (dp.DatasourceArgs, dp.DatasourceSetArgs).
DatasourceArgs = TypeVar("DatasourceArgs")

DATASOURCE_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers"
# A fixed past Sunday anchors the weekly schedule; the weekday itself comes from config.
_SCHEDULE_ANCHOR = date(2024, 1, 7)
_WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def _vault_store() -> dp.DataStoreInfoBaseArgs:
    return dp.DataStoreInfoBaseArgs(
        data_store_type=dp.DataStoreTypes.VAULT_STORE, object_type="DataStoreInfoBase"
    )


def _retention_rule(name: str, duration: str, is_default: bool) -> dp.AzureRetentionRuleArgs:
    return dp.AzureRetentionRuleArgs(
        name=name,
        object_type="AzureRetentionRule",
        is_default=is_default,
        lifecycles=[
            dp.SourceLifeCycleArgs(
                source_data_store=_vault_store(),
                delete_after=dp.AbsoluteDeleteOptionArgs(
                    duration=duration, object_type="AbsoluteDeleteOption"
                ),
                target_data_store_copy_settings=[],
            )
        ],
    )


def weekly_schedule(ltr: LongTermRetention) -> str:
    """ISO 8601 repeating interval: every week on the configured weekday and UTC time."""
    start = _SCHEDULE_ANCHOR + timedelta(days=_WEEKDAYS.index(ltr.weekday))
    return f"R/{start.isoformat()}T{ltr.time_utc}:00+00:00/P1W"


def policy_properties(ltr: LongTermRetention) -> dp.BackupPolicyArgs:
    """Weekly full backups; Default keeps every backup, Monthly and Yearly keep the first of each.

    Tagging priorities follow the Azure Backup convention: the lower number wins when a backup
    matches several tags (the first backup of a year is also the first of its month).
    https://learn.microsoft.com/azure/backup/backup-azure-database-postgresql-flex-overview
    """
    retention_rules = [_retention_rule("Default", ltr.default.iso8601, is_default=True)]
    tagging = [
        dp.TaggingCriteriaArgs(
            is_default=True, tagging_priority=99, tag_info=dp.RetentionTagArgs(tag_name="Default")
        )
    ]
    for tag, duration, marker, priority in (
        ("Yearly", ltr.yearly, dp.AbsoluteMarker.FIRST_OF_YEAR, 10),
        ("Monthly", ltr.monthly, dp.AbsoluteMarker.FIRST_OF_MONTH, 15),
    ):
        if duration is None:
            continue
        retention_rules.append(_retention_rule(tag, duration.iso8601, is_default=False))
        tagging.append(
            dp.TaggingCriteriaArgs(
                is_default=False,
                tagging_priority=priority,
                tag_info=dp.RetentionTagArgs(tag_name=tag),
                criteria=[
                    dp.ScheduleBasedBackupCriteriaArgs(
                        object_type="ScheduleBasedBackupCriteria", absolute_criteria=[marker]
                    )
                ],
            )
        )
    backup_rule = dp.AzureBackupRuleArgs(
        name="BackupWeekly",
        object_type="AzureBackupRule",
        data_store=_vault_store(),
        backup_parameters=dp.AzureBackupParamsArgs(backup_type="Full", object_type="AzureBackupParams"),
        trigger=dp.ScheduleBasedTriggerContextArgs(
            object_type="ScheduleBasedTriggerContext",
            schedule=dp.BackupScheduleArgs(repeating_time_intervals=[weekly_schedule(ltr)], time_zone="UTC"),
            tagging_criteria=tagging,
        ),
    )
    return dp.BackupPolicyArgs(
        object_type="BackupPolicy",
        datasource_types=[DATASOURCE_TYPE],
        policy_rules=[backup_rule, *retention_rules],
    )


def _principal_id(identity: dp.outputs.DppIdentityDetailsResponse | None) -> str:
    """The principal of the vault's system-assigned identity, which its grants are made to."""
    if identity is None:
        # Before, None went on to the role assignments, which Azure refuses without a principal.
        raise ValueError("the backup vault has no managed identity to grant roles to")
    return identity.principal_id


def policy_digest(ltr: LongTermRetention) -> str:
    return hashlib.sha256(ltr.model_dump_json().encode()).hexdigest()[:8]


class BackupVault(pulumi.ComponentResource):
    vault_id: pulumi.Output[str]
    policy_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        vault_name: str,
        location: str,
        resource_group_name: pulumi.Input[str],
        resource_group_id: pulumi.Input[str],
        subscription_id: str,
        backup: Backup,
        waits: Waits,
        workspace_id: pulumi.Input[str],
        protection: Protection,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:backup:BackupVault", name, None, opts)
        self._name = name
        self._location = location
        self._resource_group_name = resource_group_name
        self.vault = dp.BackupVault(
            name,
            vault_name=vault_name,
            location=location,
            resource_group_name=resource_group_name,
            identity=dp.DppIdentityDetailsArgs(type=dp.IdentityType.SYSTEM_ASSIGNED),
            properties=dp.BackupVaultArgs(
                storage_settings=[
                    dp.StorageSettingArgs(
                        datastore_type=dp.StorageSettingStoreTypes.VAULT_STORE,
                        type=dp.StorageSettingTypes.GEO_REDUNDANT,
                    )
                ],
                feature_settings=dp.FeatureSettingsArgs(
                    cross_region_restore_settings=dp.CrossRegionRestoreSettingsArgs(
                        state=dp.CrossRegionRestoreState.ENABLED
                    )
                ),
                security_settings=dp.SecuritySettingsArgs(
                    soft_delete_settings=dp.SoftDeleteSettingsArgs(
                        state=dp.SoftDeleteState.ON, retention_duration_in_days=backup.soft_delete.days
                    ),
                    immutability_settings=dp.ImmutabilitySettingsArgs(
                        state=dp.ImmutabilityState(backup.vault_immutability)
                    ),
                ),
                monitoring_settings=dp.MonitoringSettingsArgs(
                    azure_monitor_alert_settings=dp.AzureMonitorAlertSettingsArgs(
                        alerts_for_all_job_failures=dp.AlertsState.ENABLED
                    )
                ),
            ),
            opts=protection.options(self),
        )
        protection.lock(name, self.vault, "Holds long-term-retention backups.", parent=self)
        send_diagnostics(
            name, resource_id=self.vault.id, workspace_id=workspace_id, parent=self, metrics=False
        )
        policy = policy_properties(backup.long_term_retention)
        self.policy = dp.BackupPolicy(
            f"{name}-postgres-ltr",
            # Azure does not update a backup policy in place, so a changed policy is a new one (the
            # name carries a digest of its rules) and the backup instances move over to it.
            backup_policy_name=f"postgres-ltr-{policy_digest(backup.long_term_retention)}",
            vault_name=self.vault.name,
            resource_group_name=resource_group_name,
            properties=policy,
            # A superseded policy is left in the vault, not deleted: the delete would fail beneath the
            # vault's delete lock and, while instances still use it, with UserErrorDppPolicyObjectInUse.
            # docs/runbooks/protection-and-unlocking.md removes old policies deliberately.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.principal_id = self.vault.identity.apply(_principal_id)
        grants = {
            suffix: roles.grant(
                f"{name}-{suffix}",
                role=role,
                principal_id=self.principal_id,
                scope=resource_group_id,
                subscription_id=subscription_id,
                parent=self,
            )
            for suffix, role in (
                ("reader", roles.READER),
                ("ltr-backup", roles.POSTGRESQL_FLEXIBLE_SERVER_LTR_BACKUP),
            )
        }
        # Azure validates the grants when a backup instance is created.
        self._access = wait(
            f"{name}-access",
            duration=waits.rbac_propagation,
            after=list(grants.values()),
            parent=self,
            triggers={suffix: grant.id for suffix, grant in grants.items()},
        )
        self.vault_id = self.vault.id
        self.policy_id = self.policy.id
        self.register_outputs(
            {"vault_id": self.vault_id, "policy_id": self.policy_id, "principal_id": self.principal_id}
        )

    def protect_server(
        self,
        key: str,
        *,
        server_id: pulumi.Output[str],
        server_name: pulumi.Output[str],
        after: pulumi.Resource,
    ) -> dp.BackupInstance:
        """Back up one server with the LTR policy, once the vault's grants apply and the server is idle.

        The body follows Microsoft's REST guide for PostgreSQL flexible server (backup-azure-database-
        postgresql-flex-use-rest-api): `dataSourceInfo` and `dataSourceSetInfo` both name the server.
        """

        def datasource(args_class: Callable[..., DatasourceArgs], object_type: str) -> DatasourceArgs:
            return args_class(
                object_type=object_type,
                resource_id=server_id,
                resource_uri="",  # as in the REST guide's body
                resource_name=server_name,
                resource_location=self._location,
                resource_type=DATASOURCE_TYPE,
                datasource_type=DATASOURCE_TYPE,
            )

        return dp.BackupInstance(
            f"{self._name}-{key}",
            backup_instance_name=server_name,
            vault_name=self.vault.name,
            resource_group_name=self._resource_group_name,
            properties=dp.BackupInstanceArgs(
                object_type="BackupInstance",
                friendly_name=server_name,
                data_source_info=datasource(dp.DatasourceArgs, "Datasource"),
                data_source_set_info=datasource(dp.DatasourceSetArgs, "DatasourceSet"),
                policy_info=dp.PolicyInfoArgs(policy_id=self.policy_id),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._access, after]),
        )
