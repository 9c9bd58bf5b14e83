"""The one way any resource sends its logs and metrics to the stack's Log Analytics workspace."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_azure_native import monitor


def send_diagnostics(
    name: str,
    *,
    resource_id: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    parent: pulumi.Resource,
    archive_id: pulumi.Input[str] | None = None,
    category_groups: Sequence[str] = ("allLogs",),
    metrics: bool = True,
    dedicated_tables: bool = True,
) -> monitor.DiagnosticSetting:
    """Diagnostic setting for `resource_id` to the workspace (and the audit archive when given).

    `allLogs` includes the `audit` group. Resource-specific ("Dedicated") tables are used where the
    service offers them so each log type keeps its own table and retention. The archive must be in
    the resource's region (an Azure rule for diagnostic settings).
    """
    return monitor.DiagnosticSetting(
        f"{name}-diagnostics",
        name="continuity",
        resource_uri=resource_id,
        workspace_id=workspace_id,
        storage_account_id=archive_id,
        log_analytics_destination_type="Dedicated" if dedicated_tables else None,
        logs=[
            monitor.DiagnosticsLogSettingsArgs(category_group=group, enabled=True)
            for group in category_groups
        ],
        metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)]
        if metrics
        else None,
        opts=pulumi.ResourceOptions(parent=parent),
    )
