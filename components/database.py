"""PostgreSQL flexible server: a writable primary, or a cross-region read replica that can be promoted.

Create-only inputs (createMode, sourceServerResourceId, geo-redundant backup, data encryption) depend
only on how the server was created (`origin`), never on its current `role`, so promoting the
standby with `role: primary` is an in-place update and never a replacement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

import pulumi
from pulumi_azure_native import dbforpostgresql as pg

from .diagnostics import send_diagnostics
from .keyvault import EncryptionKey
from .protection import Protection
from .regions import region_info
from .settings import Database, EntraPrincipal, Origin, PromoteOption

ADMIN_LOGIN = "continuity_admin"


def server_parameters(database: Database) -> dict[str, str]:
    """Server parameters for TLS, audit logging and allowed extensions; the same on primary and replica.

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
    }


@dataclass(frozen=True)
class ServerPlan:
    """What differs between the roles, decided in one place."""

    origin: Origin
    is_primary: bool
    high_availability: bool
    promote_option: Optional[PromoteOption]


class PostgresServer(pulumi.ComponentResource):
    server_id: pulumi.Output[str]
    server_name: pulumi.Output[str]
    fqdn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        server_name: str,
        database: Database,
        plan: ServerPlan,
        location: str,
        resource_group_name: pulumi.Input[str],
        tenant_id: str,
        key: EncryptionKey,
        geo_backup_key: Optional[EncryptionKey],
        admin_password: Optional[pulumi.Input[str]],
        source_server_id: Optional[pulumi.Input[str]],
        entra_admin: Optional[EntraPrincipal],
        allowed_cidrs: list[str],
        workspace_id: pulumi.Input[str],
        archive_id: Optional[pulumi.Input[str]],
        protection: Protection,
        tags: Mapping[str, str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        super().__init__("continuity:database:PostgresServer", name, None, opts)
        from_replica = plan.origin is Origin.REPLICA
        if from_replica and source_server_id is None:
            raise ValueError(f"{name}: a replica-origin server needs the source server id of its peer")
        if not from_replica and (admin_password is None or geo_backup_key is None):
            raise ValueError(f"{name}: a primary-origin server needs an admin password and a geo-backup key")

        identities = [key.identity_id] + ([geo_backup_key.identity_id] if geo_backup_key else [])
        self.server = pg.Server(
            name,
            server_name=server_name,
            location=location,
            resource_group_name=resource_group_name,
            tags=dict(tags),
            version=pg.PostgresMajorVersion(database.version),
            sku=pg.SkuArgs(name=database.sku, tier=pg.SkuTier(database.tier.value)),
            storage=pg.StorageArgs(storage_size_gb=database.storage_gb, auto_grow=pg.StorageAutoGrow.ENABLED),
            # --- create-only inputs: functions of origin alone ------------------------------------
            create_mode=pg.CreateMode.REPLICA if from_replica else pg.CreateMode.CREATE,
            source_server_resource_id=source_server_id if from_replica else None,
            administrator_login=None if from_replica else ADMIN_LOGIN,
            administrator_login_password=None if from_replica else admin_password,
            backup=pg.BackupArgs(
                backup_retention_days=int(database.backup_retention.days),
                # Replicas cannot have geo-redundant backup, and it can only be chosen at creation.
                geo_redundant_backup=(
                    pg.GeographicallyRedundantBackup.DISABLED if from_replica else pg.GeographicallyRedundantBackup.ENABLED
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
                primary_key_uri=key.key_uri,
                primary_user_assigned_identity_id=key.identity_id,
                geo_backup_key_uri=geo_backup_key.key_uri if geo_backup_key else None,
                geo_backup_user_assigned_identity_id=geo_backup_key.identity_id if geo_backup_key else None,
            ),
            # --- updatable inputs: functions of role ------------------------------------------------
            high_availability=pg.HighAvailabilityArgs(mode=_ha_mode(plan.high_availability, location)),
            replica=(
                pg.ReplicaArgs(
                    promote_mode=pg.ReadReplicaPromoteMode.STANDALONE,
                    promote_option=pg.ReadReplicaPromoteOption(plan.promote_option.value),
                )
                if plan.promote_option
                else None
            ),
            auth_config=pg.AuthConfigArgs(
                active_directory_auth=pg.MicrosoftEntraAuth.ENABLED,
                password_auth=pg.PasswordBasedAuth.ENABLED,
                tenant_id=tenant_id,
            ),
            network=pg.NetworkArgs(
                public_network_access=(
                    pg.ServerPublicNetworkAccessState.ENABLED if allowed_cidrs else pg.ServerPublicNetworkAccessState.DISABLED
                )
            ),
            # The source id is create-only; once the replica exists, a peer that exports another
            # server (after a failback, a new generation) must never turn into a replacement.
            opts=protection.options(self, ignore_changes=["sourceServerResourceId"] if from_replica else None),
        )
        protection.lock(name, self.server, "Holds a database: removing the server loses its data and backups.", parent=self)
        # Server logs (pgaudit included) land in AzureDiagnostics, which data export cannot read,
        # so the diagnostic setting also writes them to the immutable archive.
        send_diagnostics(name, resource_id=self.server.id, workspace_id=workspace_id, archive_id=archive_id,
                         parent=self, dedicated_tables=False)

        # Azure applies one parameter change at a time per server, so the writes are chained.
        previous: Optional[pulumi.Resource] = None
        for parameter, value in server_parameters(database).items():
            previous = pg.Configuration(
                f"{name}-{parameter.replace('.', '-').replace('_', '-')}",
                configuration_name=parameter,
                server_name=self.server.name,
                resource_group_name=resource_group_name,
                value=value,
                source="user-override",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous] if previous else []),
            )

        if not from_replica:
            # Databases replicate to the standby; they are declared only where they are created.
            for db_name in database.databases:
                pg.Database(
                    f"{name}-{db_name}",
                    database_name=db_name,
                    server_name=self.server.name,
                    resource_group_name=resource_group_name,
                    charset="UTF8",
                    collation="en_US.utf8",
                    opts=protection.options(self, depends_on=[previous] if previous else []),
                )
        if entra_admin and plan.is_primary:
            # Replicas take their administrators from the source; the setting is writable once promoted.
            pg.AdministratorsMicrosoftEntra(
                f"{name}-entra-admin",
                object_id=entra_admin.object_id,
                principal_name=entra_admin.principal_name,
                principal_type=pg.PrincipalType(entra_admin.principal_type),
                tenant_id=tenant_id,
                server_name=self.server.name,
                resource_group_name=resource_group_name,
                opts=pulumi.ResourceOptions(parent=self),
            )
        for index, cidr in enumerate(allowed_cidrs):
            start, end = _cidr_range(cidr)
            pg.FirewallRule(
                f"{name}-allow-{index}",
                firewall_rule_name=f"allowed-{index}",
                server_name=self.server.name,
                resource_group_name=resource_group_name,
                start_ip_address=start,
                end_ip_address=end,
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.server_id = self.server.id
        self.server_name = self.server.name
        self.fqdn = self.server.fully_qualified_domain_name
        self.register_outputs({"server_id": self.server_id, "server_name": self.server_name, "fqdn": self.fqdn})


def _ha_mode(enabled: bool, location: str) -> pg.PostgreSqlFlexibleServerHighAvailabilityMode:
    """Zone-redundant HA where the region has zones; same-zone HA (still a hot standby) elsewhere."""
    if not enabled:
        return pg.PostgreSqlFlexibleServerHighAvailabilityMode.DISABLED
    if region_info(location).has_zones:
        return pg.PostgreSqlFlexibleServerHighAvailabilityMode.ZONE_REDUNDANT
    return pg.PostgreSqlFlexibleServerHighAvailabilityMode.SAME_ZONE


def _cidr_range(cidr: str) -> tuple[str, str]:
    import ipaddress

    network = ipaddress.ip_network(cidr, strict=False)
    return str(network[0]), str(network[-1])
