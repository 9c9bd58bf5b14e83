"""docs/controls.md is generated from rule metadata and must not go stale."""

from __future__ import annotations

from conftest import PROJECT_DIR

from gate.controls_doc import controls_doc
from policies.rules import REGISTRY


def test_controls_doc_is_current(gate_result):
    committed = (PROJECT_DIR / "docs" / "controls.md").read_text()
    assert committed == controls_doc(gate_result), (
        "docs/controls.md is stale: run `.venv/bin/python -m gate.controls_doc > docs/controls.md`"
    )


def test_controls_doc_lists_every_rule_and_every_mapped_control(gate_result):
    text = controls_doc(gate_result)
    for rule in REGISTRY.values():
        assert f"| {rule.rule_id} |" in text
        for ids in rule.controls.values():
            for control in ids:
                assert f"| {control} |" in text
    assert "| fail |" not in text
