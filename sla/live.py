"""The report's samples straight from the stack's workspace, through the Log Analytics query API.

Microsoft documents is_db_alive for both stores Azure Monitor keeps metrics in, and the report reads
either from a file (sla/samples.py). Live, the workspace is queried: the metrics store keeps "up to
93 days" (concepts-monitoring), while the workspace keeps AzureMetrics for the table's retention, so
a month can still be reported after the metrics store has let it go. The query is the platform's one
KQL for the samples (components.kql.alive_samples), and its answer is turned into the query API's
own JSON shape, so a live report and a report from a saved response read the same thing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from components.kql import alive_samples, any_of, starting

# The query API gives up on a query after this many seconds unless told otherwise (its default is
# 180); a month of minutes for a handful of servers is far below the API's row limit.
SERVER_TIMEOUT_SECONDS = 600


def _kql_time(moment: dt.datetime) -> str:
    return f"datetime({moment.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')})"


def month_query(prefixes: list[str], start: dt.datetime, end: dt.datetime) -> str:
    """The KQL `sla report` runs (and `--print-query` prints) for the servers named by `prefixes`."""
    return alive_samples(any_of([starting(p) for p in prefixes]), _kql_time(start), _kql_time(end))


def _cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def query_workspace(
    workspace_id: str,
    query: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    credential: Any = None,
    **pipeline: Any,
) -> dict[str, Any]:
    """Run `query` over the workspace (its ARM id) for [start, end); the answer as the query API's JSON
    (`tables` -> `columns`, `rows`). A partial answer is an error: missing rows would read as downtime."""
    from azure.monitor.query import LogsQueryClient, LogsQueryStatus

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    client = LogsQueryClient(credential, **pipeline)
    result = client.query_resource(
        workspace_id, query, timespan=(start, end), server_timeout=SERVER_TIMEOUT_SECONDS
    )
    if result.status != LogsQueryStatus.SUCCESS:
        error = getattr(result, "partial_error", None)
        raise RuntimeError(f"the workspace answered only in part ({error}); not reporting on partial data")
    return {
        "tables": [
            {
                "name": table.name,
                "columns": [
                    {"name": name, "type": kind}
                    for name, kind in zip(table.columns, table.columns_types, strict=True)
                ],
                "rows": [[_cell(value) for value in row] for row in table.rows],
            }
            for table in result.tables
        ]
    }
