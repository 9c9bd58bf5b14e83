"""Resilience: geo-redundant and zone-redundant copies, replicas, and protection against deletion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypedDict

from components.facts import MICROSOFT_SLA_BY_HA_MODE
from components.regions import region_info

from . import controls as c
from .facts import (
    BACKUP_VAULT,
    LOCK,
    SERVER,
    STATEFUL,
    ServerKind,
    database_key,
    is_project_vault,
    is_restore_staging,
    server_kind,
)
from .model import Resource, Stack
from .registry import NoConfig, Violation, rule
from .sla import objective


class PeerDatabases(TypedDict):
    peerDatabases: list[str]


def expected_ha_mode(region: str) -> str:
    return "ZoneRedundant" if region_info(region).has_zones else "SameZone"


@rule(
    "CTY-RES-001",
    concern="resilience",
    title="Geo-redundant backup",
    description="A server created as a primary keeps geo-redundant backups in the paired region.",
    remediation="Keep backup.geoRedundantBackup=Enabled (creation-only: it cannot be added later).",
    severity="critical",
    controls=c.merge(c.BACKUP, c.REDUNDANCY),
    resource_types=(SERVER,),
)
def geo_redundant_backup(server: Resource, cfg: NoConfig) -> Iterator[str]:
    if server_kind(server) is ServerKind.PRIMARY and server.get("backup.geoRedundantBackup") != "Enabled":
        yield "geo-redundant backup is off: losing the region loses every backup"


@rule(
    "CTY-RES-002",
    concern="resilience",
    title="High availability",
    description="A server created as a primary has high availability across zones where the region has zones.",
    remediation="Set continuity:databases.<key>.highAvailability=true on a GeneralPurpose or MemoryOptimized tier.",
    severity="high",
    controls=c.REDUNDANCY,
    resource_types=(SERVER,),
)
def high_availability(server: Resource, cfg: NoConfig) -> Iterator[str]:
    if server_kind(server) is not ServerKind.PRIMARY:
        return  # replicas cannot have HA; promoted replicas are reported by CTY-RES-900
    if server.location is None:
        # As before (region_info(None) raised): the rule fails, naming itself, rather than guess.
        raise ValueError("the server has no location: the HA mode its region allows is unknown")
    mode, expected = server.get("highAvailability.mode"), expected_ha_mode(server.location)
    if mode != expected:
        yield f"high availability is {mode or 'Disabled'}; {expected} is expected in {server.location}"


@rule(
    "CTY-RES-003",
    concern="resilience",
    title="Backup vault redundancy",
    description="A backup vault stores backups geo-redundantly with cross-region restore enabled.",
    remediation="Keep storageSettings type GeoRedundant and crossRegionRestoreSettings Enabled (components.backup).",
    severity="critical",
    controls=c.merge(c.BACKUP, c.REDUNDANCY),
    resource_types=(BACKUP_VAULT,),
)
def backup_vault_redundancy(vault: Resource, cfg: NoConfig) -> Iterator[str]:
    kinds = {s.get("type") for s in vault.get("properties.storageSettings", [])}
    if kinds != {"GeoRedundant"}:
        yield f"vault storage is {sorted(kinds)}, not GeoRedundant"
    if vault.get("properties.featureSettings.crossRegionRestoreSettings.state") != "Enabled":
        yield "cross-region restore is not enabled"


@rule(
    "CTY-RES-004",
    concern="resilience",
    title="Protected and delete-locked",
    description="Every stateful resource but the transient restore staging account and the project-secrets vault is protected in Pulumi and carries a CanNotDelete lock in Azure.",
    remediation="Declare stateful resources with components.protection.Protection (options and lock); "
    "turn continuity:protect off only for disposable stacks.",
    severity="critical",
    controls=c.merge(c.CHANGE, c.BACKUP),
)
def protected_and_locked(stack: Stack, cfg: NoConfig) -> Iterator[Violation]:
    for resource in stack.of_type(*STATEFUL):
        if is_restore_staging(resource):
            continue  # holds nothing that is not in the vault; CTY-RET-009 keeps it transient
        if is_project_vault(resource):
            continue  # a lock would make project grants unremovable; CTY-ISO-002 keeps it to project secrets
        if not resource.protect:
            yield resource.urn, "not protected: `pulumi destroy` or a refactor could delete it"
        locks = [
            lock
            for lock in stack.referring_to(resource, "scope", LOCK)
            if lock.get("level") == "CanNotDelete"
        ]
        if not locks:
            yield resource.urn, "no CanNotDelete lock"


@rule(
    "CTY-RES-005",
    concern="resilience",
    title="Replica for every primary",
    description="A standby stack holds a read replica of every database server of its peer stack, and only replicas.",
    remediation="Declare the same continuity:databases in both stacks; the standby creates replicas from the peer's exports.",
    severity="critical",
    controls=c.merge(c.REDUNDANCY, c.CONTINUITY),
    config={
        "peerDatabases": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "database keys the peer stack serves; each needs a replica here",
        }
    },
)
def replica_for_every_primary(stack: Stack, cfg: PeerDatabases) -> Iterator[Violation]:
    servers = stack.of_type(SERVER)
    if not any(s.tags.get("dr-role") == "standby" for s in servers):
        return  # checked in the standby stack, where the replicas live
    replicas = {database_key(s) for s in servers if server_kind(s) is ServerKind.STANDBY}
    for server in servers:
        if server_kind(server) is ServerKind.PRIMARY:
            yield server.urn, "a standby stack declares a writable server instead of a replica"
    anchor = servers[0].urn  # there is one: a server tagged standby, checked above
    for key in cfg["peerDatabases"]:
        if key not in replicas:
            yield anchor, f"no replica of the peer's {key} server"


@rule(
    "CTY-RES-900",
    concern="resilience",
    title="Recorded degradation after promotion",
    description="A promoted replica runs without geo-redundant backup or high availability, and the gap is recorded.",
    remediation="Enable HA with continuity:promotion.highAvailability=true in the next update; geo-backup returns "
    "only when the server is rebuilt as a new generation created as a primary.",
    severity="medium",
    enforcement="advisory",
    controls=c.merge(c.REDUNDANCY, c.CONTINUITY),
    resource_types=(SERVER,),
)
def promoted_replica_degradation(server: Resource, cfg: NoConfig) -> Iterator[str]:
    if server_kind(server) is not ServerKind.PROMOTED:
        return
    if server.get("backup.geoRedundantBackup") != "Enabled":
        yield (
            "degraded: no geo-redundant backup (Azure allows it only at creation, and replicas are created "
            "without it); recovery from a loss of this region relies on the long-term-retention vault"
        )
    if server.get("highAvailability.mode") in (None, "Disabled"):
        yield "degraded: no high availability yet (Azure turns it off on promotion); enable it in the next update"
        offered = MICROSOFT_SLA_BY_HA_MODE["Disabled"]
        try:
            wanted = objective(server)
        except ValueError:
            wanted = None  # CTY-SLA-001 names a tag that is not a percentage once the server is rebuilt
        if wanted is not None and wanted > offered:
            yield (
                f"degraded: the availability objective {wanted:g}% is above the {offered:g}% Microsoft "
                "guarantees without HA"
            )
    yield (
        "degraded: no cross-region replica, so the RTO/RPO targets hold only after the former primary "
        "region is rebuilt as a replica of this server (failback plan)"
    )
