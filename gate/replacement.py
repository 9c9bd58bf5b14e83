"""Which input changes make the provider replace a resource rather than update it in place.

How pulumi-azure-native 3.29.0 decides (provider/pkg source):
- every path parameter of the PUT (the name, the parent's name, the resource group, a scope) forces
  a replacement (`calculateDetailedDiff` in provider/pkg/provider/diff.go). They make the resource
  id, so the change engine (gate/changes.py) treats any change of id as a replacement;
- a body property whose `x-ms-mutability` allows `create` but not `update` does, when it sits at
  resource level (flattened `properties` count; a nested type's do not: `forceNew` and
  `propChangeForcesRecreate` in provider/pkg/gen/properties.go);
- so does a property in the provider's own `forceNewMap` (provider/pkg/gen/replacement.go), and
  any child of a property that forces one (`calculateValueDiff`);
- `location` compares lower-cased without spaces and `resourceGroupName` ignoring case
  (`applyAzureSpecificDiff` in diff.go); the engine resets `ignoreChanges` paths to their old
  values before the provider diffs, and forces a replacement for `replaceOnChanges` paths.

The table, per type this project declares (REST API versions the pinned SDK uses):
- Server (DBforPostgreSQL 2025-08-01, PostgreSQL/stable/2025-08-01/openapi.json): `location`
  (TrackedResource, read+create), `administratorLogin`, `sourceServerResourceId`,
  `availabilityZone` (read+create), `pointInTimeUTC` (create). `createMode`, the admin password and
  `replica` are create+update or update; `backup.geoRedundantBackup` is create-only but nested, so
  the provider sends it as an update (which Azure refuses: a settings rule keeps it fixed).
- Workspace (OperationalInsights 2023-09-01), UserAssignedIdentity (ManagedIdentity 2023-01-31),
  PrivateZone (privatedns 2024-06-01): `location`, from their TrackedResource (read+create).
- StorageAccount (Storage 2024-01-01): `location`, `isHnsEnabled`; ResourceGroup (2024-03-01) and
  VirtualNetwork (Network 2024-05-01): `location`; RoleAssignment (2022-04-01): `principalId`,
  `scope`; PrivateEndpoint (Network 2024-05-01): `subnet` (all four from `forceNewMap`).
- RandomPassword (pulumi-random 4.21.4, terraform-provider-random `random_password`): every input
  (`RequiresReplace`); Sleep (pulumiverse-time 0.1.1): `triggers`.
- Nothing else declared here has one: Key Vault vaults, keys and secrets (2024-11-01), backup vaults,
  policies and instances (2025-01-01), tables, data exports, locks, subnets, configurations and
  databases change in place or not at all, as far as the provider is concerned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

CREATE_ONLY: dict[str, tuple[str, ...]] = {
    "azure-native:dbforpostgresql:Server": (
        "location",
        "administratorLogin",
        "sourceServerResourceId",
        "availabilityZone",
        "pointInTimeUTC",
    ),
    "azure-native:operationalinsights:Workspace": ("location",),
    "azure-native:managedidentity:UserAssignedIdentity": ("location",),
    "azure-native:privatedns:PrivateZone": ("location",),
    "azure-native:storage:StorageAccount": ("location", "isHnsEnabled"),
    "azure-native:resources:ResourceGroup": ("location",),
    "azure-native:network:VirtualNetwork": ("location",),
    "azure-native:authorization:RoleAssignment": ("principalId", "scope"),
    "azure-native:network:PrivateEndpoint": ("subnet",),
    "time:index/sleep:Sleep": ("triggers",),
}
# Types every input of which forces a new resource.
REPLACED_ON_ANY_CHANGE = frozenset({"random:index/randomPassword:RandomPassword"})
# Inputs the provider compares after normalising them (`applyAzureSpecificDiff`).
NORMALISED: dict[str, Callable[[Any], Any]] = {
    "location": lambda v: v.lower().replace(" ", "") if isinstance(v, str) else v,
    "resourceGroupName": lambda v: v.lower() if isinstance(v, str) else v,
}


def same_to_the_provider(path: str, before: Any, after: Any) -> bool:
    """Whether the provider sees no change between two values of an input."""
    normalise = NORMALISED.get(path)
    return normalise is not None and normalise(before) == normalise(after)


def replacing_paths(token: str, replace_on_changes: Iterable[str] = ()) -> Callable[[str], bool]:
    """Whether a change at a dotted input path replaces a resource of this type (and with these
    `replaceOnChanges` options)."""
    if token in REPLACED_ON_ANY_CHANGE or "*" in replace_on_changes:
        return lambda path: True
    create_only = (*CREATE_ONLY.get(token, ()), *replace_on_changes)

    def replaces(path: str) -> bool:
        return any(path == c or path.startswith(f"{c}.") or c.startswith(f"{path}.") for c in create_only)

    return replaces
