"""Promotion of the standby's replicas with Microsoft's documented call.

Microsoft documents promotion as Servers_Update: an HTTP PATCH on the replica carrying only
`properties.replica.promoteMode` and `promoteOption` (read-replica/how-to-promote-replica-to-standalone;
REST examples ServersPromoteReplicaAs{Planned,Forced}StandaloneServer.json, api-version 2025-08-01).
The provider cannot send that: it updates a server with a PUT of the whole body built from the
program's inputs, and resends write-only inputs such as createMode and the promote fields on every
later update (`defaultUpdate` -> `crud.CreateOrUpdate`, pulumi-azure-native provider/pkg/provider;
pulumi-azure-native#4685 shows such a full PUT failing on a server whose only change was its
api-version). So failover does not depend on what a PUT would do: this module sends the PATCH
through Microsoft's SDK, pinned to the api-version the provider uses, and the control plane then
reconciles Pulumi (drill/control.py).

Standalone, not switchover: "promote to primary server" needs virtual endpoints, identical tiers and
storage on both servers, and turns the old primary into a replica of the new one
(concepts-read-replicas-promote); in a regional loss the old primary is out of reach.

A replica that is no longer one (replicationRole None or Primary) is not promoted again, so an
interrupted promotion can be resumed safely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components.settings import PromoteOption

from .azure_sdk import azure_client, wait_for
from .record import now

if TYPE_CHECKING:
    from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient


# The api-version pulumi-azure-native 3.29.0 uses for flexible servers ("Uses Azure REST API version
# 2025-08-01", pulumi_azure_native/dbforpostgresql/server.py); azure-mgmt-postgresqlflexibleservers
# 2.0.0 defaults to it, and it is set explicitly so an SDK upgrade cannot change it silently.
API_VERSION = "2025-08-01"
# Values of `replicationRole` that mean "still replicating" (ReplicationRole in the 2025-08-01 spec).
REPLICA_ROLES = ("AsyncReplica", "GeoAsyncReplica")
POLL_SECONDS = 15.0


class PromotionError(Exception):
    pass


@dataclass(frozen=True)
class ServerRef:
    key: str
    subscription_id: str
    resource_group: str
    name: str

    @classmethod
    def from_id(cls, key: str, arm_id: str) -> ServerRef:
        parts = arm_id.strip("/").split("/")
        try:
            return cls(
                key,
                parts[parts.index("subscriptions") + 1],
                parts[parts.index("resourceGroups") + 1],
                parts[parts.index("flexibleServers") + 1],
            )
        except (ValueError, IndexError):
            raise PromotionError(f"server {key}: {arm_id!r} is not a flexible server id") from None


def servers_of(outputs: Mapping[str, Any]) -> list[ServerRef]:
    """The servers a stack exports (its `servers` output), in a stable order."""
    servers = outputs.get("servers") or {}
    if not servers:
        raise PromotionError("the stack exports no servers: has it been deployed?")
    return [ServerRef.from_id(key, str(server["id"])) for key, server in sorted(servers.items())]


def default_client(
    subscription_id: str, credential: Any = None, **pipeline: Any
) -> PostgreSQLManagementClient:
    from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

    return azure_client(PostgreSQLManagementClient, subscription_id, API_VERSION, credential, **pipeline)


class Promoter:
    def __init__(
        self,
        client_for: Callable[[str], Any] = default_client,
        progress: Callable[[str], None] = print,
        poll_seconds: float = POLL_SECONDS,
    ):
        self.client_for = client_for
        self.progress = progress
        self.poll_seconds = poll_seconds

    def promote(self, server: ServerRef, option: PromoteOption) -> dict[str, Any]:
        """Promote one replica to a standalone server and wait for Azure to finish; returns the evidence."""
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.postgresqlflexibleservers.models import (
            ReadReplicaPromoteMode,
            ReadReplicaPromoteOption,
            Replica,
            ServerForPatch,
        )

        client = self.client_for(server.subscription_id)
        started = now()
        try:
            role = client.servers.get(server.resource_group, server.name).replication_role
            if role not in REPLICA_ROLES:
                self.progress(
                    f"{server.name}: replication role {role}, not a replica: already promoted, skipped"
                )
                return {
                    "server": server.name,
                    "option": option.value,
                    "skipped": True,
                    "replication_role": role,
                    "started_at": started,
                    "finished_at": now(),
                }
            # Only the promote fields: availability_zone would otherwise default to "" in this SDK.
            body = ServerForPatch(
                # None leaves the field out of the body; the SDK annotates it `str` only.
                availability_zone=None,  # type: ignore[arg-type]
                replica=Replica(
                    promote_mode=ReadReplicaPromoteMode.STANDALONE,
                    promote_option=ReadReplicaPromoteOption(option.value),
                ),
            )
            self.progress(f"{server.name}: promoting ({option.value}, standalone)")
            poller = client.servers.begin_update(
                server.resource_group, server.name, body, polling_interval=self.poll_seconds
            )
            promoted = wait_for(poller, server.name, self.progress, self.poll_seconds)
        except HttpResponseError as error:
            raise PromotionError(
                f"{server.name}: Azure refused or failed the promotion: {error.message}"
            ) from None
        role = getattr(promoted, "replication_role", None)
        if role in REPLICA_ROLES:
            raise PromotionError(f"{server.name}: the promotion finished but the server is still a {role}")
        self.progress(f"{server.name}: promoted (replication role {role})")
        return {
            "server": server.name,
            "option": option.value,
            "skipped": False,
            "replication_role": role,
            "started_at": started,
            "finished_at": now(),
        }
