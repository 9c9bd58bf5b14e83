"""Change safety (`python -m gate --base REF`): real before/after pairs rendered from the committed
stacks, with edits to the stack files and to the program, and each change class detected."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from conftest import PROJECT_DIR, render_variant

from gate.base import Base
from gate.change_rules import StackFacts, change_findings
from gate.changes import ResourceChange, diff
from gate.render import Declaration, Rendering, render_stacks
from gate.reports import console, to_json, to_junit, to_markdown, to_sarif
from gate.runtime import alias_urns
from gate.stack_files import read_stack_config

SERVER = "azure-native:dbforpostgresql:Server"


def databases(stack: str) -> dict:
    """The stack file's `continuity:databases`, as a fresh dict to edit."""
    return read_stack_config(PROJECT_DIR, stack).raw("databases")


def compare(base: Rendering, head: Rendering, head_overrides: dict | None = None):
    """(changes, findings) of `head` against `base`, with the stack facts each side's config gives."""
    changes = diff(head.stack, base.resources, head.resources)
    config = read_stack_config(PROJECT_DIR, head.stack)
    findings = change_findings(
        changes,
        head.resources,
        StackFacts.of(config),
        StackFacts.of(config.with_overrides(head_overrides or {})),
    )
    return changes, findings


def by_name(changes: list[ResourceChange], name: str, type_: str | None = None) -> ResourceChange:
    (found,) = [c for c in changes if c.name == name and (type_ is None or c.type == type_)]
    return found


def rules_of(findings) -> list[str]:
    return sorted({f.rule_id for f in findings})


def test_the_same_declaration_changes_nothing(prod):
    changes, findings = compare(prod, prod)
    assert {c.action for c in changes} == {"unchanged"} and findings == []


def test_a_tag_value_and_an_alert_threshold_are_in_place_updates(prod, dr):
    tags = read_stack_config(PROJECT_DIR, "prod").raw("tags") | {"cost-center": "cc-9999"}
    edited = render_variant("prod", {"continuity:tags": tags})
    changes, findings = compare(prod, edited, {"continuity:tags": tags})
    assert findings == []
    assert {c.action for c in changes} == {"update", "unchanged"}
    server = by_name(changes, "knowledge-g1", SERVER)
    assert [(p.path, p.before, p.after) for p in server.properties] == [
        ("tags.cost-center", "cc-4410", "cc-9999")
    ]
    # An alert threshold (stack file) moves in place too.
    alerts = read_stack_config(PROJECT_DIR, "prod").raw("alerts") | {"cpuPercent": 95}
    edited = render_variant("prod", {"continuity:alerts": alerts})
    changes, findings = compare(prod, edited, {"continuity:alerts": alerts})
    assert findings == []
    updated = [c for c in changes if c.action != "unchanged"]
    assert sorted(c.name for c in updated) == ["alerts-knowledge-g1-cpu", "alerts-operational-g1-cpu"]
    assert {c.action for c in updated} == {"update"}
    for alert in updated:
        ((path, before, after, create_only),) = [
            (p.path, p.before, p.after, p.create_only) for p in alert.properties if p.path != "description"
        ]
        assert (path, create_only) == ("criteria.allOf", False)
        assert (before[0]["threshold"], after[0]["threshold"]) == (80, 95)


def test_shrinking_a_servers_storage_is_blocked_with_before_and_after(prod):
    smaller = databases("prod")
    smaller["knowledge"]["storageGb"] = 128
    edited = render_variant("prod", {"continuity:databases": smaller})
    changes, findings = compare(prod, edited, {"continuity:databases": smaller})
    (shrink,) = [f for f in findings if f.rule_id == "CTY-CHG-004"]
    assert (shrink.resource_name, shrink.resource_type, shrink.stack) == ("knowledge-g1", SERVER, "prod")
    assert shrink.message == "storage.storageSizeGB shrinks from 256 GB to 128 GB" and shrink.blocks
    assert by_name(changes, "knowledge-g1", SERVER).action == "update"
    # Growing is fine: the same property, the other way.
    larger = databases("prod")
    larger["knowledge"]["storageGb"] = 512
    _, findings = compare(prod, render_variant("prod", {"continuity:databases": larger}))
    assert "CTY-CHG-004" not in rules_of(findings)


def test_deleting_a_database_under_its_servers_lock_is_data_loss_and_fails_half_way(prod):
    fewer = databases("prod")
    fewer["operational"]["databases"] = ["decisions"]
    edited = render_variant("prod", {"continuity:databases": fewer})
    changes, findings = compare(prod, edited, {"continuity:databases": fewer})
    deleted = by_name(changes, "operational-g1-patterns")
    assert deleted.action == "delete" and deleted.type == "azure-native:dbforpostgresql:Database"
    on_it = {f.rule_id: f for f in findings if f.resource_name == "operational-g1-patterns"}
    assert sorted(on_it) == ["CTY-CHG-001", "CTY-CHG-003"]
    assert on_it["CTY-CHG-001"].message == (
        "deleted: loses the database's data; it is protected, so the update stops there until it is unprotected"
    )
    assert on_it["CTY-CHG-003"].message.startswith("deleted beneath the delete lock on /subscriptions/")
    assert on_it["CTY-CHG-003"].message.endswith("/flexibleservers/psql-cty-operational-prod-aue-g1-62db")
    assert on_it["CTY-CHG-001"].urn == deleted.urn


