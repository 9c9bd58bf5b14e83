"""The rule registry: metadata meta-tests, and for every rule a passing and a violating fixture."""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
import typing
from pathlib import Path

import pytest
from conftest import render_variant

from gate.analyzer import load_pack_config
from gate.neutral import as_stack
from policies.rules import REGISTRY, evaluate
from policies.rules.registry import FRAMEWORKS
from policy_cases import ADVISORY_CASES, CASES, mutated

MANDATORY_CONCERNS = {"retention", "encryption", "tagging", "resilience"}


@pytest.fixture(scope="session")
def bases(prod, dr, promoted_dr):
    return {"prod": prod, "dr": dr, "dr-promoted": promoted_dr}


def violations(rendering, stack_config: str):
    return evaluate(as_stack(rendering), load_pack_config(stack_config))


def test_rule_ids_are_stable_and_unique():
    assert len(REGISTRY) >= 40
    for rule_id, rule in REGISTRY.items():
        assert re.fullmatch(r"CTY-(RET|ENC|TAG|RES|OBS|ACC|CON|DEP|NET|SLA|ISO)-\d{3}", rule_id)
        assert rule.rule_id == rule_id
        assert (
            rule_id.split("-")[1]
            == {
                "retention": "RET",
                "encryption": "ENC",
                "tagging": "TAG",
                "resilience": "RES",
                "observability": "OBS",
                "access": "ACC",
                "continuity": "CON",
                "deployability": "DEP",
                "sla": "SLA",
                "network": "NET",
                "isolation": "ISO",
            }[rule.concern]
        )


@pytest.mark.parametrize("rule_id", sorted(REGISTRY))
def test_rule_metadata_is_complete(rule_id):
    rule = REGISTRY[rule_id]
    assert re.fullmatch(r"[A-Z].{20,}[A-Za-z0-9)]\.", rule.description), "one full sentence"
    assert rule.description.count(". ") == 0, "one sentence only"
    assert rule.title and rule.remediation.strip()
    assert rule.severity in ("low", "medium", "high", "critical")
    assert rule.enforcement in ("mandatory", "advisory")
    assert rule.controls and set(rule.controls) <= set(FRAMEWORKS)
    assert all(ids for ids in rule.controls.values())
    for name, schema in rule.config.items():
        assert "default" in schema and "type" in schema, name
    if rule.concern in MANDATORY_CONCERNS and rule_id != "CTY-RES-900":
        assert rule.enforcement == "mandatory"


def test_each_rule_reads_the_config_its_schema_declares():
    """A rule function's config TypedDict names exactly the thresholds of its schema, so a key that
    mypy accepts in the function is one the pack config can set (and has a default)."""
    functions = {
        function.__dict__["rule_id"]: function
        for module in sys.modules.values()
        if getattr(module, "__name__", "").startswith("policies.rules.")
        for function in vars(module).values()
        if inspect.isfunction(function) and "rule_id" in function.__dict__
    }
    assert set(functions) == set(REGISTRY)
    for rule_id, function in functions.items():
        shape = typing.get_type_hints(function)["cfg"]
        assert shape.__required_keys__ | shape.__optional_keys__ == set(REGISTRY[rule_id].config), rule_id


def test_every_rule_has_a_violating_fixture():
    covered = {case.rule_id for case in CASES} | set(ADVISORY_CASES)
    assert covered == set(REGISTRY)


def test_shipped_stacks_pass_every_rule(prod, dr):
    assert violations(prod, "prod") == []
    assert violations(dr, "dr") == []


# What a user reads for each weakened stack: every rule that fires, on which resource, with which
# words. Reviewed like code; after a deliberate change, regenerate it (without -n) with
# CONTINUITY_UPDATE_SNAPSHOTS=1 and read the diff.
MESSAGES_FILE = Path(__file__).resolve().parent / "fixtures" / "rule_messages.json"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule_id}:{c.what}" for c in CASES])
def test_rule_passes_the_real_stack_and_catches_its_violation(case, bases):
    base = bases[case.stack]
    config = case.stack.split("-")[0]
    assert not [v for v in violations(base, config) if v[0].rule_id == case.rule_id]
    weakened, urn = mutated(base, case)
    found = violations(weakened, config)
    caught = [(rule.rule_id, found_urn) for rule, found_urn, _ in found]
    assert (case.rule_id, urn) in caught, caught
    messages = sorted(
        [rule.rule_id, found_urn.rsplit("::", 1)[-1], message] for rule, found_urn, message in found
    )
    reviewed = json.loads(MESSAGES_FILE.read_text())
    key = f"{case.rule_id}: {case.what}"
    if os.environ.get("CONTINUITY_UPDATE_SNAPSHOTS"):
        MESSAGES_FILE.write_text(json.dumps({**reviewed, key: messages}, indent=1, sort_keys=True) + "\n")
    else:
        assert messages == reviewed[key]


def test_promotion_is_reported_as_recorded_degradation_not_a_failure(promoted_dr, prod):
    found = violations(promoted_dr, "dr")
    assert {rule.rule_id for rule, _, _ in found} == {"CTY-RES-900"}
    assert all(rule.enforcement == "advisory" for rule, _, _ in found)
    messages = [message for _, _, message in found]
    assert any("no geo-redundant backup" in m for m in messages)
    assert any("no high availability yet" in m for m in messages)
    assert not [v for v in violations(prod, "prod") if v[0].rule_id == "CTY-RES-900"]


def test_degradation_clears_when_ha_returns(prod):
    with_ha = render_variant(
        "dr", {"continuity:role": "primary", "continuity:promotion": {"highAvailability": True}}, peer=prod
    )
    found = violations(with_ha, "dr")
    messages = [m for rule, _, m in found if rule.rule_id == "CTY-RES-900"]
    assert messages and not any("high availability" in m for m in messages)
    # Every other rule, the mandatory ones included, passes the promoted stack with HA back on.
    assert {rule.rule_id for rule, _, _ in found} == {"CTY-RES-900"}
    assert sorted(m.split(" (")[0].split(",")[0] for m in messages) == [
        "degraded: no cross-region replica",
        "degraded: no cross-region replica",
        "degraded: no geo-redundant backup",
        "degraded: no geo-redundant backup",
    ]
