"""Stack settings: the committed stacks meet the DR targets, and bad config is refused with its key path."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.durations import Duration
from components.facts import RESERVED_TAG_KEYS
from components.settings import Origin, Role, SettingsError, _database_key, _project_name, load_settings
from gate.stack_files import read_stack_config

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROD = read_stack_config(PROJECT_DIR, "prod")

MINUTE, HOUR, DAY = 60, 3600, 86400


def load(stack: str):
    config = read_stack_config(PROJECT_DIR, stack)
    return load_settings(config.values, config.secret_keys)


def edit(key: str, mutate: Callable[[Any], None]) -> dict[str, Any]:
    """Overrides that replace `key` with prod's value for it (decoded from JSON) after `mutate` changed it."""
    value = json.loads(PROD.values[key])
    mutate(value)
    return {key: value}


def knowledge(field: str, value: Any) -> dict[str, Any]:
    return edit("continuity:databases", lambda dbs: dbs["knowledge"].__setitem__(field, value))


def problems_of(overrides: dict[str, Any], secret_keys: frozenset[str] = frozenset()) -> list[str]:
    config = PROD.with_overrides(overrides, secret_keys=secret_keys)
    with pytest.raises(SettingsError) as caught:
        load_settings(config.values, config.secret_keys)
    return caught.value.problems


# --- 1. the committed stacks -----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_committed_stack_meets_targets(stack):
    s = load(stack)

    knowledge_db, operational_db = s.databases["knowledge"], s.databases["operational"]
    assert (knowledge_db.rto.seconds, knowledge_db.rpo.seconds) == (1 * HOUR, 15 * MINUTE)
    assert (operational_db.rto.seconds, operational_db.rpo.seconds) == (2 * HOUR, 1 * HOUR)
    assert {"vector", "pgaudit"} <= set(knowledge_db.allowed_extensions)

    assert s.logs.retention.seconds >= 90 * DAY
    assert s.logs.audit_retention.seconds >= 365 * DAY

    for db in s.databases.values():
        assert db.backup_retention.seconds == 35 * DAY

    ltr = s.backup.long_term_retention
    assert ltr.weekday in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    assert (ltr.default.iso8601, ltr.monthly.iso8601, ltr.yearly.iso8601) == ("P3M", "P12M", "P7Y")

    assert s.alerts.lag_alert_fraction == 0.5
    assert s.replication_lag_threshold_seconds("knowledge") == 450

    assert (s.secrets.rto.seconds, s.secrets.rpo.seconds) == (15 * MINUTE, 0)


@pytest.mark.parametrize(
    "stack, role, origin",
    [("prod", Role.PRIMARY, Origin.PRIMARY), ("dr", Role.STANDBY, Origin.REPLICA)],
)
def test_committed_stack_role_and_origin(stack, role, origin):
    s = load(stack)
    assert (s.role, s.origin) == (role, origin)


def test_webhook_url_accepted_when_stored_as_secret():
    config = PROD.with_overrides(
        {"continuity:alertWebhookUrl": "https://hooks.example.com/x"},
        secret_keys=frozenset({"continuity:alertWebhookUrl"}),
    )
    s = load_settings(config.values, config.secret_keys)
    assert s.alert_webhook_url.get_secret_value() == "https://hooks.example.com/x"


# --- 2. bad configs: each refused, naming its key path ---------------------------------------


