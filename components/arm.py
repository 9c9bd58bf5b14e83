"""ARM identity of the provider resource types the program uses: resource type, id, API version.

The offline mocks build realistic ids from this table, and reports name types as Azure does. A
resource type missing here fails the render, so a new type is added deliberately, not guessed.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ArmType:
    resource_type: str
    # Input keys naming each segment of the id, outermost first (after the resource group).
    name_keys: tuple[str, ...]
    # Extension resources live under another resource's id instead of a resource group.
    scope_key: str | None = None
    subscription_scoped: bool = False
    # Segments whose name is fixed by Azure and so no input of the resource (blobServices/default).
    fixed_names: tuple[tuple[str, str], ...] = ()


ARM_TYPES: dict[str, ArmType] = {
    "azure-native:resources:ResourceGroup": ArmType(
        "Microsoft.Resources/resourceGroups", ("resourceGroupName",)
    ),
    "azure-native:operationalinsights:Workspace": ArmType(
        "Microsoft.OperationalInsights/workspaces", ("workspaceName",)
    ),
    "azure-native:operationalinsights:Table": ArmType(
        "Microsoft.OperationalInsights/workspaces/tables", ("workspaceName", "tableName")
    ),
    "azure-native:operationalinsights:DataExport": ArmType(
        "Microsoft.OperationalInsights/workspaces/dataExports", ("workspaceName", "dataExportName")
    ),
    "azure-native:storage:StorageAccount": ArmType("Microsoft.Storage/storageAccounts", ("accountName",)),
    "azure-native:storage:BlobServiceProperties": ArmType(
        "Microsoft.Storage/storageAccounts/blobServices", ("accountName", "blobServicesName")
    ),
    "azure-native:storage:BlobContainer": ArmType(
        "Microsoft.Storage/storageAccounts/blobServices/containers",
        ("accountName", "blobServicesName", "containerName"),
        fixed_names=(("blobServicesName", "default"),),
    ),
    "azure-native:storage:ManagementPolicy": ArmType(
        "Microsoft.Storage/storageAccounts/managementPolicies", ("accountName", "managementPolicyName")
    ),
    "azure-native:keyvault:Vault": ArmType("Microsoft.KeyVault/vaults", ("vaultName",)),
    "azure-native:keyvault:Key": ArmType("Microsoft.KeyVault/vaults/keys", ("vaultName", "keyName")),
    "azure-native:keyvault:Secret": ArmType("Microsoft.KeyVault/vaults/secrets", ("vaultName", "secretName")),
    "azure-native:managedidentity:UserAssignedIdentity": ArmType(
        "Microsoft.ManagedIdentity/userAssignedIdentities", ("resourceName",)
    ),
    "azure-native:dbforpostgresql:Server": ArmType(
        "Microsoft.DBforPostgreSQL/flexibleServers", ("serverName",)
    ),
    "azure-native:dbforpostgresql:Configuration": ArmType(
        "Microsoft.DBforPostgreSQL/flexibleServers/configurations", ("serverName", "configurationName")
    ),
    "azure-native:dbforpostgresql:Database": ArmType(
        "Microsoft.DBforPostgreSQL/flexibleServers/databases", ("serverName", "databaseName")
    ),
    "azure-native:dbforpostgresql:FirewallRule": ArmType(
        "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules", ("serverName", "firewallRuleName")
    ),
    "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra": ArmType(
        "Microsoft.DBforPostgreSQL/flexibleServers/administrators", ("serverName", "objectId")
    ),
    "azure-native:dataprotection:BackupVault": ArmType(
        "Microsoft.DataProtection/backupVaults", ("vaultName",)
    ),
    "azure-native:dataprotection:BackupPolicy": ArmType(
        "Microsoft.DataProtection/backupVaults/backupPolicies", ("vaultName", "backupPolicyName")
    ),
    "azure-native:dataprotection:BackupInstance": ArmType(
        "Microsoft.DataProtection/backupVaults/backupInstances", ("vaultName", "backupInstanceName")
    ),
    "azure-native:monitor:ActionGroup": ArmType("Microsoft.Insights/actionGroups", ("actionGroupName",)),
    "azure-native:monitor:MetricAlert": ArmType("Microsoft.Insights/metricAlerts", ("ruleName",)),
    "azure-native:monitor:ActivityLogAlert": ArmType(
        "Microsoft.Insights/activityLogAlerts", ("activityLogAlertName",)
    ),
    "azure-native:monitor:ScheduledQueryRule": ArmType(
        "Microsoft.Insights/scheduledQueryRules", ("ruleName",)
    ),
    "azure-native:applicationinsights:Workbook": ArmType("Microsoft.Insights/workbooks", ("resourceName",)),
    "azure-native:monitor:DiagnosticSetting": ArmType(
        "Microsoft.Insights/diagnosticSettings", ("name",), scope_key="resourceUri"
    ),
    "azure-native:monitor:SubscriptionDiagnosticSetting": ArmType(
        "Microsoft.Insights/diagnosticSettings", ("name",), subscription_scoped=True
    ),
    "azure-native:authorization:RoleAssignment": ArmType(
        "Microsoft.Authorization/roleAssignments", ("roleAssignmentName",), scope_key="scope"
    ),
    "azure-native:authorization:ManagementLockByScope": ArmType(
        "Microsoft.Authorization/locks", ("lockName",), scope_key="scope"
    ),
    "azure-native:network:VirtualNetwork": ArmType(
        "Microsoft.Network/virtualNetworks", ("virtualNetworkName",)
    ),
    "azure-native:network:Subnet": ArmType(
        "Microsoft.Network/virtualNetworks/subnets", ("virtualNetworkName", "subnetName")
    ),
    "azure-native:network:VirtualNetworkPeering": ArmType(
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
        ("virtualNetworkName", "virtualNetworkPeeringName"),
    ),
    "azure-native:network:PrivateEndpoint": ArmType(
        "Microsoft.Network/privateEndpoints", ("privateEndpointName",)
    ),
    "azure-native:network:PrivateDnsZoneGroup": ArmType(
        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
        ("privateEndpointName", "privateDnsZoneGroupName"),
    ),
    "azure-native:privatedns:PrivateZone": ArmType("Microsoft.Network/privateDnsZones", ("privateZoneName",)),
    "azure-native:privatedns:VirtualNetworkLink": ArmType(
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks", ("privateZoneName", "virtualNetworkLinkName")
    ),
    # The record type is a path segment (.../privateDnsZones/{zone}/{recordType}/{name}); the program writes CNAMEs only.
    "azure-native:privatedns:PrivateRecordSet": ArmType(
        "Microsoft.Network/privateDnsZones/CNAME", ("privateZoneName", "relativeRecordSetName")
    ),
}


class UnknownResourceType(Exception):
    pass


def arm_type(token: str) -> ArmType:
    try:
        return ARM_TYPES[token]
    except KeyError:
        raise UnknownResourceType(
            f"resource type {token} is not in components/arm.py ARM_TYPES; add its ARM type and name keys"
        ) from None


def name_segments(token: str, inputs: Mapping[str, Any]) -> list[str]:
    """The names in a resource's id, outermost first (its ARM template name, joined with /)."""
    kind = arm_type(token)
    named = {**dict(kind.fixed_names), **inputs}
    missing = [key for key in kind.name_keys if key not in named]
    if missing:
        raise UnknownResourceType(
            f"{token}: inputs lack {missing}; the program must name this resource explicitly"
        )
    return [str(named[key]) for key in kind.name_keys]