def test_removing_a_whole_server_is_data_loss_and_its_backup_instance_is_stuck_under_the_vault_lock(prod):
    only_knowledge = {"knowledge": databases("prod")["knowledge"]}
    sla = json.loads(read_stack_config(PROJECT_DIR, "prod").values["continuity:sla"])
    del sla["databases"]["operational"]  # its objective goes with it
    tenancy = json.loads(read_stack_config(PROJECT_DIR, "prod").values["continuity:tenancy"])
    del tenancy["tables"]["decisions"]  # and its tenant-scoped tables
    edited = render_variant(
        "prod", {"continuity:databases": only_knowledge, "continuity:sla": sla, "continuity:tenancy": tenancy}
    )
    changes, findings = compare(prod, edited)
    server = by_name(changes, "operational-g1", SERVER)
    assert server.action == "delete"
    lost = {f.resource_name for f in findings if f.rule_id == "CTY-CHG-001"}
    assert {"operational-g1", "operational-g1-decisions", "operational-g1-patterns"} <= lost
    # Its admin password in the vault is `retainOnDelete` and unprotected: released, kept in Azure.
    assert by_name(changes, "key-vault-operational-admin-password").action == "delete"
    assert "key-vault-operational-admin-password" not in lost
    # The server's own lock is deleted with it (dependents first); its backup instance lives in
    # the backup vault, whose lock stays: that deletion would fail half-way.
    locked = [(f.resource_name, f.resource_type) for f in findings if f.rule_id == "CTY-CHG-003"]
    assert locked == [("backup-vault-operational-g1", "azure-native:dataprotection:BackupInstance")]
    # The admin password's generator goes with it.
    (secret,) = [f for f in findings if f.rule_id == "CTY-CHG-005"]
    assert (secret.resource_name, secret.message) == (
        "operational-admin-password",
        "the generator is removed: its secret is gone from the stack and its consumers",
    )


def test_a_promotion_flips_the_role_in_place_and_needs_acknowledging(dr, promoted_dr):
    changes, findings = compare(dr, promoted_dr, {"continuity:role": "primary"})
    assert [c.action for c in changes if c.type == SERVER] == ["update", "update"]
    assert rules_of(findings) == ["CTY-CHG-006"]
    (flip,) = findings
    assert (flip.resource_name, flip.message) == (
        "platform",
        "continuity:role standby -> primary in stack dr",
    )
    assert flip.blocks


def test_a_new_generation_is_acknowledged_and_the_old_one_retired_not_deleted(prod):
    rebuilt = databases("prod")
    rebuilt["knowledge"]["generation"] = 2
    edited = render_variant("prod", {"continuity:databases": rebuilt})
    changes, findings = compare(prod, edited, {"continuity:databases": rebuilt})
    assert by_name(changes, "knowledge-g1", SERVER).action == "delete"
    assert by_name(changes, "knowledge-g2", SERVER).action == "create"
    assert rules_of(findings) == ["CTY-CHG-007"]
    (generation,) = findings
    assert generation.resource_name == "knowledge-g2"
    assert generation.message.startswith("continuity:databases.knowledge.generation 1 -> 2")


@pytest.fixture(scope="module")
def edited_program(tmp_path_factory, prod) -> tuple[Rendering, Rendering]:
    """(base, head) of prod where the head's program is edited: a longer generated password, a
    renamed managed identity, and an action group renamed with an alias to its old name."""
    folder = tmp_path_factory.mktemp("program")
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dr.yaml"):
        shutil.copy(PROJECT_DIR / name, folder / name)
    shutil.copytree(PROJECT_DIR / "components", folder / "components")
    edits = {
        "platform.py": [("length=32,", "length=40,")],
        "keyvault.py": [("resource_name_=identity_name,", 'resource_name_=identity_name + "-v2",')],
        "alerts.py": [
            ('f"{name}-action-group",\n', 'f"{name}-receivers",\n'),
            (
                "            opts=pulumi.ResourceOptions(parent=self),\n        )\n        self.action_group_id",
                '            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=f"{name}-action-group")]),'
                "\n        )\n        self.action_group_id",
            ),
        ],
    }
    for module, replacements in edits.items():
        path = folder / "components" / module
        text = path.read_text()
        for old, new in replacements:
            assert text.count(old) == 1, (module, old)
            text = text.replace(old, new)
        path.write_text(text)
    (head,) = render_stacks(folder, ["prod"])
    return prod, head


def test_a_regenerated_password_is_reported_with_its_consumers(edited_program):
    changes, findings = compare(*edited_program)
    password = by_name(changes, "knowledge-admin-password")
    assert password.action == "replace"
    assert [(p.path, p.before, p.after, p.create_only) for p in password.properties] == [
        ("length", 32.0, 40.0, True)
    ]
    regenerated = {f.resource_name: f.message for f in findings if f.rule_id == "CTY-CHG-005"}
    assert regenerated["knowledge-admin-password"] == (
        "a new secret is generated (length (32 -> 40)); every consumer receives it"
    )


