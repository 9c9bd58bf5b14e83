"""Each rule's branches on the smallest resources that reach them, with every message in full.

The real renders reach the common paths; these cases reach what they do not: a missing property, a
link given as text instead of outputs, a second resource after a first that fails, an empty stack.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.facts import KEY_VAULT_SECRETS_USER
from policies.rules import REGISTRY
from policies.rules.continuity import assess
from policies.rules.facts import (
    ACTION_GROUP,
    ACTIVITY_ALERT,
    BACKUP_POLICY,
    BACKUP_VAULT,
    CONFIGURATION,
    DIAGNOSTIC,
    FIREWALL_RULE,
    KEY,
    LOCK,
    METRIC_ALERT,
    PRIVATE_ENDPOINT,
    RECORD_SET,
    SERVER,
    STORAGE,
    SUBSCRIPTION_DIAGNOSTIC,
    VAULT,
    VNET,
    WORKSPACE,
    database_key,
    is_writable,
)
from policies.rules.model import Resource, stack_of
from policies.rules.resilience import expected_ha_mode


def res(
    type_: str,
    name: str,
    props: dict[str, Any] | None = None,
    deps: dict[str, list[str]] | None = None,
    protect: bool = False,
) -> Resource:
    return Resource(
        type=type_,
        urn=f"urn:pulumi:prod::continuity::{type_}::{name}",
        name=name,
        props=props or {},
        protect=protect,
        property_dependencies={k: tuple(v) for k, v in (deps or {}).items()},
    )


def check(rule_id: str, *resources: Resource, **config: Any) -> list[tuple[str, str]]:
    """(resource name, message) for each violation `rule_id` finds in a stack of `resources`."""
    rule = REGISTRY[rule_id]
    found = rule.check(stack_of(resources), {**rule.defaults(), **config})
    return [(urn.rsplit("::", 1)[-1], message) for urn, message in found]


def messages(rule_id: str, type_: str, props: dict[str, Any], **config: Any) -> list[str]:
    return [message for _, message in check(rule_id, res(type_, "x", props), **config)]


# --- facts and the model ---------------------------------------------------------------------


def test_facts_about_servers():
    assert database_key(res(SERVER, "data-gold-g3")) == "data-gold"  # the generation is the last "-g"
    assert [is_writable(res(SERVER, "k-g1", {"createMode": m})) for m in ("Create", "Replica", "Update")] == [
        True,
        False,
        True,
    ]
    assert (expected_ha_mode("australiaeast"), expected_ha_mode("australiasoutheast")) == (
        "ZoneRedundant",
        "SameZone",
    )


def test_referring_to_skips_resources_without_that_input():
    server = res(SERVER, "k-g1")
    lock = res(LOCK, "lock", deps={"scope": [server.urn]})
    unrelated = res(LOCK, "other")
    assert stack_of([server, unrelated, lock]).referring_to(server, "scope", LOCK) == [lock]


# --- per-resource rules: every message ---------------------------------------------------------

PER_RESOURCE = [
    ("CTY-ACC-005", SERVER, {}, {}, ["Microsoft Entra authentication is off"]),
    (
        "CTY-ENC-001",
        SERVER,
        {},
        {},
        ["data encryption is service-managed, not a customer-managed key"],
    ),
    (
        "CTY-ENC-001",
        SERVER,
        {"dataEncryption": {"type": "AzureKeyVault", "primaryKeyURI": "https://kv/keys/k"}},
        {},
        ["customer-managed key without a key URI or identity"],
    ),
    (
        "CTY-ENC-001",
        SERVER,
        {"dataEncryption": {"type": "AzureKeyVault", "primaryUserAssignedIdentityId": "/id"}},
        {},
        ["customer-managed key without a key URI or identity"],
    ),
    ("CTY-ENC-005", STORAGE, {"minimumTlsVersion": "TLS1_3"}, {}, []),
    (
        "CTY-ENC-005",
        STORAGE,
        {"enableHttpsTrafficOnly": False},
        {},
        ["plain HTTP is allowed", "minimum TLS version is the service default"],
    ),
    ("CTY-ENC-005", STORAGE, {"enableHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2"}, {}, []),
    (
        "CTY-ENC-007",
        KEY,
        {"properties": {"kty": "EC", "keySize": 3072, "rotationPolicy": {}}},
        {},
        [
            "key type EC cannot wrap a PostgreSQL data key",
            "no automatic rotation in the key's rotation policy",
        ],
    ),
    (
        "CTY-ENC-007",
        KEY,
        {"properties": {"kty": "RSA", "rotationPolicy": {"lifetimeActions": [{"trigger": {}}]}}},
        {"minKeySize": 1},
        ["key size None is below 1", "no automatic rotation in the key's rotation policy"],
    ),
    (
        "CTY-RES-002",
        SERVER,
        {"location": "australiasoutheast"},
        {},
        ["high availability is Disabled; SameZone is expected in australiasoutheast"],
    ),
    (
        "CTY-RES-003",
        BACKUP_VAULT,
        {},
        {},
        ["vault storage is [], not GeoRedundant", "cross-region restore is not enabled"],
    ),
    (
        "CTY-RES-900",
        SERVER,
        {"createMode": "Update"},
        {},
        [
            "degraded: no geo-redundant backup (Azure allows it only at creation, and replicas are created "
            "without it); recovery from a loss of this region relies on the long-term-retention vault",
            "degraded: no high availability yet (Azure turns it off on promotion); enable it in the next update",
            "degraded: no cross-region replica, so the RTO/RPO targets hold only after the former primary "
            "region is rebuilt as a replica of this server (failback plan)",
        ],
    ),
    (
        "CTY-RES-900",
        SERVER,
        {
            "createMode": "Update",
            "backup": {"geoRedundantBackup": "Enabled"},
            "highAvailability": {"mode": "ZoneRedundant"},
        },
        {},
        [
            "degraded: no cross-region replica, so the RTO/RPO targets hold only after the former primary "
            "region is rebuilt as a replica of this server (failback plan)"
        ],
    ),
    (
        "CTY-RET-005",
        BACKUP_POLICY,
        {"properties": {}},
        {},
        ["no Default retention rule", "no Monthly retention rule", "no Yearly retention rule"],
    ),
    (
        "CTY-RET-005",
        BACKUP_POLICY,
        {
            "properties": {
                "policyRules": [
                    {"objectType": "AzureRetentionRule", "name": "Default", "lifecycles": [{}]},
                    {
                        "objectType": "AzureRetentionRule",
                        "name": "Monthly",
                        "lifecycles": [{"deleteAfter": {}}],
                    },
                    {
                        "objectType": "AzureRetentionRule",
                        "name": "Yearly",
                        "lifecycles": [{"deleteAfter": {"duration": "P7Y"}}],
                    },
                ]
            }
        },
        {},
        [
            "Default backups kept P0D; at least 90 days are required",
            "Monthly backups kept P0D; at least 360 days are required",
        ],
    ),
    (
        "CTY-RET-006",
        BACKUP_VAULT,
        {
            "properties": {
                "securitySettings": {"softDeleteSettings": {"state": "On", "retentionDurationInDays": 10}}
            }
        },
        {},
        ["soft delete keeps 10 days; at least 14 are required"],
    ),
    (
        "CTY-RET-006",
        BACKUP_VAULT,
        {"properties": {"securitySettings": {"softDeleteSettings": {"state": "On"}}}},
        {"minDays": 1},
        ["soft delete keeps None days; at least 1 are required"],
    ),
    (
        "CTY-RET-007",
        STORAGE,
        {"immutableStorageWithVersioning": {"enabled": True, "immutabilityPolicy": {"state": "Unlocked"}}},
        {"minDays": 1},
        [
            "blobs are immutable for None days; at least 1 are required",
            "protected append writes are off: data export cannot write to the archive",
        ],
    ),
    (
        "CTY-RET-008",
        VAULT,
        {"properties": {"softDeleteRetentionInDays": 30, "enablePurgeProtection": True}},
        {},
        ["soft delete keeps 30 days; at least 90 are required"],
    ),
]


@pytest.mark.parametrize(
    "rule_id, type_, props, config, expected",
    PER_RESOURCE,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(PER_RESOURCE)],
)
def test_per_resource_rule_messages(rule_id, type_, props, config, expected):
    assert messages(rule_id, type_, props, **config) == expected


def test_high_availability_needs_the_servers_region():
    with pytest.raises(
        ValueError, match=r"^the server has no location: the HA mode its region allows is unknown$"
    ):
        messages("CTY-RES-002", SERVER, {})


# --- encryption: server parameters --------------------------------------------------------------


def test_server_parameters_that_are_not_set_are_named_so():
    assert check("CTY-ENC-003", res(SERVER, "k-g1")) == [
        ("k-g1", "ssl_min_protocol_version is not set; use one of ['TLSv1.2', 'TLSv1.3']")
    ]
    assert check("CTY-ENC-004", res(SERVER, "k-g1")) == [("k-g1", "require_secure_transport is not set")]
    assert check("CTY-OBS-005", res(SERVER, "k-g1")) == [
        ("k-g1", "pg_cron is missing from ['azure.extensions', 'shared_preload_libraries']"),
        ("k-g1", "cron.database_name is not set: the heartbeat job has no database to run in"),
    ]


def test_server_parameters_are_read_from_the_servers_configurations():
    server = res(SERVER, "k-g1")
    params = {"ssl_min_protocol_version": "TLSv1.3", "require_secure_transport": "ON"}
    configurations = [
        res(CONFIGURATION, name, {"configurationName": name, "value": value}, {"serverName": [server.urn]})
        for name, value in params.items()
    ]
    assert check("CTY-ENC-003", server, *configurations) == []
    assert check("CTY-ENC-004", server, *configurations) == []


# --- resilience: stack rules ----------------------------------------------------------------------


def test_a_stateful_resource_without_a_lock_is_named():
    account = res(STORAGE, "archive", protect=True)
    assert check("CTY-RES-004", account) == [("archive", "no CanNotDelete lock")]
    lock = res(LOCK, "archive-lock", {"level": "CanNotDelete"}, {"scope": [account.urn]})
    assert check("CTY-RES-004", account, lock) == []


def test_a_standby_stack_declares_only_replicas():
    standby = res(SERVER, "k-g1", {"createMode": "Replica", "tags": {"dr-role": "standby"}})
    writable = res(SERVER, "o-g1", {"createMode": "Create", "tags": {"dr-role": "standby"}})
    assert check("CTY-RES-005", standby, writable, peerDatabases=["k", "o"]) == [
        ("o-g1", "a standby stack declares a writable server instead of a replica"),
        ("k-g1", "no replica of the peer's o server"),
    ]


# --- access ---------------------------------------------------------------------------------------


def _server(name: str = "k-g1", **props: Any) -> Resource:
    return res(SERVER, name, {"serverName": f"psql-{name}", **props})


def test_a_firewall_rule_linked_through_outputs_belongs_to_its_server():
    server = _server()
    group = res("azure-native:resources:ResourceGroup", "rg")
    # serverName comes from the server's outputs (and the group's): not known as text in a preview.
    rule = res(
        FIREWALL_RULE,
        "office",
        {"startIpAddress": "198.51.100.1", "endIpAddress": "198.51.100.2"},
        {"serverName": [server.urn, group.urn]},
    )
    assert check("CTY-ACC-003", server, group, rule, allowedCidrs=["203.0.113.0/24"]) == [
        ("k-g1", "firewall rule 198.51.100.1-198.51.100.2 is outside the allowed ranges")
    ]


def test_a_firewall_rule_naming_its_server_needs_only_a_known_group_to_match():
    server = _server()  # its resource group is an output: unknown as text
    rule = res(
        FIREWALL_RULE,
        "office",
        {"serverName": "psql-k-g1", "resourceGroupName": "rg", "startIpAddress": "198.51.100.1"},
    )
    assert check("CTY-ACC-003", server, rule, allowedCidrs=["198.51.100.0/24"]) == [
        ("k-g1", "firewall rule 198.51.100.1-255.255.255.255 is outside the allowed ranges")
    ]


def test_every_firewall_rule_is_judged_after_one_that_cannot_be():
    server = _server()
    stray = res(FIREWALL_RULE, "stray", {"serverName": "psql-elsewhere"})
    broken = res(FIREWALL_RULE, "broken", {"serverName": "psql-k-g1", "startIpAddress": "x"})
    wide = res(FIREWALL_RULE, "wide", {"serverName": "psql-k-g1"})
    assert check("CTY-ACC-003", server, stray, broken, wide, allowedCidrs=["203.0.113.0/24"]) == [
        ("stray", "firewall rule for server 'psql-elsewhere' cannot be tied to a server of this stack"),
        (
            "broken",
            "firewall rule has an address that is not one: 'x' does not appear to be an IPv4 or IPv6 address",
        ),
        ("k-g1", "firewall rule 0.0.0.0-255.255.255.255 is outside the allowed ranges"),
    ]


# --- continuity -----------------------------------------------------------------------------------


def _db(name: str, create_mode: str = "Create", geo: str = "Disabled", **tags: str) -> Resource:
    props = {"createMode": create_mode, "backup": {"geoRedundantBackup": geo}, "tags": tags}
    return res(SERVER, name, props)


def test_assessment_without_configuration_uses_microsofts_figures():
    (geo,) = assess(stack_of([_db("k-g1", geo="Enabled", rto="1h", rpo="15min")]), {})
    assert (geo.mechanism, geo.achievable_rto, geo.achievable_rpo) == ("geoRestore", 43200, 3600)
    (none,) = assess(stack_of([_db("k-g1")]), {})
    assert none.mechanism == "none"


def test_targets_are_judged_for_every_server_after_one_that_is_skipped():
    first_untagged = _db("a-g1", rpo="15min")
    first_promoted = _db("b-g1", "Update", rto="1h", rpo="15min")
    unprotected = _db("c-g1", rto="1h", rpo="15min")
    assert check("CTY-CON-001", first_untagged, first_promoted, unprotected) == [
        ("c-g1", "c: RTO target 1h but none achieves none"),
        ("c-g1", "c: RPO target 15min but none achieves none"),
    ]


def test_every_replica_needs_a_lag_alert_with_criteria():
    primary = _db("a-g1", rpo="15min")
    replica = _db("b-g1", "Replica", rpo="15min")
    empty_alert = res(METRIC_ALERT, "b-lag", {}, {"scopes": [replica.urn]})
    assert check("CTY-CON-002", primary, replica, empty_alert) == [("b-g1", "no replication-lag alert")]


# --- observability ------------------------------------------------------------------------------


def _setting(source: Resource, target: Resource, logs: Any, name: str = "diag") -> Resource:
    props = {} if logs is None else {"logs": logs}
    return res(DIAGNOSTIC, name, props, {"resourceUri": [source.urn], "workspaceId": [target.urn]})


@pytest.mark.parametrize(
    "logs, to_workspace, sent",
    [
        ([{"enabled": True, "category": "AuditEvent"}], True, True),
        ([{"enabled": True, "categoryGroup": "audit"}], True, True),
        ([{"enabled": False, "category": "AuditEvent"}], True, False),
        ([{"enabled": True}], True, False),
        (None, True, False),
        ([{"enabled": True, "category": "AuditEvent"}], False, False),
    ],
)
def test_diagnostics_count_only_enabled_logs_sent_to_a_workspace(logs, to_workspace, sent):
    workspace, account = res(WORKSPACE, "ws"), res(STORAGE, "archive")
    target = workspace if to_workspace else account
    stack = [workspace, account, _setting(workspace, workspace, [{"enabled": True, "category": "Audit"}])]
    stack += [_setting(account, target, logs, "archive-diag"), res(DIAGNOSTIC, "unrelated")]
    expected = [] if sent else [("archive", "sends no logs to the stack's Log Analytics workspace")]
    assert check("CTY-OBS-001", *stack) == expected


CATEGORIES = ["Administrative", "Security", "Policy", "ServiceHealth"]


def test_activity_log_needs_every_category_sent_to_a_workspace():
    workspace, account = res(WORKSPACE, "ws"), res(STORAGE, "archive")

    def setting(target: Resource, categories: list[str] | None) -> Resource:
        logs = None if categories is None else [{"category": c, "enabled": True} for c in categories]
        return res(
            SUBSCRIPTION_DIAGNOSTIC,
            "activity",
            {} if logs is None else {"logs": logs},
            {"workspaceId": [target.urn]},
        )

    missing = f"no subscription diagnostic setting sends {CATEGORIES} to this stack's workspace"
    assert check("CTY-OBS-002", workspace, setting(workspace, CATEGORIES)) == []
    assert check("CTY-OBS-002", workspace, account, setting(account, CATEGORIES)) == [("ws", missing)]
    assert check("CTY-OBS-002", workspace, setting(workspace, None)) == [("ws", missing)]
    assert check("CTY-OBS-002") == [("stack", missing)]


def test_health_alerts_count_enabled_alerts_with_a_receiver_and_a_replica_needs_lag():
    group = res(ACTION_GROUP, "ag", {"emailReceivers": [{"name": "oncall"}]})
    replica = res(SERVER, "k-g1", {"createMode": "Replica"})
    metrics = ["cpu_percent", "memory_percent", "storage_percent", "is_db_alive"]
    alert = res(
        METRIC_ALERT,
        "health",  # no `enabled` key: Azure's default is enabled
        {"criteria": {"allOf": [{"metricName": m} for m in metrics]}},
        {"scopes": [replica.urn], "actions": [group.urn]},
    )
    disabled = res(METRIC_ALERT, "off", {"enabled": False}, {"scopes": [replica.urn], "actions": [group.urn]})
    no_action = res(METRIC_ALERT, "silent", {}, {"scopes": [replica.urn]})
    no_criteria = res(METRIC_ALERT, "bare", {}, {"scopes": [replica.urn], "actions": [group.urn]})
    # The alerts to skip come before the one that counts: skipping must not end the server's check.
    assert check("CTY-OBS-003", group, replica, disabled, no_action, alert, no_criteria) == [
        ("k-g1", "no alert reaching a receiver on ['physical_replication_delay_in_seconds']")
    ]


def _health_alert(name: str, regions: list[str], category: str = "ServiceHealth") -> Resource:
    conditions: list[dict[str, Any]] = [
        {"field": "category", "equals": category},
        {"containsAny": ["ignored"]},  # a condition without a field
        {"field": "properties.impactedServices[*].ImpactedRegions[*].RegionName", "containsAny": regions},
    ]
    return res(ACTIVITY_ALERT, name, {"condition": {"allOf": conditions}})


@pytest.mark.parametrize(
    "alerts, groups, expected",
    [
        ([_health_alert("a", ["Australia East"]), _health_alert("b", ["Australia Southeast"])], ["ag"], []),
        (
            [_health_alert("a", ["Australia East", "Australia Southeast"], category="Administrative")],
            ["ag"],
            [("ag", "no Service Health alert for ['Australia East', 'Australia Southeast']")],
        ),
        (
            [_health_alert("a", ["Australia East"]), res(ACTIVITY_ALERT, "empty")],
            [],
            [("stack", "no Service Health alert for ['Australia Southeast']")],
        ),
    ],
)
def test_service_health_covers_both_regions(alerts, groups, expected):
    action_groups = [res(ACTION_GROUP, g) for g in groups]
    regions = ["australiaeast", "australiasoutheast"]
    assert check("CTY-OBS-004", *alerts, *action_groups, regions=regions) == expected


def test_service_health_with_no_region_at_all():
    assert check("CTY-OBS-004") == [("stack", "no Service Health alert for any region")]


# --- tagging ----------------------------------------------------------------------------------------


def test_tag_values_outside_the_allowed_ones_are_named():
    vault = res(VAULT, "kv", {"tags": {"data-classification": "secret", "dr-role": "primary"}})
    assert check("CTY-TAG-001", vault, requiredTags=["owner"]) == [
        ("kv", "missing tag(s) ['owner']"),
        (
            "kv",
            "tag data-classification='secret' is not one of ['public', 'internal', 'confidential', 'restricted']",
        ),
    ]


# --- network ---------------------------------------------------------------------------------------

SERVER_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/psql-k"


def _endpoint(name: str, connection: dict[str, Any], deps: list[str] | None = None, location="australiaeast"):
    return res(
        PRIVATE_ENDPOINT,
        name,
        {"location": location, "privateLinkServiceConnections": [connection]},
        {"privateLinkServiceConnections": deps} if deps is not None else None,
    )


@pytest.mark.parametrize(
    "store_props, connection, deps",
    [
        ({"serverName": "psql-k"}, {"privateLinkServiceId": SERVER_ID}, None),  # named as text
        ({"vaultName": "kv-x"}, {"privateLinkServiceId": "/x/vaults/kv-x"}, None),
        ({"accountName": "starch"}, {"privateLinkServiceId": "/x/storageAccounts/starch"}, None),
        ({"serverName": "psql-k"}, {}, ["STORE"]),  # through the store's outputs
    ],
)
def test_a_private_endpoint_reaches_its_store_by_id_or_by_outputs(store_props, connection, deps):
    vnet = res(VNET, "vnet", {"location": "australiaeast"})
    store = res(SERVER, "k-g1", {"location": "australiaeast", **store_props})
    endpoint = _endpoint("pe", connection, [store.urn if d == "STORE" else d for d in deps or []] or None)
    other = _endpoint("pe-other", {"privateLinkServiceId": "/x/flexibleServers/psql-other"})
    assert check("CTY-NET-001", vnet, store, other, endpoint) == []
    assert check("CTY-NET-001", vnet, store, other) == [
        ("k-g1", "no private endpoint: with public access off nothing can reach it")
    ]


def test_an_endpoint_matching_by_urn_alone_is_enough():
    vnet = res(VNET, "vnet", {"location": "australiaeast"})
    store = res(STORAGE, "archive", {"location": "australiaeast"})  # no name known as text
    endpoint = _endpoint("pe", {}, [store.urn])
    assert check("CTY-NET-001", vnet, store, endpoint) == []


@pytest.mark.parametrize(
    "wanted, connection, satisfied",
    [
        ({"groupId": "vault"}, {"groupIds": ["vault"], "privateLinkServiceId": "/x/vaults/kvgeo-1"}, True),
        ({"namePrefix": "kvgeo-"}, {"groupIds": [""], "privateLinkServiceId": "/x/vaults/kvgeo-1"}, True),
        ({"groupId": "vault", "namePrefix": "kvgeo-"}, {"groupIds": ["vault"]}, False),
        ({"groupId": "vault", "namePrefix": "N"}, {"groupIds": ["vault"]}, False),
        ({"groupId": "vault", "namePrefix": "X"}, {"groupIds": ["vault"]}, False),
        ({"groupId": "vault"}, {"groupIds": ["vault"]}, True),  # no id: any name is the empty prefix's
    ],
)
def test_peer_endpoints_match_group_and_name_prefix(wanted, connection, satisfied):
    vnet = res(VNET, "vnet", {"location": "australiaeast"})
    endpoint = _endpoint("pe", connection)
    found = check("CTY-NET-001", vnet, endpoint, peerEndpoints=[wanted])
    expected = (
        []
        if satisfied
        else [
            (
                "vnet",
                f"no private endpoint ({wanted.get('groupId', '')}) for the peer's {wanted.get('namePrefix', '')}* in this region",
            )
        ]
    )
    assert found == expected


def test_address_spaces_with_host_bits_are_read_as_their_networks():
    vnet = res(VNET, "vnet", {"addressSpace": {"addressPrefixes": ["10.20.0.1/16"]}})
    assert check("CTY-NET-003", vnet, peerAddressSpace="10.30.0.1/16") == []
    assert check("CTY-NET-003", vnet, peerAddressSpace="10.20.128.1/17") == [
        (
            "vnet",
            "address space 10.20.0.1/16 overlaps the peer's 10.20.128.0/17: the networks cannot be peered",
        )
    ]


def test_writer_names_are_checked_for_every_server():
    first, second, third = (
        res(SERVER, f"{k}-g1", {"fullyQualifiedDomainName": f"psql-{k}.postgres.database.azure.com"})
        for k in ("a", "b", "c")
    )
    a_record = res(RECORD_SET, "b-writer", {"relativeRecordSetName": "b.writer", "recordType": "A"})
    by_text = res(
        RECORD_SET,
        "c-writer",
        {
            "relativeRecordSetName": "c.writer",
            "recordType": "CNAME",
            "ttl": 3600,
            "cnameRecord": {"cname": "psql-c.postgres.database.azure.com"},
        },
    )
    assert check("CTY-NET-004", first, second, third, a_record, by_text) == [
        ("a-g1", "no writer name a.writer: clients would need another host after a failover"),
        ("b-writer", "writer name b.writer is a A record, not a CNAME to the server's name"),
        (
            "c-writer",
            "writer name c.writer has TTL 3600: clients would keep the old writer for longer than 60 s after a failover",
        ),
    ]


# --- deployability --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "props, expected",
    [
        ({"highAvailability": {"mode": "Disabled"}, "sku": {"tier": "Burstable"}}, []),
        ({"sku": {"tier": "Burstable"}}, []),
        (
            {"highAvailability": {"mode": "SameZone"}, "sku": {"tier": "Burstable"}},
            ["high availability is not available on the Burstable tier"],
        ),
    ],
)
def test_ha_is_refused_on_burstable_only_when_requested(props, expected):
    assert messages("CTY-DEP-002", SERVER, props) == expected


@pytest.mark.parametrize(
    "props, expected",
    [
        (
            {"createMode": "Replica", "backup": {"geoRedundantBackup": "Enabled"}},
            ["geo-redundant backup is not supported on a read replica"],
        ),
        (
            {"createMode": "Replica", "highAvailability": {"mode": "SameZone"}},
            ["high availability is not supported on a read replica"],
        ),
        ({"createMode": "Replica", "highAvailability": {"mode": "Disabled"}}, []),
        ({"createMode": "Create", "backup": {"geoRedundantBackup": "Enabled"}}, []),
    ],
)
def test_replicas_request_neither_ha_nor_geo_backup(props, expected):
    assert messages("CTY-DEP-005", SERVER, props) == expected


@pytest.mark.parametrize(
    "type_, props, expected",
    [
        (
            SERVER,
            {"location": "australiasoutheast", "highAvailability": {"mode": "ZoneRedundant"}},
            ["zone-redundant HA in australiasoutheast, which has no availability zones"],
        ),
        (SERVER, {"location": "australiasoutheast", "highAvailability": {"mode": "SameZone"}}, []),
        (SERVER, {"location": "australiaeast", "highAvailability": {"mode": "ZoneRedundant"}}, []),
        (STORAGE, {"location": "australiasoutheast", "highAvailability": {"mode": "ZoneRedundant"}}, []),
        (SERVER, {"highAvailability": {"mode": "ZoneRedundant"}}, []),  # no location: nothing to judge
    ],
)
def test_zone_features_need_zones(type_, props, expected):
    assert messages("CTY-DEP-006", type_, props) == expected


def test_a_data_export_without_tables_exports_nothing_unexportable():
    assert messages("CTY-DEP-007", "azure-native:operationalinsights:DataExport", {}) == []


RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
SECRET = "azure-native:keyvault:Secret"


def _keyed_server(deps: list[str], geo: bool = False, type_: str = "AzureKeyVault") -> Resource:
    encryption = {"type": type_, **({"geoBackupKeyURI": "https://kvgeo/keys/k"} if geo else {})}
    return res(
        SERVER, "k-g1", {"location": "australiaeast", "dataEncryption": encryption}, {"dataEncryption": deps}
    )


def test_only_keys_in_vaults_count_as_the_servers_encryption_keys():
    home = res(VAULT, "kv", {"location": "australiaeast"})
    group = res(RESOURCE_GROUP, "rg", {"location": "australiaeast"})
    secret = res(SECRET, "secret", deps={"vaultName": [home.urn]})  # not a key
    far = res(VAULT, "kv-far", {"location": "westeurope"})
    key = res(KEY, "key", deps={"vaultName": [far.urn, group.urn]})  # the group is not a vault
    missing = "no encryption key in a vault in the server's region australiaeast"
    assert check("CTY-DEP-003", _keyed_server([secret.urn, key.urn]), home, group, secret, far, key) == [
        ("k-g1", missing)
    ]
    assert check("CTY-DEP-003", _keyed_server([], type_="SystemManaged")) == []


def test_the_geo_backup_key_regions_are_named_even_when_one_is_unknown():
    home, nowhere, far = (
        res(VAULT, name, {"location": location} if location else {})
        for name, location in (("kv", "australiaeast"), ("kv-unknown", None), ("kv-far", "westeurope"))
    )
    keys = [res(KEY, f"key-{v.name}", deps={"vaultName": [v.urn]}) for v in (home, nowhere, far)]
    server = _keyed_server([k.urn for k in keys], geo=True)
    assert check("CTY-DEP-003", server, home, nowhere, far, *keys, peerRegion="australiasoutheast") == [
        ("k-g1", "the geo-backup key is in [None, 'westeurope'], not in the peer region australiasoutheast")
    ]


def test_a_backup_instance_is_judged_against_its_backup_vault_only():
    vault = res(BACKUP_VAULT, "bv", {"location": "australiaeast"})
    group = res(RESOURCE_GROUP, "rg", {"location": "australiasoutheast"})
    server = res(SERVER, "k-g1", {"location": "australiaeast"})
    instance = res(
        "azure-native:dataprotection:BackupInstance",
        "bi",
        deps={"vaultName": [vault.urn, group.urn], "properties": [server.urn]},
    )
    assert check("CTY-DEP-004", vault, group, server, instance) == []


ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
BENEATH = (
    "the grant lies beneath a CanNotDelete lock: Azure refuses to delete it (lock-resources), so removing "
    "or moving it fails the update"
)


def _lock(
    name: str, target: Resource | None = None, level: str = "CanNotDelete", scope_id: str = ""
) -> Resource:
    props = {"level": level, **({"scope": scope_id} if scope_id else {})}
    return res(LOCK, name, props, {"scope": [target.urn]} if target else None)


def _grant(name: str, target: Resource | None = None, scope_id: str = "") -> Resource:
    props = {"scope": scope_id} if scope_id else {}
    return res(ROLE_ASSIGNMENT, name, props, {"scope": [target.urn]} if target else None)


def test_grants_beneath_locks_known_only_through_outputs():
    vault, other, workspace = res(VAULT, "kv"), res(VAULT, "kv-2"), res(WORKSPACE, "ws")
    key = res(KEY, "key", deps={"vaultName": [vault.urn]})
    locks = [
        _lock("read-only", other, level="ReadOnly"),  # not a delete lock, and listed first
        _lock("id-only", scope_id="/subscriptions/s/resourceGroups/rg"),  # no outputs to follow
        _lock("vault-lock", vault),
        _lock("workspace-lock", workspace),
    ]
    grants = [
        _grant("on-the-vault", vault),
        _grant("on-the-key", key),
        _grant("on-the-other-vault", other),
        _grant("on-nothing-known"),
    ]
    found = check("CTY-DEP-008", vault, other, workspace, key, *locks, *grants)
    assert found == [("on-the-vault", BENEATH), ("on-the-key", BENEATH)]


def test_grants_beneath_locks_known_by_id():
    vault_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
    unlocked = res(VAULT, "kv-unlocked")
    locks = [_lock("vault-lock", scope_id=vault_id)]
    grants = [
        _grant("on-the-vault", scope_id=vault_id),
        _grant("on-a-key", scope_id=f"{vault_id}/keys/k"),
        _grant("on-a-sibling", scope_id=f"{vault_id}-2"),  # shares the text, not the path
        _grant("by-id-and-outputs", unlocked, scope_id=f"{vault_id}/keys/k"),
    ]
    found = check("CTY-DEP-008", unlocked, *locks, *grants)
    assert found == [("on-the-vault", BENEATH), ("on-a-key", BENEATH), ("by-id-and-outputs", BENEATH)]


PEER = {"knowledge": {"sku": "Standard_D4ds_v5", "tier": "GeneralPurpose", "storageGb": 256, "version": "16"}}


def _replica(**changes: Any) -> dict[str, Any]:
    props = {
        "createMode": "Replica",
        "sku": {"name": "Standard_D4ds_v5", "tier": "GeneralPurpose"},
        "storage": {"storageSizeGB": 256},
        "version": "16",
    }
    props.update(changes)
    return props


def _fits(props: dict[str, Any], peer: dict[str, Any]) -> list[str]:
    return [m for _, m in check("CTY-DEP-009", res(SERVER, "knowledge-g1", props), peerServers=peer)]


def test_a_replica_without_a_peer_source_is_not_compared():
    assert _fits(_replica(), {}) == []
    assert _fits(_replica(), PEER) == []


def test_a_replica_of_unknown_size_is_compared_as_zero():
    assert _fits(_replica(storage={}), PEER) == [
        "this replica cannot serve its source: 0 GiB storage is less than the source's 256 GiB"
    ]
    peer_without_storage = {"knowledge": {**PEER["knowledge"], "storageGb": None}}
    assert _fits(_replica(storage={}), peer_without_storage) == []


def test_sizes_that_cannot_be_compared_are_reported():
    unknown = {"knowledge": {**PEER["knowledge"], "sku": "Standard_Z9"}}
    (message,) = _fits(_replica(), unknown)
    assert message.startswith(
        "this replica cannot serve its source: sizes cannot be compared: "
        "SKU Standard_Z9 is not in the platform's SKU table"
    )


# --- restore paths for a regional loss (continuity matrix) ---------------------------------------

INSTANCE = "azure-native:dataprotection:BackupInstance"
GEO_VAULT = {
    "properties": {
        "featureSettings": {"crossRegionRestoreSettings": {"state": "Enabled"}},
        "storageSettings": [{"type": "GeoRedundant", "datastoreType": "VaultStore"}],
    }
}


def weekly_policy(*intervals: str) -> dict[str, Any]:
    rules = [{"name": "Default"}, {"trigger": {"schedule": {"repeatingTimeIntervals": list(intervals)}}}]
    return {"properties": {"policyRules": rules}}


def vault_path(vault_props: dict[str, Any] | None, policy_props: dict[str, Any] | None, linked: bool = True):
    server = res(SERVER, "s", {"backup": {"geoRedundantBackup": "Disabled"}, "tags": {"rpo": "1d"}})
    vault = res(BACKUP_VAULT, "vault", vault_props)
    policy = res(BACKUP_POLICY, "policy", policy_props)
    deps = {"properties": [server.urn, policy.urn], "vaultName": [vault.urn]} if linked else {}
    instance = res(INSTANCE, "instance", {}, deps)
    resources = [server, instance, policy] + ([vault] if vault_props is not None else [])
    (assessment,) = assess(stack_of(resources), {"mechanismFigures": {}, "replicatedDatabases": []})
    geo, vault_path, pitr = assessment.restore_paths
    assert (geo.path, geo.available, geo.rpo) == ("geoRestore", False, 3600)  # Microsoft's figure, unused
    assert (pitr.path, pitr.available, pitr.note) == ("pointInTimeRestore", False, "same region only")
    return vault_path, assessment.target_rpo


@pytest.mark.parametrize(
    ("vault", "policy", "linked", "available", "rpo", "note"),
    [
        (GEO_VAULT, weekly_policy("R/2024-01-07T02:00:00+00:00/P1W"), True, True, 604800,
         "a recovery point every 168h, restorable in the paired region"),
        (GEO_VAULT, weekly_policy("not an interval", "R/2024-01-01T00:00:00+00:00/P1D"), True, True, 86400,
         "a recovery point every 24h, restorable in the paired region"),
        (GEO_VAULT, weekly_policy("R/x/P1X"), True, True, None, "schedule unknown, restorable in the paired region"),
        ({"properties": {**GEO_VAULT["properties"], "storageSettings": [{"type": "LocallyRedundant"}]}},
         weekly_policy("R/x/P1W"), True, False, 604800,
         "a recovery point every 168h, but the vault is not geo-redundant with cross-region restore"),
        ({"properties": {**GEO_VAULT["properties"], "featureSettings": {}}}, weekly_policy("R/x/P1W"), True, False,
         604800, "a recovery point every 168h, but the vault is not geo-redundant with cross-region restore"),
        (None, weekly_policy("R/x/P1W"), True, False, 604800,
         "a recovery point every 168h, but the vault is not geo-redundant with cross-region restore"),
        (GEO_VAULT, weekly_policy("R/x/P1W"), False, False, None, "no backup instance for this server"),
    ],
)  # fmt: skip
def test_the_backup_vault_as_a_restore_path(vault, policy, linked, available, rpo, note):
    path, target = vault_path(vault, policy, linked)
    assert (path.path, path.available, path.rpo, path.note) == ("backupVault", available, rpo, note)
    assert path.backs(target) is (available and rpo is not None and rpo <= target)


def test_a_restore_path_backs_a_target_only_when_it_exists_and_is_within_it():
    from policies.rules.continuity import RestorePath

    path = RestorePath("geoRestore", True, 3600, "")
    assert path.backs(3600) and not path.backs(3599) and not path.backs(None)
    assert not RestorePath("geoRestore", False, 60, "").backs(3600)
    assert not RestorePath("backupVault", True, None, "").backs(3600)


def test_geo_restore_as_a_restore_path_follows_the_servers_geo_backup():
    for setting, available, note in [
        ("Enabled", True, "from the geo-redundant backup copy"),
        ("Disabled", False, "no geo-redundant backup (set only at creation)"),
    ]:
        server = res(SERVER, "s", {"backup": {"geoRedundantBackup": setting}, "tags": {"rpo": "2h"}})
        figures = {"mechanismFigures": {"geoRestore": {"rto": 1, "rpo": 5400}}, "replicatedDatabases": []}
        (assessment,) = assess(stack_of([server]), figures)
        geo = assessment.restore_paths[0]
        assert (geo.path, geo.available, geo.rpo, geo.note) == ("geoRestore", available, 5400, note)
        assert geo.backs(assessment.target_rpo) is available


def test_the_vault_a_backup_instance_names_is_the_one_judged():
    server = res(SERVER, "s", {"tags": {"rpo": "30d"}})
    linked = res(BACKUP_VAULT, "linked", GEO_VAULT)
    other = res(BACKUP_VAULT, "other", {"properties": {"storageSettings": [{"type": "LocallyRedundant"}]}})
    policy = res(BACKUP_POLICY, "policy", weekly_policy("R/x/P1W"))
    # Only a vault among what feeds `vaultName` counts (here the server feeds it too).
    instance = res(
        INSTANCE, "i", {}, {"properties": [server.urn, policy.urn], "vaultName": [linked.urn, server.urn]}
    )
    (assessment,) = assess(stack_of([server, other, linked, policy, instance]), {})
    vault = assessment.restore_paths[1]
    assert (vault.available, vault.rpo) == (True, 604800) and vault.backs(assessment.target_rpo)
    # A vault named only as text: the stack's vault stands in; without a linked policy the schedule is unknown.
    unlinked = res(INSTANCE, "i", {}, {"properties": [server.urn]})
    (assessment,) = assess(stack_of([server, linked, unlinked]), {})
    vault = assessment.restore_paths[1]
    assert (vault.available, vault.rpo, vault.note) == (
        True,
        None,
        "schedule unknown, restorable in the paired region",
    )
    assert not vault.backs(assessment.target_rpo)


# --- CTY-SLA-003: error-budget alerts ------------------------------------------------------------

LOG_ALERT = "azure-native:monitor:ScheduledQueryRule"


def _objective_server(name: str, objective: str = "99.95", **props: Any) -> Resource:
    return res(
        SERVER,
        name,
        {
            "createMode": "Create",
            "serverName": f"psql-{name}",
            "tags": {"availability-objective": objective},
            "maintenanceWindow": {
                "customWindow": "Enabled",
                "dayOfWeek": 0,
                "startHour": 3,
                "startMinute": 5,
            },
            **props,
        },
    )


def _budget_alert(name: str, server: str, severity: int = 1, group: str = "g", **props: Any) -> Resource:
    from components import kql

    query = kql.burn_rate(
        server, objective=99.95, window_start=185, long_minutes=60, short_minutes=5, burn=14.4
    )
    return res(
        LOG_ALERT,
        name,
        {
            "enabled": True,
            "severity": severity,
            "ruleName": name,
            "criteria": {"allOf": [{"query": query}]},
            **props,
        },
        deps={"actions": [f"urn:pulumi:prod::continuity::{ACTION_GROUP}::{group}"]},
    )


def _webhook_group(name: str = "g") -> Resource:
    return res(ACTION_GROUP, name, {"webhookReceivers": [{"name": "hook"}]})


def test_error_budget_alerts_reaching_a_webhook_only_group_count():
    assert check("CTY-SLA-003", _webhook_group(), _objective_server("k"), _budget_alert("a", "PSQL-K")) == []
    silent = res(ACTION_GROUP, "g", {"emailReceivers": [], "webhookReceivers": []})
    assert check("CTY-SLA-003", silent, _objective_server("k"), _budget_alert("a", "psql-k")) == [
        ("k", "no enabled error-budget alert reaching a receiver measures this server")
    ]


def test_every_writable_server_is_judged_not_only_the_first():
    found = check(
        "CTY-SLA-003",
        _webhook_group(),
        _objective_server("bad", objective="four nines"),  # CTY-SLA-001 names it; this rule moves on
        _objective_server("plain", tags={}),  # no objective: nothing to watch
        _objective_server("k"),
        _objective_server("k2"),
        _budget_alert("a", "psql-other"),
    )
    assert found == [
        ("k", "no enabled error-budget alert reaching a receiver measures this server"),
        ("k2", "no enabled error-budget alert reaching a receiver measures this server"),
    ]


def test_a_server_without_a_name_is_watched_by_no_alert():
    server = _objective_server("k")
    del server.props["serverName"]
    assert check(
        "CTY-SLA-003", _webhook_group(), server, _budget_alert("a", "xxxx"), _budget_alert("b", "none")
    ) == [("k", "no enabled error-budget alert reaching a receiver measures this server")]


def test_alerts_without_criteria_query_or_actions_are_passed_over():
    bare = res(LOG_ALERT, "bare", {"enabled": True, "severity": 1})
    group = [f"urn:pulumi:prod::continuity::{ACTION_GROUP}::g"]
    no_query = res(
        LOG_ALERT,
        "nq",
        {"enabled": True, "severity": 1, "criteria": {"allOf": [{}]}},
        deps={"actions": group},
    )
    no_criteria = res(LOG_ALERT, "nc", {"enabled": True, "severity": 1}, deps={"actions": group})
    no_actions = _budget_alert("na", "psql-k")
    no_actions.property_dependencies.clear()  # type: ignore[attr-defined]
    found = check(
        "CTY-SLA-003", _webhook_group(), _objective_server("k"), bare, no_query, no_criteria, no_actions
    )
    assert found == [("k", "no enabled error-budget alert reaching a receiver measures this server")]


def test_the_second_alert_is_judged_after_a_first_that_does_not_measure_the_server():
    found = check(
        "CTY-SLA-003",
        _webhook_group(),
        _objective_server("k"),
        _budget_alert("other", "psql-x"),
        _budget_alert("a", "psql-k"),
    )
    assert found == []


@pytest.mark.parametrize(
    "severities, pages",
    [((0,), True), ((1,), True), ((2,), False), ((2, 1), True), ((None,), False)],
)
def test_an_alert_pages_at_severity_0_or_1_and_an_unset_severity_is_verbose(severities, pages):
    alerts = []
    for number, severity in enumerate(severities):
        alert = _budget_alert(f"a{number}", "psql-k", severity=severity or 0)
        if severity is None:
            del alert.props["severity"]
        alerts.append(alert)
    found = check("CTY-SLA-003", _webhook_group(), _objective_server("k"), *alerts)
    assert found == ([] if pages else [("k", "no error-budget alert pages (severity 0 or 1)")])


def test_a_window_a_few_minutes_past_the_hour_is_compared_to_the_minute():
    later = _objective_server(
        "k", maintenanceWindow={"customWindow": "Enabled", "dayOfWeek": 0, "startHour": 3, "startMinute": 10}
    )
    assert check("CTY-SLA-003", _webhook_group(), later, _budget_alert("a", "psql-k")) == [
        ("k", "alert a excludes maintenance from minute 185 of the week; the server's window starts at 190")
    ]
    assert check("CTY-SLA-003", _webhook_group(), _objective_server("k"), _budget_alert("a", "psql-k")) == []


# --- CTY-ISO-001/002: project principals and the project-secrets vault ------------------------------


ATLAS, BOREALIS = "7c1e2a40-3b5d-4f6e-8a9b-0c1d2e3f4a51", "9d3f4b62-5c7e-4a8f-9b0c-1d2e3f4a5b62"
PROJECTS = {"atlas": ATLAS, "borealis": BOREALIS}
SECRET = "azure-native:keyvault:Secret"
PVAULT_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kvprj"


def _pvault() -> Resource:
    return res(VAULT, "pv", {"tags": {"purpose": "project-secrets"}})


def _pgrant(
    name: str,
    principal: str | None,
    secret: str | None,
    role: str | None = KEY_VAULT_SECRETS_USER,
    scope=None,
) -> Resource:
    props: dict[str, Any] = {
        "scope": scope if scope is not None else (f"{PVAULT_ID}/secrets/{secret}" if secret else PVAULT_ID)
    }
    if principal is not None:
        props["principalId"] = principal
    if role is not None:
        props["roleDefinitionId"] = (
            f"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{role}"
        )
    return res(ROLE_ASSIGNMENT, name, props, deps={"scope": [f"urn:pulumi:prod::continuity::{VAULT}::pv"]})


def _psecret(name: str, project: str | None, in_vault: bool = True) -> Resource:
    return res(
        SECRET,
        name,
        {"secretName": name, "tags": {"project": project} if project else {}},
        deps={"vaultName": [f"urn:pulumi:prod::continuity::{VAULT}::pv"]} if in_vault else {},
    )


@pytest.mark.parametrize(
    "role_id, ok",
    [
        (
            f"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{KEY_VAULT_SECRETS_USER}/",
            True,
        ),
        (KEY_VAULT_SECRETS_USER, True),  # a bare definition id
        (KEY_VAULT_SECRETS_USER.upper(), True),
        (
            "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
            False,
        ),
    ],
)
def test_the_secrets_user_role_is_read_from_any_form_of_its_definition_id(role_id, ok):
    grant = _pgrant("g", ATLAS, "project-atlas-key", role=None)
    grant.props["roleDefinitionId"] = role_id  # type: ignore[index]
    found = check("CTY-ISO-001", _pvault(), grant, projects=PROJECTS)
    assert (found == []) is ok, found


def test_a_project_grant_without_a_role_definition_is_named_as_such():
    found = check(
        "CTY-ISO-001", _pvault(), _pgrant("g", ATLAS, "project-atlas-key", role=None), projects=PROJECTS
    )
    assert found == [
        ("g", "project atlas's principal holds role of no definition, not Key Vault Secrets User")
    ]


def test_grants_to_others_and_unknown_scopes_are_left_to_other_rules():
    unknown_scope = _pgrant("u", ATLAS, None, scope={"unknown": True})  # not known until deployed
    found = check("CTY-ISO-001", _pvault(), _pgrant("other", None, None), unknown_scope, projects=PROJECTS)
    assert found == []
    assert check(
        "CTY-ISO-002", _pvault(), unknown_scope, _psecret("project-atlas-key", "atlas"), projects=PROJECTS
    ) == [
        (
            "project-atlas-key",
            f"readable by nobody; it must be readable by project atlas's principal ({ATLAS}) alone",
        )
    ]


def test_a_key_in_the_project_vault_is_refused_and_keys_elsewhere_are_not():
    key_here = res(KEY, "k", {}, deps={"vaultName": [f"urn:pulumi:prod::continuity::{VAULT}::pv"]})
    key_elsewhere = res(KEY, "k2", {})
    found = check("CTY-ISO-002", _pvault(), key_here, key_elsewhere, projects=PROJECTS)
    assert found == [
        ("k", "a key in the project-secrets vault, which is unlocked and meant for project secrets only")
    ]


def test_every_secret_of_the_project_vault_is_judged_after_one_that_is_not_a_project_s():
    found = check(
        "CTY-ISO-002",
        _pvault(),
        _psecret("stray", None),
        _psecret("elsewhere", None, in_vault=False),
        _psecret("project-borealis-key", "borealis"),
        _pgrant("nameless", None, "project-borealis-key"),
        projects=PROJECTS,
    )
    assert found == [
        ("stray", "not a project secret (tag project=None names no project of the stack)"),
        (
            "project-borealis-key",
            f"readable by ['']; it must be readable by project borealis's principal ({BOREALIS}) alone",
        ),
    ]


def test_a_vault_of_other_secrets_before_the_project_vault_does_not_end_the_check():
    """Stacks list resources in registration order, which renders do not fix: the project vault
    may come after any other vault."""
    found = check("CTY-ISO-002", res(VAULT, "kv", {}), _pvault(), _psecret("stray", None), projects=PROJECTS)
    assert found == [("stray", "not a project secret (tag project=None names no project of the stack)")]
