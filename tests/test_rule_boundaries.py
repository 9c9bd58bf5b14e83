"""Every numeric threshold of the policy rules, at and around its boundary.

Each rule is run in-process (policies.rules.evaluate) on the smallest resource that reaches the
check, with its default configuration and with configured values, so that `<` against `<=`, a
wrong default or a missing branch changes a result here.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.neutral import as_stack
from policies.rules import REGISTRY
from policies.rules.continuity import assess
from policies.rules.facts import (
    BACKUP_POLICY,
    BACKUP_VAULT,
    DATA_EXPORT,
    DIAGNOSTIC,
    FIREWALL_RULE,
    KEY,
    MANAGEMENT_POLICY,
    SERVER,
    STORAGE,
    SUBSCRIPTION_DIAGNOSTIC,
    TABLE,
    VAULT,
    WORKSPACE,
)
from policies.rules.model import Resource, stack_of
from policy_cases import find, set_path

DAYS = st.integers(min_value=0, max_value=5000)


def found(rule_id: str, type_: str, props: dict[str, Any], **config: Any) -> list[str]:
    """The messages `rule_id` alone gives for one resource of `type_` with `props`, with `config`
    overriding its defaults (as a stack's pack config does)."""
    rule = REGISTRY[rule_id]
    resource = Resource(type=type_, urn=f"urn:pulumi:prod::continuity::{type_}::x", name="x", props=props)
    return [message for _, message in rule.check(stack_of([resource]), {**rule.defaults(), **config})]


def default(rule_id: str, name: str) -> Any:
    return REGISTRY[rule_id].defaults()[name]


# --- minimum-days rules: violation exactly when the value is below the minimum -------------------

MINIMUM_DAYS = [
    ("CTY-RET-001", WORKSPACE, "minDays", 90, lambda d: {"retentionInDays": d}),
    ("CTY-RET-002", TABLE, "minTotalDays", 365, lambda d: {"totalRetentionInDays": d, "tableName": "T"}),
    ("CTY-RET-004", SERVER, "minDays", 35, lambda d: {"backup": {"backupRetentionDays": d}}),
    (
        "CTY-RET-006",
        BACKUP_VAULT,
        "minDays",
        14,
        lambda d: {
            "properties": {
                "securitySettings": {"softDeleteSettings": {"state": "On", "retentionDurationInDays": d}}
            }
        },
    ),
    (
        "CTY-RET-007",
        STORAGE,
        "minDays",
        365,
        lambda d: {
            "immutableStorageWithVersioning": {
                "enabled": True,
                "immutabilityPolicy": {
                    "immutabilityPeriodSinceCreationInDays": d,
                    "state": "Unlocked",
                    "allowProtectedAppendWrites": True,
                },
            }
        },
    ),
    (
        "CTY-RET-008",
        VAULT,
        "minDays",
        90,
        lambda d: {"properties": {"softDeleteRetentionInDays": d, "enablePurgeProtection": True}},
    ),
    (
        "CTY-ENC-007",
        KEY,
        "minKeySize",
        3072,
        lambda d: {
            "properties": {
                "kty": "RSA-HSM",
                "keySize": d,
                "rotationPolicy": {"lifetimeActions": [{"action": {"type": "rotate"}}]},
            }
        },
    ),
]
IDS = [case[0] for case in MINIMUM_DAYS]


@pytest.mark.parametrize("rule_id, type_, name, expected_default, props", MINIMUM_DAYS, ids=IDS)
def test_default_minimum_is_the_documented_one(rule_id, type_, name, expected_default, props):
    assert default(rule_id, name) == expected_default
    assert found(rule_id, type_, props(expected_default)) == []
    (message,) = found(rule_id, type_, props(expected_default - 1))
    assert str(expected_default) in message


@pytest.mark.parametrize("rule_id, type_, name, expected_default, props", MINIMUM_DAYS, ids=IDS)
@given(value=DAYS, minimum=DAYS)
def test_minimum_rules_flag_exactly_the_values_below_the_minimum(
    rule_id, type_, name, expected_default, props, value, minimum
):
    messages = found(rule_id, type_, props(value), **{name: minimum})
    assert bool(messages) is (value < minimum), (value, minimum, messages)


@pytest.mark.parametrize(
    "rule_id, type_, props",
    [
        ("CTY-RET-001", WORKSPACE, {}),
        ("CTY-RET-002", TABLE, {"tableName": "T"}),
        ("CTY-RET-004", SERVER, {"backup": {}}),
    ],
)
def test_a_missing_retention_is_a_violation(rule_id, type_, props):
    assert found(rule_id, type_, props, **{next(iter(REGISTRY[rule_id].config)): 0})


def test_key_vault_soft_delete_defaults_to_azures_90_days_when_unset():
    purge = {"enablePurgeProtection": True}
    assert found("CTY-RET-008", VAULT, {"properties": purge}) == []
    assert found("CTY-RET-008", VAULT, {"properties": purge}, minDays=91)
    assert found("CTY-RET-008", VAULT, {"properties": {**purge, "enableSoftDelete": False}}) == [
        "soft delete is disabled"
    ]
    assert "purge protection is off" in found("CTY-RET-008", VAULT, {"properties": {}})[0]


@pytest.mark.parametrize("state, ok", [("On", True), ("AlwaysOn", True), ("Off", False), (None, False)])
def test_backup_vault_soft_delete_states(state, ok):
    settings = {"state": state, "retentionDurationInDays": 14}
    props = {"properties": {"securitySettings": {"softDeleteSettings": settings}}}
    assert (found("CTY-RET-006", BACKUP_VAULT, props) == []) is ok


def test_archive_immutability_checks_each_part():
    def props(**policy: Any) -> dict[str, Any]:
        base = {
            "immutabilityPeriodSinceCreationInDays": 365,
            "state": "Unlocked",
            "allowProtectedAppendWrites": True,
        }
        return {"immutableStorageWithVersioning": {"enabled": True, "immutabilityPolicy": {**base, **policy}}}

    assert found("CTY-RET-007", STORAGE, props()) == []
    assert found("CTY-RET-007", STORAGE, props(state="Locked")) == []
    assert found("CTY-RET-007", STORAGE, props(state="Disabled")) == ["the immutability policy is Disabled"]
    assert (
        "protected append writes are off"
        in found("CTY-RET-007", STORAGE, props(allowProtectedAppendWrites=False))[0]
    )
    assert found("CTY-RET-007", STORAGE, {"immutableStorageWithVersioning": {"enabled": False}}) == [
        "version-level immutability is not enabled"
    ]


@pytest.mark.parametrize(
    "kty, ok", [("RSA", True), ("RSA-HSM", True), ("EC", False), ("EC-HSM", False), (None, False)]
)
def test_key_type_must_wrap_a_data_key(kty, ok):
    props = {
        "properties": {
            "kty": kty,
            "keySize": 3072,
            "rotationPolicy": {"lifetimeActions": [{"action": {"type": "rotate"}}]},
        }
    }
    assert (found("CTY-ENC-007", KEY, props) == []) is ok


# --- long-term retention: each of Default, Monthly and Yearly against its own minimum ------------


def _policy(
    default_: str = "P3M", monthly: str | None = "P12M", yearly: str | None = "P7Y"
) -> dict[str, Any]:
    rules = [("Default", default_), ("Monthly", monthly), ("Yearly", yearly)]
    return {
        "properties": {
            "policyRules": [
                {
                    "objectType": "AzureRetentionRule",
                    "name": name,
                    "lifecycles": [{"deleteAfter": {"duration": kept}}],
                }
                for name, kept in rules
                if kept is not None
            ]
            + [{"objectType": "AzureBackupRule", "name": "BackupWeekly"}]
        }
    }


def test_long_term_retention_defaults():
    assert REGISTRY["CTY-RET-005"].defaults() == {
        "minDefaultDays": 90,
        "minMonthlyDays": 360,
        "minYearlyDays": 2555,
    }
    assert found("CTY-RET-005", BACKUP_POLICY, _policy()) == []


@pytest.mark.parametrize(
    "policy, expected",
    [
        (_policy(default_="P89D"), "Default backups kept P89D; at least 90 days are required"),
        (_policy(monthly="P11M"), "Monthly backups kept P11M; at least 360 days are required"),
        (_policy(yearly="P6Y"), "Yearly backups kept P6Y; at least 2555 days are required"),
        (_policy(monthly=None), "no Monthly retention rule"),
        (_policy(yearly=None), "no Yearly retention rule"),
    ],
)
def test_long_term_retention_flags_each_rule_on_its_own(policy, expected):
    assert found("CTY-RET-005", BACKUP_POLICY, policy) == [expected]


def test_long_term_retention_boundaries_are_inclusive():
    assert found("CTY-RET-005", BACKUP_POLICY, _policy(default_="P90D")) == []
    assert found("CTY-RET-005", BACKUP_POLICY, _policy(monthly="P12M"), minMonthlyDays=360) == []
    assert found("CTY-RET-005", BACKUP_POLICY, _policy(monthly="P12M"), minMonthlyDays=361)


# --- Azure's accepted ranges (CTY-DEP-001) -------------------------------------------------------

SIZES = "[32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767]"


def _server(days: Any, size: Any = 32) -> dict[str, Any]:
    return {"backup": {"backupRetentionDays": days}, "storage": {"storageSizeGB": size}}


def _backup_vault(days: Any) -> dict[str, Any]:
    return {"properties": {"securitySettings": {"softDeleteSettings": {"retentionDurationInDays": days}}}}


def _archive(days: Any) -> dict[str, Any]:
    return {
        "immutableStorageWithVersioning": {
            "immutabilityPolicy": {"immutabilityPeriodSinceCreationInDays": days}
        }
    }


@pytest.mark.parametrize(
    "type_, props, messages",
    [
        (SERVER, _server(7), []),
        (SERVER, _server(35, 32767), []),
        (SERVER, _server(6), ["backupRetentionDays 6 is outside 7..35"]),
        (SERVER, _server(36), ["backupRetentionDays 36 is outside 7..35"]),
        (SERVER, _server(7, 100), [f"storage size 100 GiB is not one of {SIZES}"]),
        (
            SERVER,
            {},
            ["backupRetentionDays None is outside 7..35", f"storage size None GiB is not one of {SIZES}"],
        ),
        (WORKSPACE, {"retentionInDays": 30}, []),
        (WORKSPACE, {"retentionInDays": 730}, []),
        (WORKSPACE, {"retentionInDays": 29}, ["workspace retention 29 is outside 30..730 days"]),
        (WORKSPACE, {"retentionInDays": 731}, ["workspace retention 731 is outside 30..730 days"]),
        (TABLE, {"retentionInDays": 4, "totalRetentionInDays": 4}, []),
        (TABLE, {"retentionInDays": 730, "totalRetentionInDays": 730}, []),
        (TABLE, {"retentionInDays": 90}, []),
        (TABLE, {"retentionInDays": 3}, ["table retention 3 is outside 4..730 days"]),
        (TABLE, {"retentionInDays": 731}, ["table retention 731 is outside 4..730 days"]),
        (
            TABLE,
            {"retentionInDays": 90, "totalRetentionInDays": 731},
            ["total retention 731 days is not 4..730 or a whole number of years up to 4383"],
        ),
        (TABLE, {"retentionInDays": 90, "totalRetentionInDays": 1095}, []),
        (TABLE, {"retentionInDays": 90, "totalRetentionInDays": 4383}, []),
        (
            TABLE,
            {"retentionInDays": 90, "totalRetentionInDays": 4384},
            ["total retention 4384 days is not 4..730 or a whole number of years up to 4383"],
        ),
        (
            TABLE,
            {"retentionInDays": 90, "totalRetentionInDays": 60},
            ["total retention 60 is below interactive retention 90"],
        ),
        (TABLE, {"retentionInDays": 90, "totalRetentionInDays": 90}, []),
        (BACKUP_VAULT, _backup_vault(14), []),
        (BACKUP_VAULT, _backup_vault(180), []),
        (BACKUP_VAULT, _backup_vault(13), ["soft delete retention 13 is outside 14..180 days"]),
        (BACKUP_VAULT, _backup_vault(181), ["soft delete retention 181 is outside 14..180 days"]),
        (BACKUP_VAULT, {}, ["soft delete retention None is outside 14..180 days"]),
        (STORAGE, _archive(1), []),
        (STORAGE, _archive(146000), []),
        (STORAGE, {}, []),  # no immutability policy: nothing for this rule to check
        (STORAGE, _archive(0), ["immutability period 0 is outside 1..146000 days"]),
        (STORAGE, _archive(146001), ["immutability period 146001 is outside 1..146000 days"]),
        (VAULT, {"properties": {"softDeleteRetentionInDays": 7}}, []),
        (VAULT, {"properties": {"softDeleteRetentionInDays": 90}}, []),
        (VAULT, {"properties": {}}, []),  # unset: Azure's default of 90 days
        (
            VAULT,
            {"properties": {"softDeleteRetentionInDays": 6}},
            ["soft delete retention 6 is outside 7..90 days"],
        ),
        (
            VAULT,
            {"properties": {"softDeleteRetentionInDays": 91}},
            ["soft delete retention 91 is outside 7..90 days"],
        ),
    ],
)
def test_values_azure_accepts(type_, props, messages):
    assert found("CTY-DEP-001", type_, props) == messages


# --- stack rules on the real renders ----------------------------------------------------------------


def _stack_messages(rendering, rule_id: str, **config: Any) -> list[str]:
    rule = REGISTRY[rule_id]
    return [message for _, message in rule.check(as_stack(rendering), {**rule.defaults(), **config})]


def _with(rendering, type_: str, name: str, path: str, value: Any):
    copy_ = copy.deepcopy(rendering)
    set_path(find(copy_, type_, name), path, value)
    return copy_


LAG_ALERT = (
    "azure-native:monitor:MetricAlert",
    "alerts-knowledge-g1-replication-lag",
    "criteria.allOf.0.threshold",
)


@pytest.mark.parametrize(
    "threshold, expected",
    [
        (899, None),  # one second inside the 15 min RPO
        (900, "lag alert fires at 900s, not before the 15min RPO is lost"),
        (120, None),  # two heartbeats: the floor itself
        (119, "lag alert fires at 119s, below 120s"),
    ],
)
def test_lag_alert_must_fire_before_the_rpo_and_not_between_heartbeats(dr, threshold, expected):
    messages = _stack_messages(_with(dr, *LAG_ALERT, threshold), "CTY-CON-002")
    if expected is None:
        assert messages == []
    else:
        assert len(messages) == 1 and messages[0].startswith(expected)


def test_lag_alert_floor_follows_the_pack_config(dr):
    weakened = _with(dr, *LAG_ALERT, 300)
    assert _stack_messages(weakened, "CTY-CON-002", minThresholdSeconds=300) == []
    assert _stack_messages(weakened, "CTY-CON-002", minThresholdSeconds=301)


WRITER_NAME = ("azure-native:privatedns:PrivateRecordSet", "knowledge-writer-name", "ttl")


@given(ttl=st.integers(min_value=0, max_value=3600), limit=st.integers(min_value=0, max_value=3600))
def test_writer_name_ttl_is_flagged_exactly_above_the_limit(prod, ttl, limit):
    messages = _stack_messages(_with(prod, *WRITER_NAME, ttl), "CTY-NET-004", maxTtlSeconds=limit)
    about_ttl = [m for m in messages if m.startswith("writer name knowledge.writer has TTL")]
    assert bool(about_ttl) is (ttl > limit)


@pytest.mark.parametrize("ttl", [None, "30", True])
def test_a_writer_name_without_a_numeric_ttl_is_flagged(prod, ttl):
    messages = _stack_messages(_with(prod, *WRITER_NAME, ttl), "CTY-NET-004")
    assert any(m.startswith(f"writer name knowledge.writer has TTL {ttl}") for m in messages)


# --- network access: every branch, with and without allowed ranges ---------------------------------

ALLOWED = ["203.0.113.0/24"]


@pytest.mark.parametrize(
    "props, allowed, messages",
    [
        (
            {"properties": {"publicNetworkAccess": "Disabled", "networkAcls": {"defaultAction": "Allow"}}},
            [],
            [],
        ),
        (
            {"properties": {"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Allow"}}},
            [],
            ["public network access is open to every address"],
        ),
        ({"properties": {}}, [], ["public network access is open to every address"]),
        (
            {
                "properties": {
                    "networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}]}
                }
            },
            ALLOWED,
            [],
        ),
        (
            {
                "properties": {
                    "networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "198.51.100.7"}]}
                }
            },
            ALLOWED,
            ["address ranges ['198.51.100.7'] are not in the allowed list"],
        ),
    ],
)
def test_key_vault_network(props, allowed, messages):
    assert found("CTY-ACC-002", VAULT, props, allowedCidrs=allowed) == messages


