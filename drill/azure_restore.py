"""Restores into disposable servers through Microsoft's SDKs, and their removal.

- `pitr`: Servers_CreateOrUpdate with createMode PointInTimeRestore, sourceServerResourceId and
  pointInTimeUTC (REST example ServersCreatePointInTimeRestore.json, api-version 2025-08-01). "Point
  in time restore only supports the deployment of the new server in the same region in which the
  source server exists" (how-to-restore-latest-restore-point).
- `geo`: createMode GeoRestore "on the paired region of the existing server ... only supported on
  existing servers that were created with geographically redundant backups enabled" (CreateMode in
  the 2025-08-01 spec); Azure restores "the last available backup data that's available at the
  paired region" (concepts-backup-restore), whatever point is sent.

The sources encrypt with customer-managed keys, so the request names the identities and keys the
new server uses (ServersCreateGeoRestoreWithDataEncryptionEnabled.json): the source's own for a
point-in-time restore; for a geo-restore the paired region's key (the source's geo-backup key)
becomes the primary and the source's primary the geo-backup key, as Azure CLI's geo-restore does.
Private endpoints "are not copied over from the original server" (post-restore tasks), and the
sources have no public access, so each disposable server gets public access Disabled and a private
endpoint (group postgresqlServer, concepts-networking-private-link) in the region's endpoint subnet.

Everything created is written to a ledger before the create is sent, and deleted in a `finally`;
a check killed before it could delete leaves its ledger, which the next check sweeps first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from components.facts import DISPOSABLE_SERVER_PREFIX
from components.network import PRIVATE_ENDPOINT_SUBNET, subnet_name

from .azure_sdk import azure_client, wait_for
from .promotion import ServerRef, default_client

if TYPE_CHECKING:
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.postgresqlflexibleservers.models import Server, UserAssignedIdentity

# The api-version pulumi-azure-native 3.29.0 uses for private endpoints ("Uses Azure REST API
# version 2024-05-01", pulumi_azure_native/network/private_endpoint.py).
NETWORK_API_VERSION = "2024-05-01"
CREATE_MODES = {"pitr": "PointInTimeRestore", "geo": "GeoRestore"}
POSTGRES_GROUP_ID = "postgresqlServer"
POLL_SECONDS = 30.0
LEDGER_FILE = "disposable.json"
# The tag every disposable server carries, so a check on another machine finds what an interrupted
# one left (its ledger stayed on the machine that was interrupted).
DISPOSABLE_TAG = "continuity-restore-check"


class RestoreError(Exception):
    pass


@dataclass(frozen=True)
class Placement:
    """Where a disposable server goes: its region, resource group and the VNet whose endpoint
    subnet gives it a private address (`network.virtualNetworkId` of the stack there)."""

    subscription_id: str
    resource_group: str
    location: str
    virtual_network_id: str

    @property
    def subnet_id(self) -> str:
        return f"{self.virtual_network_id}/subnets/{subnet_name(PRIVATE_ENDPOINT_SUBNET)}"


def disposable_name(kind: str, database: str, source: ServerRef, stamp: str) -> str:
    """A server name (3-63 lower-case letters, digits, hyphens) no other check or subscription
    takes: the kind, the database, the check's start and a digest of the source."""
    digest = hashlib.sha256(f"{source.subscription_id}/{source.resource_group}/{source.name}".encode())
    return (
        f"{DISPOSABLE_SERVER_PREFIX}{kind}-{database[:20].lower().rstrip('-')}-{stamp.lower()}-"
        f"{digest.hexdigest()[:6]}"
    )


