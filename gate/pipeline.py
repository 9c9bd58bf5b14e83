"""The gate: render -> check pack config -> analyze with the policy pack -> (checkov) -> waivers -> result."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from cli.exits import UsageError
from components.facts import PRIVATE_LINK_ZONES
from components.naming import GEO_VAULT, Naming
from components.settings import Origin, PrivateDnsRole
from policies.adapter import DEFAULT_RULE_TIMEOUT
from policies.rules.continuity import Assessment, RecoveryFigures, assess
from policies.rules.registry import REGISTRY
from policies.waivers import Waiver, WaiverError, level_waiver, load_waivers, unmatched, waiver_for

from .analyzer import LEVEL_RANK, PACK_DIR, PackConfig, PolicyInfo, PolicyPackProcess, load_pack_config
from .arm_export import write_templates
from .base import Base, render_base, resolve
from .change_rules import StackFacts, change_findings
from .change_rules import rule_infos as change_rule_infos
from .changes import ResourceChange, diff
from .checkov import CheckovProcess, checkov_rules
from .checkov import findings as checkov_findings
from .findings import Finding, Level, RuleInfo
from .neutral import as_stack
from .render import Rendering, render_stacks
from .stack_files import read_stack_config, stack_names


class GateConfigError(UsageError):
    """Bad input to the gate (pack config, waivers): exit code 2 with every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class GateResult:
    renderings: list[Rendering]
    rules: dict[str, RuleInfo]
    findings: list[Finding]
    continuity: dict[str, list[Assessment]] = field(default_factory=dict)
    checkov_ran: bool = False
    # Each pack rule's enforcement level per stack, as its pack config sets it.
    levels: dict[str, dict[str, Level]] = field(default_factory=dict)
    # With a base (`--base REF`): what it declared, and each stack's changes against it.
    base: Base | None = None
    changes: dict[str, list[ResourceChange]] = field(default_factory=dict)

    def level(self, rule_id: str) -> Level:
        """A rule's weakest level over the analysed stacks (checkov's as it declares it)."""
        found = [levels[rule_id] for levels in self.levels.values() if rule_id in levels]
        if found:
            return min(found, key=LEVEL_RANK.__getitem__)
        return self.rules[rule_id].enforcement if rule_id in self.rules else "mandatory"

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocks]

    @property
    def exit_code(self) -> int:
        return 1 if self.blocking else 0


def rule_info(policy: PolicyInfo) -> RuleInfo:
    """Rule metadata as the pack reports it over the protocol (tags carry concern and controls)."""
    controls: dict[str, list[str]] = {}
    concern = ""
    for tag in policy.tags:
        key, _, value = tag.rpartition(":")
        if key == "concern":
            concern = value
        else:
            controls.setdefault(key, []).append(value)
    rule = REGISTRY.get(policy.name)
    return RuleInfo(
        rule_id=policy.name,
        source="policy",
        title=policy.title,
        description=policy.description,
        remediation=policy.remediation,
        severity=policy.severity.removeprefix("policy_severity_"),
        enforcement=policy.enforcement,
        concern=concern,
        controls=controls,
        help_uri=rule.help_uri if rule else None,
    )


def _comparable(value: Any) -> Any:
    """Lists compare as sets of their items (items may be objects)."""
    if isinstance(value, list):
        return sorted(json.dumps(item, sort_keys=True) for item in value)
    return value


