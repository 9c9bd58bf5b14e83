"""Deployability: Azure constraints that would fail a real deployment, caught before it starts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypedDict

from components.facts import (
    BACKUP_RETENTION_DAYS,
    BACKUP_VAULT_SOFT_DELETE_DAYS,
    IMMUTABILITY_DAYS,
    KEY_VAULT_SOFT_DELETE_DAYS,
    KEY_VAULT_SOFT_DELETE_DEFAULT_DAYS,
    STORAGE_SIZES_GB,
    TABLE_RETENTION_DAYS,
    TOTAL_RETENTION_MAX_DAYS,
    UNEXPORTABLE_TABLES,
    WORKSPACE_RETENTION_DAYS,
    ZONE_STORAGE_SKUS,
    private_range_overlapping,
    total_retention_allowed,
)
from components.regions import region_info
from components.skus import UnknownSku, replica_shortfalls

from . import controls as c
from .facts import (
    BACKUP_INSTANCE,
    BACKUP_VAULT,
    DATA_EXPORT,
    KEY,
    LOCK,
    ROLE_ASSIGNMENT,
    SERVER,
    STORAGE,
    TABLE,
    VAULT,
    WORKSPACE,
    ServerKind,
    database_key,
    ip_rule_network,
    server_kind,
)
from .model import Resource, Stack
from .registry import NoConfig, Violation, rule


class PeerRegion(TypedDict):
    peerRegion: str


class PeerServer(TypedDict):
    sku: str
    tier: str
    storageGb: int
    version: str


class PeerServers(TypedDict):
    peerServers: dict[str, PeerServer]


def _outside(value: Any, low: float, high: float) -> bool:
    return value is None or not (low <= value <= high)


def _span(limits: tuple[int, int]) -> str:
    return f"{limits[0]}..{limits[1]}"


@rule(
    "CTY-DEP-001",
    concern="deployability",
    title="Values within Azure's ranges",
    description="Retention periods, sizes, soft-delete days and IP rules lie within what Azure accepts.",
    remediation="Use a value inside the range named in the message.",
    severity="high",
    controls=c.CHANGE,
    resource_types=(SERVER, WORKSPACE, TABLE, BACKUP_VAULT, STORAGE, VAULT),
)
def values_in_range(resource: Resource, cfg: NoConfig) -> Iterator[str]:
    if resource.type == SERVER:
        if _outside(resource.get("backup.backupRetentionDays"), *BACKUP_RETENTION_DAYS):
            yield (
                f"backupRetentionDays {resource.get('backup.backupRetentionDays')} is outside "
                f"{_span(BACKUP_RETENTION_DAYS)}"
            )
        if resource.get("storage.storageSizeGB") not in STORAGE_SIZES_GB:
            yield f"storage size {resource.get('storage.storageSizeGB')} GiB is not one of {list(STORAGE_SIZES_GB)}"
    elif resource.type == WORKSPACE and _outside(resource.get("retentionInDays"), *WORKSPACE_RETENTION_DAYS):
        yield f"workspace retention {resource.get('retentionInDays')} is outside {_span(WORKSPACE_RETENTION_DAYS)} days"
    elif resource.type == TABLE:
        interactive, total = resource.get("retentionInDays"), resource.get("totalRetentionInDays")
        if _outside(interactive, *TABLE_RETENTION_DAYS):
            yield f"table retention {interactive} is outside {_span(TABLE_RETENTION_DAYS)} days"
        if total is not None and not total_retention_allowed(total):
            yield (
                f"total retention {total} days is not {_span(TABLE_RETENTION_DAYS)} or a whole number of "
                f"years up to {TOTAL_RETENTION_MAX_DAYS}"
            )
        if total is not None and interactive is not None and total < interactive:
            yield f"total retention {total} is below interactive retention {interactive}"
    elif resource.type == BACKUP_VAULT:
        days = resource.get("properties.securitySettings.softDeleteSettings.retentionDurationInDays")
        if _outside(days, *BACKUP_VAULT_SOFT_DELETE_DAYS):
            yield f"soft delete retention {days} is outside {_span(BACKUP_VAULT_SOFT_DELETE_DAYS)} days"
    elif resource.type == STORAGE:
        days = resource.get(
            "immutableStorageWithVersioning.immutabilityPolicy.immutabilityPeriodSinceCreationInDays"
        )
        if days is not None and _outside(days, *IMMUTABILITY_DAYS):
            yield f"immutability period {days} is outside {_span(IMMUTABILITY_DAYS)} days"
        rules = resource.get("networkRuleSet.ipRules") or []
        yield from _ip_rules_refused([r.get("iPAddressOrRange") for r in rules], storage=True)
    elif resource.type == VAULT:
        if _outside(
            resource.get("properties.softDeleteRetentionInDays", KEY_VAULT_SOFT_DELETE_DEFAULT_DAYS),
            *KEY_VAULT_SOFT_DELETE_DAYS,
        ):
            yield (
                f"soft delete retention {resource.get('properties.softDeleteRetentionInDays')} is outside "
                f"{_span(KEY_VAULT_SOFT_DELETE_DAYS)} days"
            )
        rules = resource.get("properties.networkAcls.ipRules") or []
        yield from _ip_rules_refused([r.get("value") for r in rules], storage=False)


def _ip_rules_refused(values: list[object], storage: bool) -> Iterator[str]:
    """IP rules Azure refuses: private ranges (vaults and storage), and /31 or /32 prefixes (storage),
    as components.facts cites. A rule that is no address is CTY-ACC-002/004's to name."""
    for value in values:
        network = ip_rule_network(value)
        if network is None:
            continue
        private = private_range_overlapping(network)
        if private:
            yield f"IP rule {value} overlaps the private range {private}, which Azure refuses in IP rules"
        elif storage and "/" in str(value) and network.prefixlen >= 31:
            yield f"IP rule {value}: storage takes no /31 or /32 prefix; write the addresses alone"


