"""Stack-wide tags, protection of stateful resources, alerts and the secret webhook."""

from __future__ import annotations

import json

import pytest
from conftest import PROJECT_DIR, render_variant

from components.facts import PURPOSE_TAG, RESTORE_STAGING
from components.tags import is_taggable
from gate.render import redact
from gate.stack_files import read_stack_config
from helpers import (
    ACTION_GROUP,
    ACTIVITY_ALERT,
    LOCK,
    METRIC_ALERT,
    QUERY_ALERT,
    SERVER,
    STATEFUL_TYPES,
    VAULT,
    server_resource,
    workspace_id,
)

MANDATORY = {"owner": "platform-engineering", "cost-center": "cc-4410", "data-classification": "confidential"}


def test_every_taggable_resource_carries_the_stack_tags(prod, dr):
    for rendering, role, environment in ((prod, "primary", "prod"), (dr, "standby", "dr")):
        taggable = [r for r in rendering.resources if r.custom and is_taggable(r.type)]
        assert len(taggable) > 20
        for resource in taggable:
            tags = resource.plain_inputs.get("tags", {})
            assert {**tags, **MANDATORY} == tags, resource.urn
            assert tags["environment"] == environment and tags["dr-role"] == role, resource.urn


def test_taggability_is_read_from_the_sdk():
    assert is_taggable("azure-native:dbforpostgresql:Server")
    assert not is_taggable("azure-native:dbforpostgresql:Configuration")
    assert not is_taggable("azure-native:monitor:DiagnosticSetting")


def test_data_stores_carry_their_recovery_targets(prod):
    for key, expected in {"knowledge": ("1h", "15min"), "operational": ("2h", "1h")}.items():
        tags = server_resource(prod, key).plain_inputs["tags"]
        assert (tags["rto"], tags["rpo"]) == expected
    for vault in prod.of_type(VAULT):
        assert (vault.plain_inputs["tags"]["rto"], vault.plain_inputs["tags"]["rpo"]) == ("15min", "0s")


def test_stateful_resources_are_protected_and_delete_locked(prod, dr):
    for rendering in (prod, dr):
        locks = {lock.plain_inputs["scope"]: lock.plain_inputs for lock in rendering.of_type(LOCK)}
        for token in STATEFUL_TYPES:
            for resource in rendering.of_type(token):
                if resource.plain_inputs.get("tags", {}).get(PURPOSE_TAG) == RESTORE_STAGING:
                    assert not resource.protect and resource.id not in locks, "its grants must stay removable"
                    continue
                assert resource.protect, resource.urn
                assert locks[resource.id]["level"] == "CanNotDelete", resource.urn
        assert all(not lock.protect for lock in rendering.of_type(LOCK)), (
            "locks must stay removable by the program"
        )


def test_disposable_stack_turns_protection_and_locks_off(prod):
    disposable = render_variant("prod", {"continuity:protect": False})
    assert disposable.of_type(LOCK) == []
    assert not any(r.protect for r in disposable.resources)


def test_every_server_has_health_alerts_to_the_action_group(prod):
    (group,) = prod.of_type(ACTION_GROUP)
    assert [e["emailAddress"] for e in group.plain_inputs["emailReceivers"]] == [
        "platform-oncall@example.com"
    ]
    alerts = {}
    for alert in prod.of_type(METRIC_ALERT):
        inputs = alert.plain_inputs
        assert inputs["actions"] == [{"actionGroupId": group.id}]
        alerts.setdefault(inputs["scopes"][0], set()).add(inputs["criteria"]["allOf"][0]["metricName"])
    for server in prod.of_type(SERVER):
        assert alerts[server.id] == {
            "cpu_percent",
            "memory_percent",
            "storage_percent",
            "connections_failed",
            "is_db_alive",
        }
    for vault in prod.of_type(VAULT):
        assert alerts[vault.id] == {"Availability"}


def test_activity_log_alerts_cover_service_health_in_both_regions_and_guarded_deletes(prod):
    alerts = {a.plain_inputs["activityLogAlertName"]: a.plain_inputs for a in prod.of_type(ACTIVITY_ALERT)}
    health = next(a for name, a in alerts.items() if name.endswith("service-health"))
    conditions = {c["field"]: c for c in health["condition"]["allOf"]}
    assert conditions["category"]["equals"] == "ServiceHealth"
    assert sorted(
        conditions["properties.impactedServices[*].ImpactedRegions[*].RegionName"]["containsAny"]
    ) == ["Australia East", "Australia Southeast"]
    deletes = next(a for name, a in alerts.items() if name.endswith("guarded-deletes"))
    operations = {leaf["equals"] for leaf in deletes["condition"]["allOf"][1]["anyOf"]}
    assert {
        "Microsoft.DBforPostgreSQL/flexibleServers/delete",
        "Microsoft.KeyVault/vaults/delete",
        "Microsoft.DataProtection/backupVaults/delete",
    } <= operations


