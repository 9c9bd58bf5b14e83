"""Observability: diagnostics to the stack's workspace, the activity log, and alerts that reach people."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypedDict

from components.regions import region_info

from . import controls as c
from .encryption import server_parameters
from .facts import (
    ACTION_GROUP,
    ACTIVITY_ALERT,
    BACKUP_VAULT,
    DIAGNOSTIC,
    METRIC_ALERT,
    SERVER,
    STORAGE,
    SUBSCRIPTION_DIAGNOSTIC,
    VAULT,
    WORKSPACE,
    ServerKind,
    server_kind,
)
from .model import Resource, Stack
from .registry import NoConfig, Violation, rule

# Types whose resource logs Azure can send through a diagnostic setting (the storage account's
# logs come from its blob service).
DIAGNOSTIC_SOURCES = (SERVER, VAULT, BACKUP_VAULT, WORKSPACE)
SERVER_METRICS = ("cpu_percent", "memory_percent", "storage_percent", "is_db_alive")
LAG_METRIC = "physical_replication_delay_in_seconds"


class ActivityCategories(TypedDict):
    categories: list[str]


class Regions(TypedDict):
    regions: list[str]


def _sends_logs_to_workspace(stack: Stack, setting: Resource) -> bool:
    to_workspace = bool(stack.referenced(setting, "workspaceId", WORKSPACE))
    logs_on = any(
        log.get("enabled") and (log.get("categoryGroup") in ("allLogs", "audit") or log.get("category"))
        for log in setting.get("logs", [])
    )
    return to_workspace and logs_on


@rule(
    "CTY-OBS-001",
    concern="observability",
    title="Diagnostics to the workspace",
    description="Every resource that can send diagnostics sends its logs to a workspace of the same stack.",
    remediation="Call components.diagnostics.send_diagnostics for the resource.",
    severity="high",
    controls=c.merge(c.LOGGING, cis=("5.1.5", "5.4")),
)
def diagnostics_to_workspace(stack: Stack, cfg: NoConfig) -> Iterator[Violation]:
    settings = stack.of_type(DIAGNOSTIC)
    sources = list(stack.of_type(*DIAGNOSTIC_SOURCES))
    # Storage accounts log through their blob service; the setting's resourceUri derives from the account.
    sources += stack.of_type(STORAGE)
    for source in sources:
        if not any(
            source.urn in s.property_dependencies.get("resourceUri", ())
            and _sends_logs_to_workspace(stack, s)
            for s in settings
        ):
            yield source.urn, "sends no logs to the stack's Log Analytics workspace"


@rule(
    "CTY-OBS-002",
    concern="observability",
    title="Activity log captured",
    description="The subscription activity log goes to the stack's workspace with the administrative, security, policy and service-health categories.",
    remediation="Keep the SubscriptionDiagnosticSetting in components.observability.",
    severity="high",
    controls=c.merge(c.LOGGING, cis=("5.1.1", "5.1.2")),
    config={
        "categories": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["Administrative", "Security", "Policy", "ServiceHealth"],
        }
    },
)
def activity_log_captured(stack: Stack, cfg: ActivityCategories) -> Iterator[Violation]:
    for setting in stack.of_type(SUBSCRIPTION_DIAGNOSTIC):
        enabled = {log.get("category") for log in setting.get("logs", []) if log.get("enabled")}
        if stack.referenced(setting, "workspaceId", WORKSPACE) and set(cfg["categories"]) <= enabled:
            return
    workspaces = stack.of_type(WORKSPACE)
    yield (
        (workspaces[0].urn if workspaces else "stack"),
        (f"no subscription diagnostic setting sends {cfg['categories']} to this stack's workspace"),
    )


@rule(
    "CTY-OBS-003",
    concern="observability",
    title="Server health alerts",
    description="Every server has CPU, memory, storage and availability alerts, and every replica a lag alert, that notify an action group with a receiver.",
    remediation="Keep alerting.watch(...) for each server in components.platform.",
    severity="high",
    controls=c.merge(c.LOGGING, {c.SOC2: ("CC7.3",)}),
)
def server_health_alerts(stack: Stack, cfg: NoConfig) -> Iterator[Violation]:
    groups_with_receivers = {
        g.urn for g in stack.of_type(ACTION_GROUP) if g.get("emailReceivers") or g.get("webhookReceivers")
    }
    for server in stack.of_type(SERVER):
        watched = set()
        for alert in stack.referring_to(server, "scopes", METRIC_ALERT):
            if not alert.get("enabled", True):
                continue
            if not set(alert.property_dependencies.get("actions", ())) & groups_with_receivers:
                continue
            watched |= {criterion.get("metricName") for criterion in alert.get("criteria.allOf", [])}
        required = set(SERVER_METRICS) | (
            {LAG_METRIC} if server_kind(server) is ServerKind.STANDBY else set()
        )
        missing = sorted(required - watched)
        if missing:
            yield server.urn, f"no alert reaching a receiver on {missing}"


@rule(
    "CTY-OBS-004",
    concern="observability",
    title="Service Health for both regions",
    description="A Service Health alert covers the stack's region and its peer region.",
    remediation="Keep the service-health ActivityLogAlert in components.alerts with both regions.",
    severity="medium",
    controls=c.merge(c.LOGGING, c.CONTINUITY),
    config={"regions": {"type": "array", "items": {"type": "string"}, "default": []}},
)
def service_health_both_regions(stack: Stack, cfg: Regions) -> Iterator[Violation]:
    wanted = {region_info(r).display_name for r in cfg["regions"]}
    covered = set()
    for alert in stack.of_type(ACTIVITY_ALERT):
        conditions = alert.get("condition.allOf", [])
        if any(
            cond.get("field") == "category" and cond.get("equals") == "ServiceHealth" for cond in conditions
        ):
            for cond in conditions:
                if cond.get("field", "").endswith("RegionName"):
                    covered |= set(cond.get("containsAny") or [])
    missing = sorted(wanted - covered)
    if missing or not covered:
        groups = stack.of_type(ACTION_GROUP)
        yield (groups[0].urn if groups else "stack"), f"no Service Health alert for {missing or 'any region'}"


@rule(
    "CTY-OBS-005",
    concern="observability",
    title="Heartbeat for the lag signal",
    description="Every server can run the heartbeat job that keeps a replica's lag metric meaningful while the primary is idle.",
    remediation="Keep pg_cron in azure.extensions and shared_preload_libraries and set cron.database_name "
    "(components.database.server_parameters), then apply `python -m drill setup` on the writer.",
    severity="medium",
    controls=c.merge(c.LOGGING, c.CONTINUITY),
)
def heartbeat_possible(stack: Stack, cfg: NoConfig) -> Iterator[Violation]:
    # Replica lag is "the time since the last replayed transaction" (concepts-read-replicas), so an idle
    # primary would page on-call; a pg_cron job writes a heartbeat every minute instead.
    for server in stack.of_type(SERVER):
        params = server_parameters(stack, server)
        missing = [
            name
            for name in ("azure.extensions", "shared_preload_libraries")
            if "pg_cron" not in params.get(name, "").split(",")
        ]
        if missing:
            yield server.urn, f"pg_cron is missing from {missing}"
        if not params.get("cron.database_name"):
            yield server.urn, "cron.database_name is not set: the heartbeat job has no database to run in"
