"""Which input changes make the provider replace a resource rather than update it in place.

The provider replaces a resource when one of its path parameters (its name, its resource group)
changes, or a body property whose `x-ms-mutability` allows `create` but not `update`
(`propChangeForcesRecreate` in pulumi-azure-native provider/pkg/gen/properties.go, applied by
`findForceNew` in provider/pkg/provider/diff.go). The table holds those properties for the types
whose replacement would lose data, read from the REST specs the pinned provider uses:

- flexibleServers, Microsoft.DBforPostgreSQL 2025-08-01 (PostgreSQL/stable/2025-08-01/openapi.json):
  `location` (TrackedResource, read+create), `administratorLogin`, `sourceServerResourceId`,
  `availabilityZone` (read+create) and `pointInTimeUTC` (create). `createMode`, the admin password
  and `replica` are create+update or update: they change in place.

A property the resource's `ignoreChanges` lists keeps its old value, so it never forces anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CREATE_ONLY: dict[str, tuple[str, ...]] = {
    "azure-native:dbforpostgresql:Server": (
        "resourceGroupName",
        "serverName",
        "location",
        "administratorLogin",
        "sourceServerResourceId",
        "availabilityZone",
        "pointInTimeUTC",
    ),
}


def replacing_changes(
    token: str, before: Mapping[str, Any], after: Mapping[str, Any], ignore_changes: Iterable[str] = ()
) -> list[str]:
    """The create-only inputs that differ between two sets of inputs of one resource."""
    ignored = set(ignore_changes)
    return [
        name
        for name in CREATE_ONLY.get(token, ())
        if name not in ignored and before.get(name) != after.get(name)
    ]