@rule(
    "CTY-DEP-002",
    concern="deployability",
    title="HA needs a supported tier",
    description="High availability is requested only on the GeneralPurpose or MemoryOptimized tier.",
    remediation="Move the server to GeneralPurpose or turn highAvailability off.",
    severity="high",
    controls=c.CHANGE,
    resource_types=(SERVER,),
)
def ha_tier(server: Resource, cfg: NoConfig) -> Iterator[str]:
    if (
        server.get("highAvailability.mode") not in (None, "Disabled")
        and server.get("sku.tier") == "Burstable"
    ):
        yield "high availability is not available on the Burstable tier"


@rule(
    "CTY-DEP-003",
    concern="deployability",
    title="Geo-backup key in the peer region",
    description="A geo-backup key lives in a Key Vault in the peer region and the primary key in the server's region.",
    remediation="Use the geo-backup key vault the prod stack declares in the peer region.",
    severity="critical",
    controls=c.merge(c.CHANGE, c.CRYPTO),
    config={"peerRegion": {"type": "string", "default": ""}},
)
def geo_backup_key_region(stack: Stack, cfg: PeerRegion) -> Iterator[Violation]:
    for server in stack.of_type(SERVER):
        vault_regions = set()
        for key in stack.referenced(server, "dataEncryption", KEY):
            vault_regions |= {vault.location for vault in stack.referenced(key, "vaultName", VAULT)}
        if server.get("dataEncryption.type") == "AzureKeyVault" and server.location not in vault_regions:
            yield server.urn, f"no encryption key in a vault in the server's region {server.location}"
        if server.get("dataEncryption.geoBackupKeyURI"):
            others = vault_regions - {server.location}
            if not others:
                yield (
                    server.urn,
                    "the geo-backup key is in the server's own region; it must be where the geo-backup is stored",
                )
            elif cfg["peerRegion"] and cfg["peerRegion"] not in others:
                yield (
                    server.urn,
                    f"the geo-backup key is in {sorted(others, key=str)}, not in the peer region {cfg['peerRegion']}",
                )


@rule(
    "CTY-DEP-004",
    concern="deployability",
    title="Backup vault in the server's region",
    description="A backup instance protects a server from a backup vault in the same region.",
    remediation="Back up each server from its own stack's backup vault.",
    severity="high",
    controls=c.merge(c.CHANGE, c.BACKUP),
)
def backup_vault_region(stack: Stack, cfg: NoConfig) -> Iterator[Violation]:
    for instance in stack.of_type(BACKUP_INSTANCE):
        vaults = stack.referenced(instance, "vaultName", BACKUP_VAULT)
        servers = stack.referenced(instance, "properties", SERVER)
        for vault in vaults:
            for server in servers:
                if vault.location != server.location:
                    yield (
                        instance.urn,
                        f"vault in {vault.location} cannot back up a server in {server.location}",
                    )


@rule(
    "CTY-DEP-005",
    concern="deployability",
    title="No HA or geo-backup on a replica",
    description="A read replica requests neither high availability nor geo-redundant backup.",
    remediation="Leave HA and geo-backup off on replicas; HA returns after promotion via continuity:promotion.highAvailability.",
    severity="high",
    controls=c.CHANGE,
    resource_types=(SERVER,),
)
def replica_features(server: Resource, cfg: NoConfig) -> Iterator[str]:
    if server_kind(server) is not ServerKind.STANDBY:
        return
    if server.get("highAvailability.mode") not in (None, "Disabled"):
        yield "high availability is not supported on a read replica"
    if server.get("backup.geoRedundantBackup") == "Enabled":
        yield "geo-redundant backup is not supported on a read replica"


@rule(
    "CTY-DEP-006",
    concern="deployability",
    title="Zone features need zones",
    description="Zone-redundant HA and zone-redundant storage are requested only in regions with availability zones.",
    remediation="Use SameZone HA and GRS storage in regions without zones (components.regions knows which).",
    severity="high",
    controls=c.CHANGE,
    resource_types=(SERVER, STORAGE),
)
def zone_features(resource: Resource, cfg: NoConfig) -> Iterator[str]:
    if not resource.location or region_info(resource.location).has_zones:
        return
    if resource.type == SERVER and resource.get("highAvailability.mode") == "ZoneRedundant":
        yield f"zone-redundant HA in {resource.location}, which has no availability zones"
    if resource.type == STORAGE and resource.get("sku.name") in ZONE_STORAGE_SKUS:
        yield f"{resource.get('sku.name')} in {resource.location}, which has no availability zones"


