"""Key Vaults: a regional vault with a customer-managed key for PostgreSQL and the stack's secrets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

import pulumi
from pulumi_azure_native import keyvault, managedidentity

from . import roles
from .diagnostics import send_diagnostics
from .protection import Protection


@dataclass(frozen=True)
class EncryptionKey:
    """A versionless key URI and the user-assigned identity allowed to unwrap with it."""

    key_uri: pulumi.Output[str]
    identity_id: pulumi.Output[str]


@dataclass(frozen=True)
class KeyRotation:
    # Rotate yearly; each version expires after two years, so the current one never lapses.
    # Servers use the versionless URI and pick up new versions themselves.
    rotate_after: str = "P1Y"
    expires_after: str = "P2Y"
    notify_before_expiry: str = "P30D"


class RegionalKeyVault(pulumi.ComponentResource):
    """Premium, RBAC-only vault with purge protection, an HSM-backed PostgreSQL key and its identity.

    Public network access is off unless `allowed_cidrs` is given; Azure services (the database's
    key access) bypass the firewall.
    """

    vault_id: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    encryption_key: EncryptionKey

    def __init__(
        self,
        name: str,
        *,
        vault_name: str,
        identity_name: str,
        location: str,
        resource_group_name: pulumi.Input[str],
        tenant_id: str,
        subscription_id: str,
        allowed_cidrs: Sequence[str],
        workspace_id: pulumi.Input[str],
        archive_id: Optional[pulumi.Input[str]],
        protection: Protection,
        tags: Mapping[str, str],
        rotation: KeyRotation = KeyRotation(),
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        super().__init__("continuity:keyvault:RegionalKeyVault", name, None, opts)
        self._name = name
        self._resource_group_name = resource_group_name

        self.vault = keyvault.Vault(
            name,
            vault_name=vault_name,
            location=location,
            resource_group_name=resource_group_name,
            tags=dict(tags),
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.PREMIUM),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=90,
                enable_purge_protection=True,
                public_network_access=(
                    keyvault.PublicNetworkAccess.ENABLED if allowed_cidrs else keyvault.PublicNetworkAccess.DISABLED
                ),
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action=keyvault.NetworkRuleAction.DENY,
                    bypass=keyvault.NetworkRuleBypassOptions.AZURE_SERVICES,
                    ip_rules=[keyvault.IPRuleArgs(value=cidr) for cidr in allowed_cidrs],
                ),
            ),
            opts=protection.options(self),
        )
        protection.lock(name, self.vault, "Holds the database encryption keys: deleting it makes the data unreadable.", parent=self)
        # Key Vault audit events land in AzureDiagnostics (long retention, not exportable), so they are
        # also written straight to the immutable archive when one exists in this region.
        send_diagnostics(name, resource_id=self.vault.id, workspace_id=workspace_id, archive_id=archive_id,
                         parent=self, dedicated_tables=False)

        key = keyvault.Key(
            f"{name}-postgres-cmk",
            key_name="postgres-cmk",
            vault_name=self.vault.name,
            resource_group_name=resource_group_name,
            properties=keyvault.KeyPropertiesArgs(
                kty=keyvault.JsonWebKeyType.RS_A_HSM,
                key_size=3072,
                key_ops=[keyvault.JsonWebKeyOperation.WRAP_KEY, keyvault.JsonWebKeyOperation.UNWRAP_KEY],
                rotation_policy=keyvault.RotationPolicyArgs(
                    attributes=keyvault.KeyRotationPolicyAttributesArgs(expiry_time=rotation.expires_after),
                    lifetime_actions=[
                        keyvault.LifetimeActionArgs(
                            action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.ROTATE),
                            trigger=keyvault.TriggerArgs(time_after_create=rotation.rotate_after),
                        ),
                        keyvault.LifetimeActionArgs(
                            action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.NOTIFY),
                            trigger=keyvault.TriggerArgs(time_before_expiry=rotation.notify_before_expiry),
                        ),
                    ],
                ),
            ),
            opts=protection.options(self),
        )
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-postgres-identity",
            resource_name_=identity_name,
            location=location,
            resource_group_name=resource_group_name,
            opts=pulumi.ResourceOptions(parent=self),
        )
        roles.grant(
            f"{name}-postgres-key-access",
            role=roles.KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
            principal_id=identity.principal_id,
            scope=key.id,
            subscription_id=subscription_id,
            parent=self,
        )
        self.vault_id = self.vault.id
        self.vault_uri = self.vault.properties.apply(lambda p: p.vault_uri)
        self.encryption_key = EncryptionKey(key_uri=key.key_uri, identity_id=identity.id)
        self.register_outputs(
            {
                "vault_id": self.vault_id,
                "vault_uri": self.vault_uri,
                "key_uri": self.encryption_key.key_uri,
                "identity_id": self.encryption_key.identity_id,
            }
        )

    def store_secret(self, name: str, value: pulumi.Input[str]) -> keyvault.Secret:
        """Write a secret (already a Pulumi secret) to this vault."""
        return keyvault.Secret(
            f"{self._name}-{name}",
            secret_name=name,
            vault_name=self.vault.name,
            resource_group_name=self._resource_group_name,
            properties=keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(value), content_type="text/plain"),
            opts=pulumi.ResourceOptions(parent=self),
        )
