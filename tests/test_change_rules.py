"""The change engine and the change rules on small hand-made declarations: every branch, fast
(the pairs rendered from the real program are in test_change_safety.py)."""

from __future__ import annotations

import pytest

from cli.secrets import REDACTED
from gate.change_rules import StackFacts, change_findings, retired
from gate.changes import as_text, counts, diff, leaves, property_changes
from gate.render import SECRET_SIG, SECRET_SIG_KEY, RenderedResource
from gate.replacement import replacing_paths, same_to_the_provider
from gate.stack_files import StackConfig

SUB = "/subscriptions/s/resourceGroups/rg/providers"
SERVER = "azure-native:dbforpostgresql:Server"
DATABASE = "azure-native:dbforpostgresql:Database"
ALERT = "azure-native:monitor:MetricAlert"
LOCK = "azure-native:authorization:ManagementLockByScope"
PASSWORD = "random:index/randomPassword:RandomPassword"
SLEEP = "time:index/sleep:Sleep"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
FACTS = StackFacts(role="primary", generations={"knowledge": 1})


def secret(value):
    return {SECRET_SIG_KEY: SECRET_SIG, "value": value}


def res(name: str, type_: str = ALERT, inputs: dict | None = None, **options) -> RenderedResource:
    fields = {
        "urn": f"urn:pulumi:prod::continuity::{type_}::{name}",
        "type": type_,
        "name": name,
        "id": f"{SUB}/x/{name}",
        "custom": True,
        "parent": "",
        "protect": False,
        "dependencies": [],
        "inputs": inputs or {},
    }
    fields.update(options)
    return RenderedResource(**fields)


def lock(scope: str, level: str = "CanNotDelete") -> RenderedResource:
    return res(f"lock-{scope.rsplit('/', 1)[-1]}", LOCK, {"scope": scope, "level": level})


def findings(base: list, head: list, base_facts=FACTS, head_facts=FACTS) -> list[tuple[str, str, str]]:
    changes = diff("prod", base, head)
    return [
        (f.rule_id, f.resource_name, f.message)
        for f in change_findings(changes, head, base_facts, head_facts)
    ]


# --- the engine --------------------------------------------------------------------------------


def test_leaves_are_dotted_paths_to_scalars_lists_secrets_and_empty_maps():
    value = {"a": {"b": 1, "c": [1, 2], "d": {}}, "s": secret("x"), "t": None}
    assert dict(leaves(value)) == {"a.b": 1, "a.c": [1, 2], "a.d": {}, "s": secret("x"), "t": None}


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "(not set)"), (256.0, "256"), (2.5, "2.5"), ("x", "x"), ([1], "[1]"), (True, "true")],
)
def test_values_as_reports_show_them(value, text):
    assert as_text(value) == text


def test_each_action_and_the_order_of_the_list():
    base = [
        res("kept"),
        res("changed", inputs={"x": 1}),
        res("gone"),
        res("moved", IDENTITY, {"location": "a"}),
    ]
    head = [
        res("new"),
        res("moved", IDENTITY, {"location": "b"}),
        res("changed", inputs={"x": 2}),
        res("kept"),
    ]
    changes = diff("prod", base, head)
    assert [(c.name, c.action) for c in changes] == [
        ("new", "create"),
        ("moved", "replace"),
        ("changed", "update"),
        ("kept", "unchanged"),
        ("gone", "delete"),
    ]
    assert all(c.stack == "prod" for c in changes)
    assert counts(changes) == {"create": 1, "update": 1, "replace": 1, "delete": 1, "unchanged": 1}
    assert diff("prod", None, head)[0].action == "create"


def test_components_are_not_counted():
    changes = diff("prod", [], [res("component", "continuity:x:Y", custom=False), res("r")])
    assert counts(changes)["create"] == 1 and counts(changes, custom_only=False)["create"] == 2