BAD_CONFIGS = [
    pytest.param(
        knowledge("rpo", "15"),
        "continuity:databases.knowledge.rpo",
        "'15' is not a duration",
        id="rpo-without-unit",
    ),
    pytest.param(
        knowledge("rto", "1 hour"),
        "continuity:databases.knowledge.rto",
        "'1 hour' is not a duration",
        id="rto-unknown-unit",
    ),
    pytest.param(
        knowledge("storageGb", 100),
        "continuity:databases.knowledge.storageGb",
        "100 GiB is not a size Azure offers",
        id="storage-not-azure-size",
    ),
    pytest.param(
        knowledge("tier", "Burstable"),
        "continuity:databases.knowledge",
        "not available on the Burstable tier",
        id="ha-on-burstable",
    ),
    pytest.param(
        knowledge("colour", "blue"),
        "continuity:databases.knowledge.colour",
        "unknown key",
        id="unknown-database-key",
    ),
    pytest.param(
        knowledge("backupRetention", "40d"),
        "continuity:databases.knowledge.backupRetention",
        "must be at most 35d",
        id="backup-retention-over-35d",
    ),
    pytest.param(
        knowledge("version", "12"),
        "continuity:databases.knowledge.version",
        "Input should be '14'",
        id="version-12",
    ),
    pytest.param(
        knowledge("generation", 0),
        "continuity:databases.knowledge.generation",
        "greater than or equal to 1",
        id="generation-0",
    ),
    pytest.param(
        edit("continuity:databases", lambda dbs: dbs.__setitem__("Knowledge_DB", dbs.pop("knowledge"))),
        "continuity:databases.Knowledge_DB",
        "must be 2-16 lowercase letters and digits",
        id="database-key-uppercase-underscore",
    ),
    pytest.param(
        {"continuity:databases": "{not json"},
        "continuity:databases",
        "is not valid JSON",
        id="databases-not-json",
    ),
    pytest.param(
        {"continuity:colour": "blue"}, "continuity:colour", "unknown key", id="unknown-top-level-key"
    ),
    pytest.param({"continuity:region": None}, "continuity:region", "is required", id="region-missing"),
    pytest.param(
        {"azure-native:location": "westeurope"},
        "azure-native:location",
        "must agree",
        id="provider-location-differs",
    ),
    pytest.param(
        {"continuity:region": "mars"},
        "continuity:region",
        "region 'mars' is not in the platform's region table",
        id="unknown-region",
    ),
    pytest.param(
        {"continuity:role": "active"},
        "continuity:role",
        "Input should be 'primary' or 'standby'",
        id="role-not-primary-or-standby",
    ),
    # Rules between keys are reported at the key to change.
    pytest.param(
        {"continuity:role": "standby"},
        "continuity:origin",
        "role 'standby' needs origin 'replica'",
        id="standby-with-origin-primary",
    ),
    pytest.param(
        edit("continuity:peer", lambda peer: peer.__setitem__("region", "australiaeast")),
        "continuity:peer.region",
        "must differ from continuity:region",
        id="peer-region-equals-region",
    ),
    pytest.param(
        edit("continuity:tags", lambda tags: tags.pop("owner")),
        "continuity:tags",
        "missing mandatory tag(s) ['owner']",
        id="tag-owner-missing",
    ),
    pytest.param(
        edit("continuity:tags", lambda tags: tags.__setitem__("data-classification", "secret")),
        "continuity:tags",
        "data-classification 'secret' is not one of",
        id="tag-data-classification-not-allowed",
    ),
    pytest.param(
        edit("continuity:tags", lambda tags: tags.__setitem__("dr-role", "primary")),
        "continuity:tags",
        "['dr-role'] are set by the program",
        id="tag-reserved-dr-role",
    ),
    pytest.param(
        edit("continuity:tags", lambda tags: tags.__setitem__("Environment", "test")),
        "continuity:tags",
        "are set by the program",
        id="tag-reserved-other-case",
    ),
    pytest.param(
        edit("continuity:logs", lambda logs: logs.__setitem__("retention", "30d")),
        "continuity:logs.retention",
        "must be at least 90d, got 30d",
        id="log-retention-30d",
    ),
    pytest.param(
        edit("continuity:logs", lambda logs: logs.__setitem__("auditRetention", "200d")),
        "continuity:logs.auditRetention",
        "must be at least 365d, got 200d",
        id="audit-retention-200d",
    ),
    pytest.param(
        edit("continuity:logs", lambda logs: logs.__setitem__("auditRetention", "365")),
        "continuity:logs.auditRetention",
        "'365' is not a duration",
        id="audit-retention-without-unit",
    ),
    pytest.param(
        edit("continuity:logs", lambda logs: logs.__setitem__("retentionDays", 90)),
        "continuity:logs.retentionDays",
        "unknown key",
        id="unknown-logs-key",
    ),
    pytest.param(
        edit(
            "continuity:logs",
            lambda logs: logs.__setitem__("archiveTables", ["AzureActivity", "AzureDiagnostics"]),
        ),
        "continuity:logs.archiveTables[1]",
        "AzureDiagnostics cannot be exported",
        id="archive-azure-diagnostics",
    ),
    pytest.param(
        edit("continuity:logs", lambda logs: logs.update(retention="730d", auditRetention="365d")),
        "continuity:logs.auditRetention",
        "shorter than logs.retention",
        id="audit-retention-shorter-than-retention",
    ),
    pytest.param(
        edit("continuity:backup", lambda backup: backup.__setitem__("softDelete", "7d")),
        "continuity:backup.softDelete",
        "must be at least 14d, got 7d",
        id="soft-delete-7d",
    ),
    pytest.param(
        edit(
            "continuity:backup",
            lambda backup: backup.__setitem__(
                "restoreReaders", [{"objectId": "restore-check", "principalName": "restore-check"}]
            ),
        ),
        "continuity:backup.restoreReaders[0].objectId",
        "String should match pattern",
        id="restore-reader-without-an-object-id",
    ),
    pytest.param(
        edit("continuity:alerts", lambda alerts: alerts.__setitem__("emails", [])),
        "continuity:alerts.emails",
        "at least 1 item",
        id="no-alert-emails",
    ),
    pytest.param(
        edit("continuity:alerts", lambda alerts: alerts["emails"][0].__setitem__("address", "not-an-email")),
        "continuity:alerts.emails[0].address",
        "should match pattern",
        id="invalid-email-address",
    ),
    pytest.param(
        edit("continuity:alerts", lambda alerts: alerts.__setitem__("lagAlertFraction", 1.5)),
        "continuity:alerts.lagAlertFraction",
        "less than 1",
        id="lag-alert-fraction-1.5",
    ),
    pytest.param(
        {"continuity:alertWebhookUrl": "https://hooks.example.com/x"},
        "continuity:alertWebhookUrl",
        "must be stored as a secret",
        id="webhook-not-secret",
    ),
    pytest.param(
        edit("continuity:network", lambda net: net.__setitem__("allowedCidrs", ["999.1.1.1/99"])),
        "continuity:network.allowedCidrs[0]",
        "999.1.1.1/99",
        id="cidr-out-of-range",
    ),
    pytest.param(
        edit("continuity:network", lambda net: net.__setitem__("clientSubnet", "10.99.2.0/24")),
        "continuity:network",
        "clientSubnet 10.99.2.0/24 is not inside addressSpace 10.20.0.0/16",
        id="subnet-outside-the-vnet",
    ),
    pytest.param(
        edit("continuity:network", lambda net: net.__setitem__("clientSubnet", "10.20.1.128/25")),
        "continuity:network",
        "overlaps clientSubnet",
        id="subnets-overlap",
    ),
    pytest.param(
        edit("continuity:network", lambda net: net.__setitem__("addressSpace", "20.0.0.0/16")),
        "continuity:network.addressSpace",
        "not a private address range",
        id="public-address-space",
    ),
    pytest.param(
        edit("continuity:network", lambda net: net.__setitem__("addressSpace", "10.20.0.1/16")),
        "continuity:network.addressSpace",
        "not an IPv4 network in CIDR form",
        id="host-bits-set",
    ),
    pytest.param(
        edit("continuity:peer", lambda peer: peer.__setitem__("addressSpace", "10.20.128.0/17")),
        "continuity:peer.addressSpace",
        "overlaps continuity:network.addressSpace 10.20.0.0/16",
        id="peer-network-overlaps",
    ),
    pytest.param(
        edit("continuity:network", lambda net: net.__setitem__("writerZone", "Not A Zone")),
        "continuity:network.writerZone",
        "should match pattern",
        id="writer-zone-not-a-name",
    ),
]


