"""The platform's KQL, in one place: the SLA report, the error-budget alerts and the workbook all
build on `alive_samples` and `minute_grid`, so each counts a minute the same way.

Facts relied on:
- `is_db_alive` is "1 for available and 0 for not-available", emitted once a minute
  (azure-databases-docs, concepts-monitoring). With the servers' diagnostic setting (AllMetrics) it
  lands in the workspace's AzureMetrics table: "DS Export: Yes" in Azure Monitor's supported-metrics
  table for Microsoft.DBforPostgreSQL/flexibleServers.
- AzureMetrics carries TimeGenerated, Resource, ResourceProvider, MetricName and Maximum
  (azure-monitor reference, tables/azuremetrics). Nothing documents the case of Resource or
  ResourceProvider, and Microsoft's samples write them upper case, so they are compared with `=~`
  and `startswith` (both case-insensitive in KQL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .facts import MAINTENANCE_WINDOW_MINUTES, METRICS_EXPORT_MINUTES

ALIVE_METRIC = "is_db_alive"
LAG_METRIC = "physical_replication_delay_in_seconds"
MINUTES_A_WEEK = 7 * 24 * 60

# Failed backup jobs from the backup vault's resource-specific table.
BACKUP_FAILURES = 'AddonAzureBackupJobs | where JobOperation == "Backup" and JobStatus == "Failed"'

# Server names are lower-case letters, digits and hyphens; anything else in a query is refused
# rather than escaped, so no name can change what a query means.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")


def literal(name: str) -> str:
    """A server name (or name prefix) as a KQL string literal."""
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a server name: letters, digits and hyphens only")
    return f'"{name}"'


def exactly(server: str) -> str:
    return f"Resource =~ {literal(server)}"


def starting(prefix: str) -> str:
    return f"Resource startswith {literal(prefix)}"


def any_of(filters: list[str]) -> str:
    return " or ".join(f"({f})" for f in filters) if filters else "false"


def alive_samples(server_filter: str, start: str, end: str) -> str:
    """One row per server and minute from `start` up to `end` (KQL datetime expressions): Resource,
    MetricName, TimeGenerated (the minute) and Maximum (the largest is_db_alive sample in it)."""
    return "\n".join(
        [
            "AzureMetrics",
            f"| where TimeGenerated >= {start} and TimeGenerated < {end}",
            f'| where ResourceProvider =~ "MICROSOFT.DBFORPOSTGRESQL" and MetricName == "{ALIVE_METRIC}"',
            f"| where {server_filter}",
            "| summarize Maximum = max(Maximum) by Resource, MetricName, TimeGenerated = bin(TimeGenerated, 1m)",
        ]
    )


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def minute_grid(server_filter: str, start: str, end: str, window_start: int) -> str:
    """Every minute from `start` up to `end` outside the weekly maintenance window starting at minute
    `window_start` of the week (Sunday 00:00 is 0), with `down`: no sample, or a sample below 1.

    A missing minute is down: silence is not proof of health (the report counts the same way).
    """
    if window_start not in range(MINUTES_A_WEEK):
        raise ValueError(f"maintenance window start {window_start} is not a minute of the week")
    return "\n".join(
        [
            f"range TimeGenerated from {start} to {end} - 1m step 1m",
            # dayofweek() is the time since the Sunday before, as a timespan.
            "| extend week_minute = toint(dayofweek(TimeGenerated) / 1m)"
            " + toint((TimeGenerated - startofday(TimeGenerated)) / 1m)",
            f"| where (week_minute - {window_start} + {MINUTES_A_WEEK}) % {MINUTES_A_WEEK}"
            f" >= {MAINTENANCE_WINDOW_MINUTES}",
            "| join kind=leftouter (",
            _indent(alive_samples(server_filter, start, end), 4),
            # One row a minute even if the filter matched two servers, so no minute counts twice.
            "    | summarize Maximum = max(Maximum) by TimeGenerated",
            "  ) on TimeGenerated",
            "| extend down = isnull(Maximum) or Maximum < 1",
        ]
    )


# Where measuring stops: the newest minute any server's is_db_alive has reached the workspace, and no
# later than the metrics' export delay ago. Minutes still on their way are never taken for downtime;
# a stalled pipeline stops the clock (and the metric alert on is_db_alive, which reads the metrics
# store, still fires).
MEASURED_UNTIL = "\n".join(
    [
        "let newest = toscalar(AzureMetrics",
        f'    | where TimeGenerated > ago(2d) and MetricName == "{ALIVE_METRIC}"',
        "    | summarize max(TimeGenerated));",
        f"let end_time = bin(min_of(now() - {METRICS_EXPORT_MINUTES}m, newest), 1m);",
    ]
)


def _number(value: float) -> str:
    text = format(value, "g")
    return text if "." in text or "e" in text else f"{text}.0"


def _objective_line(objective: float) -> str:
    return f"let objective = {_number(objective)};"


# What a single-server alert query measures, read back from its text (policy CTY-SLA-003 checks a
# deployed alert against the server it names): the server, the objective, the maintenance start.
_SERVER = re.compile(r'\| where Resource =~ "([^"]+)"')
_OBJECTIVE = re.compile(r"^let objective = ([0-9.]+);$", re.MULTILINE)
_WINDOW = re.compile(rf"\(week_minute - (\d+) \+ {MINUTES_A_WEEK}\)")


@dataclass(frozen=True)
class Measured:
    server: str
    objective: float | None
    window_start: int | None


def measured(query: str) -> Measured | None:
    """The server an alert query measures, with its objective and maintenance start when it states
    them; None when the query names no single server."""
    server = _SERVER.search(query)
    if server is None:
        return None
    objective = _OBJECTIVE.search(query)
    window = _WINDOW.search(query)
    return Measured(
        server.group(1),
        float(objective.group(1)) if objective else None,
        int(window.group(1)) if window else None,
    )


def burn_rate(
    server: str, *, objective: float, window_start: int, long_minutes: int, short_minutes: int, burn: float
) -> str:
    """A row when the server burns its error budget `burn` times faster than the month allows over
    both the long and the short window (the SRE workbook's multi-window alert), else nothing."""
    if not 0 < short_minutes < long_minutes:
        raise ValueError(
            f"the short window ({short_minutes} min) must be shorter than the long ({long_minutes} min)"
        )
    return "\n".join(
        [
            _objective_line(objective),
            MEASURED_UNTIL,
            f"let start_time = end_time - {long_minutes}m;",
            f"let short_start = end_time - {short_minutes}m;",
            f"let allowed = {_number(burn)} * (100.0 - objective) / 100.0;",
            minute_grid(exactly(server), "start_time", "end_time", window_start),
            "| summarize long_total = count(), long_down = countif(down),"
            " short_total = countif(TimeGenerated >= short_start),"
            " short_down = countif(down and TimeGenerated >= short_start)",
            "| where long_total > 0 and short_total > 0",
            "| where long_down > allowed * long_total and short_down > allowed * short_total",
        ]
    )


MONTH = "\n".join(
    [
        "let month_start = startofmonth(end_time);",
        "let month_end = datetime_add('month', 1, month_start);",
    ]
)


def _month_so_far(server_filter: str, objective: str, window_start: int, since: str) -> str:
    """The calendar month's minutes outside maintenance, downtime counted from `since` to the end of
    measurement; the budget is the whole month's share of those minutes the `objective` (a KQL
    expression, in percent) leaves."""
    return "\n".join(
        [
            minute_grid(server_filter, "month_start", "month_end", window_start),
            f"| extend measured = TimeGenerated >= {since} and TimeGenerated < end_time",
            "| summarize eligible = count(), counted = countif(measured), downtime_minutes = countif(down and measured)",
            f"| extend budget_minutes = eligible * (100.0 - {objective}) / 100.0",
        ]
    )


@dataclass(frozen=True)
class Objective:
    """A database's availability objective, as the queries need it."""

    database: str
    server_prefix: str
    availability: float
    window_start: int  # minute of the week the maintenance window starts (Sunday 00:00 is 0)


def month_to_date(objectives: list[Objective]) -> str:
    """This calendar month so far, a row per database (its stack's server): availability, downtime
    and how much of the month's error budget is left."""
    parts = [
        "(\n"
        + _indent(
            "\n".join(
                [
                    _month_so_far(
                        starting(o.server_prefix), _number(o.availability), o.window_start, "month_start"
                    ),
                    f"| extend database = {literal(o.database)}, objective = {_number(o.availability)}",
                ]
            ),
            4,
        )
        + "\n)"
        for o in objectives
    ]
    return "\n".join(
        [
            MEASURED_UNTIL,
            MONTH,
            "union " + ", ".join(parts),
            "| extend availability = iff(counted == 0, 100.0, 100.0 * (counted - downtime_minutes) / counted)",
            "| extend budget_left_percent = 100.0 * (budget_minutes - downtime_minutes) / budget_minutes",
            "| project database, objective, availability, downtime_minutes, budget_minutes, budget_left_percent",
        ]
    )


def budget_spent(server: str, *, objective: float, window_start: int, reach_minutes: int) -> str:
    """A row when downtime within the alert's reach (this month, the last `reach_minutes`) alone has
    spent the month's whole error budget: the objective is missed whatever the rest of the month does."""
    return "\n".join(
        [
            _objective_line(objective),
            MEASURED_UNTIL,
            MONTH,
            _month_so_far(
                exactly(server),
                "objective",
                window_start,
                f"max_of(month_start, end_time - {reach_minutes}m)",
            ),
            "| where downtime_minutes > 0 and downtime_minutes >= budget_minutes",
        ]
    )


def replication_lag(replicas: dict[str, tuple[str, int]]) -> str:
    """Each replica's largest lag per 5 minutes beside the RPO it is held to: `replicas` maps a
    database to its server prefix and RPO in seconds. The metric is emitted by replicas only
    (read-replicas concepts), so a stack without replicas shows no rows."""
    rpo_cases = ", ".join(
        f"Resource startswith {literal(prefix)}, {rpo}" for prefix, rpo in replicas.values()
    )
    return "\n".join(
        [
            "AzureMetrics",
            f'| where ResourceProvider =~ "MICROSOFT.DBFORPOSTGRESQL" and MetricName == "{LAG_METRIC}"',
            f"| where {any_of([starting(prefix) for prefix, _ in replicas.values()])}",
            "| summarize lag_seconds = max(Maximum) by Resource, bin(TimeGenerated, 5m)",
            f"| extend rpo_seconds = case({rpo_cases}, -1)" if replicas else "| extend rpo_seconds = -1",
        ]
    )


# The newest backup job per protected server, from the backup vault's AddonAzureBackupJobs table
# (a backup vault's diagnostic categories: CoreAzureBackup, AddonAzureBackupJobs, AddonAzureBackupPolicy,
# AddonAzureBackupProtectedInstance; columns from the azure-monitor table reference).
LAST_BACKUPS = "\n".join(
    [
        "AddonAzureBackupJobs",
        '| where JobOperation == "Backup"',
        "| summarize arg_max(TimeGenerated, JobStatus, JobFailureCode, JobDurationInSecs, JobStartDateTime)"
        " by DatasourceFriendlyName",
        "| project DatasourceFriendlyName, JobStartDateTime, JobStatus, JobFailureCode, JobDurationInSecs",
    ]
)


def restore_check_servers(resource_group: str, prefix: str) -> str:
    """The restore checks' disposable servers (named `prefix`... in the stack's resource group) as the
    activity log saw them: created, then deleted, and whether Azure did what was asked. The checks'
    verdicts are in their records (python -m drill restore writes them); the log shows they ran."""
    return "\n".join(
        [
            "AzureActivity",
            '| where OperationNameValue in~ ("MICROSOFT.DBFORPOSTGRESQL/FLEXIBLESERVERS/WRITE",'
            ' "MICROSOFT.DBFORPOSTGRESQL/FLEXIBLESERVERS/DELETE")',
            '| where ActivityStatusValue in~ ("Succeeded", "Failed")',
            f"| where ResourceGroup =~ {literal(resource_group)}",
            '| extend server = extract(@"/flexibleservers/([^/]+)$", 1, tolower(_ResourceId))',
            f"| where server startswith {literal(prefix)}",
            "| summarize arg_max(TimeGenerated, ActivityStatusValue, Caller) by server, OperationNameValue",
            "| order by TimeGenerated desc",
        ]
    )