def test_an_alias_matches_the_old_urn_once():
    old = res("old-name")
    renamed = res("new-name", aliases=[old.urn], id=old.id)
    again = res("newer-name", aliases=[old.urn], id=old.id)
    changes = diff("prod", [old], [renamed, again])
    assert [(c.name, c.action) for c in changes] == [("new-name", "unchanged"), ("newer-name", "create")]
    assert changes[0].old is old and changes[0].urn == renamed.urn


def test_ignored_paths_keep_their_old_value():
    base = res("s", SERVER, {"availabilityZone": "1", "tags": {"a": "1"}, "cname": {"x": 1}})
    head = res(
        "s", SERVER, {"availabilityZone": "2", "tags": {"a": "2"}, "cname": {"x": 2}},
        ignore_changes=["availabilityZone", "cname"],
    )  # fmt: skip
    assert [p.path for p in property_changes(base, head)] == ["tags.a"]
    # `tags["a"]`-style paths are prefixes too.
    head = res("s", SERVER, {"tags": {"a": "2"}}, ignore_changes=["tags"])
    assert property_changes(res("s", SERVER, {"tags": {"a": "1"}}), head) == ()
    assert [
        p.path
        for p in property_changes(
            base, res("s", SERVER, {**base.inputs, "tagsx": 1}, ignore_changes=["tags"])
        )
    ] == ["tagsx"]


def test_the_provider_normalises_location_and_resource_group_name():
    assert same_to_the_provider("location", "Australia East", "australiaeast")
    assert same_to_the_provider("resourceGroupName", "RG-A", "rg-a")
    assert not same_to_the_provider("location", "australiaeast", "australiasoutheast")
    assert not same_to_the_provider("serverName", "A", "a")  # only those two
    assert not same_to_the_provider("location", 1, 2)
    assert same_to_the_provider("location", None, None)
    base = res("w", "azure-native:operationalinsights:Workspace", {"location": "Australia East"})
    head = res("w", "azure-native:operationalinsights:Workspace", {"location": "australiaeast"})
    assert property_changes(base, head) == ()


def test_create_only_paths_and_their_children_replace():
    replaces = replacing_paths("azure-native:network:PrivateEndpoint")
    assert replaces("subnet") and replaces("subnet.id") and not replaces("subnets") and not replaces("tags.a")
    server = replacing_paths(SERVER)
    assert server("administratorLogin") and not server("administratorLoginPassword")
    # A whole object set or unset around a create-only path.
    assert replacing_paths("x:y:Z", ["a.b"])("a")
    assert replacing_paths(PASSWORD)("anything") and replacing_paths("x:y:Z", ["*"])("anything")
    assert not replacing_paths("x:y:Z")("anything")


def test_a_new_id_replaces_and_names_the_path_parameter_that_made_it():
    base = res(
        "i",
        IDENTITY,
        {"resourceName": "id-a", "tags": {"t": "1"}},
        id=f"{SUB}/Microsoft.ManagedIdentity/id-a",
    )
    head = res(
        "i",
        IDENTITY,
        {"resourceName": "id-b", "tags": {"t": "2"}},
        id=f"{SUB}/Microsoft.ManagedIdentity/id-b",
    )
    changes = property_changes(base, head)
    assert [(p.path, p.create_only) for p in changes] == [("resourceName", True), ("tags.t", False)]
    # An id that changed through no input of its own (a parent's output) is reported as the id.
    moved = res("i", IDENTITY, {}, id=f"{SUB}/other/i")
    (change,) = property_changes(res("i", IDENTITY, {}), moved)
    assert (change.path, change.before, change.after, change.create_only) == (
        "id",
        f"{SUB}/x/i",
        f"{SUB}/other/i",
        True,
    )
    # Ids that are not ARM ids (random, sleep) never replace by themselves.
    assert property_changes(res("p", PASSWORD, id="random-1"), res("p", PASSWORD, id="random-2")) == ()


