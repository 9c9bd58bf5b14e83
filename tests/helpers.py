"""Small queries over a rendering, shared by the tests."""

from __future__ import annotations

from gate.render import Rendering, RenderedResource

SERVER = "azure-native:dbforpostgresql:Server"
CONFIGURATION = "azure-native:dbforpostgresql:Configuration"
DATABASE = "azure-native:dbforpostgresql:Database"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
SECRET = "azure-native:keyvault:Secret"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
WORKSPACE = "azure-native:operationalinsights:Workspace"
TABLE = "azure-native:operationalinsights:Table"
DATA_EXPORT = "azure-native:operationalinsights:DataExport"
STORAGE = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
BACKUP_VAULT = "azure-native:dataprotection:BackupVault"
BACKUP_POLICY = "azure-native:dataprotection:BackupPolicy"
BACKUP_INSTANCE = "azure-native:dataprotection:BackupInstance"
DIAGNOSTIC = "azure-native:monitor:DiagnosticSetting"
SUBSCRIPTION_DIAGNOSTIC = "azure-native:monitor:SubscriptionDiagnosticSetting"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
ACTIVITY_ALERT = "azure-native:monitor:ActivityLogAlert"
QUERY_ALERT = "azure-native:monitor:ScheduledQueryRule"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
LOCK = "azure-native:authorization:ManagementLockByScope"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"

STATEFUL_TYPES = (SERVER, VAULT, BACKUP_VAULT, WORKSPACE, STORAGE)


def servers(rendering: Rendering) -> dict[str, dict]:
    """Server inputs by config key (`knowledge`, `operational`)."""
    return {r.name.rsplit("-g", 1)[0]: r.plain_inputs for r in rendering.of_type(SERVER)}


def server_resource(rendering: Rendering, key: str) -> RenderedResource:
    (match,) = [r for r in rendering.of_type(SERVER) if r.name.startswith(f"{key}-g")]
    return match


def by_id(rendering: Rendering, arm_id: str) -> RenderedResource:
    (match,) = [r for r in rendering.resources if r.id == arm_id]
    return match


def parameters(rendering: Rendering, server_name: str) -> dict[str, str]:
    return {
        c.plain_inputs["configurationName"]: c.plain_inputs["value"]
        for c in rendering.of_type(CONFIGURATION)
        if c.plain_inputs["serverName"] == server_name
    }


def workspace_id(rendering: Rendering) -> str:
    (workspace,) = rendering.of_type(WORKSPACE)
    return workspace.id