@pytest.mark.parametrize("overrides, key_path, fragment", BAD_CONFIGS)
def test_bad_config_is_refused_with_its_key_path(overrides, key_path, fragment):
    problems = problems_of(overrides)
    matching = [p for p in problems if p.startswith(f"{key_path}: ")]
    assert matching, f"no problem for {key_path}: {problems}"
    assert any(fragment in p for p in matching), f"{fragment!r} not in {matching}"


# --- 3./4. every problem at once, one per line -----------------------------------------------

SEVERAL_MISTAKES = {
    **knowledge("rpo", "15"),
    **edit("continuity:logs", lambda logs: logs.__setitem__("retention", "30d")),
    **edit("continuity:tags", lambda tags: tags.pop("owner")),
    "continuity:colour": "blue",
}
SEVERAL_KEY_PATHS = [
    "continuity:databases.knowledge.rpo",
    "continuity:logs.retention",
    "continuity:tags",
    "continuity:colour",
]


def test_all_problems_reported_at_once():
    problems = problems_of(SEVERAL_MISTAKES)
    for key_path in SEVERAL_KEY_PATHS:
        assert any(p.startswith(f"{key_path}: ") for p in problems), f"{key_path} missing from {problems}"


def test_error_message_lists_each_problem_on_its_own_line():
    config = PROD.with_overrides(SEVERAL_MISTAKES)
    with pytest.raises(SettingsError) as caught:
        load_settings(config.values, config.secret_keys)
    error = caught.value
    lines = str(error).splitlines()
    assert len(error.problems) >= len(SEVERAL_KEY_PATHS)
    assert lines[1:] == [f"  - {p}" for p in error.problems]


# --- 5. durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds, iso8601",
    [
        ("15min", 15 * MINUTE, "PT15M"),
        ("1h", HOUR, "PT1H"),
        ("90d", 90 * DAY, "P90D"),
        ("3mo", 3 * 30 * DAY, "P3M"),
        ("7y", 7 * 365 * DAY, "P7Y"),
    ],
)
def test_duration_parse(text, seconds, iso8601):
    duration = Duration.parse(text)
    assert (duration.seconds, duration.iso8601, str(duration)) == (seconds, iso8601, text)


@pytest.mark.parametrize(
    "value, named",
    [("15", "'15'"), (15, "got 15"), (True, "got True"), (False, "got False"), (1.5, "got 1.5")],
)
def test_duration_without_unit_rejected(value, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        Duration.parse(value)


# --- secrets never in a problem, tags within Azure's rules -------------------------------------------


def test_a_bad_secret_is_named_by_its_key_never_shown():
    url = "http://hooks.example.com/services/T0/very-secret"
    problems = problems_of(
        {"continuity:alertWebhookUrl": url}, secret_keys=frozenset({"continuity:alertWebhookUrl"})
    )
    assert problems and all(url not in p and "very-secret" not in p for p in problems)
    assert any(p.startswith("continuity:alertWebhookUrl:") for p in problems)


def test_a_webhook_url_in_plain_config_is_refused_without_echoing_it():
    problems = problems_of({"continuity:alertWebhookUrl": "https://hooks.example.com/x"})
    assert problems == [
        "continuity:alertWebhookUrl: must be stored as a secret "
        "(pulumi config set --secret continuity:alertWebhookUrl ...)"
    ]


def test_secret_scrubbing_reaches_strings_inside_structured_secrets():
    from components.settings import _without_secrets

    secret = '{"token": "abcdef", "n": 1, "list": ["xyz", "no"]}'
    problems = ["saw abcdef and xyz and no and " + secret]
    assert _without_secrets(problems, [secret]) == ["saw [secret] and [secret] and no and [secret]"]
    assert _without_secrets(["keep ab"], ["ab"]) == ["keep ab"]  # too short to be told from text


def _tags(**changes: str) -> dict[str, Any]:
    tags = json.loads(PROD.values["continuity:tags"])
    tags.update(changes)
    return {"continuity:tags": tags}


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (
            _tags(owner="x" * 257),
            "tag(s) ['owner'] exceed Azure's limits (128 characters for a name, 256 for a value)",
        ),
        (_tags(**{"k" * 129: "v"}), "exceed Azure's limits"),
        (_tags(owner="x" * 256), None),
        (_tags(**{"k" * 128: "v"}), None),
        (_tags(**{"team?": "v"}), "tag name(s) ['team?'] contain characters Azure refuses (< > % & \\ ? /)"),
        (_tags(owner=" "), "tag(s) ['owner'] have empty values"),
        (
            _tags(**{"data-classification": "secret"}),
            "data-classification 'secret' is not one of ['public', ",
        ),
        (_tags(Environment="x"), "tag(s) ['Environment'] are set by the program and cannot be configured"),
        (_tags(RTO="1h"), "tag(s) ['RTO'] are set by the program"),
    ],
)
def test_tags_within_azures_rules(overrides, fragment):
    config = PROD.with_overrides(overrides)
    if fragment is None:
        assert load_settings(config.values, config.secret_keys)
        return
    (problem,) = problems_of(overrides)
    assert problem.startswith("continuity:tags: ") and fragment in problem


