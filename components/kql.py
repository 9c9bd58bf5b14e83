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

from .facts import MAINTENANCE_WINDOW_MINUTES

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
            "  ) on TimeGenerated",
            "| extend down = isnull(Maximum) or Maximum < 1",
        ]
    )


def _number(value: float) -> str:
    text = format(value, "g")
    return text if "." in text or "e" in text else f"{text}.0"


def burn_rate(
    server: str,
    *,
    objective: float,
    window_start: int,
    long_minutes: int,
    short_minutes: int,
    burn: float,
    delay_minutes: int,
) -> str:
    """A row when the server burns its error budget `burn` times faster than the month allows over
    both the long and the short window (the SRE workbook's multi-window alert), else nothing.

    Both windows end `delay_minutes` ago, so that minutes still on their way to the workspace are not
    taken for downtime.
    """
    if not 0 < short_minutes < long_minutes:
        raise ValueError(
            f"the short window ({short_minutes} min) must be shorter than the long ({long_minutes} min)"
        )
    budget = f"(100.0 - {_number(objective)}) / 100.0"
    return "\n".join(
        [
            f"let end_time = bin(now() - {delay_minutes}m, 1m);",
            f"let start_time = end_time - {long_minutes}m;",
            f"let short_start = end_time - {short_minutes}m;",
            f"let allowed = {_number(burn)} * {budget};",
            minute_grid(exactly(server), "start_time", "end_time", window_start),
            "| summarize long_total = count(), long_down = countif(down),"
            " short_total = countif(TimeGenerated >= short_start),"
            " short_down = countif(down and TimeGenerated >= short_start)",
            "| where long_total > 0 and short_total > 0",
            "| where long_down > allowed * long_total and short_down > allowed * short_total",
        ]
    )


def month_to_date(
    database: str, prefix: str, *, objective: float, window_start: int, delay_minutes: int
) -> str:
    """This calendar month so far for one database: availability, downtime and how much of the
    month's error budget is left (the budget counts the whole month's minutes outside maintenance)."""
    return "\n".join(
        [
            f"let end_time = bin(now() - {delay_minutes}m, 1m);",
            "let month_start = startofmonth(end_time);",
            "let month_end = datetime_add('month', 1, month_start);",
            minute_grid(starting(prefix), "month_start", "month_end", window_start),
            "| summarize eligible = count(), counted = countif(TimeGenerated < end_time),"
            " downtime_minutes = countif(down and TimeGenerated < end_time)",
            f"| extend database = {literal(database)}, objective = {_number(objective)}",
            "| extend availability = iff(counted == 0, 100.0, 100.0 * (counted - downtime_minutes) / counted)",
            "| extend budget_minutes = eligible * (100.0 - objective) / 100.0",
            "| extend budget_left_percent = 100.0 * (budget_minutes - downtime_minutes) / budget_minutes",
            "| project database, objective, availability, downtime_minutes, budget_minutes, budget_left_percent",
        ]
    )


def replication_lag(server_filter: str, rpo_seconds: int) -> str:
    """Each replica's largest lag per 5 minutes, beside the RPO it is held to."""
    return "\n".join(
        [
            "AzureMetrics",
            f'| where ResourceProvider =~ "MICROSOFT.DBFORPOSTGRESQL" and MetricName == "{LAG_METRIC}"',
            f"| where {server_filter}",
            "| summarize lag_seconds = max(Maximum) by Resource, bin(TimeGenerated, 5m)",
            f"| extend rpo_seconds = {rpo_seconds}",
        ]
    )
