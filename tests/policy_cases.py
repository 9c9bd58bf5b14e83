"""For every rule: a way to weaken a real rendered stack so that the rule must catch it.

Each case starts from a committed stack's render (which passes every rule) and changes one thing,
the way a careless pull request would. The same table drives the in-process rule fixtures and the
mutation tests through the policy pack process.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from gate.render import RenderedResource, Rendering
from helpers import (
    ACTION_GROUP,
    ACTIVITY_ALERT,
    BACKUP_INSTANCE,
    BACKUP_POLICY,
    BACKUP_VAULT,
    CONFIGURATION,
    DATA_EXPORT,
    DIAGNOSTIC,
    FIREWALL_RULE,
    KEY,
    MANAGEMENT_POLICY,
    METRIC_ALERT,
    PRIVATE_ENDPOINT,
    RECORD_SET,
    ROLE_ASSIGNMENT,
    SERVER,
    STORAGE,
    SUBSCRIPTION_DIAGNOSTIC,
    TABLE,
    VAULT,
    VNET,
    WORKSPACE,
    ZONE_LINK,
)


@dataclass(frozen=True)
class Case:
    rule_id: str
    stack: str  # "prod", "dr" or "dr-promoted"
    what: str
    mutate: Callable[[Rendering], str]  # edits a copy in place, returns the URN the finding must name


def find(rendering: Rendering, type_: str, name: str = "") -> RenderedResource:
    matches = [r for r in rendering.resources if r.type == type_ and r.name.startswith(name)]
    assert matches, f"no {type_} named {name}* in {rendering.stack}"
    return matches[0]


def set_path(resource: RenderedResource, path: str, value) -> None:
    """Set (or with DELETE remove) a dotted path in the inputs; numeric parts index lists."""
    target = resource.inputs
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    if value is DELETE:
        target.pop(last, None)
    else:
        target[last] = value


DELETE = object()


def edit(
    type_: str, name: str, path: str, value, anchor: Callable[[Rendering], RenderedResource] | None = None
):
    def mutate(rendering: Rendering) -> str:
        resource = find(rendering, type_, name)
        set_path(resource, path, value)
        return (anchor(rendering) if anchor else resource).urn

    return mutate


def drop(type_: str, name: str, anchor: Callable[[Rendering], RenderedResource]):
    def mutate(rendering: Rendering) -> str:
        victim = find(rendering, type_, name)
        rendering.resources.remove(victim)
        return anchor(rendering).urn

    return mutate


def config_value(type_: str, name: str, parameter: str, value: str):
    """Change one server parameter (Configuration resource) of a server."""

    def mutate(rendering: Rendering) -> str:
        server = find(rendering, SERVER, name)
        for config in rendering.of_type(CONFIGURATION):
            if (
                config.inputs["configurationName"] == parameter
                and server.urn in config.property_dependencies["serverName"]
            ):
                config.inputs["value"] = value
        return server.urn

    return mutate


def server(name: str) -> Callable[[Rendering], RenderedResource]:
    return lambda rendering: find(rendering, SERVER, name)


def of(type_: str, name: str = "") -> Callable[[Rendering], RenderedResource]:
    return lambda rendering: find(rendering, type_, name)


def _yearly_one_year(rendering: Rendering) -> str:
    policy = find(rendering, BACKUP_POLICY)
    for policy_rule in policy.inputs["properties"]["policyRules"]:
        if policy_rule["name"] == "Yearly":
            policy_rule["lifecycles"][0]["deleteAfter"]["duration"] = "P1Y"
    return policy.urn


def _unprotect(rendering: Rendering) -> str:
    resource = find(rendering, SERVER, "knowledge")
    resource.protect = False
    return resource.urn


def _activity_log_without_security(rendering: Rendering) -> str:
    setting = find(rendering, SUBSCRIPTION_DIAGNOSTIC)
    setting.inputs["logs"] = [log for log in setting.inputs["logs"] if log["category"] != "Security"]
    return find(rendering, WORKSPACE).urn


def _service_health_one_region(rendering: Rendering) -> str:
    alert = find(rendering, ACTIVITY_ALERT, "alerts-service-health")
    for condition in alert.inputs["condition"]["allOf"]:
        if condition["field"].endswith("RegionName"):
            condition["containsAny"] = ["Australia East"]
    return find(rendering, ACTION_GROUP).urn


def _geo_key_in_home_region(rendering: Rendering) -> str:
    resource = find(rendering, SERVER, "knowledge")
    deps = resource.property_dependencies["dataEncryption"]
    resource.property_dependencies["dataEncryption"] = [u for u in deps if "geo-backup" not in u]
    return resource.urn


def _public_vault(rendering: Rendering) -> str:
    vault = find(rendering, VAULT, "key-vault")
    vault.inputs["properties"]["publicNetworkAccess"] = "Enabled"
    vault.inputs["properties"]["networkAcls"]["defaultAction"] = "Allow"
    return vault.urn


def _grant_on_the_key(rendering: Rendering) -> str:
    """The CMK grant moved back onto the key, beneath the vault's delete lock."""
    grant = find(rendering, ROLE_ASSIGNMENT, "key-vault-postgres-key-access")
    key = find(rendering, KEY, "key-vault")
    grant.inputs["scope"] = key.id
    grant.property_dependencies["scope"] = [key.urn]
    return grant.urn