def test_missing_mandatory_tags_are_named():
    tags = json.loads(PROD.values["continuity:tags"])
    del tags["owner"], tags["cost-center"]
    (problem,) = problems_of({"continuity:tags": tags})
    assert "missing mandatory tag(s) ['owner', 'cost-center'] (keys are case-exact)" in problem


# --- each message in full, and the edges of each limit ------------------------------------------

DR = read_stack_config(PROJECT_DIR, "dr")


def problems_of_dr(overrides: dict[str, Any]) -> list[str]:
    config = DR.with_overrides(overrides)
    with pytest.raises(SettingsError) as caught:
        load_settings(config.values, config.secret_keys)
    return caught.value.problems


def loads(overrides: dict[str, Any]):
    config = PROD.with_overrides(overrides)
    return load_settings(config.values, config.secret_keys)


@pytest.mark.parametrize(
    "overrides, problem",
    [
        pytest.param(
            knowledge("storageGb", 100),
            "continuity:databases.knowledge.storageGb: 100 GiB is not a size Azure offers; use one of [",
            id="pydantic-prefix-removed",
        ),
        pytest.param({"continuity:region": None}, "continuity:region: is required", id="required"),
        pytest.param(
            knowledge("colour", "blue"),
            "continuity:databases.knowledge.colour: unknown key",
            id="nested-unknown",
        ),
        pytest.param(
            {"continuity:promotion": {"option": "Planned"}},
            "continuity:promotion.option: promotion is Microsoft's documented PATCH, run by "
            "`python -m drill promote --option Planned|Forced`, not a `pulumi up` input; remove this key",
            id="moved-key",
        ),
        pytest.param(
            {"continuity:logs:retention": "90d"},
            "continuity:logs:retention: unknown key (known keys: alertWebhookUrl, alerts, backup, ",
            id="key-with-a-second-colon",
        ),
        pytest.param(
            edit("continuity:databases", lambda dbs: dbs.__setitem__("k", dbs.pop("knowledge"))),
            "continuity:databases.k: database server key 'k' must be 2-16 lowercase letters and digits, "
            "starting with a letter (it becomes part of the server's DNS name)",
            id="database-key",
        ),
        pytest.param(
            {"continuity:alertWebhookUrl": "http://hooks.example.com/x"},
            "continuity:alertWebhookUrl: must be an https:// URL",
            id="webhook-not-https",
        ),
        pytest.param(
            knowledge("rto", "0s"),
            "continuity:databases.knowledge.rto: must be greater than zero",
            id="rto-zero",
        ),
        pytest.param(
            knowledge("backupRetention", "36h"),
            "continuity:databases.knowledge.backupRetention: must be a whole number of days, got 36h",
            id="not-whole-days",
        ),
        pytest.param(
            edit("continuity:peer", lambda peer: peer.__setitem__("region", "australiaeast")),
            "continuity:peer.region: must differ from continuity:region (australiaeast): "
            "a standby in the same region protects nothing",
            id="peer-same-region",
        ),
        pytest.param(
            {"continuity:role": "standby"},
            "continuity:origin: role 'standby' needs origin 'replica': a server created as a primary cannot "
            "become a replica; rebuild it as a new generation with origin 'replica'",
            id="standby-origin-primary",
        ),
        pytest.param(
            knowledge("rpo", "3min"),
            "continuity:databases.knowledge.rpo: the replication-lag alert (RPO x alerts.lagAlertFraction = "
            "90s) must be at least 120s, two heartbeats of 60s; raise the RPO or the fraction",
            id="lag-alert-under-two-heartbeats",
        ),
        pytest.param(
            knowledge("rpo", "1s"),
            "continuity:databases.knowledge.rpo: the replication-lag alert (RPO x alerts.lagAlertFraction = "
            "1s) must be at least 120s",
            id="lag-alert-at-least-one-second",
        ),
    ],
)
def test_each_problem_in_full(overrides, problem):
    secret_keys = frozenset(k for k in overrides if k == "continuity:alertWebhookUrl")
    problems = problems_of(overrides, secret_keys)
    assert any(p.startswith(problem) for p in problems), problems


def test_a_linked_stack_needs_its_peers_origin():
    peer = json.loads(DR.values["continuity:peer"])
    del peer["origin"]
    problems = problems_of_dr({"continuity:peer": peer})
    assert problems == [
        "continuity:peer.origin: required when continuity:network.privateDns is 'linked' (the peer's origin, "
        "'primary' or 'replica': a primary-origin peer keeps its geo-backup key vault in this region)"
    ]


