"""Continuity: the declared RTO/RPO of each database is achievable by what is deployed.

Achievable figures per mechanism are Microsoft's stated ones for Azure Database for PostgreSQL
flexible server (business continuity overview): zone-redundant HA RTO < 120 s / RPO 0 (zone loss
only); read replica promotion RTO "minutes" / RPO "typically 30 s to 5 min"; geo-restore RTO
"varies" (up to 12 h) / RPO < 1 h; point-in-time restore RPO < 5 min (same region only).
https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-business-continuity
For a regional loss, the relevant mechanisms are the cross-region replica and geo-restore.

Each assessment also lists the restore paths that survive the loss of the server's region, with
the writes each can lose: geo-restore (Microsoft's RPO < 1 h), and the backup vault's long-term
recovery points when the vault is geo-redundant with cross-region restore (a point per scheduled
backup: the policy's interval). A point-in-time restore stays in the server's region.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypedDict

from components.durations import Duration, format_seconds
from components.settings import MIN_LAG_ALERT_SECONDS

from . import controls as c
from .facts import (
    BACKUP_INSTANCE,
    BACKUP_POLICY,
    BACKUP_VAULT,
    METRIC_ALERT,
    SERVER,
    ServerKind,
    database_key,
    duration_tag,
    server_kind,
)
from .model import Resource, Stack
from .registry import Violation, rule

# Seconds. "Minutes" for a promotion is taken as 30 min including the decision; overridable.
MECHANISM_FIGURES = {
    "replicaPromotion": {"rto": 1800, "rpo": 300},
    "geoRestore": {"rto": 12 * 3600, "rpo": 3600},
}
# A promoted replica has no cross-region copy until the former primary region is rebuilt.
PROMOTED = "none (promoted)"


class RecoveryFigures(TypedDict):
    mechanismFigures: dict[str, dict[str, int]]
    replicatedDatabases: list[str]


class LagAlertFloor(TypedDict):
    minThresholdSeconds: int


FIGURES_SCHEMA = {
    "mechanismFigures": {
        "type": "object",
        "default": MECHANISM_FIGURES,
        "description": "achievable RTO/RPO in seconds per mechanism (Microsoft's stated figures)",
    },
    "replicatedDatabases": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "database keys whose servers have a replica in the peer stack",
    },
}


@dataclass(frozen=True)
class RestorePath:
    """A way back from backups after the loss of the server's region."""

    path: str  # geoRestore | backupVault | pointInTimeRestore
    available: bool  # survives the loss of the region, as deployed
    rpo: int | None  # seconds of writes it can lose at worst
    note: str

    def backs(self, target_rpo: int | None) -> bool:
        """Whether this path alone keeps the database within its RPO target."""
        if not self.available or self.rpo is None or target_rpo is None:
            return False
        return self.rpo <= target_rpo


@dataclass(frozen=True)
class Assessment:
    urn: str
    database: str
    mechanism: str
    target_rto: int | None
    target_rpo: int | None
    achievable_rto: int | None
    achievable_rpo: int | None
    restore_paths: tuple[RestorePath, ...] = ()

    @property
    def meets_rto(self) -> bool:
        return (
            self.target_rto is not None
            and self.achievable_rto is not None
            and self.achievable_rto <= self.target_rto
        )

    @property
    def meets_rpo(self) -> bool:
        return (
            self.target_rpo is not None
            and self.achievable_rpo is not None
            and self.achievable_rpo <= self.target_rpo
        )


def assess(stack: Stack, cfg: RecoveryFigures) -> list[Assessment]:
    """Regional-loss recovery of each server: the best mechanism that survives its region."""
    figures = {**MECHANISM_FIGURES, **cfg.get("mechanismFigures", {})}
    results = []
    for server in stack.of_type(SERVER):
        rto, rpo = duration_tag(server, "rto"), duration_tag(server, "rpo")
        kind = server_kind(server)
        if kind is ServerKind.PROMOTED:
            mechanism = PROMOTED
        elif kind is ServerKind.STANDBY or database_key(server) in cfg.get("replicatedDatabases", []):
            mechanism = "replicaPromotion"
        elif server.get("backup.geoRedundantBackup") == "Enabled":
            mechanism = "geoRestore"
        else:
            mechanism = "none"
        achieved = figures.get(mechanism, {})
        results.append(
            Assessment(
                urn=server.urn,
                database=database_key(server),
                mechanism=mechanism,
                target_rto=rto.seconds if rto else None,
                target_rpo=rpo.seconds if rpo else None,
                achievable_rto=achieved.get("rto"),
                achievable_rpo=achieved.get("rpo"),
                restore_paths=restore_paths(stack, server, figures),
            )
        )
    # Registration order depends on when outputs resolve; reports need a stable order.
    return sorted(results, key=lambda a: (a.database, a.urn))


def _backup_interval(policy: Resource) -> int | None:
    """Seconds between the policy's scheduled backups (`R/<start>/<interval>`), None if unreadable."""
    for policy_rule in policy.get("properties.policyRules") or []:
        intervals = (policy_rule.get("trigger") or {}).get("schedule", {}).get("repeatingTimeIntervals") or []
        for interval in intervals:
            try:
                return Duration.from_iso8601(str(interval).rsplit("/", 1)[-1]).seconds
            except ValueError:
                continue
    return None


