"""What a stack reads from its peer: a replica-origin stack the server ids and the secrets
generated there; the DNS-linked stack the zones, network and geo-backup vault it links and peers.

References go one way: the stack whose servers were created as replicas (and that links the other's
DNS) reads the stack that created the sources. Values come from the peer's state, which outlives an
Azure region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from .settings import NAMESPACE, Database
from .skus import UnknownSku, replica_shortfalls


def qualified_stack_name(stack: str) -> str:
    return stack if "/" in stack else f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"


class ReplicaMismatch(ValueError):
    """A replica declared smaller than, or a different version from, the server it replicates."""


def check_fits_source(key: str, database: Database, source: Mapping[str, Any], peer_stack: str) -> None:
    """Raise unless this stack's replica of `key` is at least as large as its source, with the same
    version and the same RTO/RPO targets.

    Microsoft: "Compute on the primary must always be equal or smaller than the compute on the
    smallest replica", and likewise storage (concepts-read-replicas, "Scale"); so a replica may be
    larger (it is scaled up first) but never smaller. Its storage also follows the source's growth
    (components.database), so only the configured sizes are compared here.
    """
    where = f"{NAMESPACE}:databases.{key}"
    problems = []
    if str(source.get("version")) != database.version:
        problems.append(
            f"{where}.version is {database.version!r} here but {source.get('version')!r} in {peer_stack}"
        )
    # One database, one set of targets: a replica judged by other targets than its source hides a miss.
    for target in ("rto", "rpo"):
        ours = str(getattr(database, target))
        if str(source.get(target)) != ours:
            problems.append(f"{where}.{target} is {ours!r} here but {source.get(target)!r} in {peer_stack}")
    try:
        problems += [
            f"{where}: {reason}"
            for reason in replica_shortfalls(
                database.sku,
                database.tier.value,
                database.storage_gb,
                str(source.get("sku")),
                str(source.get("tier")),
                int(source.get("storageGb") or 0),
            )
        ]
    except UnknownSku as error:
        problems.append(f"{where}: the source in {peer_stack}: {error}")
    if problems:
        raise ReplicaMismatch(
            "a replica must be at least as large as its source, neither on the Burstable tier, with the "
            "same version and targets (scale the replica up first, docs/runbooks/scaling.md): "
            + "; ".join(problems)
        )


@dataclass(frozen=True)
class SourceServer:
    id: pulumi.Output[str]
    requested_storage_gb: pulumi.Output[int]


class PeerStack:
    def __init__(self, stack: str):
        self.name = qualified_stack_name(stack)
        self.reference = pulumi.StackReference(self.name)

    def source_server(self, key: str, database: Database) -> SourceServer:
        """The peer's server `key`, released only if this stack's replica of it is large enough."""

        def checked(servers: Mapping[str, Any]) -> Mapping[str, Any]:
            if not servers or key not in servers:
                raise ValueError(
                    f"{NAMESPACE}:databases.{key}: stack {self.name} exports no server '{key}' to replicate "
                    f"(it exports: {sorted(servers or {})})"
                )
            server: Mapping[str, Any] = servers[key]
            check_fits_source(key, database, server, self.name)
            return server

        source = self.reference.get_output("servers").apply(checked)
        return SourceServer(
            id=source.apply(lambda server: server["id"]),
            requested_storage_gb=source.apply(lambda server: int(server["requestedStorageGb"])),
        )

    def export(self, name: str) -> pulumi.Output[Any]:
        """One of the peer's stack outputs, which must exist."""

        def required(value: Any) -> Any:
            if value is None:
                raise ValueError(
                    f"stack {self.name} exports no {name!r}: deploy it with this version of the program first"
                )
            return value

        return self.reference.get_output(name).apply(required)

    def shared_secret(self, name: str) -> pulumi.Output[str]:
        def pick(secrets: Mapping[str, str]) -> str:
            if not secrets or name not in secrets:
                raise ValueError(f"stack {self.name} exports no shared secret '{name}'")
            return secrets[name]

        secrets: pulumi.Output[Mapping[str, str]] = pulumi.Output.secret(
            self.reference.get_output("sharedSecrets")
        )
        return secrets.apply(pick)
