"""Change safety: what a change would do to the running platform, as blocking findings.

These rules judge a change (the base's rendering against the working tree's), not a declaration,
so they live in the gate and not in the policy pack: under `pulumi preview` the engine already
shows replacements and deletions from the real state, while a pull request has no state and no
credentials, only its base. Each finding names the resource, the property, before and after
(secrets redacted). Findings are waived like any other, in the same waiver file; a role flip and a
server generation change are always reported, so that someone accountable acknowledges them there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from policies.rules.controls import CHANGE
from policies.rules.facts import (
    BACKUP_INSTANCE,
    BACKUP_VAULT,
    KEY,
    LOCK,
    PRIVATE_ZONE,
    SERVER,
    STORAGE,
    TABLE,
    VAULT,
    WORKSPACE,
)

from .changes import PropertyChange, ResourceChange, as_text
from .findings import Finding, RuleInfo
from .render import RenderedResource
from .stack_files import StackConfig

SOURCE = "change"
CONCERN = "change-safety"
# Flexible servers: "You can't scale down the storage" (postgresql/flexible-server/
# how-to-scale-compute-storage-portal); the update fails, or the plan lies about the new size.
STORAGE_SIZE = {SERVER: "storage.storageSizeGB"}
# Generators whose replacement yields a new secret (every input of pulumi-random's RandomPassword
# forces a new one): consumers then receive a value nobody has seen.
SECRET_GENERATORS = frozenset({"random:index/randomPassword:RandomPassword"})
# Types whose replacement is their purpose and loses nothing: a Sleep's `triggers` re-run its wait.
REPLACED_BY_DESIGN = frozenset({"time:index/sleep:Sleep"})
# What a deletion or replacement loses, for the types that hold data or keep it readable.
# A resource the base declares `protect`ed counts as holding data whatever its type.
HOLDS = {
    "azure-native:resources:ResourceGroup": "every resource in the group",
    # A deleted server's backups are kept five days, best effort (postgresql/backup-restore/
    # how-to-restore-deleted-server): not a recovery plan.
    SERVER: "the server's data and its point-in-time backups",
    "azure-native:dbforpostgresql:Database": "the database's data",
    VAULT: "the vault's keys and secrets",
    KEY: "the key that makes encrypted data readable",
    "azure-native:keyvault:Secret": "the secret's current value",
    BACKUP_VAULT: "the long-term-retention backups",
    BACKUP_INSTANCE: "the server's protection and its recovery points",
    WORKSPACE: "the logs and the audit trail",
    TABLE: "the table's retained logs",
    STORAGE: "the immutable audit archive",
    PRIVATE_ZONE: "the zone's records, the writer names among them",
}


@dataclass(frozen=True)
class StackFacts:
    """What the stack-level rules compare, read from a stack file as written (the base's need not
    satisfy the current settings model)."""

    role: str
    generations: dict[str, int]  # database key -> generation (1 unless the file says otherwise)

    @classmethod
    def of(cls, config: StackConfig) -> StackFacts:
        databases = config.raw("databases")
        generations = {
            str(key): int(spec.get("generation", 1)) if isinstance(spec, dict) else 1
            for key, spec in (databases.items() if isinstance(databases, dict) else ())
        }
        return cls(role=str(config.raw("role") or ""), generations=generations)


@dataclass(frozen=True)
class ChangeRule:
    rule_id: str
    title: str
    description: str
    remediation: str
    severity: str

    @property
    def info(self) -> RuleInfo:
        return RuleInfo(
            rule_id=self.rule_id,
            source=SOURCE,
            title=self.title,
            description=self.description,
            remediation=self.remediation,
            severity=self.severity,
            enforcement="mandatory",
            concern=CONCERN,
            controls={k: list(v) for k, v in CHANGE.items()},
        )


DATA_LOSS = ChangeRule(
    "CTY-CHG-001",
    "A resource that holds data would be deleted or replaced",
    "Deleting or replacing a protected or stateful resource (server, database, vault, key, workspace, "
    "archive, zone, resource group) loses what it holds; a replacement is a new, empty resource.",
    "Keep the resource: revert the change, or for a rebuild add a new generation next to it. A deliberate "
    "removal is acknowledged with a waiver and follows docs/runbooks/protection-and-unlocking.md.",
    "critical",
)
CREATE_ONLY = ChangeRule(
    "CTY-CHG-002",
    "A create-only input changed: the resource would be replaced",
    "The provider cannot change this input in place (the REST API accepts it at creation only, or it is "
    "part of the resource id), so it deletes the resource and creates a new one.",
    "Revert the input, or accept the replacement with a waiver naming the resource.",
    "high",
)
LOCKED = ChangeRule(
    "CTY-CHG-003",
    "A resource under a delete lock would be deleted",
    "Azure refuses to delete a resource beneath a CanNotDelete lock (children inherit the parent's "
    "lock), so the update fails half-way with the earlier steps applied.",
    "Remove it in the order docs/runbooks/protection-and-unlocking.md gives, or keep it.",
    "high",
)
STORAGE_SHRINK = ChangeRule(
    "CTY-CHG-004",
    "Server storage would shrink",
    "A flexible server's storage cannot be scaled down.",
    "Keep the storage size at least as large as it is; to use less storage, restore into a new server.",
    "high",
)
SECRET_CHANGE = ChangeRule(
    "CTY-CHG-005",
    "A secret would be regenerated or changed",
    "A regenerated or changed secret (an admin password, a stored secret) reaches its consumers with a value "
    "nobody has yet, and the peer region's copy is stale until its stack is updated too.",
    "Rotate secrets with the rotation runbook, not by changing the generator; or acknowledge it with a waiver.",
    "high",
)
ROLE_FLIP = ChangeRule(
    "CTY-CHG-006",
    "The stack's role flips",
    "Switching continuity:role (primary/standby) is a failover or failback step: it changes which region "
    "takes writes, its alerts and its backups.",
    "Make the flip through the drill or failover runbook and acknowledge it with a waiver (owner, reason, "
    "expiry) on the platform resource.",
    "high",
)
GENERATION = ChangeRule(
    "CTY-CHG-007",
    "A server generation changes",
    "A new generation declares new servers next to the old ones; the failback runbook retires the old "
    "generation from the stack's state first (Azure keeps it).",
    "Follow docs/runbooks/failback.md and acknowledge the change with a waiver on the new server.",
    "high",
)
RULES = {
    r.rule_id: r
    for r in (DATA_LOSS, CREATE_ONLY, LOCKED, STORAGE_SHRINK, SECRET_CHANGE, ROLE_FLIP, GENERATION)
}


def rule_infos() -> dict[str, RuleInfo]:
    return {rule_id: rule.info for rule_id, rule in RULES.items()}


def described(p: PropertyChange) -> str:
    if p.secret:
        return f"{p.path} ([secret] -> [secret], value changes)"
    return f"{p.path} ({as_text(p.before)} -> {as_text(p.after)})"


def _finding(rule: ChangeRule, change: ResourceChange, message: str, urn: str | None = None) -> Finding:
    return Finding(
        rule_id=rule.rule_id,
        source=SOURCE,
        stack=change.stack,
        urn=urn or change.urn,
        resource_type=change.type,
        resource_name=change.name,
        message=message,
        severity=rule.severity,
        enforcement="mandatory",
    )


def _lock_scopes(head: list[RenderedResource]) -> list[str]:
    """The scopes locked after the change (Azure: children inherit a parent scope's lock,
    azure-resource-manager/management/lock-resources)."""
    return [
        str(lock.plain_inputs.get("scope", "")).lower()
        for lock in head
        if lock.type == LOCK and lock.plain_inputs.get("level") in ("CanNotDelete", "ReadOnly")
    ]


def retired(changes: list[ResourceChange], base: StackFacts | None, head: StackFacts) -> set[str]:
    """URNs of the deletions that belong to a database's old generation when it moves to a new one.

    The failback runbook retires the old servers from state with their dependents (`pulumi state
    delete --target-dependents`) before the update, and Azure keeps them: the old generation's
    `<database>-g<N>` resources, their children, and whatever refers to them.
    """
    instances = {
        f"{key}-g{generation}"
        for key, generation in (base.generations if base else {}).items()
        if head.generations.get(key, generation) != generation
    }
    deleted = [c for c in changes if c.action == "delete"]
    found = {c.urn for c in deleted if c.name in instances}
    grown = True
    while grown:
        grown = False
        for change in deleted:
            old = change.old
            refers = {
                old.parent,
                *old.dependencies,
                *(u for urns in old.property_dependencies.values() for u in urns),
            }
            if change.urn not in found and refers & found:
                found.add(change.urn)
                grown = True
    return found


def change_findings(
    changes: list[ResourceChange],
    head: list[RenderedResource],
    base_facts: StackFacts | None,
    head_facts: StackFacts,
) -> list[Finding]:
    """The change rules' findings for one stack (`base_facts` None: the stack is new)."""
    locks = _lock_scopes(head)
    retiring = retired(changes, base_facts, head_facts)
    findings: list[Finding] = []
    for change in changes:
        if change.action == "delete" and change.urn in retiring:
            continue  # kept in Azure, out of state before the update: CTY-CHG-007 reports the change
        if change.action in ("delete", "replace"):
            findings += _removal(change, locks)
        if change.action in ("update", "replace"):
            findings += _updates(change)
    return findings + list(_stack_changes(changes, base_facts, head_facts))


