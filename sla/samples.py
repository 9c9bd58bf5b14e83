"""`is_db_alive` samples per server and minute, from the two places Azure Monitor keeps them.

- The Log Analytics query API's answer (`tables` -> `columns`, `rows`; oms-post-example.json of the
  query API's v1 spec) over AzureMetrics, whose rows carry TimeGenerated, Resource, MetricName and
  Maximum (azure-monitor reference, AzureMetrics). The metric reaches the workspace through the
  server's diagnostic setting: it is "DS Export: Yes" in the supported-metrics table. Resource is the
  server's name as Azure writes it, so names are compared without case.
- The Azure Monitor metrics API's answer (Metrics - List, GetMetric.json of Microsoft.Insights
  2024-02-01): `value[].timeseries[].data[]` with `timeStamp` and `maximum`; a point without
  `maximum` has no sample.

Both give, per lower-case server name, minute (UTC) -> the largest sample in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

METRIC = "is_db_alive"
Samples = dict[str, dict[dt.datetime, float]]


class SampleError(ValueError):
    """A response that is not in the documented shape, saying what is missing."""


def _minute(text: Any, where: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(text))  # reads a trailing Z since Python 3.11
    except ValueError:
        raise SampleError(f"{where}: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def _keep(samples: Samples, server: str, minute: dt.datetime, value: float) -> None:
    per_server = samples.setdefault(server.lower(), {})
    per_server[minute] = max(value, per_server.get(minute, value))


def from_log_analytics(payload: Mapping[str, Any]) -> Samples:
    try:
        (table, *_) = payload["tables"]
        names = [column["name"] for column in table["columns"]]
        rows = table["rows"]
    except (KeyError, TypeError, ValueError):
        raise SampleError(
            "not a Log Analytics query response: expected tables[0].columns and .rows"
        ) from None
    missing = [c for c in ("TimeGenerated", "Resource", "MetricName", "Maximum") if c not in names]
    if missing:
        raise SampleError(f"the query response lacks the AzureMetrics columns {missing}")
    at = {name: names.index(name) for name in ("TimeGenerated", "Resource", "MetricName", "Maximum")}
    samples: Samples = {}
    for number, row in enumerate(rows):
        if row[at["MetricName"]] != METRIC or row[at["Maximum"]] is None:
            continue
        where = f"tables[0].rows[{number}]"
        _keep(
            samples,
            str(row[at["Resource"]]),
            _minute(row[at["TimeGenerated"]], where),
            float(row[at["Maximum"]]),
        )
    return samples


def from_metrics(payload: Mapping[str, Any]) -> Samples:
    try:
        metrics = list(payload["value"])
    except (KeyError, TypeError):
        raise SampleError("not a metrics API response: expected value[]") from None
    samples: Samples = {}
    for number, metric in enumerate(metrics):
        if (metric.get("name") or {}).get("value") != METRIC:
            continue
        # .../flexibleServers/NAME/providers/Microsoft.Insights/metrics/is_db_alive
        parts = str(metric.get("id", "")).split("/")
        try:
            server = parts[parts.index("flexibleServers") + 1]
        except (ValueError, IndexError):
            raise SampleError(f"value[{number}].id names no flexible server: {metric.get('id')!r}") from None
        for series in metric.get("timeseries") or []:
            for point in series.get("data") or []:
                if point.get("maximum") is not None:
                    where = f"value[{number}].timeseries.data"
                    _keep(samples, server, _minute(point.get("timeStamp"), where), float(point["maximum"]))
    return samples


def read_samples(payload: Mapping[str, Any]) -> Samples:
    """Either response, told apart by its top-level key."""
    if isinstance(payload, Mapping) and "tables" in payload:
        return from_log_analytics(payload)
    if isinstance(payload, Mapping) and "value" in payload:
        return from_metrics(payload)
    raise SampleError("neither a Log Analytics query response (tables) nor a metrics API response (value)")
