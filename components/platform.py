"""RegionalPlatform: everything one stack (one region) declares, assembled from the components."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_random as random
from pulumi_azure_native import dbforpostgresql as pg
from pulumi_azure_native import resources

from . import existing
from .alerts import Alerting, key_vault_rule, replication_lag_rule, server_rules
from .backup import BackupVault
from .database import Placement, PostgresServer, ServerPlan
from .facts import PRIVATE_LINK_ZONES
from .keyvault import RegionalKeyVault, check_live_key
from .naming import AUDIT_ACCOUNT, GEO_VAULT, PROJECT_VAULT, STAGING_ACCOUNT, Naming
from .network import (
    WRITER_LABEL,
    DnsZones,
    PrivateDns,
    RegionalNetwork,
    link_zones,
    peer_networks,
    writer_name,
    writer_record_name,
)
from .observability import Observability
from .peer import PeerStack
from .project_secrets import ProjectSecrets
from .protection import Protection
from .restore_staging import RestoreStaging
from .settings import Origin, PrivateDnsRole, Role, Settings
from .tags import recovery_tags, sla_tags
from .waits import wait
from .workbook import service_level_workbook


@dataclass(frozen=True)
class AzureContext:
    subscription_id: str
    tenant_id: str


def admin_password_secret(key: str) -> str:
    return f"{key}-admin-password"


def server_plan(settings: Settings, key: str) -> ServerPlan:
    """Role-dependent choices for one server; create-only inputs never depend on these."""
    database = settings.databases[key]
    if settings.origin is Origin.PRIMARY:
        return ServerPlan(Origin.PRIMARY, True, database.high_availability, pg.CreateMode.CREATE)
    if settings.role is Role.STANDBY:
        return ServerPlan(Origin.REPLICA, False, False, pg.CreateMode.REPLICA)
    # Promoted replica (promoted by `python -m drill promote`): the server exists and is no longer a
    # replica, so the body asks for an update. HA only once requested in a later update: Azure turns
    # it off on promotion ("we disable HA during the initial promotion", concepts-read-replicas-promote).
    return ServerPlan(
        Origin.REPLICA,
        True,
        database.high_availability and settings.promotion.high_availability,
        pg.CreateMode.UPDATE,
    )


def observe(settings: Settings, azure: AzureContext) -> existing.LiveState:
    """Read what the stack's resources already are in Azure, before any resource is declared.

    Refuses (ExistingStateError) when the live state rules the deployment out, so that nothing is
    half-applied: a key whose properties ARM would silently keep.
    """
    s = settings
    naming = Naming(s.environment, s.region, azure.subscription_id)
    check_live_key(naming.resource_group(), naming.key_vault())
    if s.origin is Origin.PRIMARY:
        check_live_key(
            naming.resource_group(region=s.peer.region), naming.key_vault(GEO_VAULT, region=s.peer.region)
        )
    storage: dict[str, int] = {}
    admins: set[str] = set()
    for key, database in s.databases.items():
        server_name = naming.server(key, database.generation)
        size = existing.live_storage_gb(naming.resource_group(), server_name)
        if size is not None:
            storage[server_name] = size
        if (
            s.database_admin
            and s.is_promoted_replica
            and existing.live_entra_admin(naming.resource_group(), server_name, s.database_admin.object_id)
        ):
            admins.add(server_name)
    return existing.LiveState(storage_gb=storage, entra_admins=frozenset(admins))


class RegionalPlatform(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        settings: Settings,
        azure: AzureContext,
        live: existing.LiveState = existing.NOTHING_LIVE,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:platform:RegionalPlatform", name, None, opts)
        s = settings
        naming = Naming(s.environment, s.region, azure.subscription_id)
        protection = Protection(s.protect)
        owns_dns = s.network.private_dns is PrivateDnsRole.OWNER
        # The peer is read for the servers this stack replicates, and by the linked stack for the
        # zones and network it links to: never by an owner that created its own servers.
        peer = PeerStack(s.peer.stack) if s.origin is Origin.REPLICA or not owns_dns else None
        child = pulumi.ResourceOptions(parent=self)

        group = resources.ResourceGroup(
            "resource-group",
            resource_group_name=naming.resource_group(),
            location=s.region,
            opts=protection.options(self),
        )

        vnet_name = naming.scoped("vnet")
        net = RegionalNetwork(
            "network",
            vnet_name=vnet_name,
            location=s.region,
            resource_group_name=group.name,
            settings=s.network,
            opts=child,
        )
        link_name = f"link-{vnet_name}"
        if owns_dns:
            # The zones live in a resource group in the peer region: never in the owner's region.
            dns_group = resources.ResourceGroup(
                "dns-resource-group",
                resource_group_name=naming.resource_group(region=s.peer.region, purpose="dns"),
                location=s.peer.region,
                opts=protection.options(self),
            )
            dns = PrivateDns(
                "private-dns",
                resource_group_name=dns_group.name,
                writer_zone=s.network.writer_zone,
                virtual_network_id=net.virtual_network_id,
                link_name=link_name,
                protect=protection.enabled,
                opts=child,
            ).exports
        else:
            assert peer is not None
            peer_dns = peer.export("privateDns")
            zone_names = [*PRIVATE_LINK_ZONES.values()]

            def zone_id(zone: str) -> pulumi.Output[str]:
                return peer_dns.apply(lambda d: d["zoneIds"][zone])

            dns = DnsZones(
                resource_group=peer_dns.apply(lambda d: d["resourceGroupName"]),
                zone_ids={zone: zone_id(zone) for zone in zone_names},
                writer_zone=peer_dns.apply(lambda d: d["writerZone"]),
            )
            link_zones(
                "private-dns",
                zones={**{zone: zone for zone in zone_names}, WRITER_LABEL: dns.writer_zone},
                resource_group_name=dns.resource_group,
                virtual_network_id=net.virtual_network_id,
                link_name=link_name,
                parent=self,
            )
            peer_net = peer.export("network")
            peer_networks(
                "network-peering",
                local_name=net.virtual_network_name,
                local_id=net.virtual_network_id,
                local_resource_group=group.name,
                remote_name=peer_net.apply(lambda n: n["virtualNetworkName"]),
                remote_id=peer_net.apply(lambda n: n["virtualNetworkId"]),
                remote_resource_group=peer_net.apply(lambda n: n["resourceGroupName"]),
                parent=self,
            )

        def zone_of(group_id: str) -> pulumi.Input[str]:
            return dns.zone_ids[PRIVATE_LINK_ZONES[group_id]]

        observability = Observability(
            "observability",
            workspace_name=naming.scoped("log"),
            archive_account_name=naming.storage_account(AUDIT_ACCOUNT),
            activity_log_setting_name=f"continuity-{s.environment}-activity-log",
            location=s.region,
            subscription_id=azure.subscription_id,
            resource_group=naming.resource_group(),
            resource_group_name=group.name,
            logs=s.logs,
            allowed_cidrs=s.network.allowed_cidrs,
            protection=protection,
            opts=child,
        )
        workspace_id = observability.workspace_id

        secret_tags = recovery_tags(s.secrets.rto, s.secrets.rpo)
        vault = RegionalKeyVault(
            "key-vault",
            vault_name=naming.key_vault(),
            identity_name=naming.scoped("id", "postgres-cmk"),
            location=s.region,
            resource_group_name=group.name,
            resource_group_id=group.id,
            tenant_id=azure.tenant_id,
            subscription_id=azure.subscription_id,
            allowed_cidrs=s.network.allowed_cidrs,
            workspace_id=workspace_id,
            archive_id=observability.archive_id,
            protection=protection,
            tags=secret_tags,
            opts=child,
        )
        vaults = [("key-vault", vault)]

        # The geo-backup key must live in the region the geo-backup is stored in: the peer region.
        # The stack that creates the primaries owns it; the peer stack owns only its own vault.
        geo_vault = None
        if s.origin is Origin.PRIMARY:
            geo_group = resources.ResourceGroup(
                "geo-backup-resource-group",
                resource_group_name=naming.resource_group(region=s.peer.region),
                location=s.peer.region,
                opts=protection.options(self),
            )
            geo_vault = RegionalKeyVault(
                "geo-backup-key-vault",
                vault_name=naming.key_vault(GEO_VAULT, region=s.peer.region),
                identity_name=naming.scoped("id", "postgres-geo-cmk", region=s.peer.region),
                location=s.peer.region,
                resource_group_name=geo_group.name,
                resource_group_id=geo_group.id,
                tenant_id=azure.tenant_id,
                subscription_id=azure.subscription_id,
                allowed_cidrs=s.network.allowed_cidrs,
                workspace_id=workspace_id,
                archive_id=None,  # diagnostic settings can only archive within their own region
                protection=protection,
                tags=secret_tags,
                opts=child,
            )
            vaults.append(("geo-backup-key-vault", geo_vault))

        # Secrets both regions need: generated once by the primary-origin stack, read by the peer.
        shared_secrets: dict[str, pulumi.Output[str]] = {}
        for key in s.databases:
            secret_name = admin_password_secret(key)
            if s.origin is Origin.PRIMARY:
                shared_secrets[secret_name] = random.RandomPassword(
                    f"{key}-admin-password",
                    length=32,
                    special=True,
                    override_special="-_.~!#%^*",
                    min_lower=2,
                    min_upper=2,
                    min_numeric=2,
                    opts=child,
                ).result
            else:
                assert peer is not None  # a replica-origin stack always reads its peer
                shared_secrets[secret_name] = peer.shared_secret(secret_name)
            vault.store_secret(secret_name, shared_secrets[secret_name])
        projects = None
        if s.tenancy is not None:
            projects = ProjectSecrets(
                "project-secrets",
                tenancy=s.tenancy,
                generate=s.origin is Origin.PRIMARY,
                peer=peer,
                vault_name=naming.key_vault(PROJECT_VAULT),
                location=s.region,
                resource_group_name=group.name,
                tenant_id=azure.tenant_id,
                subscription_id=azure.subscription_id,
                allowed_cidrs=s.network.allowed_cidrs,
                workspace_id=workspace_id,
                archive_id=observability.archive_id,
                protection=protection,
                tags=secret_tags,
                opts=child,
            )
            shared_secrets |= projects.values

        alerting = Alerting(
            "alerts",
            action_group_name=naming.scoped("ag", "oncall"),
            short_name=f"cty-{s.environment}"[:12],
            resource_group_name=group.name,
            subscription_id=azure.subscription_id,
            regions=[s.region, s.peer.region],
            alerts=s.alerts,
            webhook_url=s.alert_webhook_url.get_secret_value() if s.alert_webhook_url else None,
            workspace_id=workspace_id,
            location=s.region,
            opts=child,
        )
        for key, kv in vaults:
            alerting.watch(key, kv.vault_id, [key_vault_rule(s.alerts)])
        if projects is not None:
            alerting.watch("project-secrets", projects.vault_id, [key_vault_rule(s.alerts)])
        service_level_workbook(
            "service-levels",
            settings=s,
            naming=naming,
            resource_group=naming.resource_group(),
            resource_group_name=group.name,
            workspace_id=workspace_id,
            opts=child,
        )

        backup_vault = BackupVault(
            "backup-vault",
            vault_name=naming.scoped("bvault"),
            location=s.region,
            resource_group_name=group.name,
            resource_group_id=group.id,
            subscription_id=azure.subscription_id,
            backup=s.backup,
            waits=s.waits,
            workspace_id=workspace_id,
            protection=protection,
            opts=child,
        )

        staging = RestoreStaging(
            "restore-staging",
            account_name=naming.storage_account(STAGING_ACCOUNT),
            location=s.region,
            resource_group_name=group.name,
            subscription_id=azure.subscription_id,
            tenant_id=azure.tenant_id,
            vaults={
                "vault": (backup_vault.vault_id, backup_vault.principal_id),
                **(
                    {"peer-vault": _vault_of(peer.export("backupVault"))}
                    if peer is not None and s.peer.origin is Origin.PRIMARY
                    else {}
                ),
            },
            readers=s.backup.restore_readers,
            workspace_id=workspace_id,
            opts=child,
        )

        # The servers' identities must be able to unwrap with their keys before Azure validates them.
        key_grants = [kv.key_grant for _, kv in vaults]
        key_access = wait(
            "key-access",
            duration=s.waits.rbac_propagation,
            after=key_grants,
            parent=self,
            triggers={name: kv.key_grant.id for name, kv in vaults},
        )
        placement = Placement(azure.subscription_id, naming.resource_group(), group.name, s.region)

        self.servers: dict[str, PostgresServer] = {}
        for key, database in s.databases.items():
            plan = server_plan(s, key)
            source = peer.source_server(key, database) if peer else None
            server_name = naming.server(key, database.generation)
            server = PostgresServer(
                f"{key}-g{database.generation}",
                key=key,
                server_name=server_name,
                database=database,
                plan=plan,
                placement=placement,
                tenant_id=azure.tenant_id,
                encryption_key=vault.encryption_key,
                geo_backup_key=geo_vault.encryption_key if geo_vault else None,
                key_access=key_access,
                admin_password=shared_secrets[admin_password_secret(key)]
                if s.origin is Origin.PRIMARY
                else None,
                source_server_id=source.id if source else None,
                source_storage_gb=source.requested_storage_gb if source else None,
                entra_admin=s.database_admin,
                entra_admin_exists=server_name in live.entra_admins,
                live_storage_gb=live.storage_gb.get(server_name),
                allowed_cidrs=s.network.allowed_cidrs,
                workspace_id=workspace_id,
                archive_id=observability.archive_id,
                protection=protection,
                waits=s.waits,
                tags={
                    **recovery_tags(database.rto, database.rpo),
                    **(sla_tags(s.sla.databases[key]) if s.sla else {}),
                },
                sla=s.sla.databases[key] if s.sla else None,
                opts=child,
            )
            self.servers[key] = server
            rules = server_rules(s.alerts)
            if not plan.is_primary:
                rules.append(
                    replication_lag_rule(s.replication_lag_threshold_seconds(key), str(database.rpo))
                )
            # Per-server names carry the generation: a retired generation's alerts and grants stay in
            # Azure until removed, and a rebuilt server must not collide with them.
            instance = f"{key}-g{database.generation}"
            alerting.watch(instance, server.server_id, rules)
            if plan.is_primary and s.sla is not None:
                # The objective is the writable server's: a standby replica serves no one until promoted.
                alerting.watch_error_budget(instance, server_name, s.sla.databases[key])
            if plan.is_primary:
                backup_vault.protect_server(
                    instance,
                    server_id=server.server_id,
                    server_name=server.server_name,
                    after=server.last_write,
                )

        # Private endpoints for every data store in this region (the peer's geo-backup vault included).
        net.private_endpoint(
            "archive",
            target_id=observability.archive_id,
            target_name=observability.archive_name,
            group_id="blob",
            zone_id=zone_of("blob"),
        )
        net.private_endpoint(
            "restore-staging",
            target_id=staging.account_id,
            target_name=staging.account_name,
            group_id="blob",
            zone_id=zone_of("blob"),
        )
        net.private_endpoint(
            "key-vault",
            target_id=vault.vault_id,
            target_name=vault.vault_name,
            group_id="vault",
            zone_id=zone_of("vault"),
        )
        if projects is not None:
            net.private_endpoint(
                "project-secrets",
                target_id=projects.vault_id,
                target_name=projects.vault_name,
                group_id="vault",
                zone_id=zone_of("vault"),
            )
        for key, server in self.servers.items():
            net.private_endpoint(
                f"{key}-g{s.databases[key].generation}",
                target_id=server.server_id,
                target_name=server.server_name,
                group_id="postgresqlServer",
                zone_id=zone_of("postgresqlServer"),
            )
        if not owns_dns and s.peer.origin is Origin.PRIMARY:
            assert peer is not None
            geo = peer.export("geoBackupVault")
            net.private_endpoint(
                "peer-geo-backup-key-vault",
                target_id=geo.apply(lambda v: v["id"]),
                target_name=geo.apply(lambda v: v["name"]),
                group_id="vault",
                zone_id=zone_of("vault"),
            )
        if owns_dns:
            # Created pointing at this stack's servers; from then on moved by the failover only.
            for key, server in self.servers.items():
                writer_name(
                    f"{key}-writer-name",
                    database_key=key,
                    target_fqdn=server.fqdn,
                    zone=dns.writer_zone,
                    resource_group_name=dns.resource_group,
                    parent=self,
                )

        self.settings = s
        self.subscription_id = azure.subscription_id
        self.network = net
        self.dns = dns
        self.geo_vault = geo_vault
        self.resource_group_name = group.name
        self.shared_secrets = shared_secrets
        self.key_vault_uri = vault.vault_uri
        self.workspace_id = workspace_id
        self.backup_vault_id = backup_vault.vault_id
        self.backup_vault_principal_id = backup_vault.principal_id
        self.restore_container_url = staging.container_url
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, pulumi.Input[Any]]:
        """Stack outputs; `servers` and `sharedSecrets` are what the peer stack reads."""
        s = self.settings
        return {
            "region": s.region,
            "role": s.role.value,
            "origin": s.origin.value,
            "resourceGroupName": self.resource_group_name,
            "keyVaultUri": self.key_vault_uri,
            "workspaceId": self.workspace_id,
            "backupVaultId": self.backup_vault_id,
            # What the peer's restore staging account lets write into it (cross-region LTR restores).
            "backupVault": {"id": self.backup_vault_id, "principalId": self.backup_vault_principal_id},
            # Where `python -m drill restore --kind vault` has the vault restore LTR backups as files.
            "restoreContainerUrl": self.restore_container_url,
            "servers": {
                key: {
                    "id": server.server_id,
                    "name": server.server_name,
                    "fqdn": server.fqdn,
                    "sku": s.databases[key].sku,
                    "tier": s.databases[key].tier.value,
                    "storageGb": s.databases[key].storage_gb,
                    # What the server is asked for: the configured minimum, or more after autogrow.
                    "requestedStorageGb": server.requested_storage_gb,
                    "version": s.databases[key].version,
                    "generation": s.databases[key].generation,
                    "rto": str(s.databases[key].rto),
                    "rpo": str(s.databases[key].rpo),
                }
                for key, server in self.servers.items()
            },
            "sharedSecrets": pulumi.Output.secret(self.shared_secrets),
            "network": {
                "virtualNetworkId": self.network.virtual_network_id,
                "virtualNetworkName": self.network.virtual_network_name,
                "resourceGroupName": self.resource_group_name,
                "addressSpace": s.network.address_space,
            },
            # Where the failover moves the writer names (drill/writer_names.py), from either stack.
            "writerNames": {
                "subscriptionId": self.subscription_id,
                "resourceGroupName": self.dns.resource_group,
                "zone": self.dns.writer_zone,
                "records": {key: writer_record_name(key) for key in self.servers},
            },
            # What the linked stack links, peers and gives private endpoints.
            **(
                {
                    "privateDns": {
                        "resourceGroupName": self.dns.resource_group,
                        "zoneIds": dict(self.dns.zone_ids),
                        "writerZone": self.dns.writer_zone,
                    }
                }
                if self.settings.network.private_dns is PrivateDnsRole.OWNER
                else {}
            ),
            **(
                {"geoBackupVault": {"id": self.geo_vault.vault_id, "name": self.geo_vault.vault_name}}
                if self.geo_vault is not None
                else {}
            ),
        }


def _vault_of(exported: pulumi.Output[Any]) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """The id and identity of a vault a peer stack exports as `backupVault`."""
    return exported.apply(lambda vault: vault["id"]), exported.apply(lambda vault: vault["principalId"])
