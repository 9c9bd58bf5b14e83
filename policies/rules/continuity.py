"""Continuity: the declared RTO/RPO of each database is achievable by what is deployed.

Achievable figures per mechanism are Microsoft's stated ones for Azure Database for PostgreSQL
flexible server (business continuity overview): zone-redundant HA RTO < 120 s / RPO 0 (zone loss
only); read replica promotion RTO "minutes" / RPO "typically 30 s to 5 min"; geo-restore RTO
"varies" (up to 12 h) / RPO < 1 h; point-in-time restore RPO < 5 min (same region only).
https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-business-continuity
For a regional loss, the relevant mechanisms are the cross-region replica and geo-restore.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypedDict

from components.durations import format_seconds
from components.settings import MIN_LAG_ALERT_SECONDS

from . import controls as c
from .facts import METRIC_ALERT, SERVER, ServerKind, database_key, duration_tag, server_kind
from .model import Stack
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
class Assessment:
    urn: str
    database: str
    mechanism: str
    target_rto: int | None
    target_rpo: int | None
    achievable_rto: int | None
    achievable_rpo: int | None

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
            )
        )
    # Registration order depends on when outputs resolve; reports need a stable order.
    return sorted(results, key=lambda a: (a.database, a.urn))


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
