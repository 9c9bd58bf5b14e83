"""What a replica-origin stack reads from its peer: server ids and the secrets generated there.

References go one way: the stack whose servers were created as replicas reads the stack that
created the sources. Values come from the peer's state, which outlives an Azure region.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from .settings import Database, NAMESPACE

# Inputs a replica must share with its source (Azure requires replica >= source; the platform keeps
# them equal so a promoted replica carries the same load and a switchover needs no resize).
MATCHING_FIELDS = {"sku": "sku", "tier": "tier", "storageGb": "storage_gb", "version": "version"}


def qualified_stack_name(stack: str) -> str:
    return stack if "/" in stack else f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"


def _comparable(value: Any) -> Any:
    # State round-trips numbers as floats (protobuf Struct): 256 and 256.0 are the same size.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return str(value)


def check_matches_source(key: str, database: Database, source: Mapping[str, Any], peer_stack: str) -> None:
    """Raise if this stack's declaration of a server differs from the source it replicates."""
    mismatches = []
    for export_name, field in MATCHING_FIELDS.items():
        ours = getattr(database, field)
        ours = ours.value if hasattr(ours, "value") else ours
        if _comparable(source.get(export_name)) != _comparable(ours):
            mismatches.append(
                f"{NAMESPACE}:databases.{key}.{export_name} is {ours!r} here but {source.get(export_name)!r} in {peer_stack}"
            )
    if mismatches:
        raise ValueError("a replica must match its source server: " + "; ".join(mismatches))


class PeerStack:
    def __init__(self, stack: str):
        self.name = qualified_stack_name(stack)
        self.reference = pulumi.StackReference(self.name)

    def source_server_id(self, key: str, database: Database) -> pulumi.Output[str]:
        """The id of the peer's server `key`, released only if this stack declares it identically."""

        def checked(servers: Mapping[str, Any]) -> str:
            if not servers or key not in servers:
                raise ValueError(
                    f"{NAMESPACE}:databases.{key}: stack {self.name} exports no server '{key}' to replicate "
                    f"(it exports: {sorted(servers or {})})"
                )
            check_matches_source(key, database, servers[key], self.name)
            return servers[key]["id"]

        return self.reference.get_output("servers").apply(checked)

    def shared_secret(self, name: str) -> pulumi.Output[str]:
        def pick(secrets: Mapping[str, str]) -> str:
            if not secrets or name not in secrets:
                raise ValueError(f"stack {self.name} exports no shared secret '{name}'")
            return secrets[name]

        return pulumi.Output.secret(self.reference.get_output("sharedSecrets")).apply(pick)
