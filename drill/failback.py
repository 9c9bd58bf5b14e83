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
    return [
        f"pulumi config set --path 'continuity:databases.{key}.generation' {db.generation + 1} -s {stack}"
        for key, db in settings.databases.items()
    ]


def _urn(stack: str, logical_name: str) -> str:
    return f"\"$(pulumi stack -s {stack} --show-urns | grep -oE 'urn:pulumi:[^ ]+::{logical_name}$')\""


def _retain(stack: str, logical_names: list[str], what: str) -> list[str]:
    """Commands that drop resources (and their protected children) from one stack's state without
    touching Azure: `--force` because they are protected, `--target-dependents` for their children."""
    commands = [
        f"pulumi state delete --yes --force --target-dependents -s {stack} {_urn(stack, name)}"
        for name in logical_names
    ]
    commands.append(
        f"# {what}: the Azure resources and their CanNotDelete locks stay; record their names in the drill notes"
    )
    return commands


def _servers(settings: Settings) -> list[str]:
    return [f"{key}-g{db.generation}" for key, db in settings.databases.items()]


def failback_plan(
    failed: str, failed_settings: Settings, survivor: str, survivor_settings: Settings
) -> list[Step]:
    """`failed`: the stack whose region was lost (its servers are stale); `survivor`: the promoted stack."""
    return [
        Step(
            f"Confirm {survivor} is the writer and {failed}'s region is healthy again",
            [
                f"pulumi stack output servers -s {survivor}",
                f".venv/bin/python -m drill plan --primary-stack {survivor} --standby-stack {failed}",
            ],
            f"{survivor} servers are writable; Azure Service Health shows {failed_settings.region} healthy",
        ),
        Step(
            f"Retire {failed}'s old servers (and, as it stops creating primaries, its geo-backup key vault) "
            "from Pulumi state; they stay in Azure",
            _retain(
                failed,
                [*_servers(failed_settings), "geo-backup-key-vault", "geo-backup-resource-group"],
                "old primaries retained for forensics and lost writes",
            ),
            f"`pulumi preview -s {failed}` no longer lists them; `az postgres flexible-server list` still does",
        ),
        Step(
            f"Rebuild {failed} as replicas of {survivor} (new generation)",
            [
                f"pulumi config set continuity:origin replica -s {failed}",
                f"pulumi config set continuity:role standby -s {failed}",
                f"pulumi config set --path continuity:peer.stack {survivor} -s {failed}",
                *_generation_bumps(failed, failed_settings),
                # The survivor no longer gives the retired geo-backup vault an endpoint (its next `up`).
                f"pulumi config set --path continuity:peer.origin replica -s {survivor}",
                f"edit policies/config/{failed}.json: CTY-RES-005.peerDatabases = the database keys, CTY-DEP-009.peerServers "
                f"= {survivor}'s servers; policies/config/{survivor}.json: CTY-CON-001.replicatedDatabases = the same "
                f"keys, CTY-DEP-009.peerServers = {failed}'s servers, CTY-NET-001.peerEndpoints = [] "
                "(`python -m gate` names any value still wrong)",
                f"pulumi up -s {failed} --policy-pack policies --policy-pack-config policies/config/{failed}.json",
            ],
            "new replicas exist in the former primary region; replication-lag alerts are quiet",
        ),
        Step(
            "Planned switchover back (drill, planned scenario; the promotion moves the writer names back)",
            [
                f".venv/bin/python -m drill run --scenario planned --primary-stack {survivor} --standby-stack {failed} "
                "--force --reason 'failback: both stacks are replica-origin, the offline gate cannot render them'"
            ],
            "the drill report shows every acknowledged heartbeat present (RPO 0 rows) and RTO within target",
        ),
        Step(
            f"Retire {survivor}'s promoted servers and rebuild {survivor} as replicas (new generation)",
            [
                *_retain(survivor, _servers(survivor_settings), "former writers retained"),
                f"pulumi config set continuity:role standby -s {survivor}",
                f"pulumi config set --path continuity:promotion.highAvailability false -s {survivor}",
                f"pulumi config set --path continuity:peer.stack {failed} -s {survivor}",
                *_generation_bumps(survivor, survivor_settings),
                f"pulumi up -s {survivor} --policy-pack policies --policy-pack-config policies/config/{survivor}.json",
            ],
            f"{survivor} holds replicas of {failed}; the replication-lag alerts are quiet",
        ),
        Step(
            "Commit the stack files and policy configs",
            ["git add Pulumi.*.yaml policies/config && git commit -m 'Failback complete'"],
            "drills/index.md lists the switchover; note that both stacks are now origin replica: the "
            f"servers in {failed} have no geo-redundant backup (creation-only) and the offline gate refuses "
            "mutually replicating stacks until one side is rebuilt as a generation created as primary",
        ),
    ]


def render(steps: list[Step]) -> str:
    lines = []
    for number, step in enumerate(steps, 1):
        lines.append(f"{number}. {step.title}")
        lines += [f"     $ {command}" for command in step.commands]
        lines.append(f"     check: {step.check}")
    return "\n".join(lines)
