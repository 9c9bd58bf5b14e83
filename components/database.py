"""PostgreSQL flexible server: a writable primary, a cross-region read replica, or a promoted replica.

The provider updates a server with a PUT of its whole body, built from the program's inputs alone
(`defaultUpdate` -> `crud.CreateOrUpdate` in pulumi-azure-native provider/pkg/provider), and resends
write-only inputs such as `createMode` on every update. So what the program declares must be a body
Azure accepts at any time for the server as it is:

- a primary: `createMode: Create`;
- a standby replica: `createMode: Replica` with its source (create-only: ignored after creation);
- a promoted replica: `createMode: Update` and no `replica` block. The promotion itself is
  Microsoft's documented PATCH, run by `python -m drill promote`; no body the program sends can
  promote a server, or promote it again.

`createMode` may change in place (x-ms-mutability create+update in the 2025-08-01 REST spec);
`sourceServerResourceId` and `availabilityZone` are create-only (replacement on change), and Azure
changes or drops them by itself (a promotion, an HA failover), so the program ignores later changes
to both.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import dbforpostgresql as pg

from . import existing
from .arm import resource_id
from .diagnostics import send_diagnostics
from .facts import ADMIN_LOGIN
from .keyvault import EncryptionKey
from .protection import Protection
from .regions import region_info
from .settings import Database, DatabaseSla, EntraPrincipal, Origin, Waits
from .waits import wait

CONFIGURATION = "azure-native:dbforpostgresql:Configuration"
ENTRA_ADMIN = "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra"


def server_parameters(database: Database) -> dict[str, str]:
    """Server parameters for TLS, audit logging, allowed extensions and the heartbeat job.

    The same on primary and replica: Azure copies parameters to a replica only when it is created
    ("any changes to the server parameters on the primary server made after creating the read
    replica aren't automatically replicated", concepts-read-replicas), so the standby declares them
    itself and keeps them through a promotion.
    https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-server-parameters
    """
    return {
        "require_secure_transport": "on",
        "ssl_min_protocol_version": "TLSv1.2",
        "azure.extensions": ",".join(database.allowed_extensions),
        # Azure's default plus pgaudit, which must be preloaded (takes effect at the next restart).
        "shared_preload_libraries": "pg_cron,pg_stat_statements,pgaudit",
        "pgaudit.log": "ddl,role",
        "log_connections": "on",
        "log_disconnections": "on",
        "log_checkpoints": "on",
        "connection_throttle.enable": "on",
        # The heartbeat job (drill/setup_sql.py) lives in the server's first database.
        "cron.database_name": database.databases[0],
    }


@dataclass(frozen=True)
class ServerPlan:
    """What differs between the roles, decided in one place (components.platform.server_plan)."""

    origin: Origin
    is_primary: bool
    high_availability: bool
    create_mode: pg.CreateMode


@dataclass(frozen=True)
class Placement:
    """Where a server lives: the names are known before anything exists, for reads and adoption."""

    subscription_id: str
    resource_group: str
    resource_group_name: pulumi.Input[str]  # the resource group resource's output, for ordering
    location: str


class WriteChain:
    """Writes to one server, one at a time: Azure rejects a second while one is running (ServerIsBusy)."""

    def __init__(self, first: pulumi.Resource):
        self.last = first

    def options(self, parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent, depends_on=[self.last], **extra)

    def add(self, resource: pulumi.Resource) -> pulumi.Resource:
        self.last = resource
        return resource


class PostgresServer(pulumi.ComponentResource):
    server_id: pulumi.Output[str]
    server_name: pulumi.Output[str]
    fqdn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        key: str,
        server_name: str,
        database: Database,
        plan: ServerPlan,
        placement: Placement,
        tenant_id: str,
        encryption_key: EncryptionKey,
        geo_backup_key: EncryptionKey | None,
        key_access: pulumi.Resource,
        admin_password: pulumi.Input[str] | None,
        source_server_id: pulumi.Input[str] | None,
        source_storage_gb: pulumi.Input[int] | None,
        entra_admin: EntraPrincipal | None,
        entra_admin_exists: bool,
        live_storage_gb: int | None,
        allowed_cidrs: list[str],
        workspace_id: pulumi.Input[str],
        archive_id: pulumi.Input[str] | None,
        protection: Protection,
        waits: Waits,
        tags: Mapping[str, str],
        sla: DatabaseSla | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:database:PostgresServer", name, None, opts)
        from_replica = plan.origin is Origin.REPLICA
        if plan.create_mode is pg.CreateMode.REPLICA and source_server_id is None:
            raise ValueError(f"{name}: a replica needs the source server id of its peer")
        if not from_replica and (admin_password is None or geo_backup_key is None):
            raise ValueError(f"{name}: a primary-origin server needs an admin password and a geo-backup key")
        rg = placement.resource_group

        storage_gb = requested_storage_gb(key, database, live_storage_gb)
        # A replica is never smaller than its source: it follows the source's growth (autogrow).
        storage_request: pulumi.Input[int] = (
            pulumi.Output.from_input(source_storage_gb).apply(lambda source: max(storage_gb, int(source)))
            if source_storage_gb is not None
            else storage_gb
        )
        identities = [encryption_key.identity_id] + ([geo_backup_key.identity_id] if geo_backup_key else [])
        ha_mode = _ha_mode(plan.high_availability, placement.location)
        self.server = pg.Server(
            name,
            server_name=server_name,
            location=placement.location,
            resource_group_name=placement.resource_group_name,
            tags=dict(tags),
            version=pg.PostgresMajorVersion(database.version),
            sku=pg.SkuArgs(name=database.sku, tier=pg.SkuTier(database.tier.value)),
            storage=pg.StorageArgs(storage_size_gb=storage_request, auto_grow=pg.StorageAutoGrow.ENABLED),
            create_mode=plan.create_mode,
            source_server_resource_id=source_server_id if plan.create_mode is pg.CreateMode.REPLICA else None,
            administrator_login=None if from_replica else ADMIN_LOGIN,
            administrator_login_password=None if from_replica else admin_password,
            backup=pg.BackupArgs(
                backup_retention_days=int(database.backup_retention.days),
                # Replicas cannot have geo-redundant backup, and it can only be chosen at creation.
                geo_redundant_backup=(
                    pg.GeographicallyRedundantBackup.DISABLED
                    if from_replica
                    else pg.GeographicallyRedundantBackup.ENABLED
                ),
            ),
            identity=pg.UserAssignedIdentityArgs(
                type=pg.IdentityType.USER_ASSIGNED,
                user_assigned_identities=pulumi.Output.all(*identities).apply(
                    lambda ids: {identity_id: pg.UserIdentityArgs() for identity_id in ids}
                ),
            ),
            data_encryption=pg.DataEncryptionArgs(
                type=pg.DataEncryptionType.AZURE_KEY_VAULT,
                primary_key_uri=encryption_key.key_uri,
                primary_user_assigned_identity_id=encryption_key.identity_id,
                geo_backup_key_uri=geo_backup_key.key_uri if geo_backup_key else None,
                geo_backup_user_assigned_identity_id=geo_backup_key.identity_id if geo_backup_key else None,
            ),
            high_availability=pg.HighAvailabilityArgs(mode=ha_mode),
            # The SLA's exclusion is the server's own window: Azure maintains it then and only then
            # (a writable server; a replica follows once promoted and reconciled).
            maintenance_window=maintenance_window(sla) if sla is not None and plan.is_primary else None,
            auth_config=pg.AuthConfigArgs(
                active_directory_auth=pg.MicrosoftEntraAuth.ENABLED,
                password_auth=pg.PasswordBasedAuth.ENABLED,
                tenant_id=tenant_id,
            ),
            network=pg.NetworkArgs(
                public_network_access=(
                    pg.ServerPublicNetworkAccessState.ENABLED
                    if allowed_cidrs
                    else pg.ServerPublicNetworkAccessState.DISABLED
                )
            ),
            opts=protection.options(
                self,
                # The identities must be able to use their keys before Azure validates them.
                depends_on=[key_access],
                ignore_changes=["availabilityZone"] + (["sourceServerResourceId"] if from_replica else []),
            ),
        )
        protection.lock(
            name,
            self.server,
            "Holds a database: removing the server loses its data and backups.",
            parent=self,
        )
        # Server logs (pgaudit included) land in AzureDiagnostics, which data export cannot read,
        # so the diagnostic setting also writes them to the immutable archive.
        send_diagnostics(
            name,
            resource_id=self.server.id,
            workspace_id=workspace_id,
            archive_id=archive_id,
            parent=self,
            dedicated_tables=False,
        )

        # After a create or a change the server is busy for a while; then its writes run one by one.
        settled = wait(
            f"{name}-settled",
            duration=waits.server_settle,
            after=[self.server],
            parent=self,
            triggers={
                "server": server_name,
                "sku": database.sku,
                "storageGb": pulumi.Output.from_input(storage_request).apply(str),
                "highAvailability": ha_mode.value,
                "version": database.version,
                "createMode": plan.create_mode.value,
            },
        )
        chain = WriteChain(settled)

        def child_id(token: str, **names: str) -> str:
            return resource_id(
                token,
                {"resourceGroupName": rg, "serverName": server_name, **names},
                placement.subscription_id,
            )

        for parameter, value in server_parameters(database).items():
            chain.add(
                pg.Configuration(
                    f"{name}-{parameter.replace('.', '-').replace('_', '-')}",
                    configuration_name=parameter,
                    server_name=self.server.name,
                    resource_group_name=placement.resource_group_name,
                    value=value,
                    source="user-override",
                    # Every parameter exists with its server (a replica's with the source's values).
                    opts=chain.options(
                        self, import_=existing.adopt(child_id(CONFIGURATION, configurationName=parameter))
                    ),
                )
            )

        if entra_admin and plan.is_primary:
            # Replicas take their administrators from the source; a promoted replica may already have
            # this one (replicated before the promotion), and the provider will not create it twice.
            chain.add(
                pg.AdministratorsMicrosoftEntra(
                    f"{name}-entra-admin",
                    object_id=entra_admin.object_id,
                    principal_name=entra_admin.principal_name,
                    principal_type=pg.PrincipalType(entra_admin.principal_type),
                    tenant_id=tenant_id,
                    server_name=self.server.name,
                    resource_group_name=placement.resource_group_name,
                    opts=chain.options(
                        self,
                        import_=existing.adopt(child_id(ENTRA_ADMIN, objectId=entra_admin.object_id))
                        if entra_admin_exists
                        else None,
                    ),
                )
            )

        if not from_replica:
            # Databases replicate to the standby; they are declared only where they are created.
            for db_name in database.databases:
                chain.add(
                    pg.Database(
                        f"{name}-{db_name}",
                        database_name=db_name,
                        server_name=self.server.name,
                        resource_group_name=placement.resource_group_name,
                        charset="UTF8",
                        collation="en_US.utf8",
                        opts=protection.options(self, depends_on=[chain.last]),
                    )
                )
        for index, cidr in enumerate(allowed_cidrs):
            start, end = _cidr_range(cidr)
            chain.add(
                pg.FirewallRule(
                    f"{name}-allow-{index}",
                    firewall_rule_name=f"allowed-{index}",
                    server_name=self.server.name,
                    resource_group_name=placement.resource_group_name,
                    start_ip_address=start,
                    end_ip_address=end,
                    opts=chain.options(self),
                )
            )

        self.last_write = chain.last
        self.server_id = self.server.id
        self.server_name = self.server.name
        self.fqdn = self.server.fully_qualified_domain_name
        self.requested_storage_gb = pulumi.Output.from_input(storage_request)
        self.register_outputs(
            {"server_id": self.server_id, "server_name": self.server_name, "fqdn": self.fqdn}
        )


def requested_storage_gb(key: str, database: Database, live_gb: int | None) -> int:
    """The configured size is a minimum: never ask for less than the server already has.

    Azure refuses to shrink storage ("storage can only be scaled up, not down", concepts-storage),
    and autogrow enlarges it without the program knowing; a full-body update with the configured
    size would then fail.
    """
    if live_gb is None or live_gb <= database.storage_gb:
        return database.storage_gb
    pulumi.log.warn(
        f"databases.{key}: the server has {live_gb} GiB in Azure (autogrow or a manual change), more than "
        f"the configured {database.storage_gb} GiB; keeping {live_gb} GiB. Set "
        f"continuity:databases.{key}.storageGb to {live_gb} to record it."
    )
    return live_gb


def _ha_mode(enabled: bool, location: str) -> pg.PostgreSqlFlexibleServerHighAvailabilityMode:
    """Zone-redundant HA where the region has zones; same-zone HA (still a hot standby) elsewhere."""
    if not enabled:
        return pg.PostgreSqlFlexibleServerHighAvailabilityMode.DISABLED
    if region_info(location).has_zones:
        return pg.PostgreSqlFlexibleServerHighAvailabilityMode.ZONE_REDUNDANT
    return pg.PostgreSqlFlexibleServerHighAvailabilityMode.SAME_ZONE


def _cidr_range(cidr: str) -> tuple[str, str]:
    network = ipaddress.ip_network(cidr, strict=False)
    return str(network[0]), str(network[-1])


def maintenance_window(sla: DatabaseSla) -> pg.MaintenanceWindowArgs:
    """The custom maintenance window of an SLA: day (Sunday is 0) and start time, in UTC."""
    window = sla.maintenance_window
    hour, minute = window.start
    return pg.MaintenanceWindowArgs(
        custom_window="Enabled", day_of_week=window.day_of_week, start_hour=hour, start_minute=minute
    )
