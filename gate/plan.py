"""A preview-like plan of a rendered stack: each resource with the settings that matter for DR."""

from __future__ import annotations

from typing import Any

from .render import RenderedResource, Rendering, redact

# Per resource type, the input paths worth showing (dotted paths into the provider inputs).
KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "azure-native:dbforpostgresql:Server": (
        "createMode",
        "sku.name",
        "storage.storageSizeGB",
        "version",
        "highAvailability.mode",
        "backup.backupRetentionDays",
        "backup.geoRedundantBackup",
        "dataEncryption.type",
        "dataEncryption.geoBackupKeyURI",
        "sourceServerResourceId",
        "network.publicNetworkAccess",
    ),
    "azure-native:dbforpostgresql:Configuration": ("configurationName", "value"),
    "azure-native:keyvault:Vault": (
        "properties.sku.name",
        "properties.enableRbacAuthorization",
        "properties.enablePurgeProtection",
        "properties.softDeleteRetentionInDays",
        "properties.publicNetworkAccess",
    ),
    "azure-native:keyvault:Key": (
        "keyName",
        "properties.kty",
        "properties.keySize",
        "properties.rotationPolicy.lifetimeActions",
    ),
    "azure-native:keyvault:Secret": ("secretName", "properties.value"),
    "azure-native:operationalinsights:Workspace": ("retentionInDays", "features.disableLocalAuth"),
    "azure-native:operationalinsights:Table": ("tableName", "retentionInDays", "totalRetentionInDays"),
    "azure-native:operationalinsights:DataExport": ("tableNames",),
    "azure-native:storage:StorageAccount": (
        "sku.name",
        "minimumTlsVersion",
        "allowSharedKeyAccess",
        "allowBlobPublicAccess",
        "immutableStorageWithVersioning.immutabilityPolicy.immutabilityPeriodSinceCreationInDays",
        "immutableStorageWithVersioning.immutabilityPolicy.state",
    ),
    "azure-native:dataprotection:BackupVault": (
        "properties.storageSettings",
        "properties.featureSettings.crossRegionRestoreSettings.state",
        "properties.securitySettings.softDeleteSettings",
        "properties.securitySettings.immutabilitySettings.state",
    ),
    "azure-native:dataprotection:BackupPolicy": ("properties.policyRules",),
    "azure-native:dataprotection:BackupInstance": ("properties.dataSourceInfo.resourceName",),
    "azure-native:monitor:MetricAlert": ("criteria.allOf", "severity"),
    "azure-native:authorization:RoleAssignment": ("roleDefinitionId",),
    "azure-native:authorization:ManagementLockByScope": ("level",),
    "time:index/sleep:Sleep": ("createDuration",),
}


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _compact(value: Any) -> str:
    """One-line summary of a nested value (policy rules, criteria)."""
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, dict):
        for key in ("name", "metricName", "tagName", "duration", "type"):
            if key in value:
                extra = "".join(
                    f" {value[k]}" for k in ("operator", "threshold", "timeAggregation") if k in value
                )
                return f"{value[key]}{extra}"
        return "{" + ", ".join(f"{k}={_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def resource_summary(resource: RenderedResource) -> dict[str, Any]:
    inputs = redact(resource.inputs)
    settings = {}
    for path in KEY_SETTINGS.get(resource.type, ()):
        value = _get(inputs, path)
        if value is not None:
            settings[path] = value
    return {
        "type": resource.type,
        "logicalName": resource.name,
        "name": resource.id.rsplit("/", 1)[-1] if resource.id else resource.name,
        "location": inputs.get("location"),
        "protect": resource.protect,
        "adoptsExisting": bool(resource.import_id),
        "retainOnDelete": resource.retain_on_delete,
        "tags": inputs.get("tags"),
        "settings": settings,
        "urn": resource.urn,
    }


def plan_json(rendering: Rendering) -> dict[str, Any]:
    s = rendering.settings
    return {
        "stack": rendering.stack,
        "region": s.region,
        "role": s.role.value,
        "origin": s.origin.value,
        "peer": {"stack": s.peer.stack, "region": s.peer.region},
        "resourceCount": sum(1 for r in rendering.resources if r.custom),
        "resources": [resource_summary(r) for r in rendering.resources if r.custom],
        "outputs": redact(rendering.outputs),
    }


def plan_text(rendering: Rendering) -> str:
    plan = plan_json(rendering)
    lines = [
        f"Stack {plan['stack']}: region {plan['region']}, role {plan['role']} (servers created as {plan['origin']}), "
        f"peer {plan['peer']['stack']} in {plan['peer']['region']}",
        f"  {plan['resourceCount']} resources to create",
    ]
    for item in plan["resources"]:
        flags = "".join(
            flag
            for flag, on in (
                (" [protected]", item["protect"]),
                (" [adopts existing]", item["adoptsExisting"]),
                (" [retained on delete]", item["retainOnDelete"]),
            )
            if on
        )
        location = f"  {item['location']}" if item["location"] else ""
        azure_name = f" ({item['name']})" if item["name"] != item["logicalName"] else ""
        lines.append(f"  + {item['type']:<52} {item['logicalName']}{azure_name}{location}{flags}")
        for path, value in item["settings"].items():
            lines.append(f"      {path} = {_compact(value)}")
    return "\n".join(lines)
