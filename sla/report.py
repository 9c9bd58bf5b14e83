"""The monthly SLA report: each database's availability against its objective, from is_db_alive.

`python -m sla report --month YYYY-MM [--stack S] [--from-file FILE] [--json OUT|-] [--markdown OUT|-]`
queries the stack's workspace (sla/live.py) or reads a saved Azure Monitor response (the Log
Analytics query API's or the metrics API's, sla/samples.py). A database's server is found by its
name up to the per-subscription suffix (components.naming), so the report measures the servers of `--stack` only: in a month with a
failover each region's server is reported from its own stack.
"""

from __future__ import annotations

from typing import Any

from components.naming import Naming
from components.settings import Settings

from .availability import MonthlyAvailability, monthly_availability
from .samples import Samples


def server_samples(samples: Samples, prefix: str) -> dict[Any, float]:
    """The samples of the one server whose name starts with `prefix` (names compared without case)."""
    found = [name for name in samples if name.startswith(prefix.lower())]
    if len(found) > 1:
        raise ValueError(f"{len(found)} servers match {prefix}*: {', '.join(sorted(found))}")
    return samples[found[0]] if found else {}


def server_prefixes(settings: Settings) -> dict[str, str]:
    """Each database with an objective -> its server's name up to the per-subscription suffix."""
    naming = Naming(settings.environment, settings.region, "")
    objectives = settings.sla.databases if settings.sla else {}
    return {key: naming.server_prefix(key, settings.databases[key].generation) for key in objectives}


def monthly_report(month: str, settings: Settings, samples: Samples) -> dict[str, Any]:
    """`{"month", "databases": {KEY: {objective, availability, met, downtime_minutes,
    excluded_minutes, incidents}}}` for every database with an objective."""
    if settings.sla is None:
        raise ValueError("the stack declares no continuity:sla")
    judged: dict[str, MonthlyAvailability] = {}
    for key, prefix in server_prefixes(settings).items():
        objective = settings.sla.databases[key]
        judged[key] = monthly_availability(
            month, server_samples(samples, prefix), objective.availability, objective.maintenance_window
        )
    return {"month": month, "databases": {key: result.to_json() for key, result in judged.items()}}


def markdown(report: dict[str, Any], stack: str) -> str:
    lines = [
        f"# SLA report {report['month']} (stack `{stack}`)",
        "",
        "| database | objective | availability | met | downtime (min) | excluded (min) | incidents |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, result in report["databases"].items():
        incidents = "<br>".join(f"{i['start']} for {i['minutes']} min" for i in result["incidents"]) or "none"
        lines.append(
            f"| {key} | {result['objective']:g} % | {result['availability']:.3f} % | "
            f"{'yes' if result['met'] else '**no**'} | {result['downtime_minutes']} | {result['excluded_minutes']} | "
            f"{incidents} |"
        )
    return "\n".join(lines) + "\n"
