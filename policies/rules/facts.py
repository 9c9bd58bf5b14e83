"""Facts about resources that several rules need: types, what a server is, its recovery targets."""

from __future__ import annotations

import ipaddress
from enum import Enum

from components.durations import Duration
from components.facts import PROJECT_SECRETS, PURPOSE_TAG, RESTORE_STAGING

from .model import Resource

SERVER = "azure-native:dbforpostgresql:Server"
CONFIGURATION = "azure-native:dbforpostgresql:Configuration"
FIREWALL_RULE = "azure-native:dbforpostgresql:FirewallRule"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
WORKSPACE = "azure-native:operationalinsights:Workspace"
TABLE = "azure-native:operationalinsights:Table"
DATA_EXPORT = "azure-native:operationalinsights:DataExport"
STORAGE = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
MANAGEMENT_POLICY = "azure-native:storage:ManagementPolicy"
BACKUP_VAULT = "azure-native:dataprotection:BackupVault"
BACKUP_POLICY = "azure-native:dataprotection:BackupPolicy"
BACKUP_INSTANCE = "azure-native:dataprotection:BackupInstance"
DIAGNOSTIC = "azure-native:monitor:DiagnosticSetting"
SUBSCRIPTION_DIAGNOSTIC = "azure-native:monitor:SubscriptionDiagnosticSetting"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
ACTIVITY_ALERT = "azure-native:monitor:ActivityLogAlert"
LOG_ALERT = "azure-native:monitor:ScheduledQueryRule"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
LOCK = "azure-native:authorization:ManagementLockByScope"
VNET = "azure-native:network:VirtualNetwork"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
PRIVATE_ZONE = "azure-native:privatedns:PrivateZone"
ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"
RECORD_SET = "azure-native:privatedns:PrivateRecordSet"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"

# Resources that hold data, keys or evidence: protected in Pulumi and delete-locked in Azure.
STATEFUL = (SERVER, VAULT, BACKUP_VAULT, WORKSPACE, STORAGE)
# Those reached over a private endpoint (backup vaults support none; the workspace is reached
# through Azure Monitor, not a private endpoint of its own).
PRIVATE_DATA_STORES = (SERVER, VAULT, STORAGE)


def is_restore_staging(resource: Resource) -> bool:
    """The account a backup vault restores files into: transient (CTY-RET-009), so neither locked nor
    immutable, which every other storage account is."""
    return resource.type == STORAGE and resource.tags.get(PURPOSE_TAG) == RESTORE_STAGING


def is_project_vault(resource: Resource) -> bool:
    """The vault of project secrets: unlocked so that a project's grants can be removed when it leaves
    (CTY-DEP-008); CTY-ISO-002 keeps it to project secrets, each readable by its project alone."""
    return resource.type == VAULT and resource.tags.get(PURPOSE_TAG) == PROJECT_SECRETS


class ServerKind(Enum):
    PRIMARY = "primary"  # created writable
    STANDBY = "standby"  # a read replica
    PROMOTED = "promoted"  # a replica promoted to writable


def server_kind(server: Resource) -> ServerKind:
    """What a server is, from the createMode the program sends (components.platform.server_plan):
    Replica for a standby, Update for a replica that was promoted, Create for a primary."""
    mode = server.get("createMode")
    if mode == "Replica":
        return ServerKind.STANDBY
    return ServerKind.PROMOTED if mode == "Update" else ServerKind.PRIMARY


def is_writable(server: Resource) -> bool:
    return server_kind(server) is not ServerKind.STANDBY


def database_key(server: Resource) -> str:
    """The config key of a server (`knowledge` for logical name `knowledge-g1`)."""
    return server.name.rsplit("-g", 1)[0]


def duration_tag(resource: Resource, tag: str) -> Duration | None:
    value = resource.tags.get(tag)
    if value is None:
        return None
    try:
        return Duration.parse(value)
    except ValueError:
        return None


def ip_rule_network(value: object) -> ipaddress.IPv4Network | None:
    """An IP rule's range as a network (a single address is a /32); None when it is no IPv4 address
    or range, which Azure's IP rules never are."""
    try:
        return ipaddress.IPv4Network(str(value), strict=False)
    except ValueError:
        return None