def _grant_on_the_server(rendering: Rendering) -> str:
    """The LTR grant on the server itself, as it used to be (only the id links it)."""
    grant = find(rendering, ROLE_ASSIGNMENT, "backup-vault-ltr-backup")
    grant.inputs["scope"] = find(rendering, SERVER, "knowledge").id
    grant.property_dependencies.pop("scope", None)
    return grant.urn


def _firewall(rendering: Rendering, server_name: str, anchor_server: bool) -> str:
    """A firewall rule open to every address, naming its server as text (no output links it)."""
    stack = rendering.stack
    rule = RenderedResource(
        urn=f"urn:pulumi:{stack}::continuity::azure-native:dbforpostgresql:FirewallRule::open-to-all",
        type=FIREWALL_RULE,
        name="open-to-all",
        id="",
        custom=True,
        parent="",
        protect=False,
        dependencies=[],
        inputs={
            "serverName": server_name,
            "resourceGroupName": find(rendering, SERVER, "knowledge").inputs["resourceGroupName"],
            "firewallRuleName": "all",
            "startIpAddress": "0.0.0.0",
            "endIpAddress": "255.255.255.255",
        },
    )
    rendering.resources.append(rule)
    return find(rendering, SERVER, "knowledge").urn if anchor_server else rule.urn


def _open_firewall_by_name(rendering: Rendering) -> str:
    return _firewall(rendering, find(rendering, SERVER, "knowledge").inputs["serverName"], anchor_server=True)


def _firewall_for_an_unknown_server(rendering: Rendering) -> str:
    return _firewall(rendering, "psql-somewhere-else", anchor_server=False)


def _no_network(rendering: Rendering) -> str:
    """No VNet at all: nothing has a private path, whatever endpoints remain declared."""
    for vnet in rendering.of_type(VNET):
        rendering.resources.remove(vnet)
    return find(rendering, SERVER, "knowledge").urn


def _zone_linked_elsewhere(rendering: Rendering) -> str:
    """The writer zone is linked to some other network, not this stack's."""
    link = find(rendering, ZONE_LINK, "private-dns-writer-link")
    link.property_dependencies.pop("virtualNetwork", None)
    link.inputs["virtualNetwork"] = {
        "id": "/subscriptions/x/resourceGroups/other/providers/Microsoft.Network/"
        "virtualNetworks/vnet-elsewhere"
    }
    return find(rendering, VNET, "network").urn


def _writer_created_elsewhere(rendering: Rendering) -> str:
    """A writer name created pointing at another stack's server (no link to its own server)."""
    record = find(rendering, RECORD_SET, "knowledge-writer-name")
    record.property_dependencies.pop("cnameRecord", None)
    record.inputs["cnameRecord"] = {"cname": "psql-cty-knowledge-dr-ase-g1-x.postgres.database.azure.com"}
    return record.urn