def test_the_error_names_the_config_before_its_problems():
    with pytest.raises(SettingsError) as caught:
        load_settings(PROD.with_overrides({"continuity:colour": "blue"}).values)
    assert str(caught.value).splitlines()[0] == "invalid stack config:"


@pytest.mark.parametrize(
    "first, problem",
    [
        ("continuity:colour", "continuity:colour: unknown key"),
        ("continuity:alertWebhookUrl", "continuity:alertWebhookUrl: must be stored as a secret"),
    ],
)
def test_a_refused_key_does_not_stop_the_keys_after_it(first, problem):
    # The refused key comes first: every key after it is still read (nothing else is missing).
    config = {first: "https://hooks.example.com/x", **PROD.values}
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(problem)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(knowledge("rpo", "4min"), id="lag-alert-exactly-two-heartbeats"),
        pytest.param(knowledge("rto", "1s"), id="rto-one-second"),
        pytest.param(
            edit("continuity:logs", lambda logs: logs.update(retention="365d", auditRetention="365d")),
            id="audit-retention-equal-to-retention",
        ),
        pytest.param(
            edit("continuity:network", lambda net: net.__setitem__("allowedCidrs", ["203.0.113.7/24"])),
            id="allowed-cidr-with-host-bits",
        ),
    ],
)
def test_values_on_the_edge_are_accepted(overrides):
    assert loads(overrides)


def test_a_numeric_version_is_read_as_its_text():
    assert loads(knowledge("version", 16)).databases["knowledge"].version == "16"


@pytest.mark.parametrize(
    "value, expected",
    [(16, "16"), ("16", "16"), (True, True), (False, False), (16.0, 16.0), (None, None)],
)
def test_only_plain_integers_become_version_text(value, expected):
    from components.settings import _str_version

    result = _str_version(value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    "loc, path",
    [
        ((), "continuity"),
        (("databases", "Knowledge_DB", "[key]"), "continuity:databases.Knowledge_DB"),
        (("logs", "archiveTables", 1), "continuity:logs.archiveTables[1]"),
        (("backup", "function-after[check()]", "softDelete", 0), "continuity:backup.softDelete[0]"),
    ],
)
def test_key_paths_leave_out_pydantics_markers(loc, path):
    from components.settings import _key_path

    assert _key_path(loc) == path


@pytest.mark.parametrize(
    "text, decoded",
    [('{"a": 1}', {"a": 1}), ('  ["x", 2]', ["x", 2]), ("primary", "primary"), ('"quoted"', '"quoted"')],
)
def test_structured_config_is_decoded_and_scalars_are_kept(text, decoded):
    from components.settings import _decode

    assert _decode(text) == decoded


@pytest.mark.parametrize("secret", ['["tokenvalue"]', '"tokenvalue"'])
def test_secret_scrubbing_decodes_json_lists_and_strings(secret):
    from components.settings import _without_secrets

    assert _without_secrets(["saw tokenvalue"], [secret]) == ["saw [secret]"]


@pytest.mark.parametrize(
    "value, accepted",
    [
        ("10.0.0.0/8", True),
        ("172.16.0.0/12", True),
        ("192.168.4.0/24", True),
        ("172.32.0.0/16", False),
        ("127.0.0.0/16", False),  # loopback: private to Python, refused by Azure
        ("169.254.0.0/16", False),  # link-local
        ("240.0.0.0/8", False),  # reserved
        ("0.0.0.0/8", False),
    ],
)
def test_private_networks_are_rfc1918_ranges(value, accepted):
    from components.settings import _private_network

    if accepted:
        assert _private_network(value) == value
    else:
        with pytest.raises(ValueError, match=re.escape(f"{value} is not a private address range")):
            _private_network(value)


@pytest.mark.parametrize(
    "tag", [spelling for key in RESERVED_TAG_KEYS for spelling in (key, key.upper(), key.title())]
)
def test_every_tag_the_program_sets_is_reserved(tag):
    (problem,) = problems_of(_tags(**{tag: "x"}))
    assert problem == f"continuity:tags: tag(s) ['{tag}'] are set by the program and cannot be configured"


def test_an_overlong_tag_name_is_shown_cut_to_40_characters():
    (problem,) = problems_of(_tags(**{"k" * 129: "v"}))
    assert f"tag(s) ['{'k' * 40}'] exceed" in problem


@pytest.mark.parametrize(
    "name, longest, accepted",
    [
        ("ab", 16, True),
        ("a1", 16, True),
        ("a" * 16, 16, True),
        ("a" * 17, 16, False),
        ("a" * 30, 30, True),
        ("a" * 31, 30, False),
        ("a", 16, False),
        ("", 16, False),
        ("1a", 16, False),
        ("aB", 16, False),
        ("a-b", 16, False),
        ("a_b", 16, False),
        ("ab\n", 16, False),
    ],
)
def test_short_names_are_2_to_their_longest_lowercase_letters_and_digits_from_a_letter(
    name, longest, accepted
):
    validate = {16: _database_key, 30: _project_name}[longest]
    if accepted:
        assert validate(name) == name
    else:
        with pytest.raises(
            ValueError, match=f"must be 2-{longest} lowercase letters and digits, starting with a letter"
        ):
            validate(name)


def test_a_project_name_s_message_says_why_it_is_short():
    with pytest.raises(ValueError) as caught:
        _project_name("Atlas")
    assert str(caught.value) == (
        "project name 'Atlas' must be 2-30 lowercase letters and digits, starting with a letter "
        "(it names a PostgreSQL role, policies and Key Vault secrets)"
    )


