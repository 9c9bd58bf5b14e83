"""Rule metadata and the registry every concern module adds its rules to."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import Stack

RULE_ID = re.compile(r"^CTY-(RET|ENC|TAG|RES|OBS|ACC|CON|DEP|NET)-\d{3}$")
FRAMEWORKS = ("CIS Microsoft Azure Foundations", "SOC 2", "ISO/IEC 27001:2022")

# A check yields (urn, message) for every violation it finds.
Violation = tuple[str, str]


@dataclass(frozen=True)
class Rule:
    rule_id: str
    concern: str
    title: str
    description: str
    remediation: str
    severity: str  # low | medium | high | critical
    enforcement: str  # mandatory | advisory
    controls: Mapping[str, tuple[str, ...]]
    check: Callable[[Stack, Mapping[str, Any]], Iterable[Violation]]
    # For rules that only read one resource: the types they read (analyzed per resource).
    resource_types: tuple[str, ...] = ()
    # Threshold name -> JSON schema (with its default); the pack config may override each.
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    help_uri: str | None = None

    @property
    def per_resource(self) -> bool:
        return bool(self.resource_types)

    def defaults(self) -> dict[str, Any]:
        return {name: schema["default"] for name, schema in self.config.items()}


REGISTRY: dict[str, Rule] = {}


def rule(
    rule_id: str,
    *,
    concern: str,
    title: str,
    description: str,
    remediation: str,
    severity: str,
    controls: Mapping[str, Iterable[str]],
    enforcement: str = "mandatory",
    resource_types: Iterable[str] = (),
    config: Mapping[str, Mapping[str, Any]] | None = None,
    help_uri: str | None = None,
):
    """Register a check. With `resource_types`, the function takes (resource, config) and yields
    messages; without, it takes (stack, config) and yields (urn, message)."""

    def register(function):
        if rule_id in REGISTRY:
            raise ValueError(f"duplicate rule id {rule_id}")
        types = tuple(resource_types)
        if types:

            def check(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[Violation]:
                for resource in stack.of_type(*types):
                    for message in function(resource, cfg):
                        yield resource.urn, message
        else:
            check = function
        REGISTRY[rule_id] = Rule(
            rule_id=rule_id,
            concern=concern,
            title=title,
            description=description,
            remediation=remediation,
            severity=severity,
            enforcement=enforcement,
            controls={framework: tuple(ids) for framework, ids in controls.items()},
            check=check,
            resource_types=types,
            config=dict(config or {}),
            help_uri=help_uri,
        )
        function.rule_id = rule_id
        return function

    return register


def evaluate(
    stack: Stack, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> list[tuple[Rule, str, str]]:
    """Every rule over a stack, in-process: (rule, urn, message) per violation. Used by tests and
    tools; the gate and `pulumi preview` run the same checks through the policy pack."""
    found = []
    for rule_ in REGISTRY.values():
        cfg = {**rule_.defaults(), **((overrides or {}).get(rule_.rule_id) or {})}
        for urn, message in rule_.check(stack, cfg):
            found.append((rule_, urn, message))
    return found