@pytest.mark.parametrize(
    "value, storage_message, vault_message",
    [
        ("203.0.113.7", None, None),
        ("203.0.113.0/30", None, None),
        (
            "203.0.113.7/32",
            "IP rule 203.0.113.7/32: storage takes no /31 or /32 prefix; write the addresses alone",
            None,
        ),
        (
            "203.0.113.6/31",
            "IP rule 203.0.113.6/31: storage takes no /31 or /32 prefix; write the addresses alone",
            None,
        ),
        (
            "10.1.2.3",
            "IP rule 10.1.2.3 overlaps the private range 10.0.0.0/8, which Azure refuses in IP rules",
            "same",
        ),
        (
            "172.31.0.0/16",
            "IP rule 172.31.0.0/16 overlaps the private range 172.16.0.0/12, which Azure refuses in IP rules",
            "same",
        ),
        (
            "192.168.0.1/32",
            "IP rule 192.168.0.1/32 overlaps the private range 192.168.0.0/16, which Azure refuses in IP rules",
            "same",
        ),
        ("not-an-address", None, None),  # CTY-ACC-002/004 name it
        (
            "10.1.2.3/16",
            "IP rule 10.1.2.3/16 overlaps the private range 10.0.0.0/8, which Azure refuses in IP rules",
            "same",
        ),
    ],
)
def test_ip_rules_azure_refuses_are_named(value, storage_message, vault_message):
    vault_message = storage_message if vault_message == "same" else vault_message
    account = {"networkRuleSet": {"ipRules": [{"iPAddressOrRange": value}]}}
    vault = {"properties": {"networkAcls": {"ipRules": [{"value": value}]}}}
    assert found("CTY-DEP-001", STORAGE, account) == ([storage_message] if storage_message else [])
    assert found("CTY-DEP-001", VAULT, vault) == ([vault_message] if vault_message else [])