@pytest.mark.parametrize(
    "cidr, refusal",
    [
        ("203.0.113.7", None),
        ("203.0.113.7/32", None),
        ("9.255.255.255", None),
        ("11.0.0.0/8", None),
        ("172.15.255.255", None),
        ("172.32.0.0/16", None),
        ("192.167.255.0/24", None),
        ("0.0.0.1", None),
        ("0.0.0.0", "holds 0.0.0.0, which a PostgreSQL firewall rule reads as any Azure service"),
        ("0.0.0.0/0", "holds 0.0.0.0"),
        ("0.0.0.0/8", "holds 0.0.0.0"),
        ("10.1.0.0/16", "it overlaps 10.0.0.0/8"),
        ("10.255.255.255", "it overlaps 10.0.0.0/8"),
        ("10.0.0.0/7", "it overlaps 10.0.0.0/8"),
        ("172.16.0.0", "it overlaps 172.16.0.0/12"),
        ("172.31.255.255", "it overlaps 172.16.0.0/12"),
        ("172.0.0.0/8", "it overlaps 172.16.0.0/12"),
        ("192.168.4.0/24", "it overlaps 192.168.0.0/16"),
        ("128.0.0.0/1", "it overlaps 172.16.0.0/12"),  # and 192.168.0.0/16: the first is named
        ("2001:db8::/32", "is not an IPv4 address or CIDR range"),
    ],
)
def test_allowed_ranges_are_public_ipv4_and_never_any_azure_service(cidr, refusal):
    overrides = edit("continuity:network", lambda net: net.__setitem__("allowedCidrs", [cidr]))
    if refusal is None:
        assert loads(overrides).network.allowed_cidrs == [cidr]
    else:
        (problem,) = problems_of(overrides)
        assert problem.startswith(f"continuity:network.allowedCidrs[0]: '{cidr}' ") and refusal in problem


def test_a_private_range_is_refused_saying_why():
    overrides = edit("continuity:network", lambda net: net.__setitem__("allowedCidrs", ["10.1.0.0/16"]))
    assert problems_of(overrides) == [
        "continuity:network.allowedCidrs[0]: '10.1.0.0/16' is not a public range (it overlaps 10.0.0.0/8): "
        "Azure refuses private ranges in IP rules, and clients in the networks reach the data stores "
        "through their private endpoints"
    ]


def _borealis_group(**changes: str) -> dict[str, Any]:
    return edit("continuity:tenancy", lambda t: t["projects"]["borealis"]["group"].update(changes))


ATLAS_ID = "7c1e2a40-3b5d-4f6e-8a9b-0c1d2e3f4a51"


@pytest.mark.parametrize(
    "overrides, problem",
    [
        pytest.param(
            _borealis_group(objectId=ATLAS_ID.upper()),
            "continuity:tenancy: projects.borealis.group is projects.atlas.group: a group holding two "
            "projects sees both",
            id="same-group-object-id-in-another-case",
        ),
        pytest.param(
            _borealis_group(principalName="GRP-project-atlas"),
            "continuity:tenancy: projects.borealis.group.principalName 'GRP-project-atlas' is the name of "
            "projects.atlas.group in PostgreSQL: the group would be given that role's rights",
            id="another-project-s-group-name",
        ),
        pytest.param(
            _borealis_group(principalName="project_atlas"),
            "is the name of project atlas's role in PostgreSQL",
            id="another-project-s-role",
        ),
        pytest.param(
            _borealis_group(principalName="project_borealis"),
            "is the name of project borealis's role in PostgreSQL",
            id="its-own-project-s-role",
        ),
        pytest.param(
            _borealis_group(principalName="Continuity_Admin"),
            "is the name of the server administrator in PostgreSQL",
            id="the-server-administrator",
        ),
        pytest.param(
            _borealis_group(principalName="continuity_owner"),
            "is the name of the tables' owner in PostgreSQL",
            id="the-tables-owner",
        ),
    ],
)
def test_a_project_s_group_takes_no_role_the_platform_or_another_project_has(overrides, problem):
    (found,) = problems_of(overrides)
    assert problem in found


BOREALIS_ID = "9d3f4b62-5c7e-4a8f-9b0c-1d2e3f4a5b62"
OTHER_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.mark.parametrize(
    "admin, project",
    [
        ({"objectId": ATLAS_ID, "principalName": "dba-team"}, "atlas"),
        ({"objectId": ATLAS_ID.upper(), "principalName": "dba-team"}, "atlas"),
        ({"objectId": OTHER_ID, "principalName": "grp-project-atlas"}, "atlas"),
        ({"objectId": OTHER_ID, "principalName": "GRP-Project-Atlas"}, "atlas"),
        ({"objectId": BOREALIS_ID, "principalName": "dba-team"}, "borealis"),
        ({"objectId": OTHER_ID, "principalName": "grp-project-borealis"}, "borealis"),
    ],
    ids=[
        "same-id",
        "same-id-other-case",
        "same-name",
        "same-name-other-case",
        "second-project-id",
        "second-project-name",
    ],
)
def test_the_database_admin_is_no_project_s_group(admin, project):
    (problem,) = problems_of({"continuity:databaseAdmin": admin})
    assert problem == (
        f"continuity: databaseAdmin is tenancy.projects.{project}.group: the database administrator reads "
        "every project's rows"
    )


def test_a_database_admin_of_its_own_is_accepted():
    admin = loads(
        {"continuity:databaseAdmin": {"objectId": OTHER_ID, "principalName": "dba-team"}}
    ).database_admin
    assert admin is not None and admin.principal_name == "dba-team"