def _vault_path(stack: Stack, server: Resource) -> RestorePath:
    instances = stack.referring_to(server, "properties", BACKUP_INSTANCE)
    if not instances:
        return RestorePath("backupVault", False, None, "no backup instance for this server")
    instance = instances[0]
    vaults = stack.referenced(instance, "vaultName", BACKUP_VAULT) or stack.of_type(BACKUP_VAULT)
    policies = stack.referenced(instance, "properties", BACKUP_POLICY)
    interval = _backup_interval(policies[0]) if policies else None
    geo = bool(vaults) and all(
        vault.get("properties.featureSettings.crossRegionRestoreSettings.state") == "Enabled"
        and any(s.get("type") == "GeoRedundant" for s in vault.get("properties.storageSettings") or [])
        for vault in vaults
    )
    every = f"a recovery point every {format_seconds(interval)}" if interval else "schedule unknown"
    if not geo:
        return RestorePath(
            "backupVault",
            False,
            interval,
            f"{every}, but the vault is not geo-redundant with cross-region restore",
        )
    return RestorePath("backupVault", True, interval, f"{every}, restorable in the paired region")


def restore_paths(
    stack: Stack, server: Resource, figures: dict[str, dict[str, int]]
) -> tuple[RestorePath, ...]:
    """The restore paths of a server for the loss of its region (see the module's docstring)."""
    geo = server.get("backup.geoRedundantBackup") == "Enabled"
    return (
        RestorePath(
            "geoRestore",
            geo,
            figures["geoRestore"].get("rpo"),  # the defaults always hold it
            "from the geo-redundant backup copy" if geo else "no geo-redundant backup (set only at creation)",
        ),
        _vault_path(stack, server),
        RestorePath("pointInTimeRestore", False, None, "same region only"),
    )


@rule(
    "CTY-CON-001",
    concern="continuity",
    title="Targets achievable",
    description="The deployed recovery mechanisms of each database achieve its declared RTO and RPO after a regional loss.",
    remediation="Keep a cross-region replica (declare the database in the standby stack) or relax the target in config.",
    severity="critical",
    controls=c.CONTINUITY,
    config=FIGURES_SCHEMA,
)
def targets_achievable(stack: Stack, cfg: RecoveryFigures) -> Iterator[Violation]:
    for result in assess(stack, cfg):
        if result.target_rto is None or result.target_rpo is None:
            continue  # CTY-TAG-002 reports missing targets
        if result.mechanism == PROMOTED:
            continue  # a recorded degradation (CTY-RES-900) until the peer is rebuilt as a replica
        if not result.meets_rto:
            yield (
                result.urn,
                (
                    f"{result.database}: RTO target {format_seconds(result.target_rto)} but {result.mechanism} "
                    f"achieves {format_seconds(result.achievable_rto)}"
                ),
            )
        if not result.meets_rpo:
            yield (
                result.urn,
                (
                    f"{result.database}: RPO target {format_seconds(result.target_rpo)} but {result.mechanism} "
                    f"achieves {format_seconds(result.achievable_rpo)}"
                ),
            )


@rule(
    "CTY-CON-002",
    concern="continuity",
    title="Lag alert fits the RPO",
    description="Every replica has a replication-lag alert whose threshold is below the database's RPO and above two heartbeats.",
    remediation="Keep continuity:alerts.lagAlertFraction below 1 and the RPO long enough; the threshold is derived from the RPO.",
    severity="high",
    controls=c.merge(c.CONTINUITY, c.LOGGING),
    config={
        "minThresholdSeconds": {
            "type": "integer",
            "default": MIN_LAG_ALERT_SECONDS,
            "description": "two heartbeat intervals: a lower threshold fires between beats on an idle, healthy replica",
        }
    },
)
def lag_alert_fits_rpo(stack: Stack, cfg: LagAlertFloor) -> Iterator[Violation]:
    for server in stack.of_type(SERVER):
        if server_kind(server) is not ServerKind.STANDBY:
            continue
        rpo = duration_tag(server, "rpo")
        thresholds = [
            criterion.get("threshold")
            for alert in stack.referring_to(server, "scopes", METRIC_ALERT)
            for criterion in alert.get("criteria.allOf", [])
            if criterion.get("metricName") == "physical_replication_delay_in_seconds"
        ]
        if not thresholds:
            yield server.urn, "no replication-lag alert"
        elif rpo is not None and min(thresholds) >= rpo.seconds:
            yield server.urn, f"lag alert fires at {min(thresholds)}s, not before the {rpo} RPO is lost"
        elif min(thresholds) < cfg["minThresholdSeconds"]:
            yield (
                server.urn,
                (
                    f"lag alert fires at {min(thresholds)}s, below {cfg['minThresholdSeconds']}s: it would "
                    "page between heartbeats while the primary is idle"
                ),
            )