@pytest.mark.parametrize(
    "rule_value, allowed, inside",
    [
        ("203.0.113.7", ["203.0.113.7/32"], True),  # a /32 is written as its address
        ("203.0.113.7/32", ["203.0.113.7"], True),
        ("198.51.100.7", ["198.51.100.6/31"], True),  # a /31 as its two addresses
        ("192.0.2.0/24", ["192.0.2.9/24"], True),  # host bits in config, the network in the rule
        ("203.0.113.0/25", ["203.0.113.0/24"], True),
        ("203.0.113.0/24", ["203.0.113.0/25"], False),  # wider than what is allowed
        ("203.0.113.128/25", ["203.0.113.0/25"], False),
        ("203.0.114.0", ["203.0.113.0/24"], False),
        ("203.0.113.7", ["198.51.100.0/24", "203.0.113.0/24"], True),  # any allowed range
        ("not-an-address", ["203.0.113.0/24"], False),
        ("2001:db8::/32", ["203.0.113.0/24", "2001:db8::/16"], False),  # Azure's IP rules are IPv4
        ("203.0.113.7", [], False),
    ],
)
def test_an_ip_rule_passes_exactly_when_an_allowed_range_holds_it(rule_value, allowed, inside):
    vault = {"properties": {"networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": rule_value}]}}}
    account = {
        "allowBlobPublicAccess": False,
        "allowSharedKeyAccess": False,
        "networkRuleSet": {"defaultAction": "Deny", "ipRules": [{"iPAddressOrRange": rule_value}]},
    }
    expected = [] if inside else [f"address ranges ['{rule_value}'] are not in the allowed list"]
    assert found("CTY-ACC-002", VAULT, vault, allowedCidrs=allowed) == expected
    assert found("CTY-ACC-004", STORAGE, account, allowedCidrs=allowed) == expected


