"""The way back after a failover, as steps with the exact config and commands each needs.

Failback never reuses the old primary in place: it is kept (protected, delete-locked, out of
Pulumi's state) for forensics and for any writes that never reached the standby, and the former
primary region is rebuilt as a new generation of replicas. Then a planned switchover moves the
writer back, and the other region is rebuilt as replicas in turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.settings import Settings


@dataclass(frozen=True)
class Step:
    title: str
    commands: list[str]
    check: str


def _generation_bumps(stack: str, settings: Settings) -> list[str]:
    return [f"pulumi config set --path 'continuity:databases.{key}.generation' {db.generation + 1} -s {stack}"
            for key, db in settings.databases.items()]


def _retain(stack: str, settings: Settings, what: str) -> list[str]:
    """Commands that drop resources from one stack's state without touching Azure."""
    urns = [f"$(pulumi stack -s {stack} --show-urns | grep -o 'urn:[^ ]*::{key}-g{db.generation}$')"
            for key, db in settings.databases.items()]
    commands = [f"pulumi state unprotect --yes -s {stack} {urn}" for urn in urns]
    commands += [f"pulumi state delete --yes --target-dependents -s {stack} {urn}" for urn in urns]
    commands.append(f"# {what}: the Azure servers and their CanNotDelete locks stay; record their names in the drill notes")
    return commands


def failback_plan(failed: str, failed_settings: Settings, survivor: str, survivor_settings: Settings) -> list[Step]:
    """`failed`: the stack whose region was lost (its servers are stale); `survivor`: the promoted stack."""
    return [
        Step(
            f"Confirm {survivor} is the writer and {failed}'s region is healthy again",
            [f"pulumi stack output servers -s {survivor}",
             f".venv/bin/python -m drill plan --primary-stack {survivor} --standby-stack {failed}"],
            f"{survivor} servers are writable; Azure Service Health shows {failed_settings.region} healthy",
        ),
        Step(
            f"Retire {failed}'s old servers from Pulumi state (kept in Azure)",
            _retain(failed, failed_settings, "old primaries retained for forensics and lost writes"),
            f"`pulumi preview -s {failed}` no longer lists the old servers; `az postgres flexible-server list` still does",
        ),
        Step(
            f"Rebuild {failed} as replicas of {survivor} (new generation)",
            [f"pulumi config set continuity:origin replica -s {failed}",
             f"pulumi config set continuity:role standby -s {failed}",
             f"pulumi config set --path continuity:peer.stack {survivor} -s {failed}",
             *_generation_bumps(failed, failed_settings),
             f".venv/bin/python -m gate --stack {failed} --stack {survivor}",
             f"pulumi up -s {failed} --policy-pack policies --policy-pack-config policies/config/{failed}.json"],
            "new replicas exist in the former primary region; replication-lag alerts are quiet",
        ),
        Step(
            "Planned switchover back (drill, planned scenario)",
            [f".venv/bin/python -m drill run --scenario planned --primary-stack {survivor} --standby-stack {failed}"],
            "the drill report shows every acknowledged heartbeat present (RPO 0 rows) and RTO within target",
        ),
        Step(
            f"Retire {survivor}'s promoted servers and rebuild {survivor} as replicas (new generation)",
            [*_retain(survivor, survivor_settings, "former writers retained"),
             f"pulumi config set continuity:role standby -s {survivor}",
             f"pulumi config set --path continuity:peer.stack {failed} -s {survivor}",
             *_generation_bumps(survivor, survivor_settings),
             f"pulumi up -s {survivor} --policy-pack policies --policy-pack-config policies/config/{survivor}.json"],
            f"{survivor} holds replicas of {failed}; `python -m gate` passes for both stacks",
        ),
        Step(
            "Update the policy pack configs and commit the stack files",
            ["edit policies/config/*.json (replicatedDatabases, peerDatabases) until `python -m gate` exits 0",
             "git add Pulumi.*.yaml policies/config && git commit -m 'Failback complete'"],
            "CI gate green; drills/index.md lists the switchover",
        ),
    ]


def render(steps: list[Step]) -> str:
    lines = []
    for number, step in enumerate(steps, 1):
        lines.append(f"{number}. {step.title}")
        lines += [f"     $ {command}" for command in step.commands]
        lines.append(f"     check: {step.check}")
    return "\n".join(lines)