def expected_pack_config(rendering: Rendering, peer: Rendering | None) -> dict[tuple[str, str], object]:
    """The per-stack pack config values that follow from the stack files."""
    s = rendering.settings
    cidrs = list(s.network.allowed_cidrs)
    projects = {name: p.group.object_id for name, p in s.tenancy.projects.items()} if s.tenancy else {}
    owns_dns = s.network.private_dns is PrivateDnsRole.OWNER
    # The writer zone is the owner's (stack_file_consistency checks both files name the same one).
    zone_owner = s if owns_dns or peer is None else peer.settings
    expected: dict[tuple[str, str], object] = {
        ("CTY-NET-002", "requiredZones"): sorted(
            [*PRIVATE_LINK_ZONES.values(), zone_owner.network.writer_zone]
        ),
        ("CTY-NET-004", "writerNames"): "own" if owns_dns else "peer",
        ("CTY-NET-003", "peerAddressSpace"): s.peer.address_space,
        ("CTY-DEP-003", "peerRegion"): s.peer.region,
        ("CTY-OBS-004", "regions"): [s.region, s.peer.region],
        ("CTY-ACC-002", "allowedCidrs"): cidrs,
        ("CTY-ACC-003", "allowedCidrs"): cidrs,
        ("CTY-ACC-004", "allowedCidrs"): cidrs,
        ("CTY-ISO-001", "projects"): projects,
        ("CTY-ISO-002", "projects"): projects,
    }
    if peer is not None:
        replicas_here = s.origin is Origin.REPLICA
        replicas_there = peer.settings.origin is Origin.REPLICA
        # The standby checks it has a replica of each peer database; the primary side counts the
        # databases replicated in the peer when it judges its RTO/RPO.
        expected[("CTY-RES-005", "peerDatabases")] = sorted(peer.settings.databases) if replicas_here else []
        expected[("CTY-CON-001", "replicatedDatabases")] = (
            sorted(set(s.databases) & set(peer.settings.databases))
            if replicas_there and not replicas_here
            else []
        )
        # A primary-origin peer keeps its geo-backup key vault in this region; the linked stack gives
        # it its endpoint here.
        other = peer.settings
        geo_vault_here = not owns_dns and s.peer.origin is Origin.PRIMARY
        expected[("CTY-NET-001", "peerEndpoints")] = (
            [
                {
                    "groupId": "vault",
                    "namePrefix": Naming(other.environment, other.region, "").key_vault_prefix(
                        GEO_VAULT, region=other.peer.region
                    ),
                }
            ]
            if geo_vault_here
            else []
        )
        # The peer's servers that replicate to or from this stack's, for the size comparison.
        replicating = replicas_here or replicas_there
        expected[("CTY-DEP-009", "peerServers")] = {
            key: {"sku": db.sku, "tier": db.tier.value, "storageGb": db.storage_gb, "version": db.version}
            for key, db in sorted(peer.settings.databases.items())
            if replicating and key in s.databases
        }
    return expected


def stack_file_consistency(rendering: Rendering, peer: Rendering) -> list[str]:
    """What two stack files must say alike: each one's view of the other's network, and the projects."""
    s, p = rendering.settings, peer.settings
    problems = []
    if s.peer.address_space != p.network.address_space:
        problems.append(
            f"Pulumi.{rendering.stack}.yaml: continuity:peer.addressSpace is {s.peer.address_space} but "
            f"Pulumi.{peer.stack}.yaml continuity:network.addressSpace is {p.network.address_space}"
        )
    if s.network.writer_zone != p.network.writer_zone:
        problems.append(
            f"Pulumi.{rendering.stack}.yaml: continuity:network.writerZone is {s.network.writer_zone} but "
            f"Pulumi.{peer.stack}.yaml says {p.network.writer_zone}; the stacks share one zone"
        )
    if s.network.private_dns is p.network.private_dns:
        problems.append(
            f"Pulumi.{rendering.stack}.yaml: continuity:network.privateDns is {s.network.private_dns.value} "
            f"in both stacks; exactly one is the owner, the other linked"
        )
    if s.environment == p.environment:
        # Names hold the environment: prod's geo-backup group in the standby region would be the
        # standby's own group, and the subscription's activity-log setting one for both stacks.
        problems.append(
            f"Pulumi.{rendering.stack}.yaml: continuity:environment is {s.environment} in both stacks; "
            "their resource names would collide"
        )
    if s.tenancy != p.tenancy:
        # The standby reads each project's secret from its peer, and a failover must find the same
        # projects, tables and groups on the other side.
        problems.append(
            f"Pulumi.{rendering.stack}.yaml: continuity:tenancy differs from Pulumi.{peer.stack}.yaml's; "
            "both stacks declare the same projects and tables"
        )
    if s.peer.origin is not None and s.peer.origin is not p.origin:
        problems.append(
            f"Pulumi.{rendering.stack}.yaml: continuity:peer.origin is {s.peer.origin.value} but "
            f"Pulumi.{peer.stack}.yaml continuity:origin is {p.origin.value}"
        )
    return problems