def test_secrets_are_compared_by_value_flagged_and_shown_as_the_marker():
    base = res("a", inputs={"receivers": secret([{"uri": "https://old"}]), "plain": 1})
    head = res("a", inputs={"receivers": secret([{"uri": "https://new"}]), "plain": 1})
    (change,) = property_changes(base, head)
    assert (change.path, change.before, change.after, change.secret) == (
        "receivers",
        REDACTED,
        REDACTED,
        True,
    )
    nested = res("a", inputs={"list": [{"v": secret("s1")}]})
    (change,) = property_changes(nested, res("a", inputs={"list": [{"v": secret("s2")}]}))
    assert change.secret and change.before == [{"v": REDACTED}]
    assert (
        property_changes(base, res("a", inputs={"receivers": secret([{"uri": "https://old"}]), "plain": 1}))
        == ()
    )


# --- the rules ----------------------------------------------------------------------------------


def test_deleting_what_holds_data():
    database = res("db", DATABASE, protect=True)
    assert findings([database], []) == [
        (
            "CTY-CHG-001",
            "db",
            "deleted: loses the database's data; it is protected, so the update stops there until it is unprotected",
        )
    ]
    assert findings([res("a", ALERT, protect=True)], []) == [
        ("CTY-CHG-001", "a", "deleted: it is protected, so the update stops there until it is unprotected")
    ]
    assert findings([res("v", "azure-native:keyvault:Vault")], []) == [
        ("CTY-CHG-001", "v", "deleted: loses the vault's keys and secrets")
    ]
    assert findings([res("a", ALERT)], []) == []
    # Released from the stack, kept in Azure: retainOnDelete and unprotected.
    assert findings([res("k", "azure-native:keyvault:Secret", retain_on_delete=True)], []) == []
    kept_but_protected = res("k", "azure-native:keyvault:Key", retain_on_delete=True, protect=True)
    assert [f[0] for f in findings([kept_but_protected], [])] == ["CTY-CHG-001"]


def test_replacing_what_holds_data_and_what_does_not():
    base = res("s", SERVER, {"administratorLogin": "a"})
    assert findings([base], [res("s", SERVER, {"administratorLogin": "b"})]) == [
        (
            "CTY-CHG-001",
            "s",
            "replaced by a new, empty resource (administratorLogin (a -> b)): loses the server's data and its "
            "point-in-time backups",
        )
    ]
    moved = res("i", IDENTITY, {"location": "a"})
    assert findings([moved], [res("i", IDENTITY, {"location": "b"})]) == [
        ("CTY-CHG-002", "i", "replaced: location (a -> b)")
    ]
    guarded = res("i", IDENTITY, {"location": "a"}, protect=True)
    assert findings([guarded], [res("i", IDENTITY, {"location": "b"})]) == [
        (
            "CTY-CHG-001",
            "i",
            "replaced by a new, empty resource (location (a -> b)): it is protected, so the update stops there "
            "until it is unprotected",
        )
    ]
    # A Sleep re-runs its wait by being replaced: by design.
    assert (
        findings([res("w", SLEEP, {"triggers": {"a": "1"}})], [res("w", SLEEP, {"triggers": {"a": "2"}})])
        == []
    )