def test_a_group_name_differing_from_every_role_is_accepted():
    settings = loads(_borealis_group(principalName="project-borealis"))  # a hyphen, not the role's _
    assert settings.tenancy is not None
    assert settings.tenancy.projects["borealis"].group.principal_name == "project-borealis"


def test_tag_names_that_differ_only_in_case_are_refused():
    """ "Tag names are case-insensitive for operations" (azure-resource-manager/management/tag-resources):
    Azure would keep one of the two, and the tag rules read the other."""
    (problem,) = problems_of(_tags(**{"Data-Classification": "public"}))
    assert problem == (
        "continuity:tags: tag names ['data-classification', 'Data-Classification'] differ only in case: "
        "Azure would keep one of them"
    )


def _emails(*names: str) -> dict[str, Any]:
    return edit(
        "continuity:alerts",
        lambda alerts: alerts.__setitem__(
            "emails", [{"name": name, "address": f"r{i}@example.com"} for i, name in enumerate(names)]
        ),
    )


@pytest.mark.parametrize(
    "names, problem",
    [
        (("oncall", "oncall"), "emails[1].name 'oncall' is the name of emails[0]"),
        (("oncall", "OnCall"), "emails[1].name 'OnCall' is the name of emails[0]"),
        (("Webhook",), "emails[0].name 'Webhook' is the name of the webhook's receiver"),
        (("oncall", "team", "oncall"), "emails[2].name 'oncall' is the name of emails[0]"),
    ],
)
def test_an_action_group_s_receivers_have_names_of_their_own(names, problem):
    """ "Names must be unique across all receivers within an action group" (the provider's receiver args)."""
    (found,) = problems_of(_emails(*names))
    assert found == f"continuity:alerts: {problem}: an action group's receivers need names of their own"


def test_receivers_with_names_of_their_own_are_accepted():
    assert [r.name for r in loads(_emails("oncall", "team", "web-hooks")).alerts.emails] == [
        "oncall",
        "team",
        "web-hooks",
    ]


def test_a_restore_reader_listed_twice_in_any_case_is_refused():
    reader = {"objectId": ATLAS_ID, "principalName": "restore-check"}
    twice = edit(
        "continuity:backup",
        lambda b: b.__setitem__("restoreReaders", [reader, {**reader, "objectId": ATLAS_ID.upper()}]),
    )
    (problem,) = problems_of(twice)
    assert (
        problem == f"continuity:backup: restoreReaders[1] is restoreReaders[0] (object id {ATLAS_ID.upper()})"
    )
    once = edit("continuity:backup", lambda b: b.__setitem__("restoreReaders", [reader]))
    assert [r.object_id for r in loads(once).backup.restore_readers] == [ATLAS_ID]


@pytest.mark.parametrize(
    "environment, accepted",
    [("dr", True), ("stage", True), ("stage1", False), ("staging", False), ("e", False)],
)
def test_the_environment_fits_every_vault_and_storage_account_name(environment, accepted):
    if accepted:
        assert loads({"continuity:environment": environment}).environment == environment
    else:
        (problem,) = problems_of({"continuity:environment": environment})
        assert problem == (
            f"continuity:environment: environment '{environment}' must be 2-5 lowercase letters and digits, "
            "starting with a letter (it is part of Key Vault and storage account names, which Azure keeps "
            "to 24 characters)"
        )


@pytest.mark.parametrize(
    "zone, clash",
    [
        ("continuity.internal", None),
        ("writers.example.com", None),
        ("postgres.example.com", None),
        ("privatelink.postgres.database.azure.com", "privatelink.postgres.database.azure.com"),
        ("w.privatelink.vaultcore.azure.net", "privatelink.vaultcore.azure.net"),
        ("postgres.database.azure.com", "privatelink.postgres.database.azure.com"),
        ("azure.com", "privatelink.postgres.database.azure.com"),
        ("core.windows.net", "privatelink.blob.core.windows.net"),
        ("link.blob.core.windows.net", None),  # a sibling, not a parent: shares no namespace
        ("myprivatelink.postgres.database.azure.com", None),  # ends like one, is not inside it
        ("privatelink.postgres.database.azure.com.internal", None),
    ],
)
def test_the_writer_zone_shares_no_namespace_with_a_private_link_zone(zone, clash):
    overrides = edit("continuity:network", lambda net: net.__setitem__("writerZone", zone))
    if clash is None:
        assert loads(overrides).network.writer_zone == zone
    else:
        (problem,) = problems_of(overrides)
        assert problem == (
            f"continuity:network.writerZone: '{zone}' shares the namespace of {clash}, a zone the "
            "platform links to both networks"
        )


@pytest.mark.parametrize(
    "retention, accepted",
    [
        ("365d", True),
        ("730d", True),
        ("2y", True),  # 730 days
        ("731d", False),
        ("3y", True),  # 1095 days: Azure's three years too
        ("1095d", True),
        ("1096d", False),
        ("5y", False),  # 1825 days; Azure's five years are 1826
        ("1826d", True),
        ("12y", False),  # 4380 days; Azure's twelve are 4383
        ("4383d", True),
    ],
)
def test_audit_retention_is_a_total_retention_azure_takes(retention, accepted):
    """ "between 4 and 730; or 1095, 1460, 1826, 2191, 2556, 2922, 3288, 3653, 4018, or 4383"
    (azure-monitor/logs/data-retention-configure): the settings refuse what the table PUT would."""
    overrides = edit("continuity:logs", lambda logs: logs.__setitem__("auditRetention", retention))
    if accepted:
        assert str(loads(overrides).logs.audit_retention) == retention
    else:
        (problem,) = problems_of(overrides)
        assert problem.startswith(f"continuity:logs.auditRetention: {retention} is ")


