"""Rule metadata and the registry every concern module adds its rules to."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, TypeVar, overload

from .model import Resource, Stack

RULE_ID = re.compile(r"^CTY-(RET|ENC|TAG|RES|OBS|ACC|CON|DEP|NET)-\d{3}$")
FRAMEWORKS = ("CIS Microsoft Azure Foundations", "SOC 2", "ISO/IEC 27001:2022")

# How bad a violation is, and what it does to a deployment (Pulumi's severities and levels; the
# engine takes the pack config's levels, which may also be "remediate": gate.findings.Level).
Severity = Literal["low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "mandatory", "disabled"]

# A check yields (urn, message) for every violation it finds.
Violation = tuple[str, str]
# A rule's configuration as checks receive it: its defaults, overridden by the stack's pack config.
# Each rule reads it through its own TypedDict (e.g. retention.MinDays), so a misspelt key is a type error.
Config = Mapping[str, Any]
# Threshold name -> JSON schema (with its default).
ConfigSchema = Mapping[str, Mapping[str, Any]]

# The configuration shape a rule function reads (a TypedDict).
C = TypeVar("C")


class NoConfig(TypedDict):
    """The configuration of a rule without thresholds."""


# What `rule` registers: a check over the whole stack, or over one resource of the listed types.
StackCheck = Callable[[Stack, C], Iterable[Violation]]
ResourceCheck = Callable[[Resource, C], Iterable[str]]


@dataclass(frozen=True)
class Rule:
    rule_id: str
    concern: str
    title: str
    description: str
    remediation: str
    severity: Severity
    enforcement: Enforcement
    controls: Mapping[str, tuple[str, ...]]
    check: StackCheck[Config]
    # For rules that only read one resource: the types they read (analyzed per resource).
    resource_types: tuple[str, ...] = ()
    # Threshold name -> JSON schema (with its default); the pack config may override each.
    config: ConfigSchema = field(default_factory=dict)
    help_uri: str | None = None

    @property
    def per_resource(self) -> bool:
        return bool(self.resource_types)

    def defaults(self) -> dict[str, Any]:
        return {name: schema["default"] for name, schema in self.config.items()}


REGISTRY: dict[str, Rule] = {}


@overload
def rule(
    rule_id: str,
    *,
    concern: str,
    title: str,
    description: str,
    remediation: str,
    severity: Severity,
    controls: Mapping[str, Iterable[str]],
    enforcement: Enforcement = "mandatory",
    resource_types: tuple[str, *tuple[str, ...]],
    config: ConfigSchema | None = None,
    help_uri: str | None = None,
) -> Callable[[ResourceCheck[C]], ResourceCheck[C]]: ...


@overload
def rule(
    rule_id: str,
    *,
    concern: str,
    title: str,
    description: str,
    remediation: str,
    severity: Severity,
    controls: Mapping[str, Iterable[str]],
    enforcement: Enforcement = "mandatory",
    config: ConfigSchema | None = None,
    help_uri: str | None = None,
) -> Callable[[StackCheck[C]], StackCheck[C]]: ...


# Runs while the rules are declared, at import, before mutation testing picks a mutant: unreachable.
# pragma: no mutate start
def rule(
    rule_id: str,
    *,
    concern: str,
    title: str,
    description: str,
    remediation: str,
    severity: Severity,
    controls: Mapping[str, Iterable[str]],
    enforcement: Enforcement = "mandatory",
    resource_types: Iterable[str] = (),
    config: ConfigSchema | None = None,
    help_uri: str | None = None,
) -> Callable[[Callable[[Any, Any], Iterable[Any]]], Callable[[Any, Any], Iterable[Any]]]:
    """Register a check. With `resource_types`, the function takes (resource, config) and yields
    messages; without, it takes (stack, config) and yields (urn, message)."""

    def register(function: Callable[[Any, Any], Iterable[Any]]) -> Callable[[Any, Any], Iterable[Any]]:
        if rule_id in REGISTRY:
            raise ValueError(f"duplicate rule id {rule_id}")
        types = tuple(resource_types)
        if types:

            def each_resource(stack: Stack, cfg: Config) -> Iterable[Violation]:
                for resource in stack.of_type(*types):
                    for message in function(resource, cfg):
                        yield resource.urn, message

            check: StackCheck[Config] = each_resource
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
        function.__dict__["rule_id"] = rule_id  # function.rule_id, which the callable type has no slot for
        return function

    return register


# pragma: no mutate end


def evaluate(stack: Stack, overrides: Mapping[str, Config] | None = None) -> list[tuple[Rule, str, str]]:
    """Every rule over a stack, in-process: (rule, urn, message) per violation. Used by tests and
    tools; the gate and `pulumi preview` run the same checks through the policy pack."""
    found = []
    for rule_ in REGISTRY.values():
        cfg = {**rule_.defaults(), **((overrides or {}).get(rule_.rule_id) or {})}
        for urn, message in rule_.check(stack, cfg):
            found.append((rule_, urn, message))
    return found
