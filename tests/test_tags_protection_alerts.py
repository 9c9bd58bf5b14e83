"""Stack-wide tags, protection of stateful resources, alerts and the secret webhook."""

from __future__ import annotations

import json

import pytest
from conftest import PROJECT_DIR, render_variant

from components.facts import PROJECT_SECRETS, PURPOSE_TAG, RESERVED_TAG_KEYS, RESTORE_STAGING
from components.tags import TAGGABLE_TYPES, UNTAGGABLE_TYPES, is_taggable, sdk_taggable
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


def test_every_tag_key_the_program_sets_is_reserved_from_the_stack_s_own_tags(prod, dr, promoted_dr):
    """Stack tags win over a component's, so a stack tag named like one the program sets would
    replace it on every resource (a stack tag `project` renamed every project secret's project):
    every key the rendered stacks carry is either the stack's own or reserved."""
    for rendering in (prod, dr, promoted_dr):
        configured = set(
            json.loads(read_stack_config(PROJECT_DIR, rendering.stack).values["continuity:tags"])
        )
        carried = {key for r in rendering.resources for key in r.plain_inputs.get("tags", {})}
        assert carried - configured <= set(RESERVED_TAG_KEYS), rendering.stack
    carried_by_prod = {key for r in prod.resources for key in r.plain_inputs.get("tags", {})}
    assert set(RESERVED_TAG_KEYS) <= carried_by_prod, "a reserved key the program no longer sets"


def test_taggability_is_read_from_the_sdk():
    assert sdk_taggable("azure-native:dbforpostgresql:Server")
    assert not sdk_taggable("azure-native:dbforpostgresql:Configuration")
    assert not sdk_taggable("azure-native:monitor:DiagnosticSetting")
    assert not sdk_taggable("azure-native:nosuchmodule:Thing")
    assert not sdk_taggable("random:index/randomPassword:RandomPassword")


def test_the_taggability_table_agrees_with_the_sdk_and_covers_every_declared_type(prod, dr, promoted_dr):
    assert not TAGGABLE_TYPES & UNTAGGABLE_TYPES
    assert all(sdk_taggable(token) for token in TAGGABLE_TYPES)
    assert not any(sdk_taggable(token) for token in UNTAGGABLE_TYPES)
    declared = {r.type for rendering in (prod, dr, promoted_dr) for r in rendering.resources if r.custom}
    azure = {token for token in declared if token.startswith("azure-native:")}
    # The pack then never loads a provider module to answer (see components.tags).
    assert azure <= TAGGABLE_TYPES | UNTAGGABLE_TYPES, sorted(azure - TAGGABLE_TYPES - UNTAGGABLE_TYPES)
    # A type outside the table is still answered, from the SDK.
    assert is_taggable("azure-native:compute:VirtualMachine") and not is_taggable(
        "azure-native:sql:FirewallRule"
    )


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
                purpose = resource.plain_inputs.get("tags", {}).get(PURPOSE_TAG)
                if purpose == RESTORE_STAGING:
                    assert not resource.protect and resource.id not in locks, "its grants must stay removable"
                    continue
                if (
                    purpose == PROJECT_SECRETS
                ):  # protected in Pulumi; unlocked, so project grants stay removable
                    assert resource.protect and resource.id not in locks, resource.urn
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


def log_alerts(rendering) -> dict[str, dict]:
    return {r.plain_inputs["ruleName"]: r.plain_inputs for r in rendering.of_type(QUERY_ALERT)}


def test_backup_job_failures_alert_from_the_workspace(prod):
    (inputs,) = [a for name, a in log_alerts(prod).items() if name.endswith("backup-failures")]
    assert inputs["scopes"] == [workspace_id(prod)]
    assert "AddonAzureBackupJobs" in inputs["criteria"]["allOf"][0]["query"]
    assert inputs["criteria"]["allOf"][0]["threshold"] == 0
    assert inputs["skipQueryValidation"] is True


# scheduledQueryRule_API.json (2025-01-01-preview): Condition.operator and .timeAggregation enums;
# windowSize and evaluationFrequency from the values alerts/resource-manager-alerts-log allows.
SPEC_OPERATORS = {
    "Equals",
    "GreaterThan",
    "GreaterThanOrEqual",
    "LessThan",
    "LessThanOrEqual",
    "GreaterOrLessThan",
}
SPEC_AGGREGATIONS = {"Count", "Average", "Minimum", "Maximum", "Total"}
ALLOWED_MINUTES = {
    "PT1M": 1, "PT5M": 5, "PT10M": 10, "PT15M": 15, "PT30M": 30, "PT45M": 45,
    "PT1H": 60, "PT2H": 120, "PT3H": 180, "PT4H": 240, "PT5H": 300, "PT6H": 360, "P1D": 1440, "P2D": 2880,
}  # fmt: skip