def test_a_total_retention_azure_refuses_is_refused_saying_what_it_takes():
    (problem,) = problems_of(edit("continuity:logs", lambda logs: logs.__setitem__("auditRetention", "5y")))
    assert problem == (
        "continuity:logs.auditRetention: 5y is 1825 days; Azure keeps a table 4-730 days in all, or beyond "
        "two years whole years as it counts them: 1095d, 1460d, 1826d, 2191d, 2556d, 2922d, 3288d, 3653d, "
        "4018d, 4383d"
    )


@pytest.mark.parametrize(
    "peer_region, accepted",
    [("australiasoutheast", True), ("westus2", False), ("australiacentral", False)],
)
def test_a_primary_stack_s_peer_is_its_geo_paired_region(peer_region, accepted):
    """Geo-redundant backups are "replicated to a geo-paired region" (concepts-backup-restore); the
    stack keeps their key vault in its peer region, so the two must be one."""
    overrides = edit("continuity:peer", lambda peer: peer.__setitem__("region", peer_region))
    if accepted:
        assert loads(overrides).peer.region == peer_region
    else:
        (problem,) = problems_of(overrides)
        assert problem == (
            f"continuity:peer.region: {peer_region} is not australiaeast's geo-paired region australiasoutheast, "
            "where the primaries' geo-redundant backups are kept and their key vault must be"
        )


def test_geo_pairs_within_the_region_table_go_both_ways():
    from components.regions import REGIONS

    pairs = {(region, info.pair) for region, info in REGIONS.items() if info.pair in REGIONS}
    assert len(pairs) >= 14 and all((pair, region) in pairs for region, pair in pairs)


@pytest.mark.parametrize(
    "sku, tier, problem",
    [
        (
            "Standard_D4ds_v5",
            "MemoryOptimized",
            "sku Standard_D4ds_v5 belongs to the GeneralPurpose tier, not MemoryOptimized",
        ),
        (
            "Standard_E4ds_v5",
            "GeneralPurpose",
            "sku Standard_E4ds_v5 belongs to the MemoryOptimized tier, not GeneralPurpose",
        ),
        (
            "Standard_Z99",
            "GeneralPurpose",
            "SKU Standard_Z99 is not in the platform's SKU table (components/skus.py)",
        ),
    ],
)
def test_a_server_s_sku_is_known_and_of_its_tier(sku, tier, problem):
    (found,) = problems_of(
        edit("continuity:databases", lambda dbs: dbs["knowledge"].update(sku=sku, tier=tier))
    )
    assert found.startswith(f"continuity:databases.knowledge: {problem}")


def _retention(field: str, value: str) -> dict[str, Any]:
    return edit(
        "continuity:backup", lambda b: b.setdefault("longTermRetention", {}).__setitem__(field, value)
    )


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("default", "7d", None),
        ("default", "3650d", None),
        ("default", "521w", None),
        ("monthly", "120mo", None),
        ("yearly", "10y", None),
        ("default", "168h", "168h must be in days, weeks, months or years (d, w, mo, y)"),
        ("default", "10080min", "10080min must be in days, weeks, months or years (d, w, mo, y)"),
        ("monthly", "121mo", "121mo is more than ten years: at most 120mo"),
        ("default", "3651d", "3651d is more than ten years: at most 3650d"),
        ("default", "522w", "522w is more than ten years: at most 521w"),
        ("yearly", "11y", "11y is more than ten years: at most 10y"),
    ],
)
def test_vault_retentions_are_calendar_units_up_to_ten_years(field, value, problem):
    """Azure Backup's retention durations are Days, Weeks, Months or Years (`az dataprotection
    backup-policy retention-rule create-lifecycle --retention-duration-type`): 168h would be PT168H."""
    overrides = _retention(field, value)
    if problem is None:
        assert str(getattr(loads(overrides).backup.long_term_retention, field)) == value
    else:
        assert problems_of(overrides) == [f"continuity:backup.longTermRetention.{field}: {problem}"]


@pytest.mark.parametrize(
    "days, allowed",
    [
        *(
            (3, False),
            (4, True),
            (730, True),
            (731, False),
            (1095, True),
            (1096, False),
            (4383, True),
            (4384, False),
        ),
        *(
            (365.0, True),
            (True, False),
            ("365", False),
            (None, False),
        ),  # numbers as JSON carries them, or none
    ],
)
def test_a_total_retention_is_4_to_730_days_or_one_of_azure_s_whole_years(days, allowed):
    from components.facts import total_retention_allowed

    assert total_retention_allowed(days) is allowed


@pytest.mark.parametrize(
    "day, hour, minute, label",
    [
        (0, 3, 0, "Sunday 03:00 UTC"),
        (6, 23, 30, "Saturday 23:30 UTC"),
        (7, 1, 5, "day 7 01:05 UTC"),
        (-1, 0, 0, "day -1 00:00 UTC"),
    ],
)
def test_a_maintenance_window_is_named_by_its_weekday_and_utc_start(day, hour, minute, label):
    from components.facts import maintenance_label

    assert maintenance_label(day, hour, minute) == label