@pytest.mark.parametrize(
    "props, allowed, messages",
    [
        (
            {
                "allowBlobPublicAccess": False,
                "allowSharedKeyAccess": False,
                "publicNetworkAccess": "Disabled",
            },
            [],
            [],
        ),
        (
            {
                "allowBlobPublicAccess": False,
                "allowSharedKeyAccess": False,
                "networkRuleSet": {
                    "defaultAction": "Deny",
                    "ipRules": [{"iPAddressOrRange": "203.0.113.0/24"}],
                },
            },
            ALLOWED,
            [],
        ),
        (
            {"networkRuleSet": {"defaultAction": "Allow", "ipRules": [{"iPAddressOrRange": "198.51.100.7"}]}},
            ALLOWED,
            [
                "anonymous blob access is allowed",
                "shared-key (account key) authorization is allowed",
                "every network can reach the account",
                "address ranges ['198.51.100.7'] are not in the allowed list",
            ],
        ),
    ],
)
def test_storage_exposure(props, allowed, messages):
    assert found("CTY-ACC-004", STORAGE, props, allowedCidrs=allowed) == messages


def _firewall_stack(start: str | None, end: str | None, public: str = "Enabled") -> Any:
    server = Resource(
        type=SERVER,
        urn="urn:pulumi:prod::continuity::srv::knowledge-g1",
        name="knowledge-g1",
        props={"serverName": "psql-k", "resourceGroupName": "rg", "network": {"publicNetworkAccess": public}},
    )
    rule_props = {"serverName": "psql-k", "resourceGroupName": "rg"}
    if start is not None:
        rule_props["startIpAddress"] = start
    if end is not None:
        rule_props["endIpAddress"] = end
    firewall = Resource(
        type=FIREWALL_RULE, urn="urn:pulumi:prod::continuity::fw::office", name="office", props=rule_props
    )
    return stack_of([server, firewall])


