"""Service levels: every availability objective is one the deployed server can meet, and the
maintenance it excludes is the server's own window.

The objectives come from `continuity:sla` as tags on each server (components.tags.sla_tags), so
the rules read what is deployed, like the RTO/RPO rules do.
"""

from __future__ import annotations

from collections.abc import Iterator

from components.facts import MICROSOFT_SLA_BY_HA_MODE, maintenance_label

from . import controls as c
from .facts import SERVER, ServerKind, server_kind
from .model import Resource
from .registry import NoConfig, rule

OBJECTIVE_TAG = "availability-objective"
WINDOW_TAG = "maintenance-window"


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
    # Numbers arrive as floats over the analyzer protocol (protobuf Struct).
    day, hour, minute = (int(window.get(key) or 0) for key in ("dayOfWeek", "startHour", "startMinute"))
    actual = maintenance_label(day, hour, minute)
    if actual != declared:
        yield f"maintenance window is {actual}; the SLA excludes {declared}"