def test_backup_job_failures_alert_from_the_workspace(prod):
    (rule,) = prod.of_type(QUERY_ALERT)
    inputs = rule.plain_inputs
    assert inputs["scopes"] == [workspace_id(prod)]
    assert "AddonAzureBackupJobs" in inputs["criteria"]["allOf"][0]["query"]
    assert inputs["criteria"]["allOf"][0]["threshold"] == 0


def test_webhook_url_from_secret_config_reaches_the_action_group_only_as_a_secret():
    url = "https://hooks.example.net/services/T000/B000/very-secret-token"
    rendering = render_variant(
        "prod", {"continuity:alertWebhookUrl": url}, secret_keys={"continuity:alertWebhookUrl"}
    )
    (group,) = rendering.of_type(ACTION_GROUP)
    assert group.plain_inputs["webhookReceivers"][0]["serviceUri"] == url
    assert url not in json.dumps([redact(r.inputs) for r in rendering.resources])


# Every metric alert of the committed stacks, as Azure Monitor evaluates it: metric -> (aggregation,
# operator, threshold, severity). Window 5 minutes, evaluated every minute, self-resolving.
EXPECTED_METRIC_ALERTS = {
    "cpu_percent": ("Average", "GreaterThan", 80, 2),
    "memory_percent": ("Average", "GreaterThan", 85, 2),
    "storage_percent": ("Maximum", "GreaterThan", 80, 1),
    "connections_failed": ("Total", "GreaterThan", 25, 2),
    "is_db_alive": ("Maximum", "LessThan", 1, 0),
    "Availability": ("Average", "LessThan", 99.9, 1),
    # dr: the lag alert fires at half the RPO (15 min -> 450 s for knowledge, 1 h -> 1800 s).
    "physical_replication_delay_in_seconds": ("Maximum", "GreaterThan", None, 1),
}


def test_every_metric_alert_has_the_aggregation_operator_threshold_window_and_severity_it_should(prod, dr):
    lag_thresholds = set()
    for rendering in (prod, dr):
        for alert in rendering.of_type(METRIC_ALERT):
            inputs = alert.plain_inputs
            (criterion,) = inputs["criteria"]["allOf"]
            aggregation, operator, threshold, severity = EXPECTED_METRIC_ALERTS[criterion["metricName"]]
            assert (criterion["timeAggregation"], criterion["operator"], inputs["severity"]) == (
                aggregation,
                operator,
                severity,
            ), alert.name
            assert criterion["criterionType"] == "StaticThresholdCriterion"
            assert (inputs["windowSize"], inputs["evaluationFrequency"]) == ("PT5M", "PT1M"), alert.name
            assert inputs["enabled"] is True and inputs["autoMitigate"] is True
            if threshold is None:
                lag_thresholds.add((alert.name.split("-")[1], criterion["threshold"]))
            else:
                assert criterion["threshold"] == threshold, alert.name
    assert lag_thresholds == {("knowledge", 450), ("operational", 1800)}


def test_alert_thresholds_follow_config(prod):
    committed = json.loads(read_stack_config(PROJECT_DIR, "prod").values["continuity:alerts"])
    alerts = {
        **committed,
        "cpuPercent": 70,
        "memoryPercent": 90,
        "storagePercent": 75,
        "failedConnections": 5,
    }
    changed = render_variant("prod", {"continuity:alerts": alerts})
    thresholds = {
        a.plain_inputs["criteria"]["allOf"][0]["metricName"]: a.plain_inputs["criteria"]["allOf"][0][
            "threshold"
        ]
        for a in changed.of_type(METRIC_ALERT)
    }
    assert {
        k: thresholds[k] for k in ("cpu_percent", "memory_percent", "storage_percent", "connections_failed")
    } == {
        "cpu_percent": 70,
        "memory_percent": 90,
        "storage_percent": 75,
        "connections_failed": 5,
    }


def test_stack_tags_win_over_a_components_own_tags_and_program_tags_over_config():
    """Precedence: a component's own tag < the stack's configured tags < what the program sets."""
    import pulumi

    from components.tags import tagging_transform

    transform = tagging_transform({"owner": "platform", "environment": "prod"})

    def tags_after(props):
        args = pulumi.ResourceTransformArgs(
            custom=True,
            type_="azure-native:keyvault:Vault",
            name="v",
            props=props,
            opts=pulumi.ResourceOptions(),
        )
        result = transform(args)
        assert result is not None
        return result.props["tags"]

    assert tags_after({"tags": {"owner": "someone-else", "rto": "15min"}}) == {
        "owner": "platform",
        "environment": "prod",
        "rto": "15min",
    }
    assert tags_after({}) == {"owner": "platform", "environment": "prod"}


def test_configured_tags_cannot_override_what_the_program_sets():
    from components.settings import SettingsError

    committed = json.loads(read_stack_config(PROJECT_DIR, "prod").values["continuity:tags"])
    with pytest.raises(SettingsError, match=r"tag\(s\) \['environment', 'dr-role'\] are set by the program"):
        render_variant(
            "prod", {"continuity:tags": {**committed, "environment": "test", "dr-role": "standby"}}
        )