@pytest.mark.parametrize(
    "start, end, allowed, messages",
    [
        ("203.0.113.10", "203.0.113.20", ALLOWED, []),
        ("203.0.113.0", "203.0.113.255", ALLOWED, []),
        (
            "203.0.113.10",
            "203.0.114.1",
            ALLOWED,
            ["firewall rule 203.0.113.10-203.0.114.1 is outside the allowed ranges"],
        ),
        (
            "203.0.112.255",
            "203.0.113.5",
            ALLOWED,
            ["firewall rule 203.0.112.255-203.0.113.5 is outside the allowed ranges"],
        ),
        # A rule without addresses is read as the widest one.
        (None, None, ALLOWED, ["firewall rule 0.0.0.0-255.255.255.255 is outside the allowed ranges"]),
        ("not-an-ip", "203.0.113.5", ALLOWED, ["firewall rule has an address that is not one: 'not-an-ip'"]),
        (
            "203.0.113.10",
            "203.0.113.20",
            [],
            [
                "firewall rule 203.0.113.10-203.0.113.20 is outside the allowed ranges",
                "public network access is on but no address range is allowed",
            ],
        ),
        ("203.0.113.10", "203.0.113.20", ["203.0.113.7/24"], []),  # host bits in a range are tolerated
    ],
)
def test_server_firewall_ranges(start, end, allowed, messages):
    rule = REGISTRY["CTY-ACC-003"]
    got = [m for _, m in rule.check(_firewall_stack(start, end), {"allowedCidrs": allowed})]
    assert [m.split(" does not appear")[0] for m in got] == messages


def test_a_firewall_rule_of_another_servers_group_is_not_tied_to_this_server():
    stack = _firewall_stack("203.0.113.10", "203.0.113.20", public="Disabled")
    server, firewall = stack.resources
    other_group = Resource(
        firewall.type, firewall.urn, firewall.name, {**firewall.props, "resourceGroupName": "rg2"}
    )
    got = [
        m
        for _, m in REGISTRY["CTY-ACC-003"].check(stack_of([server, other_group]), {"allowedCidrs": ALLOWED})
    ]
    assert got == ["firewall rule for server 'psql-k' cannot be tied to a server of this stack"]


# --- continuity: which mechanism backs each server, and whether it meets the targets ---------------


def _db_server(
    create_mode: str = "Create", geo: str = "Disabled", rto: str | None = "1h", rpo: str | None = "15min"
):
    tags = {k: v for k, v in {"rto": rto, "rpo": rpo}.items() if v is not None}
    props = {"createMode": create_mode, "backup": {"geoRedundantBackup": geo}, "tags": tags}
    return Resource(
        type=SERVER, urn="urn:pulumi:prod::continuity::srv::knowledge-g1", name="knowledge-g1", props=props
    )