def resource_id(token: str, inputs: Mapping[str, Any], subscription_id: str) -> str:
    """The ARM id Azure would give a resource with these inputs."""
    kind = arm_type(token)
    provider, *types = kind.resource_type.split("/")
    names = name_segments(token, inputs)
    if token == "azure-native:resources:ResourceGroup":
        return f"/subscriptions/{subscription_id}/resourceGroups/{names[0]}"
    if kind.scope_key:
        prefix = str(inputs[kind.scope_key])
    elif kind.subscription_scoped:
        prefix = f"/subscriptions/{subscription_id}"
    else:
        prefix = f"/subscriptions/{subscription_id}/resourceGroups/{inputs['resourceGroupName']}"
    path = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=False))
    return f"{prefix}/providers/{provider}/{path}"


def sdk_class(token: str, suffix: str = "") -> Any:
    """The provider SDK's class for an azure-native type token (with `suffix` "Args", its inputs)."""
    _, module_name, class_name = token.split(":")
    return getattr(importlib.import_module(f"pulumi_azure_native.{module_name}"), class_name + suffix)


@functools.cache
def api_version(token: str) -> str:
    """The REST API version the pinned SDK uses for a type, as its generated docstring states."""
    resource_class = sdk_class(token)
    match = re.search(r"Uses Azure REST API version (\S+?)\.?\s", resource_class.__init__.__doc__ or "")
    if not match:
        source = importlib.import_module(resource_class.__module__).__file__
        if source is not None:  # else no source to read: the type is unknown, as below
            with open(source) as handle:
                match = re.search(r"Uses Azure REST API version (\S+?)\.?\s", handle.read())
    if not match:
        raise UnknownResourceType(f"no API version found for {token}")
    return match.group(1).rstrip(".")