@rule(
    "CTY-DEP-007",
    concern="deployability",
    title="Exportable tables only",
    description="A data export rule names only tables that Log Analytics can export.",
    remediation="Archive AzureDiagnostics through diagnostic settings (send_diagnostics archive_id) instead.",
    severity="medium",
    controls=c.merge(c.CHANGE, c.LOGGING),
    resource_types=(DATA_EXPORT,),
)
def exportable_tables(export: Resource, cfg: NoConfig) -> Iterator[str]:
    bad = sorted(set(export.get("tableNames", [])) & set(UNEXPORTABLE_TABLES))
    if bad:
        yield f"table(s) {bad} cannot be exported: the rule succeeds and exports nothing"


# Resource-name inputs through which a child names the parent it lives beneath.
PARENT_NAME_INPUTS = ("vaultName", "serverName", "workspaceName", "accountName")


def _locked_scopes(stack: Stack) -> tuple[set[str], list[str]]:
    """URNs of delete-locked resources, and the lock scopes as ARM ids where they are known."""
    urns, ids = set(), []
    for lock in stack.of_type(LOCK):
        if lock.get("level") != "CanNotDelete":
            continue
        urns |= set(lock.property_dependencies.get("scope", ()))
        if isinstance(lock.get("scope"), str):
            ids.append(lock.get("scope"))
    return urns, ids


@rule(
    "CTY-DEP-008",
    concern="deployability",
    title="No grant beneath a delete lock",
    description="No role assignment is scoped to a delete-locked resource or to a child of one.",
    remediation="Grant on the resource group that holds the resource (components.roles); a grant beneath a "
    "CanNotDelete lock can never be removed without lifting the lock.",
    severity="high",
    controls=c.merge(c.CHANGE, c.ACCESS),
)
def no_grant_beneath_a_lock(stack: Stack, cfg: NoConfig) -> Iterator[Violation]:
    locked_urns, locked_ids = _locked_scopes(stack)
    for grant in stack.of_type(ROLE_ASSIGNMENT):
        scope = grant.get("scope")
        beneath = isinstance(scope, str) and any(
            scope == lock or scope.startswith(lock + "/") for lock in locked_ids
        )
        for target in stack.referenced(grant, "scope"):
            parents = {
                urn for name in PARENT_NAME_INPUTS for urn in target.property_dependencies.get(name, ())
            }
            beneath |= target.urn in locked_urns or bool(parents & locked_urns)
        if beneath:
            yield (
                grant.urn,
                (
                    "the grant lies beneath a CanNotDelete lock: Azure refuses to delete it "
                    "(lock-resources), so removing or moving it fails the update"
                ),
            )


PEER_SERVERS = {
    "peerServers": {
        "type": "object",
        "default": {},
        "description": "the peer stack's servers that replicate to or from this stack: key -> sku, tier, storageGb, version",
    }
}


@rule(
    "CTY-DEP-009",
    concern="deployability",
    title="Replicas at least as large as their sources",
    description="Every replica is at least as large as its source in tier, vCores, memory and storage, with the same version; neither is on the Burstable tier, which has no read replicas.",
    remediation="Scale the replica up first and the primary down first (docs/runbooks/scaling.md); keep versions equal.",
    severity="high",
    controls=c.merge(c.CHANGE, c.CONTINUITY),
    resource_types=(SERVER,),
    config=PEER_SERVERS,
)
def replica_fits_source(server: Resource, cfg: PeerServers) -> Iterator[str]:
    peer = cfg["peerServers"].get(database_key(server))
    kind = server_kind(server)
    if not peer or kind is ServerKind.PROMOTED:
        return
    ours = {
        "sku": server.get("sku.name"),
        "tier": server.get("sku.tier"),
        "storageGb": server.get("storage.storageSizeGB"),
        "version": server.get("version"),
    }
    replica, source = (ours, peer) if kind is ServerKind.STANDBY else (peer, ours)
    if str(replica.get("version")) != str(source.get("version")):
        yield f"the replica runs version {replica.get('version')} and its source {source.get('version')}"
    try:
        reasons = replica_shortfalls(
            str(replica["sku"]),
            str(replica["tier"]),
            int(replica["storageGb"] or 0),
            str(source["sku"]),
            str(source["tier"]),
            int(source["storageGb"] or 0),
        )
    except (UnknownSku, KeyError, TypeError, ValueError) as error:
        reasons = [f"sizes cannot be compared: {error}"]
    side = "this replica" if kind is ServerKind.STANDBY else "the peer's replica"
    for reason in reasons:
        yield f"{side} cannot serve its source: {reason}"