@pytest.mark.parametrize(
    "server, replicated, mechanism, achievable",
    [
        (_db_server("Replica"), [], "replicaPromotion", (1800, 300)),
        (_db_server(), ["knowledge"], "replicaPromotion", (1800, 300)),
        (_db_server(geo="Enabled"), [], "geoRestore", (43200, 3600)),
        (_db_server(), ["operational"], "none", (None, None)),
        (_db_server("Update", geo="Enabled"), ["knowledge"], "none (promoted)", (None, None)),
    ],
)
def test_the_mechanism_that_survives_a_regional_loss(server, replicated, mechanism, achievable):
    (assessment,) = assess(
        stack_of([server]), {**REGISTRY["CTY-CON-001"].defaults(), "replicatedDatabases": replicated}
    )
    assert (assessment.database, assessment.mechanism) == ("knowledge", mechanism)
    assert (assessment.achievable_rto, assessment.achievable_rpo) == achievable
    assert (assessment.target_rto, assessment.target_rpo) == (3600, 900)


@pytest.mark.parametrize(
    "figures, meets",
    [
        ({"rto": 3600, "rpo": 900}, (True, True)),  # equal to the targets: met
        ({"rto": 3601, "rpo": 900}, (False, True)),
        ({"rto": 3600, "rpo": 901}, (True, False)),
    ],
)
def test_targets_are_met_up_to_and_including_the_achievable_figure(figures, meets):
    cfg = {"mechanismFigures": {"replicaPromotion": figures}, "replicatedDatabases": ["knowledge"]}
    (assessment,) = assess(stack_of([_db_server()]), cfg)
    assert (assessment.meets_rto, assessment.meets_rpo) == meets
    messages = [m for _, m in REGISTRY["CTY-CON-001"].check(stack_of([_db_server()]), cfg)]
    expected = []
    if not meets[0]:
        expected.append(f"knowledge: RTO target 1h but replicaPromotion achieves {figures['rto']}s")
    if not meets[1]:
        expected.append(f"knowledge: RPO target 15min but replicaPromotion achieves {figures['rpo']}s")
    assert messages == expected


def test_a_server_without_targets_meets_nothing_and_says_so():
    (assessment,) = assess(stack_of([_db_server(rto=None, rpo="soon")]), REGISTRY["CTY-CON-001"].defaults())
    assert (assessment.target_rto, assessment.target_rpo) == (None, None)
    assert (assessment.meets_rto, assessment.meets_rpo) == (False, False)


# --- health alerts reach a receiver (CTY-OBS-003) --------------------------------------------------

ACTION_GROUP_TYPE = "azure-native:monitor:ActionGroup"
METRIC_ALERT_TYPE = "azure-native:monitor:MetricAlert"


def test_a_disabled_alert_does_not_count(prod):
    weakened = _with(prod, METRIC_ALERT_TYPE, "alerts-knowledge-g1-cpu", "enabled", False)
    assert _stack_messages(weakened, "CTY-OBS-003") == ["no alert reaching a receiver on ['cpu_percent']"]


def test_an_alert_that_sends_nowhere_does_not_count(prod):
    weakened = copy.deepcopy(prod)
    find(weakened, METRIC_ALERT_TYPE, "alerts-knowledge-g1-memory").property_dependencies["actions"] = []
    assert _stack_messages(weakened, "CTY-OBS-003") == ["no alert reaching a receiver on ['memory_percent']"]


@pytest.mark.parametrize(
    "receivers, reaches",
    [
        ({"emailReceivers": [], "webhookReceivers": [{"name": "hook"}]}, True),
        ({"emailReceivers": [{"name": "oncall"}], "webhookReceivers": []}, True),
        ({"emailReceivers": [], "webhookReceivers": []}, False),
    ],
)
def test_an_action_group_reaches_someone_by_email_or_webhook(prod, receivers, reaches):
    changed = copy.deepcopy(prod)
    group = find(changed, ACTION_GROUP_TYPE, "alerts-action-group")
    group.inputs.update(receivers)
    messages = _stack_messages(changed, "CTY-OBS-003")
    assert (messages == []) is reaches
    if not reaches:
        assert len(messages) == 2 and all(m.startswith("no alert reaching a receiver on [") for m in messages)


# --- where the keys live (CTY-DEP-003) -----------------------------------------------------------


def test_the_geo_backup_key_must_be_in_the_configured_peer_region(prod):
    assert _stack_messages(prod, "CTY-DEP-003", peerRegion="australiasoutheast") == []
    assert _stack_messages(prod, "CTY-DEP-003", peerRegion="") == []  # no peer configured: any other region
    assert (
        _stack_messages(prod, "CTY-DEP-003", peerRegion="westeurope")
        == ["the geo-backup key is in ['australiasoutheast'], not in the peer region westeurope"] * 2
    )


# --- CTY-RET-009: the restore staging account deletes restored files within maxDays ---------------

STAGING_URN = "urn:pulumi:prod::continuity::azure-native:storage:StorageAccount::restore-staging-account"