class Ledger:
    """What a check created in Azure (`disposable.json` in its folder): each entry is written
    before its create is sent and marked when its delete has finished."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []

    def will_create(self, kind: str, arm_id: str) -> None:
        self.entries.append({"kind": kind, "id": arm_id, "deleted": False})
        self._save()

    def deleted(self, arm_id: str) -> None:
        for entry in self.entries:
            if entry["id"] == arm_id:
                entry["deleted"] = True
        self._save()

    def pending(self) -> list[dict[str, Any]]:
        """What is still to delete, newest first: an endpoint goes before the server it reaches."""
        return [entry for entry in reversed(self.entries) if not entry["deleted"]]

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.entries, indent=2) + "\n")
        temporary.replace(self.path)


def restore_request(source: Server, kind: str, location: str, point: dt.datetime, check_id: str) -> Server:
    """The Servers_CreateOrUpdate body that restores `source` into a new server, tagged with the check."""
    from azure.mgmt.postgresqlflexibleservers.models import (
        DataEncryption,
        Network,
        Server,
    )

    if kind not in CREATE_MODES:
        raise RestoreError(f"no Azure server restore of kind {kind!r} (one of {sorted(CREATE_MODES)})")
    encryption = source.data_encryption
    if kind == "geo":
        if source.backup is None or source.backup.geo_redundant_backup != "Enabled":
            raise RestoreError(
                f"{source.name}: geo-redundant backup is not enabled, so there is nothing to geo-restore "
                "(it can only be turned on when a server is created)"
            )
        if encryption is not None and encryption.type == "AzureKeyVault":
            encryption = DataEncryption(
                type="AzureKeyVault",
                primary_key_uri=encryption.geo_backup_key_uri,
                primary_user_assigned_identity_id=encryption.geo_backup_user_assigned_identity_id,
                geo_backup_key_uri=encryption.primary_key_uri,
                geo_backup_user_assigned_identity_id=encryption.primary_user_assigned_identity_id,
            )
    return Server(
        location=location,
        tags={DISPOSABLE_TAG: check_id},
        identity=source_identities(source),
        data_encryption=encryption,
        network=Network(public_network_access="Disabled"),
        create_mode=CREATE_MODES[kind],
        source_server_resource_id=source.id,
        point_in_time_utc=point,  # sent in UTC by the SDK's serializer
        # None leaves the field out of the body; the SDK annotates it `str` only.
        availability_zone=None,  # type: ignore[arg-type]
    )


def source_identities(source: Server) -> UserAssignedIdentity | None:
    """The source's user-assigned identities for a new server: its keys are reached through them."""
    from azure.mgmt.postgresqlflexibleservers.models import UserAssignedIdentity, UserIdentity

    identities = sorted((source.identity.user_assigned_identities or {}) if source.identity else {})
    if not identities:
        return None
    return UserAssignedIdentity(
        type="UserAssigned", user_assigned_identities={i: UserIdentity() for i in identities}
    )


def network_client(subscription_id: str, credential: Any = None, **pipeline: Any) -> NetworkManagementClient:
    from azure.mgmt.network import NetworkManagementClient

    return azure_client(NetworkManagementClient, subscription_id, NETWORK_API_VERSION, credential, **pipeline)


# Flexible servers take PostgreSQL connections on 5432 (PgBouncer, when on, on 6432).
POSTGRES_PORT = 5432


@dataclass(frozen=True)
class Restored:
    """How to reach a restored server: its name for TLS, the private endpoint's address to connect
    to; for a server the check created itself, the point its data is from and its admin login."""

    server_id: str
    fqdn: str
    private_ip: str
    port: int = POSTGRES_PORT
    point: dt.datetime | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def dsn(self, base: str) -> str:
        """`base` (a source's connection string, no password) pointed at this server: its name for
        TLS (sslmode verify-full checks it), its endpoint's address to connect to."""
        from psycopg.conninfo import make_conninfo

        # A user of None leaves `base`'s own user in place.
        return make_conninfo(base, host=self.fqdn, hostaddr=self.private_ip, port=self.port, user=self.user)


