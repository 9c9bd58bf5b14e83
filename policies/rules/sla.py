"""Service levels: every availability objective is one the deployed server can meet, and the
maintenance it excludes is the server's own window.

The objectives come from `continuity:sla` as tags on each server (components.tags.sla_tags), so
the rules read what is deployed, like the RTO/RPO rules do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from components.facts import MICROSOFT_SLA_BY_HA_MODE, OBJECTIVE_TAG, WINDOW_TAG, maintenance_label
from components.kql import measured

from . import controls as c
from .facts import ACTION_GROUP, LOG_ALERT, SERVER, ServerKind, is_writable, server_kind
from .model import Resource, Stack
from .registry import NoConfig, Violation, rule


def objective(server: Resource) -> float | None:
    """The server's availability objective in percent, None when it declares none; ValueError when
    its tag is not a number."""
    text = server.tags.get(OBJECTIVE_TAG)
    return None if text is None else float(text)


def guaranteed(server: Resource) -> float | None:
    """What Microsoft guarantees the server, by its HA mode; None for a mode it publishes nothing for."""
    return MICROSOFT_SLA_BY_HA_MODE.get(server.get("highAvailability.mode") or "Disabled")


@rule(
    "CTY-SLA-001",
    concern="sla",
    title="Achievable availability objective",
    description="A writable server's availability objective is no higher than Microsoft's SLA for its high-availability mode.",
    remediation="Lower continuity:sla.databases.<key>.availability, or keep zone-redundant HA (99.99 %) where the region has zones.",
    severity="high",
    controls=c.merge(c.CONTINUITY, c.REDUNDANCY),
    resource_types=(SERVER,),
)
def achievable_objective(server: Resource, cfg: NoConfig) -> Iterator[str]:
    if server_kind(server) is not ServerKind.PRIMARY:
        return  # a standby serves no one; a promoted replica's gap is recorded by CTY-RES-900
    try:
        wanted = objective(server)
    except ValueError:
        yield f"the {OBJECTIVE_TAG} tag {server.tags[OBJECTIVE_TAG]!r} is not a percentage"
        return
    if wanted is None:
        return
    mode = server.get("highAvailability.mode") or "Disabled"
    offered = guaranteed(server)
    if offered is None:
        yield f"Microsoft publishes no SLA for high-availability mode {mode}"
    elif wanted > offered:
        yield f"the objective {wanted:g}% is above the {offered:g}% Microsoft guarantees with HA {mode}"


def _window_start(window: Mapping[str, Any]) -> tuple[int, int, int]:
    # Numbers arrive as floats over the analyzer protocol (protobuf Struct).
    day, hour, minute = (int(window.get(key) or 0) for key in ("dayOfWeek", "startHour", "startMinute"))
    return day, hour, minute


@rule(
    "CTY-SLA-002",
    concern="sla",
    title="Maintenance in the declared window",
    description="A writable server with an availability objective has a custom maintenance window, the one its SLA excludes.",
    remediation="Keep continuity:sla.databases.<key>.maintenanceWindow; the program sets it on the server (components.database).",
    severity="medium",
    controls=c.CONTINUITY,
    resource_types=(SERVER,),
)
def maintenance_window(server: Resource, cfg: NoConfig) -> Iterator[str]:
    if server_kind(server) is ServerKind.STANDBY or OBJECTIVE_TAG not in server.tags:
        return
    declared = server.tags.get(WINDOW_TAG)
    window = server.get("maintenanceWindow") or {}
    if window.get("customWindow") != "Enabled":
        yield "no custom maintenance window: Azure picks the day, so the SLA's exclusion is not the real one"
        return
    day, hour, minute = _window_start(window)
    actual = maintenance_label(day, hour, minute)
    if actual != declared:
        yield f"maintenance window is {actual}; the SLA excludes {declared}"


@rule(
    "CTY-SLA-003",
    concern="sla",
    title="Error budget watched",
    description="A writable server with an availability objective has enabled log alerts on its error budget, "
    "at least one that pages, reaching an action group with a receiver, each measuring against the "
    "server's own objective and maintenance window.",
    remediation="Keep alerting.watch_error_budget(...) for each writable server in components.platform; "
    "alerts come from components.kql with the objective in continuity:sla.",
    severity="high",
    controls=c.merge(c.CONTINUITY, c.LOGGING),
)
def error_budget_watched(stack: Stack, cfg: NoConfig) -> Iterator[Violation]:
    receivers = {
        g.urn for g in stack.of_type(ACTION_GROUP) if g.get("emailReceivers") or g.get("webhookReceivers")
    }
    for server in stack.of_type(SERVER):
        if not is_writable(server) or OBJECTIVE_TAG not in server.tags:
            continue
        try:
            wanted = objective(server)
        except ValueError:
            continue  # CTY-SLA-001 names the tag
        name = str(server.get("serverName", "")).lower()
        window = server.get("maintenanceWindow") or {}
        day, hour, minute = _window_start(window)
        window_start = day * 1440 + hour * 60 + minute if window.get("customWindow") == "Enabled" else None
        watching = []
        for alert in stack.of_type(LOG_ALERT):
            if (
                not alert.get("enabled")
                or not set(alert.property_dependencies.get("actions", ())) & receivers
            ):
                continue
            for condition in alert.get("criteria.allOf", []):
                what = measured(str(condition.get("query", "")))
                if what is not None and what.server.lower() == name:
                    watching.append((alert, what))
        if not watching:
            yield server.urn, "no enabled error-budget alert reaching a receiver measures this server"
            continue
        if not any(int(alert.get("severity", 4)) <= 1 for alert, _ in watching):
            yield server.urn, "no error-budget alert pages (severity 0 or 1)"
        for alert, what in watching:
            label = alert.get("ruleName") or alert.name
            if what.objective is not None and what.objective != wanted:
                yield (
                    server.urn,
                    f"alert {label} measures against {what.objective:g}%; the objective is {wanted:g}%",
                )
            if what.window_start is not None and what.window_start != window_start:
                yield (
                    server.urn,
                    (
                        f"alert {label} excludes maintenance from minute {what.window_start} of the week; "
                        f"the server's window starts at {window_start}"
                    ),
                )
