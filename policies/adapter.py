"""Turns the rule registry into CrossGuard policies: the only code between rules and the engine."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .rules.model import Resource, Stack
from .rules.registry import REGISTRY, Config, Rule, Violation
from .waivers import load_waivers, waiver_for

# The gate applies waivers itself so that it can report what was waived; under `pulumi preview`
# the pack drops waived violations.
REPORT_WAIVED_ENV = "CONTINUITY_REPORT_WAIVED"
# How long one rule may take on one resource or stack before the pack gives up on it (seconds).
RULE_TIMEOUT_ENV = "CONTINUITY_RULE_TIMEOUT"
DEFAULT_RULE_TIMEOUT = 60.0


class RuleFailed(Exception):
    """A rule raised or did not finish: the engine and the gate fail closed, naming the rule."""


class _RuleThread:
    """A daemon thread that runs checks one after another, so that a check costs no thread start.

    A check that overruns keeps its thread; the caller abandons it (`stuck`) and the next check
    gets a new one.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], list[Violation]], threading.Event, dict[str, Any]]]
        self._jobs = queue.SimpleQueue()
        self.stuck = False
        threading.Thread(target=self._work, daemon=True, name="rules").start()

    def _work(self) -> None:
        while True:
            check, done, outcome = self._jobs.get()
            try:
                outcome["violations"] = check()
            except BaseException as error:  # reported by the caller, with the rule's id
                outcome["error"] = error
            done.set()

    def run(self, check: Callable[[], list[Violation]], timeout: float) -> dict[str, Any] | None:
        """The check's outcome ({"violations"} or {"error"}), or None if it did not finish in time."""
        done, outcome = threading.Event(), dict[str, Any]()
        self._jobs.put((check, done, outcome))
        if done.wait(timeout):
            return outcome
        self.stuck = True
        return None


# One rule thread per thread that asks (the engine may send several requests at once): a stuck
# check then holds up no other request's checks.
_rule_threads = threading.local()


def guarded(rule: Rule, check: Callable[[], list[Violation]], timeout: float) -> list[Violation]:
    """Run one rule's check with a deadline; a crash or a hang becomes an error that names the rule.

    The check runs in a daemon thread: a rule stuck in a loop cannot be stopped from outside, but
    the pack answers (with an error) instead of hanging the deployment or the gate.
    """
    runner: _RuleThread | None = getattr(_rule_threads, "runner", None)
    if runner is None or runner.stuck:
        runner = _rule_threads.runner = _RuleThread()
    outcome = runner.run(check, timeout)
    if outcome is None:
        raise RuleFailed(f"rule {rule.rule_id} did not finish within {timeout:g} s")
    if "error" in outcome:
        error = outcome["error"]
        raise RuleFailed(f"rule {rule.rule_id} failed: {type(error).__name__}: {error}") from None
    violations: list[Violation] = outcome["violations"]
    return violations


def _resource(
    r: ResourceValidationArgs | PolicyResource,
    property_dependencies: Mapping[str, list[PolicyResource]] | None = None,
) -> Resource:
    return Resource(
        type=r.resource_type,
        urn=r.urn,
        name=r.name,
        props=r.props,
        protect=bool(getattr(r.opts, "protect", False)),
        parent=getattr(getattr(r, "parent", None), "urn", "") or "",
        dependencies=tuple(d.urn for d in getattr(r, "dependencies", []) or []),
        property_dependencies={k: tuple(d.urn for d in v) for k, v in (property_dependencies or {}).items()},
    )


def _tags(rule: Rule) -> list[str]:
    return [f"concern:{rule.concern}"] + [
        f"{framework}:{control}" for framework, ids in rule.controls.items() for control in ids
    ]


def _stack_name(urn: str) -> str:
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


class _PolicyOptions(TypedDict):
    """What a resource policy and a stack policy alike take from a rule's metadata."""

    name: str
    description: str
    display_name: str
    enforcement_level: EnforcementLevel
    severity: Severity
    remediation_steps: str
    tags: list[str]
    url: str | None
    config_schema: PolicyConfigSchema | None


def build_policies() -> list[Policy]:
    waivers = [] if os.environ.get(REPORT_WAIVED_ENV) else load_waivers(known_rules=REGISTRY)
    timeout = float(os.environ.get(RULE_TIMEOUT_ENV) or DEFAULT_RULE_TIMEOUT)

    def reporter(rule: Rule, report: ReportViolation) -> Callable[[str, str], None]:
        def report_unless_waived(urn: str, message: str) -> None:
            if waiver_for(waivers, rule.rule_id, _stack_name(urn), urn) is None:
                report(message, urn)

        return report_unless_waived

    def config_of(rule: Rule, args: ResourceValidationArgs | StackValidationArgs) -> Config:
        return {**rule.defaults(), **(args.get_config() or {})}

    policies: list[Policy] = []
    for rule in REGISTRY.values():
        common = _PolicyOptions(
            name=rule.rule_id,
            description=rule.description,
            display_name=rule.title,
            enforcement_level=EnforcementLevel(rule.enforcement),
            severity=Severity(rule.severity),
            remediation_steps=rule.remediation,
            tags=_tags(rule),
            url=rule.help_uri,
            config_schema=PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config.items()})
            if rule.config
            else None,
        )
        if rule.per_resource:

            def validate(args: ResourceValidationArgs, report: ReportViolation, rule: Rule = rule) -> None:
                stack = Stack((_resource(args),))
                config = config_of(rule, args)
                for urn, message in guarded(rule, lambda: list(rule.check(stack, config)), timeout):
                    reporter(rule, report)(urn, message)

            policies.append(ResourceValidationPolicy(validate=validate, **common))
        else:

            def validate_stack(args: StackValidationArgs, report: ReportViolation, rule: Rule = rule) -> None:
                stack = Stack(tuple(_resource(r, r.property_dependencies) for r in args.resources))
                config = config_of(rule, args)
                for urn, message in guarded(rule, lambda: list(rule.check(stack, config)), timeout):
                    reporter(rule, report)(urn, message)

            policies.append(StackValidationPolicy(validate=validate_stack, **common))
    return policies
