"""Retention: how long logs, backups and deleted objects are kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, TypedDict

from components.durations import Duration
from components.facts import KEY_VAULT_SOFT_DELETE_DEFAULT_DAYS

from . import controls as c
from .facts import (
    BACKUP_POLICY,
    BACKUP_VAULT,
    DATA_EXPORT,
    DIAGNOSTIC,
    MANAGEMENT_POLICY,
    SERVER,
    STORAGE,
    SUBSCRIPTION_DIAGNOSTIC,
    TABLE,
    VAULT,
    WORKSPACE,
    is_restore_staging,
)
from .model import Resource, Stack
from .registry import Violation, rule


class MinDays(TypedDict):
    minDays: int


class MinTotalDays(TypedDict):
    minTotalDays: int


class RequiredTables(TypedDict):
    requiredTables: list[str]


LongTermMinimum = Literal["minDefaultDays", "minMonthlyDays", "minYearlyDays"]


class LongTermMinimums(TypedDict):
    minDefaultDays: int
    minMonthlyDays: int
    minYearlyDays: int


def _days(duration: str) -> float:
    """Days in an ISO 8601 duration as backup policies write them (P3M, P12M, P7Y, P30D, P4W)."""
    return Duration.from_iso8601(duration).days


@rule(
    "CTY-RET-001",
    concern="retention",
    title="Workspace retention",
    description="A Log Analytics workspace keeps logs interactively for at least the minimum retention.",
    remediation="Set continuity:logs.retention to at least the minimum (90d by default).",
    severity="high",
    controls=c.merge(c.LOGGING, cis=("5.1.1",)),
    resource_types=(WORKSPACE,),
    config={"minDays": {"type": "integer", "default": 90}},
)
def workspace_retention(workspace: Resource, cfg: MinDays) -> Iterator[str]:
    days = workspace.get("retentionInDays")
    if days is None or days < cfg["minDays"]:
        yield f"workspace retention is {days} days; at least {cfg['minDays']} are required"


@rule(
    "CTY-RET-002",
    concern="retention",
    title="Audit table retention",
    description="Every audit and security table keeps its logs for at least the minimum total retention.",
    remediation="Set continuity:logs.auditRetention to at least 365d and list the table in continuity:logs.auditTables.",
    severity="high",
    controls=c.merge(c.LOGGING, {c.ISO: ("A.5.28",)}),
    resource_types=(TABLE,),
    config={"minTotalDays": {"type": "integer", "default": 365}},
)
def audit_table_retention(table: Resource, cfg: MinTotalDays) -> Iterator[str]:
    total = table.get("totalRetentionInDays")
    if total is None or total < cfg["minTotalDays"]:
        yield f"table {table.get('tableName')} keeps logs {total} days in total; at least {cfg['minTotalDays']} are required"


@rule(
    "CTY-RET-003",
    concern="retention",
    title="Audit tables declared",
    description="The stack's workspace extends retention on every required audit and security table.",
    remediation="Keep the required tables in continuity:logs.auditTables.",
    severity="high",
    controls=c.merge(c.LOGGING, cis=("5.1.2",)),
    config={
        "requiredTables": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["AzureActivity", "AzureDiagnostics", "LAQueryLogs"],
        }
    },
)
def audit_tables_declared(stack: Stack, cfg: RequiredTables) -> Iterator[Violation]:
    for workspace in stack.of_type(WORKSPACE):
        tables = {t.get("tableName") for t in stack.referring_to(workspace, "workspaceName", TABLE)}
        missing = sorted(set(cfg["requiredTables"]) - tables)
        if missing:
            yield workspace.urn, f"no long-retention setting for audit table(s) {missing}"


@rule(
    "CTY-RET-004",
    concern="retention",
    title="Point-in-time restore window",
    description="A writable PostgreSQL server keeps point-in-time-restore backups for at least the minimum days.",
    remediation="Set continuity:databases.<key>.backupRetention to 35d.",
    severity="high",
    controls=c.BACKUP,
    resource_types=(SERVER,),
    config={"minDays": {"type": "integer", "default": 35}},
)
def pitr_window(server: Resource, cfg: MinDays) -> Iterator[str]:
    days = server.get("backup.backupRetentionDays")
    if days is None or days < cfg["minDays"]:
        yield f"point-in-time restore window is {days} days; at least {cfg['minDays']} are required"


@rule(
    "CTY-RET-005",
    concern="retention",
    title="Long-term backup retention",
    description="The long-term-retention backup policy keeps weekly, monthly and yearly backups for at least the minimum periods.",
    remediation="Set continuity:backup.longTermRetention default/monthly/yearly to at least 3mo/12mo/7y.",
    severity="high",
    controls=c.BACKUP,
    resource_types=(BACKUP_POLICY,),
    config={
        "minDefaultDays": {"type": "integer", "default": 90},
        "minMonthlyDays": {"type": "integer", "default": 360},
        "minYearlyDays": {"type": "integer", "default": 7 * 365},
    },
)
def long_term_retention(policy: Resource, cfg: LongTermMinimums) -> Iterator[str]:
    kept = {}
    for policy_rule in policy.get("properties.policyRules", []):
        if policy_rule.get("objectType") == "AzureRetentionRule":
            lifecycles = policy_rule.get("lifecycles") or [{}]
            kept[policy_rule.get("name")] = lifecycles[0].get("deleteAfter", {}).get("duration", "P0D")
    minimums: tuple[tuple[str, LongTermMinimum], ...] = (
        ("Default", "minDefaultDays"),
        ("Monthly", "minMonthlyDays"),
        ("Yearly", "minYearlyDays"),
    )
    for tag, minimum in minimums:
        if tag not in kept:
            yield f"no {tag} retention rule"
        elif _days(kept[tag]) < cfg[minimum]:
            yield f"{tag} backups kept {kept[tag]}; at least {cfg[minimum]} days are required"


@rule(
    "CTY-RET-006",
    concern="retention",
    title="Backup soft delete",
    description="A backup vault keeps deleted backups recoverable for at least the minimum soft-delete period.",
    remediation="Set continuity:backup.softDelete to 14d or more; soft delete stays On.",
    severity="high",
    controls=c.BACKUP,
    resource_types=(BACKUP_VAULT,),
    config={"minDays": {"type": "integer", "default": 14}},
)
def backup_soft_delete(vault: Resource, cfg: MinDays) -> Iterator[str]:
    settings = vault.get("properties.securitySettings.softDeleteSettings") or {}
    if settings.get("state") not in ("On", "AlwaysOn"):
        yield f"soft delete is {settings.get('state')}"
    elif (settings.get("retentionDurationInDays") or 0) < cfg["minDays"]:
        yield f"soft delete keeps {settings.get('retentionDurationInDays')} days; at least {cfg['minDays']} are required"


@rule(
    "CTY-RET-007",
    concern="retention",
    title="Audit archive immutability",
    description="Every storage account but the transient restore staging account (the audit archive) has a version-level immutability policy of at least the minimum period that still allows appends.",
    remediation="Keep immutableStorageWithVersioning enabled with continuity:logs.archiveImmutability of at least 365d.",
    severity="critical",
    controls=c.merge(c.LOGGING, {c.ISO: ("A.5.28", "A.5.33")}, cis=("5.1.3",)),
    resource_types=(STORAGE,),
    config={"minDays": {"type": "integer", "default": 365}},
)
def archive_immutability(account: Resource, cfg: MinDays) -> Iterator[str]:
    if is_restore_staging(account):
        return  # its files must be deletable after a day (CTY-RET-009)
    worm = account.get("immutableStorageWithVersioning") or {}
    policy = worm.get("immutabilityPolicy") or {}
    if not worm.get("enabled"):
        yield "version-level immutability is not enabled"
        return
    if (policy.get("immutabilityPeriodSinceCreationInDays") or 0) < cfg["minDays"]:
        yield f"blobs are immutable for {policy.get('immutabilityPeriodSinceCreationInDays')} days; at least {cfg['minDays']} are required"
    if policy.get("state") == "Disabled":
        yield "the immutability policy is Disabled"
    if not policy.get("allowProtectedAppendWrites"):
        yield "protected append writes are off: data export cannot write to the archive"


class MaxDays(TypedDict):
    maxDays: int


@rule(
    "CTY-RET-009",
    concern="retention",
    title="Restore staging is transient",
    description="The restore staging account (exempt from locks and immutability) deletes restored backup files within the maximum days and archives nothing.",
    remediation="Declare it with components.restore_staging.RestoreStaging: a lifecycle rule deletes base blobs a day after they are written; send no logs to it.",
    severity="high",
    controls=c.merge(c.BACKUP, c.LOGGING),
    config={"maxDays": {"type": "integer", "default": 7}},
)
def restore_staging_transient(stack: Stack, cfg: MaxDays) -> Iterator[Violation]:
    for account in filter(is_restore_staging, stack.of_type(STORAGE)):
        deletes_after = [
            _deletes_after(policy_rule)
            for policy in stack.referring_to(account, "accountName", MANAGEMENT_POLICY)
            for policy_rule in policy.get("policy.rules") or []
            if policy_rule.get("enabled", True) and policy_rule.get("type") == "Lifecycle"
        ]
        days = min((d for d in deletes_after if d is not None), default=None)
        if days is None:
            yield account.urn, "no enabled lifecycle rule deletes restored files: production data would stay"
        elif days > cfg["maxDays"]:
            yield (
                account.urn,
                f"restored files are deleted after {days:g} days; at most {cfg['maxDays']} are allowed",
            )
        for prop, kind in (
            ("resourceId", DATA_EXPORT),
            ("storageAccountId", DIAGNOSTIC),
            ("storageAccountId", SUBSCRIPTION_DIAGNOSTIC),
        ):
            for sender in stack.referring_to(account, prop, kind):
                yield account.urn, f"{sender.name} archives to it: an archive must be locked and immutable"


def _deletes_after(policy_rule: dict[str, Any]) -> float | None:
    """Days after which a lifecycle rule deletes base blobs (by modification or creation), if it does."""
    delete = policy_rule.get("definition", {}).get("actions", {}).get("baseBlob", {}).get("delete") or {}
    days = [delete.get(key) for key in ("daysAfterModificationGreaterThan", "daysAfterCreationGreaterThan")]
    return min((float(d) for d in days if d is not None), default=None)


@rule(
    "CTY-RET-008",
    concern="retention",
    title="Key Vault recoverable",
    description="A Key Vault has soft delete for at least the minimum days and purge protection.",
    remediation="Keep enableSoftDelete, softDeleteRetentionInDays=90 and enablePurgeProtection on the vault.",
    severity="critical",
    controls=c.merge(c.BACKUP, c.CRYPTO, cis=("8.5",)),
    resource_types=(VAULT,),
    config={"minDays": {"type": "integer", "default": 90}},
)
def key_vault_recoverable(vault: Resource, cfg: MinDays) -> Iterator[str]:
    props = vault.get("properties") or {}
    if props.get("enableSoftDelete") is False:
        yield "soft delete is disabled"
    kept = props.get("softDeleteRetentionInDays")
    if (KEY_VAULT_SOFT_DELETE_DEFAULT_DAYS if kept is None else kept) < cfg["minDays"]:
        yield f"soft delete keeps {props.get('softDeleteRetentionInDays')} days; at least {cfg['minDays']} are required"
    if not props.get("enablePurgeProtection"):
        yield "purge protection is off: a deleted vault (and every key in it) can be purged for good"