def test_deleting_beneath_a_lock_that_stays():
    scope = f"{SUB}/Microsoft.DBforPostgreSQL/flexibleServers/S1"
    child = res("db", ALERT, id=f"{scope}/databases/d")
    assert findings([child], [lock(scope)]) == [
        ("CTY-CHG-003", "db", f"deleted beneath the delete lock on {scope.lower()}")
    ]
    # Case does not matter to ARM; ReadOnly locks forbid deletes too; other levels do not.
    upper = res("db", ALERT, id=f"{scope.upper()}/DATABASES/D")
    assert [f[0] for f in findings([upper], [lock(scope, "ReadOnly")])] == ["CTY-CHG-003"]
    assert findings([child], [lock(scope, "None")]) == []
    # The locked resource itself (its lock goes with it), a sibling with a longer name, a lock the
    # change removes, and a retained child: none fails on the lock.
    assert findings([res("s", ALERT, id=scope)], [lock(scope)]) == []
    assert findings([res("s2", ALERT, id=f"{scope}0/databases/d")], [lock(scope)]) == []
    assert findings([child, lock(scope)], []) == []
    assert findings([res("db", ALERT, id=f"{scope}/databases/d", retain_on_delete=True)], [lock(scope)]) == []
    # A replacement deletes the old one beneath the lock as well.
    old = res("i", IDENTITY, {"location": "a"}, id=f"{scope}/identities/i")
    new = res("i", IDENTITY, {"location": "b"}, id=f"{scope}/identities/i")
    assert (
        "CTY-CHG-003",
        "i",
        f"replaced (the old one is deleted) beneath the delete lock on {scope.lower()}",
    ) in findings([old], [new, lock(scope)])


@pytest.mark.parametrize(
    ("before", "after", "blocked"),
    [
        (256.0, 128.0, True),
        (256.0, 255.0, True),
        (256.0, 256.0, False),
        (256.0, 512.0, False),
        (None, 128.0, False),
    ],
)
def test_server_storage_may_only_grow(before, after, blocked):
    base = res("s", SERVER, {"storage": {"storageSizeGB": before}})
    head = res("s", SERVER, {"storage": {"storageSizeGB": after}})
    rules = [f for f in findings([base], [head]) if f[0] == "CTY-CHG-004"]
    assert bool(rules) is blocked
    if blocked:
        assert rules == [
            ("CTY-CHG-004", "s", f"storage.storageSizeGB shrinks from {before:g} GB to {after:g} GB")
        ]


def test_only_a_servers_storage_size_is_judged():
    base = res("a", ALERT, {"storage": {"storageSizeGB": 256.0}})
    assert findings([base], [res("a", ALERT, {"storage": {"storageSizeGB": 1.0}})]) == []


def test_secrets_regenerated_changed_or_removed():
    generator = res("pw", PASSWORD, {"length": 32.0})
    assert findings([generator], [res("pw", PASSWORD, {"length": 40.0})]) == [
        ("CTY-CHG-005", "pw", "a new secret is generated (length (32 -> 40)); every consumer receives it")
    ]
    assert findings([generator], []) == [
        ("CTY-CHG-005", "pw", "the generator is removed: its secret is gone from the stack and its consumers")
    ]
    stored = res("s", ALERT, {"value": secret("a")})
    assert findings([stored], [res("s", ALERT, {"value": secret("b")})]) == [
        ("CTY-CHG-005", "s", "value ([secret] -> [secret], value changes)")
    ]


def test_a_role_flip_is_reported_on_the_platform():
    platform = res("platform", "continuity:platform:RegionalPlatform", custom=False)
    flipped = StackFacts(role="standby", generations=FACTS.generations)
    assert findings([platform], [platform], head_facts=flipped) == [
        ("CTY-CHG-006", "platform", "continuity:role primary -> standby in stack prod")
    ]
    assert findings([platform], [platform]) == []
    assert findings([platform], [platform], base_facts=None, head_facts=flipped) == []  # a new stack


def test_a_generation_change_is_reported_on_the_new_server_or_the_platform():
    platform = res("platform", "continuity:platform:RegionalPlatform", custom=False)
    g2 = res("knowledge-g2", "continuity:database:PostgresServer", custom=False)
    next_generation = StackFacts(role="primary", generations={"knowledge": 2})
    message = (
        "continuity:databases.knowledge.generation 1 -> 2: new servers knowledge-g2; knowledge-g1 is retired "
        "from state, not deleted"
    )
    assert findings([platform], [platform, g2], head_facts=next_generation) == [
        ("CTY-CHG-007", "knowledge-g2", message)
    ]
    assert findings([platform], [platform], head_facts=next_generation) == [
        ("CTY-CHG-007", "platform", message)
    ]
    new_database = StackFacts(role="primary", generations={"knowledge": 1, "other": 1})
    assert findings([platform], [platform], head_facts=new_database) == []