class AzureRestorer:
    """The control-plane half of a restore check: read the source, restore, reach, remove."""

    def __init__(
        self,
        postgres_for: Callable[[str], Any] = default_client,
        network_for: Callable[[str], Any] = network_client,
        progress: Callable[[str], None] = print,
        poll_seconds: float = POLL_SECONDS,
    ):
        self.postgres_for = postgres_for
        self.network_for = network_for
        self.progress = progress
        self.poll_seconds = poll_seconds

    def source(self, server: ServerRef) -> Server:
        from azure.core.exceptions import HttpResponseError

        try:
            found: Server = self.postgres_for(server.subscription_id).servers.get(
                server.resource_group, server.name
            )
        except HttpResponseError as error:
            raise RestoreError(f"{server.name}: cannot read the source server: {error.message}") from None
        if found.state != "Ready":
            raise RestoreError(f"{server.name}: the source server is {found.state}, not Ready")
        return found

    def restore(
        self, ledger: Ledger, source: Server, kind: str, name: str, placement: Placement, point: dt.datetime
    ) -> Restored:
        """Restore into the new server `name`, give it a private endpoint, and return how to reach it."""
        body = restore_request(source, kind, placement.location, point, ledger.path.parent.name)
        doing = f"restoring {source.name} ({CREATE_MODES[kind]})"
        server_id, fqdn = self.create_server(ledger, body, name, placement, doing, "the restore")
        return Restored(server_id, fqdn, self.endpoint(ledger, name, server_id, placement))

    def create_server(
        self, ledger: Ledger, body: Server, name: str, placement: Placement, doing: str, what: str
    ) -> tuple[str, str]:
        """Create the disposable server `name` (listed in the ledger first); its id and FQDN.
        `what` names the operation in errors ("the restore")."""
        from azure.core.exceptions import HttpResponseError

        server_id = (
            f"/subscriptions/{placement.subscription_id}/resourceGroups/{placement.resource_group}"
            f"/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}"
        )
        ledger.will_create("server", server_id)
        self.progress(f"{name}: {doing} in {placement.location}")
        try:
            poller = self.postgres_for(placement.subscription_id).servers.begin_create_or_update(
                placement.resource_group, name, body, polling_interval=self.poll_seconds
            )
            created: Server = wait_for(poller, name, self.progress, self.poll_seconds)
        except HttpResponseError as error:
            raise RestoreError(f"{name}: Azure refused or failed {what}: {error.message}") from None
        if created.state != "Ready" or not created.fully_qualified_domain_name:
            raise RestoreError(f"{name}: {what} finished but the server is {created.state}")
        return server_id, created.fully_qualified_domain_name

    def leftovers(self, placement: Placement, ledger: Ledger) -> Ledger:
        """Disposable servers in the placement's resource group (found by their tag) that no
        finished check removed, with the endpoints checks give them, listed in `ledger` for removal."""
        servers = self.postgres_for(placement.subscription_id).servers.list_by_resource_group(
            placement.resource_group
        )
        for server in servers:
            if DISPOSABLE_TAG in (server.tags or {}):
                ledger.will_create("server", server.id)
                ledger.will_create("privateEndpoint", _endpoint_id(placement, f"pe-{server.name}"))
        return ledger

    def endpoint(self, ledger: Ledger, name: str, server_id: str, placement: Placement) -> str:
        """A private endpoint to the server `name` in the placement's subnet; its address."""
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.network.models import PrivateEndpoint, PrivateLinkServiceConnection, Subnet

        endpoint_name = f"pe-{name}"
        ledger.will_create("privateEndpoint", _endpoint_id(placement, endpoint_name))
        body = PrivateEndpoint(
            location=placement.location,
            subnet=Subnet(id=placement.subnet_id),
            private_link_service_connections=[
                PrivateLinkServiceConnection(
                    name=endpoint_name, private_link_service_id=server_id, group_ids=[POSTGRES_GROUP_ID]
                )
            ],
        )
        self.progress(f"{name}: private endpoint {endpoint_name}")
        try:
            poller = self.network_for(placement.subscription_id).private_endpoints.begin_create_or_update(
                placement.resource_group, endpoint_name, body, polling_interval=self.poll_seconds
            )
            endpoint = wait_for(poller, endpoint_name, self.progress, self.poll_seconds)
        except HttpResponseError as error:
            raise RestoreError(
                f"{endpoint_name}: Azure refused or failed the endpoint: {error.message}"
            ) from None
        # Without a DNS zone group Azure reports the address in customDnsConfigs; an endpoint made
        # with static addresses lists them in ipConfigurations (PrivateEndpointGet.json, 2024-05-01).
        addresses = [a for config in endpoint.custom_dns_configs or [] for a in config.ip_addresses or []]
        addresses += [c.private_ip_address for c in endpoint.ip_configurations or [] if c.private_ip_address]
        if not addresses:
            raise RestoreError(f"{endpoint_name}: Azure reported no private address for the endpoint")
        return str(addresses[0])

    def remove(self, ledger: Ledger) -> list[str]:
        """Delete what the ledger lists, newest first; returns what could not be deleted (with why).
        Something already gone counts as deleted."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        left = []
        for entry in ledger.pending():
            name = PurePosixPath(entry["id"]).name  # an ARM id's last segment; a URL's, for files
            self.progress(f"{name}: deleting")
            try:
                self.delete(entry)
            except ResourceNotFoundError:
                pass
            except HttpResponseError as error:
                left.append(f"{entry['id']}: {error.message}")
                continue
            except RestoreError as error:
                left.append(str(error))
                continue
            ledger.deleted(entry["id"])
            self.progress(f"{name}: deleted")
        return left

    def delete(self, entry: dict[str, Any]) -> None:
        """Delete one ledger entry (a server or a private endpoint), waiting until Azure has."""
        subscription, group, name = arm_names(entry["id"])
        if entry["kind"] == "server":
            operations = self.postgres_for(subscription).servers
        elif entry["kind"] == "privateEndpoint":
            operations = self.network_for(subscription).private_endpoints
        else:
            raise RestoreError(f"{entry['id']}: this restorer cannot delete a {entry['kind']}")
        poller = operations.begin_delete(group, name, polling_interval=self.poll_seconds)
        wait_for(poller, name, self.progress, self.poll_seconds)


def arm_names(arm_id: str) -> tuple[str, str, str]:
    """Subscription, resource group and name of a resource from its ARM id
    (/subscriptions/S/resourceGroups/G/providers/.../NAME)."""
    parts = PurePosixPath(arm_id).parts
    return parts[2], parts[4], parts[-1]


def _endpoint_id(placement: Placement, name: str) -> str:
    return (
        f"/subscriptions/{placement.subscription_id}/resourceGroups/{placement.resource_group}"
        f"/providers/Microsoft.Network/privateEndpoints/{name}"
    )