def _writer_in_the_linked_stack(rendering: Rendering) -> str:
    """The linked stack declares a writer name too: two stacks would fight over one record."""
    link = find(rendering, ZONE_LINK, "private-dns-writer-link")
    record = copy.deepcopy(link)
    record.type, record.name = RECORD_SET, "knowledge-writer-name"
    record.urn = link.urn.replace(
        f"{ZONE_LINK}::private-dns-writer-link", f"{RECORD_SET}::knowledge-writer-name"
    )
    record.inputs = {
        "privateZoneName": "continuity.internal",
        "recordType": "CNAME",
        "relativeRecordSetName": "knowledge.writer",
        "ttl": 30,
        "cnameRecord": {"cname": "psql-cty-knowledge-dr-ase-g1-x.postgres.database.azure.com"},
    }
    record.property_dependencies = {}
    rendering.resources.append(record)
    return record.urn


LOG_ALERT = "azure-native:monitor:ScheduledQueryRule"


def _budget_alerts(rendering: Rendering, database: str) -> list[RenderedResource]:
    prefix = f"alerts-{database}-g1-"
    return [r for r in rendering.of_type(LOG_ALERT) if r.name.startswith(prefix)]


def _without_budget_alerts(rendering: Rendering) -> str:
    for alert in _budget_alerts(rendering, "knowledge"):
        rendering.resources.remove(alert)
    return find(rendering, SERVER, "knowledge").urn


def _budget_alerts_disabled(rendering: Rendering) -> str:
    for alert in _budget_alerts(rendering, "knowledge"):
        alert.inputs["enabled"] = False
    return find(rendering, SERVER, "knowledge").urn


def _budget_alerts_that_only_ticket(rendering: Rendering) -> str:
    for alert in _budget_alerts(rendering, "operational"):
        alert.inputs["severity"] = 3
    return find(rendering, SERVER, "operational").urn


def _alerts_on_another_server(rendering: Rendering) -> str:
    for alert in _budget_alerts(rendering, "knowledge"):
        condition = alert.inputs["criteria"]["allOf"][0]
        condition["query"] = condition["query"].replace('| where Resource =~ "', '| where Resource =~ "old-')
    return find(rendering, SERVER, "knowledge").urn


def _query_edit(database: str, key: str, old: str, new: str):
    def mutate(rendering: Rendering) -> str:
        (alert,) = [a for a in _budget_alerts(rendering, database) if a.name.endswith(key)]
        condition = alert.inputs["criteria"]["allOf"][0]
        assert old in condition["query"]
        condition["query"] = condition["query"].replace(old, new)
        return find(rendering, SERVER, database).urn

    return mutate


SECRET = "azure-native:keyvault:Secret"


def _project_grant(rendering: Rendering, project: str) -> RenderedResource:
    return find(rendering, ROLE_ASSIGNMENT, f"project-{project}-key-reader")


def _project_secret(rendering: Rendering, project: str) -> RenderedResource:
    return find(rendering, SECRET, f"project-secrets-project-{project}-key")


def _grant_on_the_whole_vault(anchor_vault: bool):
    def mutate(rendering: Rendering) -> str:
        grant = _project_grant(rendering, "atlas")
        vault = find(rendering, VAULT, "project-secrets-vault")
        grant.inputs["scope"] = vault.outputs["id"]
        return (vault if anchor_vault else grant).urn

    return mutate


def _grant_on_the_workspace(rendering: Rendering) -> str:
    grant = _project_grant(rendering, "borealis")
    grant.inputs["scope"] = find(rendering, WORKSPACE).outputs["id"]
    grant.property_dependencies["scope"] = [find(rendering, WORKSPACE).urn]
    return grant.urn


def _other_role_on_the_secret(anchor_secret: bool):
    def mutate(rendering: Rendering) -> str:
        grant = _project_grant(rendering, "atlas")
        # Key Vault Secrets Officer: may also write and delete the secret.
        grant.inputs["roleDefinitionId"] = grant.inputs["roleDefinitionId"].rsplit("/", 1)[0] + (
            "/b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
        )
        return (_project_secret(rendering, "atlas") if anchor_secret else grant).urn

    return mutate