def test_a_retired_generation_takes_its_children_and_whatever_refers_to_it():
    component = res("knowledge-g1", "continuity:database:PostgresServer", custom=False)
    server = res("knowledge-g1", SERVER, parent=component.urn, protect=True)
    database = res("knowledge-g1-db", DATABASE, parent=server.urn, protect=True)
    backup = res(
        "vault-knowledge-g1",
        "azure-native:dataprotection:BackupInstance",
        property_dependencies={"x": [server.urn]},
    )
    alert = res("alerts-knowledge-g1-cpu", ALERT, dependencies=[database.urn])
    unrelated = res("operational-g1", SERVER, protect=True)
    deleted = [component, server, database, backup, alert, unrelated]
    changes = diff("prod", deleted, [])
    next_generation = StackFacts(role="primary", generations={"knowledge": 2})
    assert retired(changes, FACTS, next_generation) == {
        c.urn for c in [component, server, database, backup, alert]
    }
    assert retired(changes, FACTS, FACTS) == set()
    assert retired(changes, None, next_generation) == set()
    # Only the unrelated server is judged a deletion.
    assert {f[1] for f in findings(deleted, [], head_facts=next_generation)} == {"operational-g1"}


def test_stack_facts_come_from_the_stack_file_as_written():
    def config(**values: str) -> StackConfig:
        return StackConfig("prod", None, {f"continuity:{k}": v for k, v in values.items()}, frozenset())  # type: ignore[arg-type]

    facts = StackFacts.of(config(role="standby", databases='{"a": {"generation": 3}, "b": {}, "c": "odd"}'))
    assert facts == StackFacts(role="standby", generations={"a": 3, "b": 1, "c": 1})
    assert StackFacts.of(config()) == StackFacts(role="", generations={})
    assert StackFacts.of(config(databases='["not", "a", "map"]')).generations == {}


# --- edges the mutation run found untested -------------------------------------------------------


def test_a_finding_carries_the_rule_resource_and_level():
    (finding,) = change_findings(
        diff(
            "prod",
            [res("s", SERVER, {"storage": {"storageSizeGB": 2.0}})],
            [res("s", SERVER, {"storage": {"storageSizeGB": 1.0}})],
        ),
        [],
        FACTS,
        FACTS,
    )
    assert (finding.rule_id, finding.source, finding.stack, finding.urn) == (
        "CTY-CHG-004",
        "change",
        "prod",
        res("s", SERVER).urn,
    )
    assert (finding.resource_type, finding.resource_name, finding.severity, finding.enforcement) == (
        SERVER,
        "s",
        "high",
        "mandatory",
    )
    assert finding.blocks and finding.waiver is None


def test_a_renamed_resource_replaced_beneath_a_lock_is_named_by_its_old_urn():
    scope = f"{SUB}/Microsoft.KeyVault/vaults/kv"
    old = res("old", IDENTITY, {"location": "a"}, id=f"{scope}/identities/i")
    new = res("new", IDENTITY, {"location": "b"}, id=f"{scope}/identities/i", aliases=[old.urn])
    changes = diff("prod", [old], [new, lock(scope)])
    locked = [
        f for f in change_findings(changes, [new, lock(scope)], FACTS, FACTS) if f.rule_id == "CTY-CHG-003"
    ]
    assert [f.urn for f in locked] == [old.urn]
    # The other findings are about the resource as declared now.
    assert [f.urn for f in change_findings(changes, [new], FACTS, FACTS)] == [new.urn]