def staging_stack(*rules: dict[str, Any], purpose: str = "restore-staging", senders=()) -> Any:
    """A restore staging account with a lifecycle policy holding `rules`, and resources in `senders`
    (type, property) that send logs to it."""
    account = Resource(
        type=STORAGE, urn=STAGING_URN, name="restore-staging-account", props={"tags": {"purpose": purpose}}
    )
    policy = Resource(
        type=MANAGEMENT_POLICY,
        urn="urn:pulumi:prod::continuity::azure-native:storage:ManagementPolicy::lifecycle",
        name="lifecycle",
        props={"policy": {"rules": list(rules)}},
        property_dependencies={"accountName": (STAGING_URN,)},
    )
    others = [
        Resource(
            type=kind,
            urn=f"urn:x::{kind}::s{i}",
            name=f"sender-{i}",
            props={},
            property_dependencies={prop: (STAGING_URN,)},
        )
        for i, (kind, prop) in enumerate(senders)
    ]
    return stack_of([account, policy, *others])


def deletes(days: float, key: str = "daysAfterModificationGreaterThan", **rule: Any) -> dict[str, Any]:
    return {"type": "Lifecycle", "definition": {"actions": {"baseBlob": {"delete": {key: days}}}}, **rule}


def staging_findings(stack: Any, **config: Any) -> list[str]:
    rule = REGISTRY["CTY-RET-009"]
    return [message for _, message in rule.check(stack, {**rule.defaults(), **config})]


@given(
    days=DAYS,
    max_days=st.integers(min_value=1, max_value=400),
    key=st.sampled_from(["daysAfterModificationGreaterThan", "daysAfterCreationGreaterThan"]),
)
def test_restored_files_must_go_within_the_maximum(days, max_days, key):
    messages = staging_findings(staging_stack(deletes(days, key)), maxDays=max_days)
    assert messages == (
        [f"restored files are deleted after {days:g} days; at most {max_days} are allowed"]
        if days > max_days
        else []
    )


@pytest.mark.parametrize("days, caught", [(7, False), (7.5, True), (8, True), (1, False)])
def test_the_default_maximum_is_seven_days(days, caught):
    assert default("CTY-RET-009", "maxDays") == 7
    assert bool(staging_findings(staging_stack(deletes(days)))) is caught