def test_every_log_alert_speaks_the_scheduled_query_api(prod, promoted_dr):
    for rendering in (prod, promoted_dr):
        for name, alert in log_alerts(rendering).items():
            (condition,) = alert["criteria"]["allOf"]
            assert condition["operator"] in SPEC_OPERATORS, name
            assert condition["timeAggregation"] in SPEC_AGGREGATIONS, name
            window, every = (
                ALLOWED_MINUTES[alert["windowSize"]],
                ALLOWED_MINUTES[alert["evaluationFrequency"]],
            )
            assert every <= window and every <= 12 * 60, name  # stateful alerts run at most every 12 h
            assert alert["kind"] == "LogAlert" and alert["enabled"] is True, name
            (group,) = rendering.of_type(ACTION_GROUP)
            assert alert["actions"]["actionGroups"] == [group.outputs["id"]], name


def test_each_writable_database_has_two_paging_one_ticket_and_a_breach_alert(prod, dr, promoted_dr):
    from components.alerts import BREACH_ALERT, BURN_RATE_ALERTS

    keys = [a.key for a in BURN_RATE_ALERTS] + [BREACH_ALERT.key]
    assert keys == ["burn-page-1h", "burn-page-6h", "burn-ticket-24h", "budget-spent"]
    for rendering in (prod, promoted_dr):
        names = set(log_alerts(rendering))
        for database in ("knowledge", "operational"):
            assert {f"{database}-g1-{key}" for key in keys} <= names
    assert not [name for name in log_alerts(dr) if "burn" in name or "budget" in name], (
        "a standby serves no one"
    )
    severities = {a.key: a.severity for a in (*BURN_RATE_ALERTS, BREACH_ALERT)}
    assert severities == {"burn-page-1h": 1, "burn-page-6h": 1, "burn-ticket-24h": 2, "budget-spent": 0}


def test_a_burn_rate_alert_asks_about_its_own_server_objective_windows_and_maintenance(prod):
    from components.naming import Naming

    alerts = log_alerts(prod)
    fast = alerts["knowledge-g1-burn-page-1h"]
    query = fast["criteria"]["allOf"][0]["query"]
    (server,) = [r.plain_inputs["serverName"] for r in prod.of_type(SERVER) if r.name == "knowledge-g1"]
    assert server.startswith(Naming("prod", "australiaeast", "").server_prefix("knowledge", 1))
    assert f'| where Resource =~ "{server}"' in query
    assert "let objective = 99.95;" in query and "let allowed = 14.4 * (100.0 - objective) / 100.0;" in query
    assert "let start_time = end_time - 60m;" in query and "let short_start = end_time - 5m;" in query
    assert "(week_minute - 180 + 10080) % 10080 >= 60" in query, "Sunday 03:00 is minute 180 of the week"
    assert (fast["windowSize"], fast["evaluationFrequency"], fast["severity"]) == ("PT2H", "PT5M", 1)
    operational = alerts["operational-g1-burn-ticket-24h"]["criteria"]["allOf"][0]["query"]
    assert "let objective = 99.9;" in operational
    assert "let allowed = 3.0 * (100.0 - objective) / 100.0;" in operational
    assert "(week_minute - 240 + 10080) % 10080 >= 60" in operational, "Sunday 04:00"
    assert "99.95 % objective" in fast["description"]


def test_every_alert_query_reaches_back_over_its_windows():
    from components.alerts import BREACH_ALERT, BREACH_REACH_MINUTES, BURN_RATE_ALERTS
    from components.facts import METRICS_EXPORT_MINUTES

    for alert in BURN_RATE_ALERTS:
        assert alert.long_minutes + METRICS_EXPORT_MINUTES < ALLOWED_MINUTES[alert.window_size], alert.key
        assert alert.short_minutes * 12 == alert.long_minutes, (
            "the SRE workbook's short window is 1/12 of the long"
        )
        # The budget share a page or ticket means: burn x long window / a 30-day month.
        assert alert.burn * alert.long_minutes / (30 * 1440) == pytest.approx(
            {"burn-page-1h": 0.02, "burn-page-6h": 0.05, "burn-ticket-24h": 0.10}[alert.key]
        )
    assert BREACH_REACH_MINUTES + METRICS_EXPORT_MINUTES < ALLOWED_MINUTES[BREACH_ALERT.window_size] == 2880


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