def test_several_reasons_and_properties_are_listed_with_commas():
    base = res("s", SERVER, {"administratorLogin": "a", "location": "x"})
    head = res("s", SERVER, {"administratorLogin": "b", "location": "y"})
    ((_, _, message),) = findings([base], [head])
    assert message.startswith(
        "replaced by a new, empty resource (administratorLogin (a -> b), location (x -> y)): "
    )
    generator = res("pw", PASSWORD, {"length": 32.0, "special": True})
    assert findings([generator], [res("pw", PASSWORD, {"length": 40.0, "special": False})]) == [
        (
            "CTY-CHG-005",
            "pw",
            "a new secret is generated (length (32 -> 40), special (true -> false)); every consumer receives it",
        )
    ]


def test_a_replaced_server_is_also_judged_for_its_updates():
    base = res("s", SERVER, {"administratorLogin": "a", "storage": {"storageSizeGB": 256.0}})
    head = res("s", SERVER, {"administratorLogin": "b", "storage": {"storageSizeGB": 128.0}})
    assert [f[0] for f in findings([base], [head])] == ["CTY-CHG-001", "CTY-CHG-004"]


def test_stack_changes_on_an_empty_stack_and_one_generation_after_another():
    flipped = StackFacts(role="standby", generations={})
    assert change_findings([], [], FACTS, flipped) == []
    platform = res("platform", "continuity:platform:RegionalPlatform", custom=False)
    before = StackFacts(role="primary", generations={"a": 1, "b": 1})
    after = StackFacts(role="primary", generations={"a": 1, "b": 2})
    assert [f[2].split(":")[1] for f in findings([platform], [platform], before, after)] == [
        "databases.b.generation 1 -> 2"
    ]


def test_only_a_database_moved_to_a_new_generation_is_retired_not_one_removed():
    component = res("knowledge-g1", "continuity:database:PostgresServer", custom=False)
    server = res("knowledge-g1", SERVER, parent=component.urn, protect=True)
    changes = diff("prod", [component, server], [])
    assert retired(changes, FACTS, StackFacts(role="primary", generations={})) == set()
    assert [
        f[0] for f in findings([component, server], [], FACTS, StackFacts(role="primary", generations={}))
    ] == ["CTY-CHG-001"]


def test_a_retired_chain_is_followed_whatever_the_order():
    component = res("knowledge-g1", "continuity:database:PostgresServer", custom=False)
    server = res("knowledge-g1", SERVER, parent=component.urn, protect=True)
    database = res("knowledge-g1-db", DATABASE, parent=server.urn, protect=True)
    alert = res("alerts-cpu", ALERT, dependencies=[database.urn])
    # Listed dependents first: a single pass would miss them.
    changes = diff("prod", [alert, database, server, component], [])
    next_generation = StackFacts(role="primary", generations={"knowledge": 2})
    assert retired(changes, FACTS, next_generation) == {alert.urn, database.urn, server.urn, component.urn}


def test_value_text_and_the_engine_edges():
    assert as_text({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    created, updated = diff("prod", [res("u", inputs={"x": 1})], [res("c"), res("u", inputs={"x": 2})])
    assert (created.urn, created.head.name, created.base) == (res("c").urn, "c", None)
    assert updated.head is not None and updated.head.inputs == {"x": 2} and updated.old.inputs == {"x": 1}
    # replaceOnChanges of the resource itself.
    forced = res("r", ALERT, {"x": 2}, replace_on_changes=["x"])
    assert [(p.path, p.create_only) for p in property_changes(res("r", ALERT, {"x": 1}), forced)] == [
        ("x", True)
    ]
    # A value equal to a segment of an unchanged id is not a path parameter.
    same_id = res("r", ALERT, {"t": "x"})
    assert [
        (p.path, p.create_only) for p in property_changes(res("r", ALERT, {"t": "subscriptions"}), same_id)
    ] == [("t", False)]
    # A secret on either side makes the change secret.
    assert [
        p.secret
        for p in property_changes(res("s", inputs={"v": "plain"}), res("s", inputs={"v": secret("x")}))
    ] == [True]
    assert [
        p.secret
        for p in property_changes(res("s", inputs={"v": secret("x")}), res("s", inputs={"v": "plain"}))
    ] == [True]
