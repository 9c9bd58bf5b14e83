"""The service-level workbook: an Azure Monitor workbook on the stack's workspace showing each
database's availability and error budget this month, replica lag against the RPO, the newest backup
jobs and the restore checks' servers. Its queries are components.kql's, as the alerts' and the
monthly report's are.

The resource is Microsoft.Insights/workbooks (2023-06-01, the provider's): `kind` "shared", a
`serializedData` JSON string of `version: Notebook/1.0` and `items`; a query item is type 3 with
`KqlItem/1.0` content and a markdown item type 1 (WorkbookAdd.json in the REST specs, and Microsoft's
workbook templates). The resource name must be a UUID, so it is derived from the stack's identity:
the same stack always declares the same workbook.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pulumi
from pulumi_azure_native import applicationinsights

from . import kql
from .facts import DISPOSABLE_SERVER_PREFIX
from .naming import Naming
from .settings import Settings

WORKBOOK_NAMESPACE = uuid.UUID("0b7e9a52-7c1e-4d38-9a1c-5f0e3d7c2b61")
LOGS_QUERY = 0  # queryType of a Log Analytics query
DAY_MS = 24 * 3600 * 1000


def workbook_id(environment: str, region: str) -> str:
    return str(uuid.uuid5(WORKBOOK_NAMESPACE, f"continuity/{environment}/{region}/service-levels"))


def objectives(settings: Settings, naming: Naming) -> list[kql.Objective]:
    if settings.sla is None:
        return []
    return [
        kql.Objective(
            key,
            naming.server_prefix(key, settings.databases[key].generation),
            sla.availability,
            sla.maintenance_window.start_minute_of_week,
        )
        for key, sla in settings.sla.databases.items()
    ]


def _text(markdown: str) -> dict[str, Any]:
    return {"type": 1, "content": {"json": markdown}}


def _query(title: str, query: str, days: int, visualization: str = "table") -> dict[str, Any]:
    return {
        "type": 3,
        "content": {
            "version": "KqlItem/1.0",
            "title": title,
            "query": query,
            "size": 0,
            "timeContext": {"durationMs": days * DAY_MS},
            "queryType": LOGS_QUERY,
            "resourceType": "microsoft.operationalinsights/workspaces",
            "visualization": visualization,
        },
    }


def workbook_queries(settings: Settings, naming: Naming, resource_group: str) -> dict[str, str]:
    """Each query item's KQL by its title (what the tests parse)."""
    replicas = {
        key: (naming.server_prefix(key, database.generation), database.rpo.seconds)
        for key, database in settings.databases.items()
    }
    queries = {
        "Replica lag against the RPO": kql.replication_lag(replicas),
        "Newest backup job per server": kql.LAST_BACKUPS,
        "Restore checks' servers": kql.restore_check_servers(resource_group, DISPOSABLE_SERVER_PREFIX),
    }
    targets = objectives(settings, naming)
    if targets:
        queries = {"Availability and error budget this month": kql.month_to_date(targets), **queries}
    return queries


# How far back each item looks: a month for the budget, a day of lag, two weekly backups, two
# monthly restore checks.
LOOKBACK_DAYS = {
    "Availability and error budget this month": 31,
    "Replica lag against the RPO": 1,
    "Newest backup job per server": 14,
    "Restore checks' servers": 62,
}


def workbook_content(
    settings: Settings, naming: Naming, resource_group: str, workspace_id: str
) -> dict[str, Any]:
    queries = workbook_queries(settings, naming, resource_group)
    return {
        "version": "Notebook/1.0",
        "items": [
            _text(
                f"# Service levels: stack `{settings.environment}` ({settings.region})\n"
                "Availability counts a minute as up when `is_db_alive` reached 1 in it, and as down "
                "without a sample; each database's maintenance hour is excluded. Measurement stops at "
                "the newest minute the workspace has, so data still being exported is not downtime. "
                "docs/sla.md defines the objectives; `python -m sla report` gives the month's verdict."
            ),
            *(
                _query(
                    title,
                    query,
                    LOOKBACK_DAYS[title],
                    "timechart" if title.startswith("Replica lag") else "table",
                )
                for title, query in queries.items()
            ),
            _text(
                "Drill and restore-check verdicts (measured RTO and RPO, rows found) are kept in their "
                "records by `python -m drill` and the scheduled workflows; the activity log above shows "
                "only that the restore checks' servers were created and removed."
            ),
        ],
        "fallbackResourceIds": [workspace_id],
        "isLocked": False,
    }


def service_level_workbook(
    name: str,
    *,
    settings: Settings,
    naming: Naming,
    resource_group: str,
    resource_group_name: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> applicationinsights.Workbook:
    return applicationinsights.Workbook(
        name,
        resource_name_=workbook_id(settings.environment, settings.region),
        resource_group_name=resource_group_name,
        location=settings.region,
        kind=applicationinsights.WorkbookSharedTypeKind.SHARED,
        category="workbook",
        display_name=f"continuity service levels ({settings.environment}, {settings.region})",
        # The workbook opens under the workspace, whose data its queries read.
        source_id=workspace_id,
        serialized_data=pulumi.Output.from_input(workspace_id).apply(
            lambda workspace: json.dumps(workbook_content(settings, naming, resource_group, workspace))
        ),
        version="Notebook/1.0",
        opts=opts,
    )
