"""Azure Monitor alerts: who is told, and about which signals of the platform's health."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import monitor

from .regions import region_info
from .settings import Alerts as AlertSettings

POSTGRES_NAMESPACE = "Microsoft.DBforPostgreSQL/flexibleServers"
KEY_VAULT_NAMESPACE = "Microsoft.KeyVault/vaults"

# Deleting any of these loses data or keys; each delete is alerted on even though locks block it.
GUARDED_DELETES = (
    "Microsoft.DBforPostgreSQL/flexibleServers/delete",
    "Microsoft.KeyVault/vaults/delete",
    "Microsoft.DataProtection/backupVaults/delete",
    "Microsoft.OperationalInsights/workspaces/delete",
    "Microsoft.Storage/storageAccounts/delete",
    "Microsoft.Authorization/locks/delete",
)

# Failed backup jobs from the backup vault's resource-specific table.
BACKUP_FAILURE_QUERY = 'AddonAzureBackupJobs | where JobOperation == "Backup" and JobStatus == "Failed"'


@dataclass(frozen=True)
class MetricRule:
    """One static-threshold metric alert (metric names: Azure Monitor supported-metrics reference)."""

    key: str
    metric: str
    namespace: str
    aggregation: monitor.AggregationTypeEnum
    operator: monitor.Operator
    threshold: float
    severity: int
    description: str


def server_rules(alerts: AlertSettings) -> list[MetricRule]:
    """Rules for every server, whatever its role."""
    ns = POSTGRES_NAMESPACE
    agg, op = monitor.AggregationTypeEnum, monitor.Operator
    return [
        MetricRule(
            "cpu",
            "cpu_percent",
            ns,
            agg.AVERAGE,
            op.GREATER_THAN,
            alerts.cpu_percent,
            2,
            f"CPU above {alerts.cpu_percent}% for 5 minutes.",
        ),
        MetricRule(
            "memory",
            "memory_percent",
            ns,
            agg.AVERAGE,
            op.GREATER_THAN,
            alerts.memory_percent,
            2,
            f"Memory above {alerts.memory_percent}% for 5 minutes.",
        ),
        MetricRule(
            "storage",
            "storage_percent",
            ns,
            agg.MAXIMUM,
            op.GREATER_THAN,
            alerts.storage_percent,
            1,
            f"Storage above {alerts.storage_percent}%: autogrow is on, but growth is one-way and costs.",
        ),
        MetricRule(
            "failed-connections",
            "connections_failed",
            ns,
            agg.TOTAL,
            op.GREATER_THAN,
            alerts.failed_connections,
            2,
            f"More than {alerts.failed_connections} failed connections in 5 minutes.",
        ),
        # is_db_alive is 1 while the server answers; MAX over the window < 1 means it was down throughout.
        MetricRule(
            "availability",
            "is_db_alive",
            ns,
            agg.MAXIMUM,
            op.LESS_THAN,
            1,
            0,
            "The server did not answer for 5 minutes.",
        ),
    ]


def replication_lag_rule(threshold_seconds: int, rpo: str) -> MetricRule:
    """Lag on a replica, emitted by the replica itself; the threshold comes from the RPO target."""
    return MetricRule(
        "replication-lag",
        "physical_replication_delay_in_seconds",
        POSTGRES_NAMESPACE,
        monitor.AggregationTypeEnum.MAXIMUM,
        monitor.Operator.GREATER_THAN,
        threshold_seconds,
        1,
        f"Replica lag above {threshold_seconds}s, on the way to the {rpo} RPO.",
    )


def key_vault_rule(alerts: AlertSettings) -> MetricRule:
    return MetricRule(
        "availability",
        "Availability",
        KEY_VAULT_NAMESPACE,
        monitor.AggregationTypeEnum.AVERAGE,
        monitor.Operator.LESS_THAN,
        alerts.key_vault_availability_percent,
        1,
        f"Key Vault availability below {alerts.key_vault_availability_percent}%.",
    )


class Alerting(pulumi.ComponentResource):
    """The action group and the stack-wide alerts; `watch` adds metric alerts for one resource."""

    action_group_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        action_group_name: str,
        short_name: str,
        resource_group_name: pulumi.Input[str],
        subscription_id: str,
        regions: Sequence[str],
        alerts: AlertSettings,
        webhook_url: pulumi.Input[str] | None,
        workspace_id: pulumi.Input[str],
        location: str,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:alerts:Alerting", name, None, opts)
        self._name = name
        self._resource_group_name = resource_group_name
        self.action_group = monitor.ActionGroup(
            f"{name}-action-group",
            action_group_name=action_group_name,
            group_short_name=short_name,
            resource_group_name=resource_group_name,
            location="Global",
            enabled=True,
            email_receivers=[
                monitor.MicrosoftCommonEmailReceiverArgs(
                    name=r.name, email_address=r.address, use_common_alert_schema=True
                )
                for r in alerts.emails
            ],
            webhook_receivers=(
                [
                    monitor.WebhookReceiverArgs(
                        name="webhook",
                        service_uri=pulumi.Output.secret(webhook_url),
                        use_common_alert_schema=True,
                    )
                ]
                if webhook_url is not None
                else None
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.action_group_id = self.action_group.id
        subscription_scope = f"/subscriptions/{subscription_id}"

        # Service Health is per subscription and Global; both regions are watched from each stack
        # so a standby learns of an outage in the primary region even when the primary's alerts are gone.
        monitor.ActivityLogAlert(
            f"{name}-service-health",
            activity_log_alert_name=f"{action_group_name}-service-health",
            resource_group_name=resource_group_name,
            location="Global",
            scopes=[subscription_scope],
            description="Azure service incidents in the platform's regions.",
            condition=monitor.AlertRuleAllOfConditionArgs(
                all_of=[
                    monitor.AlertRuleAnyOfOrLeafConditionArgs(field="category", equals="ServiceHealth"),
                    monitor.AlertRuleAnyOfOrLeafConditionArgs(
                        field="properties.impactedServices[*].ImpactedRegions[*].RegionName",
                        contains_any=[region_info(r).display_name for r in regions],
                    ),
                ]
            ),
            actions=self._actions(),
            opts=pulumi.ResourceOptions(parent=self),
        )
        monitor.ActivityLogAlert(
            f"{name}-guarded-deletes",
            activity_log_alert_name=f"{action_group_name}-guarded-deletes",
            resource_group_name=resource_group_name,
            location="Global",
            scopes=[subscription_scope],
            description="Someone deleted (or tried to delete) a server, vault, workspace, archive or lock.",
            condition=monitor.AlertRuleAllOfConditionArgs(
                all_of=[
                    monitor.AlertRuleAnyOfOrLeafConditionArgs(field="category", equals="Administrative"),
                    monitor.AlertRuleAnyOfOrLeafConditionArgs(
                        any_of=[
                            monitor.AlertRuleLeafConditionArgs(field="operationName", equals=operation)
                            for operation in GUARDED_DELETES
                        ]
                    ),
                ]
            ),
            actions=self._actions(),
            opts=pulumi.ResourceOptions(parent=self),
        )
        monitor.ScheduledQueryRule(
            f"{name}-backup-failures",
            rule_name=f"{action_group_name}-backup-failures",
            resource_group_name=resource_group_name,
            location=location,
            kind=monitor.Kind.LOG_ALERT,
            description="A long-term-retention backup job failed.",
            severity=1,
            enabled=True,
            scopes=[workspace_id],
            evaluation_frequency="PT1H",
            window_size="PT1H",
            criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                all_of=[
                    monitor.ConditionArgs(
                        query=BACKUP_FAILURE_QUERY,
                        time_aggregation=monitor.TimeAggregation.COUNT,
                        operator=monitor.ConditionOperator.GREATER_THAN,
                        threshold=0,
                        failing_periods=monitor.ConditionFailingPeriodsArgs(
                            number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                        ),
                    )
                ]
            ),
            actions=monitor.ActionsArgs(action_groups=[self.action_group.id]),
            # The table appears with the first backup job; until then validation would fail.
            skip_query_validation=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"action_group_id": self.action_group_id})

    def _actions(self) -> monitor.ActionListArgs:
        return monitor.ActionListArgs(
            action_groups=[monitor.ActionGroupArgs(action_group_id=self.action_group.id)]
        )

    def watch(self, key: str, resource_id: pulumi.Input[str], rules: Sequence[MetricRule]) -> None:
        """Metric alerts for one resource, one alert per rule so each can fire and resolve on its own."""
        for rule in rules:
            monitor.MetricAlert(
                f"{self._name}-{key}-{rule.key}",
                rule_name=f"{key}-{rule.key}",
                resource_group_name=self._resource_group_name,
                location="global",
                description=rule.description,
                severity=rule.severity,
                enabled=True,
                auto_mitigate=True,
                scopes=[resource_id],
                evaluation_frequency="PT1M",
                window_size="PT5M",
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                    all_of=[
                        monitor.MetricCriteriaArgs(
                            criterion_type="StaticThresholdCriterion",
                            name=rule.key,
                            metric_name=rule.metric,
                            metric_namespace=rule.namespace,
                            time_aggregation=rule.aggregation,
                            operator=rule.operator,
                            threshold=rule.threshold,
                        )
                    ],
                ),
                actions=[monitor.MetricAlertActionArgs(action_group_id=self.action_group.id)],
                opts=pulumi.ResourceOptions(parent=self),
            )