def config_consistency(renderings: list[Rendering], configs: dict[str, PackConfig]) -> list[str]:
    """The committed pack configs must describe the stacks as rendered, or preview and gate disagree."""
    problems = []
    by_stack = {r.stack: r for r in renderings}
    for rendering in renderings:
        config, name = configs[rendering.stack], f"policies/config/{rendering.stack}.json"
        peer = by_stack.get(rendering.settings.peer.stack.rsplit("/", 1)[-1])
        if peer is not None:
            problems += stack_file_consistency(rendering, peer)
        for (rule_id, key), value in expected_pack_config(rendering, peer).items():
            actual = config.get(rule_id, {}).get(key)
            if _comparable(actual) != _comparable(value):
                problems.append(f"{name}: {rule_id}.{key} is {actual!r} but the stacks say {value!r}")
    return problems


def run_gate(
    project_dir: Path,
    stacks: list[str],
    *,
    checkov: bool = False,
    arm_dir: Path | None = None,
    today: dt.date | None = None,
    pack_dir: Path = PACK_DIR,
    config_dir: Path | None = None,
    rule_timeout: float = DEFAULT_RULE_TIMEOUT,
    base: str | None = None,
) -> GateResult:
    """The whole gate. `pack_dir` is the pack to run, `config_dir` the per-stack pack configs
    (default: the pack's own `config/`); `base` a git revision to compare the change with."""
    if base is not None:
        resolve(project_dir, base)  # a revision that is not there fails before any render
    with contextlib.ExitStack() as running:
        # Started before the stacks render, so that their start-up overlaps it (checkov's import is
        # most of its run time); the pack waits for its requests, checkov for its templates.
        pack = running.enter_context(PolicyPackProcess(pack_dir, rule_timeout=rule_timeout))
        scanner = running.enter_context(CheckovProcess()) if checkov else None
        renderings = render_stacks(project_dir, stacks)
        configs = {r.stack: load_pack_config(r.stack, config_dir or pack_dir / "config") for r in renderings}
        problems = config_consistency(renderings, configs)
        if problems:
            raise GateConfigError(problems)
        templates = {}
        if scanner is not None:
            # checkov scans while the pack evaluates: two processes, one per core.
            templates = write_templates(renderings, arm_dir or project_dir / "build" / "arm")
            scanner.submit(templates.values())

        levels: dict[str, dict[str, Level]] = {}
        rules = {p.name: rule_info(p) for p in pack.info()}
        findings = analyze(renderings, configs, pack, rules, levels=levels)

        changes: dict[str, list[ResourceChange]] = {}
        base_declared = None
        if base is not None:
            base_declared = render_base(project_dir, base, [r.stack for r in renderings])
            changes, found = compare(project_dir, base_declared, renderings)
            findings += found
            rules.update(change_rule_infos())

        if scanner is not None:
            outcomes = scanner.outcomes()
            findings += [
                finding
                for stack, path in templates.items()
                for finding in checkov_findings(outcomes[path], stack)
            ]
            rules.update(checkov_rules([o for results in outcomes.values() for o in results]))

    findings = apply_waivers(
        findings,
        rules,
        [r.stack for r in renderings],
        today,
        checkov_ran=checkov,
        levels=levels,
        known_stacks=stack_names(project_dir),
    )
    continuity = {
        # The configuration the pack gives CTY-CON-001 (its defaults under the stack's pack config).
        r.stack: assess(
            as_stack(r),
            cast(
                RecoveryFigures,
                {**REGISTRY["CTY-CON-001"].defaults(), **configs[r.stack].get("CTY-CON-001", {})},
            ),
        )
        for r in renderings
    }
    return GateResult(
        renderings,
        rules,
        findings,
        continuity,
        checkov_ran=checkov,
        levels=levels,
        base=base_declared,
        changes=changes,
    )