PROTECTED = "it is protected, so the update stops there until it is unprotected"


def _removal(change: ResourceChange, locks: list[str]) -> Iterator[Finding]:
    """Findings on a deletion or a replacement (which deletes the old resource)."""
    old = change.old
    holds = HOLDS.get(change.type)
    # A deleted `retainOnDelete` resource is only released from the stack; Azure keeps it.
    released = change.action == "delete" and old.retain_on_delete and not old.protect
    reasons = ", ".join(described(p) for p in change.replacing)
    if (holds is not None or old.protect) and not released:
        if change.action == "delete":
            consequences = [f"loses {holds}"] if holds else []
            if old.protect:
                consequences.append(PROTECTED)
            yield _finding(DATA_LOSS, change, "deleted: " + "; ".join(consequences))
        else:
            consequence = f"loses {holds}" if holds else PROTECTED
            yield _finding(DATA_LOSS, change, f"replaced by a new, empty resource ({reasons}): {consequence}")
    elif change.action == "replace" and change.type not in REPLACED_BY_DESIGN | SECRET_GENERATORS:
        yield _finding(CREATE_ONLY, change, f"replaced: {reasons}")  # a new secret is CTY-CHG-005's
    if change.type in SECRET_GENERATORS:
        yield _finding(SECRET_CHANGE, change, _regenerated(change))
    scope = _lock_above(old, locks)
    if scope is not None:
        what = "deleted" if change.action == "delete" else "replaced (the old one is deleted)"
        # Named by the old URN: the resource the failing delete is about (a renamed one's old name).
        yield _finding(LOCKED, change, f"{what} beneath the delete lock on {scope}", urn=old.urn)


