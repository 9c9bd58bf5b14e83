"""What the gate reports: rule metadata and findings, from the policy pack and from checkov alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from policies.rules.registry import Enforcement, Severity
from policies.waivers import Waiver

SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
ENFORCEMENTS: tuple[Enforcement, ...] = ("advisory", "mandatory", "disabled")
# The levels a stack's pack config may give a rule: a rule's own, and Pulumi's "remediate" (which
# enforces like "mandatory" for validation policies).
Level = Enforcement | Literal["remediate"]
BLOCKING_LEVELS: tuple[Level, ...] = ("mandatory", "remediate")


@dataclass(frozen=True)
class RuleInfo:
    rule_id: str
    source: str  # "policy" (the CrossGuard pack) or "checkov"
    title: str
    description: str
    remediation: str
    severity: str
    enforcement: Level
    concern: str
    # Control framework -> control ids, e.g. {"CIS Microsoft Azure Foundations": ["5.1.4"], ...}
    controls: dict[str, list[str]] = field(default_factory=dict)
    help_uri: str | None = None


@dataclass(frozen=True)
class Finding:
    rule_id: str
    source: str
    stack: str
    urn: str
    resource_type: str
    resource_name: str
    message: str
    severity: str
    enforcement: Level
    waiver: Waiver | None = None

    @property
    def blocks(self) -> bool:
        """A mandatory finding that no valid waiver covers fails the gate. A rule a pack config sets to
        "remediate" blocks as well: for a validation rule the engine enforces it like "mandatory"."""
        return self.enforcement in BLOCKING_LEVELS and self.waiver is None