def compare(
    project_dir: Path, base: Base, renderings: list[Rendering]
) -> tuple[dict[str, list[ResourceChange]], list[Finding]]:
    """Each stack's changes against the base, and the change rules' findings on them."""
    changes: dict[str, list[ResourceChange]] = {}
    findings: list[Finding] = []
    for rendering in renderings:
        declared = base.declaration(rendering.stack)
        changes[rendering.stack] = diff(
            rendering.stack, declared.resources if declared else None, rendering.resources
        )
        findings += change_findings(
            changes[rendering.stack],
            rendering.resources,
            StackFacts.of(declared.config) if declared else None,
            StackFacts.of(read_stack_config(project_dir, rendering.stack)),
        )
    return changes, findings


def analyze(
    renderings: list[Rendering],
    configs: dict[str, PackConfig],
    pack: PolicyPackProcess,
    rules: dict[str, RuleInfo],
    levels: dict[str, dict[str, Level]] | None = None,
    only: Collection[str] | None = None,
    whole_stack: bool = True,
) -> list[Finding]:
    """Findings of the policy pack for each rendering, each stack with its own pack config; `levels`,
    when given, receives each stack's effective enforcement levels; `only` and `whole_stack` as in
    PolicyPackProcess.analyze."""
    findings = []
    for rendering in renderings:
        configured = pack.configure(configs[rendering.stack], rendering.stack)
        if levels is not None:
            levels[rendering.stack] = configured
        by_urn = {r.urn: r for r in rendering.resources}
        for diagnostic in pack.analyze(rendering, only, whole_stack):
            resource = by_urn.get(diagnostic.urn)
            findings.append(
                Finding(
                    rule_id=diagnostic.policy,
                    source="policy",
                    stack=rendering.stack,
                    urn=diagnostic.urn,
                    resource_type=resource.type if resource else "",
                    resource_name=resource.name if resource else "",
                    message=diagnostic.message,
                    severity=rules[diagnostic.policy].severity,
                    enforcement=diagnostic.enforcement,
                )
            )
    return findings


def apply_waivers(
    findings: list[Finding],
    rules: dict[str, RuleInfo],
    stacks: list[str],
    today: dt.date | None,
    checkov_ran: bool = False,
    levels: dict[str, dict[str, Level]] | None = None,
    known_stacks: list[str] | None = None,
) -> list[Finding]:
    """Attach waivers to findings; refuse a pack config that lowers a rule without a recorded waiver."""
    try:
        waivers = load_waivers(
            # The change rules are known whether or not this run compared with a base.
            known_rules=[*rules, *change_rule_infos()],
            today=today,
            checkov_ran=checkov_ran,
            known_stacks=known_stacks,
        )
    except WaiverError as error:
        raise GateConfigError(error.problems) from None
    used: set[Waiver] = set()
    lowered_unrecorded = []
    for stack, configured in (levels or {}).items():
        for rule_id, level in sorted(configured.items()):
            declared = rules[rule_id].enforcement
            if LEVEL_RANK[level] >= LEVEL_RANK[declared]:
                continue
            recorded = level_waiver(waivers, rule_id, stack, level)
            if recorded is None:
                lowered_unrecorded.append(
                    f"policies/config/{stack}.json lowers {rule_id} from {declared} to {level}: record it in the "
                    f"waiver file (rule {rule_id}, stack {stack}, enforcement {level}, reason, owner, expires) or "
                    "remove the lowering"
                )
            else:
                used.add(recorded)
    if lowered_unrecorded:
        raise GateConfigError(lowered_unrecorded)
    result = []
    for finding in findings:
        waiver = waiver_for(waivers, finding.rule_id, finding.stack, finding.urn)
        if waiver:
            used.add(waiver)
            finding = dataclasses.replace(finding, waiver=waiver)
        result.append(finding)
    stale = unmatched(waivers, used, stacks, rules_run=rules)
    if stale:
        raise GateConfigError(stale)
    return result
