"""Mutation tests through the real policy pack process, driven over the analyzer gRPC protocol.

For each mandatory rule: weaken the real prod or dr render the way the rule guards against and show
the gate fails (exit 1) naming that rule and that resource; the untouched renders pass (exit 0).
"""

from __future__ import annotations

import dataclasses

import pytest

from gate.analyzer import PackConfig, PolicyPackProcess, load_pack_config
from gate.pipeline import GateResult, analyze, rule_info
from policies.rules import REGISTRY
from policy_cases import CASES, mutated


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


@pytest.fixture(scope="module")
def rules(pack):
    return {p.name: rule_info(p) for p in pack.info()}


@pytest.fixture(scope="module")
def bases(prod, dr, promoted_dr):
    return {"prod": prod, "dr": dr, "dr-promoted": promoted_dr}


def gate(renderings, pack, rules, only=None, whole_stack=True, rule_id=None) -> GateResult:
    configs = {r.stack: load_pack_config(r.stack) for r in renderings}
    if rule_id is not None:
        configs = {stack: alone(config, rule_id) for stack, config in configs.items()}
    return GateResult(
        renderings, rules, analyze(renderings, configs, pack, rules, only=only, whole_stack=whole_stack)
    )


def alone(config: PackConfig, rule_id: str) -> PackConfig:
    """The stack's config with every other rule disabled: the pack skips disabled policies outright
    (pulumi_policy's Analyze and AnalyzeStack), so a case costs one rule's evaluation, not the pack's."""
    others = {name: "disabled" for name in REGISTRY if name != rule_id}
    return dataclasses.replace(config, levels={**config.levels, **others})


def changed(base, weakened) -> set[str]:
    """URNs of the resources a case added or changed: the rest passed the pack in the clean run."""
    before = {r.urn: r for r in base.resources}
    return {r.urn for r in weakened.resources if before.get(r.urn) != r}


def test_pack_reports_every_registered_rule_with_its_metadata(rules):
    assert set(rules) == set(REGISTRY)
    for rule_id, info in rules.items():
        assert info.description == REGISTRY[rule_id].description
        assert info.enforcement == REGISTRY[rule_id].enforcement
        assert info.concern == REGISTRY[rule_id].concern
        assert {k: tuple(v) for k, v in info.controls.items()} == dict(REGISTRY[rule_id].controls)


def test_shipped_stacks_pass_through_the_pack(prod, dr, pack, rules):
    result = gate([prod, dr], pack, rules)
    assert result.findings == [] and result.exit_code == 0


def test_promoted_standby_passes_with_recorded_degradations(promoted_dr, pack, rules):
    result = gate([promoted_dr], pack, rules)
    assert result.exit_code == 0
    assert {f.rule_id for f in result.findings} == {"CTY-RES-900"}
    assert {f.enforcement for f in result.findings} == {"advisory"}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule_id}:{c.what}" for c in CASES])
def test_weakened_stack_fails_the_gate_naming_rule_and_resource(case, bases, pack, rules):
    weakened, urn = mutated(bases[case.stack], case)
    # A per-resource rule's case need only be seen by the per-resource rules, on what it changed
    # (the untouched resources pass, as the tests above show); a whole-stack rule's case is seen by
    # every rule, the whole-stack ones on the whole weakened stack.
    per_resource = REGISTRY[case.rule_id].per_resource
    result = gate(
        [weakened],
        pack,
        rules,
        only=changed(bases[case.stack], weakened),
        whole_stack=not per_resource,
        rule_id=case.rule_id,
    )
    assert result.exit_code == 1
    blocking = {(f.rule_id, f.urn) for f in result.blocking}
    assert (case.rule_id, urn) in blocking, sorted(blocking)


def test_the_gate_leaves_out_only_calls_that_can_answer_nothing(pack, rules, bases):
    """The gate skips Analyze for types no per-resource rule checks (gate.analyzer.checked_types)."""
    from gate.analyzer import PACK_DIR, checked_types
    from policies.rules.model import Resource, Stack

    skipped = {r.type for base in bases.values() for r in base.resources if r.custom} - pack.checked_types
    assert "azure-native:network:Subnet" in skipped and "azure-native:dbforpostgresql:Server" not in skipped
    # Whatever its inputs, a resource of a skipped type is nothing any per-resource rule checks.
    for rule in (r for r in REGISTRY.values() if r.per_resource):
        for token in skipped:
            resource = Resource(token, f"urn:{token}", "x", {"sku": {"name": "Basic"}, "properties": {}})
            assert list(rule.check(Stack((resource,)), rule.defaults())) == [], (rule.rule_id, token)
    # And the answers are the same as when every resource is sent, as the engine sends them (the
    # promoted standby has per-resource findings: CTY-RES-900).
    everything = PolicyPackProcess()
    everything.checked_types = None
    with everything:
        for base in (bases["prod"], bases["dr-promoted"]):
            config = load_pack_config(base.stack)
            pack.configure(config, base.stack)
            everything.configure(config, base.stack)
            skipping = pack.analyze(base)
            assert sorted(map(repr, skipping)) == sorted(map(repr, everything.analyze(base)))
            if base is bases["dr-promoted"]:
                assert any(d.policy == "CTY-RES-900" for d in skipping)
    assert checked_types(PACK_DIR) == pack.checked_types and checked_types(PACK_DIR / "config") is None