def _lock_above(old: RenderedResource, locks: list[str]) -> str | None:
    """The lock scope a deletion of `old` would fail under; a retained resource is never deleted."""
    arm_id = old.id.lower()
    if old.retain_on_delete or not arm_id.startswith("/subscriptions/"):
        return None
    return next((scope for scope in locks if arm_id.startswith(scope + "/")), None)


def _regenerated(change: ResourceChange) -> str:
    if change.action == "delete":
        return "the generator is removed: its secret is gone from the stack and its consumers"
    reasons = ", ".join(described(p) for p in change.properties)
    return f"a new secret is generated ({reasons}); every consumer receives it"


def _updates(change: ResourceChange) -> Iterator[Finding]:
    size_path = STORAGE_SIZE.get(change.type)
    for p in change.properties:
        if (
            p.path == size_path
            and isinstance(p.before, int | float)
            and isinstance(p.after, int | float)
            and p.after < p.before
        ):
            yield _finding(STORAGE_SHRINK, change, f"{p.path} shrinks from {p.before:g} GB to {p.after:g} GB")
        if p.secret and change.type not in SECRET_GENERATORS:
            yield _finding(SECRET_CHANGE, change, f"{described(p)}")


def _stack_changes(
    changes: list[ResourceChange], base: StackFacts | None, head: StackFacts
) -> Iterator[Finding]:
    if base is None:
        return
    platform = next((c for c in changes if c.type == "continuity:platform:RegionalPlatform"), None)
    if platform is not None and base.role != head.role:
        yield _finding(
            ROLE_FLIP, platform, f"continuity:role {base.role} -> {head.role} in stack {platform.stack}"
        )
    for key, generation in head.generations.items():
        before = base.generations.get(key)
        if before is None or before == generation:
            continue
        server = next(
            (
                c
                for c in changes
                if c.type == "continuity:database:PostgresServer" and c.name == f"{key}-g{generation}"
            ),
            platform,
        )
        if server is not None:
            yield _finding(
                GENERATION,
                server,
                f"continuity:databases.{key}.generation {before} -> {generation}: new servers "
                f"{key}-g{generation}; {key}-g{before} is retired from state, not deleted",
            )