def test_a_renamed_resource_without_state_is_a_create_only_replacement(edited_program):
    changes, findings = compare(*edited_program)
    identity = by_name(changes, "key-vault-postgres-identity")
    assert identity.action == "replace"
    # Its name is a path parameter: a new name is a new id, so a new resource.
    assert [p.path for p in identity.replacing] == ["resourceName"]
    (replaced,) = [f for f in findings if f.rule_id == "CTY-CHG-002" and f.resource_name == identity.name]
    assert replaced.message.startswith("replaced: resourceName (")
    assert "-v2" in replaced.message


def test_an_alias_keeps_a_renamed_resource_the_same_resource(edited_program):
    changes, findings = compare(*edited_program)
    renamed = by_name(changes, "alerts-receivers")
    assert renamed.action == "unchanged" and renamed.old.name == "alerts-action-group"
    assert not [c for c in changes if c.name == "alerts-action-group"]
    assert not [f for f in findings if f.resource_name in ("alerts-receivers", "alerts-action-group")]


def test_alias_specs_become_urns_made_the_way_the_monitor_makes_them():
    from pulumi.runtime.proto import alias_pb2, resource_pb2

    parent = "urn:pulumi:prod::continuity::continuity:alerts:Alerting::alerts"
    request = resource_pb2.RegisterResourceRequest(
        type="azure-native:monitor:ActionGroup",
        name="alerts-receivers",
        parent=parent,
        aliases=[
            alias_pb2.Alias(spec=alias_pb2.Alias.Spec(name="alerts-action-group")),
            alias_pb2.Alias(spec=alias_pb2.Alias.Spec(name="old", noParent=True)),
            alias_pb2.Alias(spec=alias_pb2.Alias.Spec(type="x:y:Old")),
            alias_pb2.Alias(spec=alias_pb2.Alias.Spec(name="elsewhere", stack="dr")),
            alias_pb2.Alias(urn="urn:pulumi:prod::continuity::x:y:Z::given"),
        ],
    )
    made = alias_urns(request, lambda parent, type_, name: f"{parent or '-'}|{type_}|{name}")
    assert made == [
        f"{parent}|azure-native:monitor:ActionGroup|alerts-action-group",
        "-|azure-native:monitor:ActionGroup|old",
        f"{parent}|x:y:Old|alerts-receivers",
        "urn:pulumi:prod::continuity::x:y:Z::given",
    ]


def test_a_new_stack_is_all_creates(prod):
    changes = diff("prod", None, prod.resources)
    assert {c.action for c in changes} == {"create"}
    assert (
        change_findings(changes, prod.resources, None, StackFacts.of(read_stack_config(PROJECT_DIR, "prod")))
        == []
    )


WEBHOOK = "continuity:alertWebhookUrl"


def test_a_changed_secret_is_blocked_and_never_shown(prod, gate_result):
    """A new webhook URL (a secret inside a list of receivers): reported as a secret change, with
    the marker in place of both values in the finding and in every report."""
    old_url, new_url = "https://hooks.example.com/old-token-1", "https://hooks.example.com/new-token-2"
    base = render_variant("prod", {WEBHOOK: old_url}, secret_keys={WEBHOOK})
    head = render_variant("prod", {WEBHOOK: new_url}, secret_keys={WEBHOOK})
    changes, findings = compare(base, head)
    group = by_name(changes, "alerts-action-group")
    (receivers,) = [p for p in group.properties if p.path == "webhookReceivers"]
    assert receivers.secret and "[secret]" in json.dumps(receivers.after)
    (secret,) = [f for f in findings if f.rule_id == "CTY-CHG-005"]
    assert (secret.resource_name, secret.message) == (
        "alerts-action-group",
        "webhookReceivers ([secret] -> [secret], value changes)",
    )
    declared = {
        "prod": Declaration("prod", read_stack_config(PROJECT_DIR, "prod"), base.resources, base.outputs)
    }
    result = dataclasses.replace(
        gate_result,
        renderings=[head, *[r for r in gate_result.renderings if r.stack != "prod"]],
        findings=[*gate_result.findings, *findings],
        base=Base("HEAD", "0" * 40, declared),
        changes={"prod": changes},
    )
    reports = {
        "console": console(result),
        "json": json.dumps(to_json(result)),
        "markdown": to_markdown(result),
        "sarif": json.dumps(to_sarif(result)),
        "junit": to_junit(result),
    }
    for name, text in reports.items():
        assert "token-1" not in text and "token-2" not in text, name
    assert "| prod | **update** | `alerts-action-group`" in reports["markdown"]
    # Every string inside a secret value is scrubbed, the receiver's name "webhook" too (even
    # where it is part of the property's path): over-redaction, never a leak.
    assert "Receivers: [secret] changes |" in reports["markdown"]
    assert '"continuity-change-safety"' in reports["sarif"]
    assert "CTY-CHG-005" in reports["junit"]