@pytest.mark.parametrize(
    "rules, expected",
    [
        ([deletes(1, enabled=False)], "none"),  # a disabled rule deletes nothing
        # Rules that only tier, or manage snapshots, have no base-blob delete at some level.
        ([{"type": "Lifecycle"}], "none"),
        ([{"type": "Lifecycle", "definition": {}}], "none"),
        ([{"type": "Lifecycle", "definition": {"actions": {}}}], "none"),
        ([deletes(1, type="Other")], "none"),
        (
            [
                {
                    "type": "Lifecycle",
                    "definition": {
                        "actions": {"baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 1}}}
                    },
                }
            ],
            "none",
        ),
        ([deletes(30), deletes(2)], "ok"),  # the soonest delete counts
        ([deletes(1)], "ok"),  # `enabled` defaults to true, as Azure's does
        (
            [
                {
                    "type": "Lifecycle",
                    "definition": {
                        "actions": {
                            "baseBlob": {
                                "delete": {
                                    "daysAfterModificationGreaterThan": 9,
                                    "daysAfterCreationGreaterThan": 3,
                                }
                            }
                        }
                    },
                }
            ],
            "ok",
        ),
    ],
)
def test_which_lifecycle_rules_count(rules, expected):
    messages = staging_findings(staging_stack(*rules))
    assert (
        messages
        == {
            "ok": [],
            "none": ["no enabled lifecycle rule deletes restored files: production data would stay"],
        }[expected]
    )


def test_only_the_restore_staging_account_is_held_to_it_and_it_archives_nothing():
    assert staging_findings(staging_stack(purpose="audit-archive")) == []
    senders = [
        (DATA_EXPORT, "resourceId"),
        (DIAGNOSTIC, "storageAccountId"),
        (SUBSCRIPTION_DIAGNOSTIC, "storageAccountId"),
    ]
    assert staging_findings(staging_stack(deletes(1), senders=senders)) == [
        f"sender-{i} archives to it: an archive must be locked and immutable" for i in range(3)
    ]


# --- CTY-SLA-001/002: objectives against Microsoft's SLA; the window on the server ----------------

SERVER_URN = "urn:pulumi:prod::continuity::azure-native:dbforpostgresql:Server::knowledge-g1"


def sla_findings(rule_id: str, **props: Any) -> list[str]:
    rule = REGISTRY[rule_id]
    server = Resource(
        type=SERVER, urn=SERVER_URN, name="knowledge-g1", props={"createMode": "Create", **props}
    )
    return [message for _, message in rule.check(stack_of([server]), rule.defaults())]


@given(
    mode=st.sampled_from(["ZoneRedundant", "SameZone", "Disabled", None]),
    objective=st.decimals(min_value="90.001", max_value="99.999", places=3),
)
def test_an_objective_is_met_exactly_up_to_microsofts_guarantee(mode, objective):
    guarantee = {"ZoneRedundant": 99.99, "SameZone": 99.95, "Disabled": 99.9, None: 99.9}[mode]
    ha = {"highAvailability": {"mode": mode}} if mode else {}
    messages = sla_findings("CTY-SLA-001", tags={"availability-objective": str(objective)}, **ha)
    assert bool(messages) == (float(objective) > guarantee)
    if messages:
        assert messages == [
            f"the objective {float(objective):g}% is above the {guarantee:g}% Microsoft guarantees with HA {mode or 'Disabled'}"
        ]


@pytest.mark.parametrize(
    "props, expected",
    [
        ({}, []),  # no objective declared
        ({"tags": {"availability-objective": "99.99"}, "highAvailability": {"mode": "ZoneRedundant"}}, []),
        (
            {"tags": {"availability-objective": "99.991"}, "highAvailability": {"mode": "ZoneRedundant"}},
            ["the objective 99.991% is above the 99.99% Microsoft guarantees with HA ZoneRedundant"],
        ),
        (
            {"tags": {"availability-objective": "99.9"}, "createMode": "Replica"},
            [],
        ),  # a standby serves no one
        (
            {"tags": {"availability-objective": "99.99"}, "createMode": "Update"},
            [],
        ),  # recorded by CTY-RES-900
        (
            {"tags": {"availability-objective": "99.9"}, "highAvailability": {"mode": "Geo"}},
            ["Microsoft publishes no SLA for high-availability mode Geo"],
        ),
        (
            {"tags": {"availability-objective": "lots"}},
            ["the availability-objective tag 'lots' is not a percentage"],
        ),
    ],
)
def test_which_servers_an_objective_is_checked_on(props, expected):
    assert sla_findings("CTY-SLA-001", **props) == expected


SUNDAY_THREE = {"availability-objective": "99.9", "maintenance-window": "Sunday 03:00 UTC"}


@pytest.mark.parametrize(
    "props, expected",
    [
        (
            {
                "tags": SUNDAY_THREE,
                "maintenanceWindow": {
                    "customWindow": "Enabled",
                    "dayOfWeek": 0.0,
                    "startHour": 3.0,
                    "startMinute": 0.0,
                },
            },
            [],
        ),
        # Omitted numbers are Azure's defaults, 0 (MaintenanceWindow in the 2025-08-01 spec).
        (
            {
                "tags": {**SUNDAY_THREE, "maintenance-window": "Sunday 00:00 UTC"},
                "maintenanceWindow": {"customWindow": "Enabled"},
            },
            [],
        ),
        (
            {
                "tags": SUNDAY_THREE,
                "createMode": "Update",
                "maintenanceWindow": {
                    "customWindow": "Enabled",
                    "dayOfWeek": 6,
                    "startHour": 3,
                    "startMinute": 0,
                },
            },
            ["maintenance window is Saturday 03:00 UTC; the SLA excludes Sunday 03:00 UTC"],
        ),
        (
            {
                "tags": SUNDAY_THREE,
                "maintenanceWindow": {
                    "customWindow": "Enabled",
                    "dayOfWeek": 0,
                    "startHour": 3,
                    "startMinute": 30,
                },
            },
            ["maintenance window is Sunday 03:30 UTC; the SLA excludes Sunday 03:00 UTC"],
        ),
        (
            {
                "tags": SUNDAY_THREE,
                "maintenanceWindow": {
                    "customWindow": "Enabled",
                    "dayOfWeek": 7,
                    "startHour": 3,
                    "startMinute": 0,
                },
            },
            ["maintenance window is day 7 03:00 UTC; the SLA excludes Sunday 03:00 UTC"],
        ),
        (
            {"tags": SUNDAY_THREE},
            ["no custom maintenance window: Azure picks the day, so the SLA's exclusion is not the real one"],
        ),
        ({"tags": SUNDAY_THREE, "createMode": "Replica"}, []),  # Azure's window until promoted
        ({"tags": {"maintenance-window": "Sunday 03:00 UTC"}}, []),  # no objective, no exclusion to match
    ],
)
def test_the_window_on_the_server_must_be_the_excluded_one(props, expected):
    assert sla_findings("CTY-SLA-002", **props) == expected


@pytest.mark.parametrize(
    "objective, recorded",
    [
        (
            "99.95",
            "degraded: the availability objective 99.95% is above the 99.9% Microsoft guarantees without HA",
        ),
        ("99.9", None),  # exactly what Microsoft guarantees without HA
        ("four nines", None),  # named by CTY-SLA-001, not here
        (None, None),
    ],
)
def test_a_promoted_replica_records_an_objective_it_cannot_meet_without_ha(objective, recorded):
    tags = {"availability-objective": objective} if objective else {}
    messages = sla_findings(
        "CTY-RES-900", createMode="Update", tags=tags, highAvailability={"mode": "Disabled"}
    )
    about_objective = [m for m in messages if "objective" in m]
    assert about_objective == ([recorded] if recorded else [])


def test_a_rule_that_is_no_address_does_not_hide_the_refused_ones_after_it():
    vault = {"properties": {"networkAcls": {"ipRules": [{"value": "not-an-address"}, {"value": "10.0.0.1"}]}}}
    assert found("CTY-DEP-001", VAULT, vault) == [
        "IP rule 10.0.0.1 overlaps the private range 10.0.0.0/8, which Azure refuses in IP rules"
    ]