def _secret_shared_with_another_project(rendering: Rendering) -> str:
    atlas, borealis = _project_grant(rendering, "atlas"), _project_grant(rendering, "borealis")
    borealis.inputs["scope"] = atlas.inputs["scope"]
    return _project_secret(rendering, "atlas").urn


def _rename_owner_tag(rendering: Rendering) -> str:
    resource = find(rendering, SERVER, "knowledge")
    tags = resource.inputs["tags"]
    tags["Owner"] = tags.pop("owner")
    return resource.urn


CASES = [
    Case("CTY-RET-001", "prod", "workspace keeps 30 days", edit(WORKSPACE, "", "retentionInDays", 30)),
    Case(
        "CTY-RET-002",
        "prod",
        "activity table kept 90 days in total",
        edit(TABLE, "observability-retention-AzureActivity", "totalRetentionInDays", 90),
    ),
    Case(
        "CTY-RET-003",
        "prod",
        "LAQueryLogs retention dropped",
        drop(TABLE, "observability-retention-LAQueryLogs", of(WORKSPACE)),
    ),
    Case("CTY-RET-004", "prod", "PITR 7 days", edit(SERVER, "knowledge", "backup.backupRetentionDays", 7)),
    Case("CTY-RET-005", "prod", "yearly backups kept 1 year", _yearly_one_year),
    Case(
        "CTY-RET-006",
        "prod",
        "backup soft delete off",
        edit(BACKUP_VAULT, "", "properties.securitySettings.softDeleteSettings.state", "Off"),
    ),
    Case(
        "CTY-RET-007",
        "prod",
        "archive immutable 30 days",
        edit(
            STORAGE,
            "observability-archive",
            "immutableStorageWithVersioning.immutabilityPolicy.immutabilityPeriodSinceCreationInDays",
            30,
        ),
    ),
    Case(
        "CTY-RET-007",
        "dr",
        "restore staging account without its purpose tag",
        edit(STORAGE, "restore-staging-account", "tags.purpose", DELETE),
    ),
    Case(
        "CTY-RET-009",
        "prod",
        "restored files kept 30 days",
        edit(
            MANAGEMENT_POLICY,
            "restore-staging-lifecycle",
            "policy.rules.0.definition.actions.baseBlob.delete.daysAfterModificationGreaterThan",
            30,
            anchor=lambda r: find(r, STORAGE, "restore-staging-account"),
        ),
    ),
    Case(
        "CTY-RET-009",
        "dr",
        "no lifecycle rule on the restore staging account",
        drop(
            MANAGEMENT_POLICY,
            "restore-staging-lifecycle",
            lambda r: find(r, STORAGE, "restore-staging-account"),
        ),
    ),
    Case(
        "CTY-RET-009",
        "prod",
        "the audit archive tagged as restore staging, to shed its lock and immutability",
        edit(STORAGE, "observability-archive", "tags.purpose", "restore-staging"),
    ),
    Case(
        "CTY-RET-008",
        "prod",
        "purge protection off",
        edit(VAULT, "key-vault", "properties.enablePurgeProtection", False),
    ),
    Case(
        "CTY-ENC-001",
        "prod",
        "service-managed key",
        edit(SERVER, "knowledge", "dataEncryption.type", "SystemManaged"),
    ),
    Case(
        "CTY-ENC-002",
        "prod",
        "geo-backup key removed",
        edit(SERVER, "knowledge", "dataEncryption.geoBackupKeyURI", DELETE),
    ),
    Case(
        "CTY-ENC-003",
        "prod",
        "TLS 1.1 allowed",
        config_value(SERVER, "knowledge", "ssl_min_protocol_version", "TLSv1.1"),
    ),
    Case(
        "CTY-ENC-004",
        "prod",
        "secure transport off",
        config_value(SERVER, "operational", "require_secure_transport", "off"),
    ),
    Case("CTY-ENC-005", "prod", "archive accepts TLS 1.0", edit(STORAGE, "", "minimumTlsVersion", "TLS1_0")),
    Case(
        "CTY-ENC-006",
        "prod",
        "no infrastructure encryption",
        edit(STORAGE, "", "encryption.requireInfrastructureEncryption", False),
    ),
    Case("CTY-ENC-007", "prod", "2048-bit key", edit(KEY, "key-vault", "properties.keySize", 2048)),
    Case("CTY-TAG-001", "prod", "owner tag renamed Owner", _rename_owner_tag),
    Case("CTY-TAG-002", "prod", "vault rto tag without unit", edit(VAULT, "key-vault", "tags.rto", "15")),
    Case(
        "CTY-RES-001",
        "prod",
        "geo-redundant backup off",
        edit(SERVER, "knowledge", "backup.geoRedundantBackup", "Disabled"),
    ),
    Case("CTY-RES-002", "prod", "HA off", edit(SERVER, "operational", "highAvailability.mode", "Disabled")),
    Case(
        "CTY-RES-003",
        "prod",
        "backup vault locally redundant",
        edit(
            BACKUP_VAULT,
            "",
            "properties.storageSettings",
            [{"datastoreType": "VaultStore", "type": "LocallyRedundant"}],
        ),
    ),
    Case(
        "CTY-SLA-001",
        "prod",
        "knowledge promises 99.995 %, above zone-redundant HA's 99.99 %",
        edit(SERVER, "knowledge", "tags.availability-objective", "99.995"),
    ),
    Case(
        "CTY-SLA-001",
        "prod",
        "operational's HA turned off under a 99.95 % objective",
        lambda r: (
            set_path(find(r, SERVER, "operational"), "tags.availability-objective", "99.95"),
            edit(SERVER, "operational", "highAvailability.mode", "Disabled")(r),
        )[1],
    ),
    Case(
        "CTY-SLA-001",
        "prod",
        "an objective that is not a number",
        edit(SERVER, "knowledge", "tags.availability-objective", "four nines"),
    ),
    Case(
        "CTY-SLA-002",
        "prod",
        "custom maintenance window turned off",
        edit(SERVER, "knowledge", "maintenanceWindow.customWindow", "Disabled"),
    ),
    Case(
        "CTY-SLA-002",
        "prod",
        "maintenance on Monday while the SLA excludes Sunday",
        edit(SERVER, "operational", "maintenanceWindow.dayOfWeek", 1),
    ),
    Case("CTY-SLA-003", "prod", "knowledge's error-budget alerts removed", _without_budget_alerts),
    Case("CTY-SLA-003", "prod", "knowledge's error-budget alerts disabled", _budget_alerts_disabled),
    Case(
        "CTY-SLA-003",
        "prod",
        "operational's error-budget alerts all at ticket severity",
        _budget_alerts_that_only_ticket,
    ),
    Case(
        "CTY-SLA-003",
        "prod",
        "a paging alert left on the old objective",
        _query_edit("knowledge", "burn-page-1h", "let objective = 99.95;", "let objective = 99.9;"),
    ),
    Case(
        "CTY-SLA-003",
        "prod",
        "the breach alert excluding Monday's hour, not Sunday's",
        _query_edit(
            "operational", "budget-spent", "(week_minute - 240 + 10080)", "(week_minute - 1680 + 10080)"
        ),
    ),
    Case(
        "CTY-SLA-003",
        "dr-promoted",
        "the promoted server's alerts name another server",
        _alerts_on_another_server,
    ),
    Case(
        "CTY-ISO-001",
        "prod",
        "a project's group granted on the whole project vault",
        _grant_on_the_whole_vault(False),
    ),
    Case("CTY-ISO-001", "dr", "a project's group granted on the workspace", _grant_on_the_workspace),
    Case("CTY-ISO-001", "prod", "a project's group given Secrets Officer", _other_role_on_the_secret(False)),
    Case("CTY-ISO-002", "prod", "a whole-vault grant on the project vault", _grant_on_the_whole_vault(True)),
    Case(
        "CTY-ISO-002", "dr", "atlas's secret also readable by borealis", _secret_shared_with_another_project
    ),
    Case(
        "CTY-ISO-002", "prod", "a project secret granted as Secrets Officer", _other_role_on_the_secret(True)
    ),
    Case(
        "CTY-ISO-002",
        "prod",
        "a secret in the project vault that belongs to no project",
        edit(SECRET, "project-secrets-project-borealis-key", "tags.project", "gamma"),
    ),
    Case("CTY-RES-004", "prod", "server not protected", _unprotect),
    Case(
        "CTY-RES-004",
        "prod",
        "restore staging account without its purpose tag",
        edit(STORAGE, "restore-staging-account", "tags.purpose", DELETE),
    ),
    Case(
        "CTY-RES-005", "dr", "operational replica missing", drop(SERVER, "operational", server("knowledge"))
    ),
    Case(
        "CTY-OBS-001",
        "prod",
        "server diagnostics removed",
        drop(DIAGNOSTIC, "knowledge", server("knowledge")),
    ),
    Case("CTY-OBS-002", "prod", "activity log without Security", _activity_log_without_security),
    Case(
        "CTY-OBS-003",
        "prod",
        "storage alert removed",
        drop(METRIC_ALERT, "alerts-knowledge-g1-storage", server("knowledge")),
    ),
    Case("CTY-OBS-004", "prod", "service health for one region", _service_health_one_region),
    Case(
        "CTY-ACC-001",
        "prod",
        "vault access policies",
        edit(VAULT, "key-vault", "properties.enableRbacAuthorization", False),
    ),
    Case("CTY-ACC-002", "prod", "vault open to the internet", _public_vault),
    Case(
        "CTY-ACC-003",
        "prod",
        "server public without allowed ranges",
        edit(SERVER, "knowledge", "network.publicNetworkAccess", "Enabled"),
    ),
    Case("CTY-ACC-003", "prod", "firewall open to all, server named as text", _open_firewall_by_name),
    Case(
        "CTY-ACC-003", "prod", "firewall rule for a server not in the stack", _firewall_for_an_unknown_server
    ),
    Case("CTY-ACC-004", "prod", "archive shared keys on", edit(STORAGE, "", "allowSharedKeyAccess", True)),
    Case(
        "CTY-ACC-005",
        "prod",
        "workspace shared keys on",
        edit(WORKSPACE, "", "features.disableLocalAuth", False),
    ),
    Case("CTY-CON-001", "prod", "knowledge RPO 1 minute", edit(SERVER, "knowledge", "tags.rpo", "1min")),
    Case(
        "CTY-CON-002",
        "dr",
        "lag alert at 1 hour for a 15 min RPO",
        edit(
            METRIC_ALERT,
            "alerts-knowledge-g1-replication-lag",
            "criteria.allOf.0.threshold",
            3600,
            anchor=server("knowledge"),
        ),
    ),
    Case("CTY-DEP-001", "prod", "100 GiB storage", edit(SERVER, "knowledge", "storage.storageSizeGB", 100)),
    Case(
        "CTY-DEP-001",
        "prod",
        "a /32 storage IP rule",
        edit(
            STORAGE,
            "observability-archive",
            "networkRuleSet.ipRules",
            [{"iPAddressOrRange": "203.0.113.7/32"}],
        ),
    ),
    Case("CTY-DEP-002", "prod", "HA on Burstable", edit(SERVER, "knowledge", "sku.tier", "Burstable")),
    Case("CTY-DEP-003", "prod", "geo-backup key in the home region", _geo_key_in_home_region),
    Case(
        "CTY-DEP-004",
        "prod",
        "backup vault in the peer region",
        edit(
            BACKUP_VAULT,
            "",
            "location",
            "australiasoutheast",
            anchor=of(BACKUP_INSTANCE, "backup-vault-knowledge"),
        ),
    ),
    Case(
        "CTY-DEP-005", "dr", "HA on a replica", edit(SERVER, "knowledge", "highAvailability.mode", "SameZone")
    ),
    Case(
        "CTY-DEP-006", "dr", "GZRS where there are no zones", edit(STORAGE, "", "sku.name", "Standard_GZRS")
    ),
    Case(
        "CTY-DEP-007",
        "prod",
        "AzureDiagnostics exported",
        edit(DATA_EXPORT, "", "tableNames", ["AzureActivity", "AzureDiagnostics"]),
    ),
    Case("CTY-DEP-008", "prod", "key grant beneath the vault's lock", _grant_on_the_key),
    Case("CTY-DEP-008", "prod", "LTR grant on a locked server, linked by id only", _grant_on_the_server),
    Case(
        "CTY-DEP-009",
        "dr",
        "replica with half its source's vCores",
        edit(SERVER, "knowledge", "sku.name", "Standard_D2ds_v5"),
    ),
    Case(
        "CTY-DEP-009",
        "dr",
        "replica with less storage",
        edit(SERVER, "operational", "storage.storageSizeGB", 64),
    ),
    Case(
        "CTY-DEP-009",
        "prod",
        "primary scaled up before its replica",
        edit(SERVER, "knowledge", "sku.name", "Standard_D8ds_v5"),
    ),
    Case("CTY-DEP-009", "dr", "replica of another version", edit(SERVER, "knowledge", "version", "17")),
    Case(
        "CTY-OBS-005",
        "prod",
        "pg_cron not allowed",
        config_value(SERVER, "knowledge", "azure.extensions", "pgaudit,vector"),
    ),
    Case(
        "CTY-OBS-005",
        "dr",
        "no database for the heartbeat job",
        config_value(SERVER, "operational", "cron.database_name", ""),
    ),
    Case(
        "CTY-NET-001",
        "prod",
        "server without a private endpoint",
        drop(PRIVATE_ENDPOINT, "network-pe-knowledge", server("knowledge")),
    ),
    Case(
        "CTY-NET-001",
        "prod",
        "archive without a private endpoint",
        drop(PRIVATE_ENDPOINT, "network-pe-archive", of(STORAGE)),
    ),
    Case(
        "CTY-NET-001",
        "dr",
        "the peer's geo-backup vault without an endpoint here",
        drop(PRIVATE_ENDPOINT, "network-pe-peer-geo", of(VNET)),
    ),
    Case("CTY-NET-001", "prod", "no virtual network at all", _no_network),
    Case("CTY-NET-002", "dr", "writer zone not linked", drop(ZONE_LINK, "private-dns-writer-link", of(VNET))),
    Case("CTY-NET-002", "dr", "writer zone linked to another network", _zone_linked_elsewhere),
    Case(
        "CTY-NET-002",
        "prod",
        "vault zone not linked",
        drop(ZONE_LINK, "private-dns-privatelink.vaultcore", of(VNET)),
    ),
    Case(
        "CTY-NET-003",
        "prod",
        "address space overlapping the peer's",
        edit(VNET, "network", "addressSpace.addressPrefixes", ["10.0.0.0/8"]),
    ),
    Case(
        "CTY-NET-004",
        "prod",
        "no writer name for a database",
        drop(RECORD_SET, "operational-writer-name", server("operational")),
    ),
    Case(
        "CTY-NET-004",
        "prod",
        "writer name as an A record",
        edit(RECORD_SET, "knowledge-writer-name", "recordType", "A"),
    ),
    Case(
        "CTY-NET-004",
        "prod",
        "writer name cached for an hour",
        edit(RECORD_SET, "knowledge-writer-name", "ttl", 3600),
    ),
    Case("CTY-NET-004", "prod", "writer name created pointing at another server", _writer_created_elsewhere),
    Case("CTY-NET-004", "dr", "writer name declared by the linked stack", _writer_in_the_linked_stack),
    Case(
        "CTY-CON-002",
        "dr",
        "lag alert below two heartbeats",
        edit(
            METRIC_ALERT,
            "alerts-operational-g1-replication-lag",
            "criteria.allOf.0.threshold",
            60,
            anchor=server("operational"),
        ),
    ),
]

# The recorded degradation is advisory: it fires on the promoted standby, not on a mutation.
ADVISORY_CASES = {"CTY-RES-900": ("dr-promoted", "promoted replica without geo-backup or HA")}


def mutated(base: Rendering, case: Case) -> tuple[Rendering, str]:
    rendering = copy.deepcopy(base)
    urn = case.mutate(rendering)
    return rendering, urn
