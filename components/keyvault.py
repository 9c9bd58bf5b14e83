"""Key Vaults: a regional vault with a customer-managed key for PostgreSQL and the stack's secrets.

Keys and secrets are never deleted by Pulumi (`retain_on_delete`):
- ARM has no DELETE for either (Microsoft.KeyVault 2024-11-01 keys.json and secrets.json); the
  provider deletes them through the vault's data plane (custom_keyvault.go: `azkeys` `DeleteKey`,
  `azsecrets` `DeleteSecret`), which a vault with public access off refuses from outside its network.
- A customer-managed key still unwraps older backups and the geo-backup after it is replaced.
A vault's deletion takes its keys and secrets along (soft-deleted with it, purge-protected), which
is how a disposable stack is torn down; deleting one secret is a deliberate runbook step
(docs/runbooks/key-vault-recovery.md).

ARM creates a key only if it does not exist: "If it already exists, then the existing key is
returned without any write operations being performed. This API does not create subsequent
versions, and does not update existing keys" (Keys_CreateIfNotExist). A changed rotation policy
would be silently ignored, so the program compares it with the live key and refuses the deployment
until the policy has been applied through the data plane (docs/runbooks/key-rotation-policy.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import keyvault, managedidentity

from . import existing, roles
from .diagnostics import send_diagnostics
from .facts import ip_rule_values
from .protection import Protection

CMK_KEY_NAME = "postgres-cmk"
CMK_KEY_TYPE = keyvault.JsonWebKeyType.RS_A_HSM
CMK_KEY_SIZE = 3072


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

    def policy(self) -> keyvault.RotationPolicyArgs:
        return keyvault.RotationPolicyArgs(
            attributes=keyvault.KeyRotationPolicyAttributesArgs(expiry_time=self.expires_after),
            lifetime_actions=[
                keyvault.LifetimeActionArgs(
                    action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.ROTATE),
                    trigger=keyvault.TriggerArgs(time_after_create=self.rotate_after),
                ),
                keyvault.LifetimeActionArgs(
                    action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.NOTIFY),
                    trigger=keyvault.TriggerArgs(time_before_expiry=self.notify_before_expiry),
                ),
            ],
        )

    def summary(self) -> dict[str, str]:
        return {
            "rotate": self.rotate_after,
            "expires": self.expires_after,
            "notify": self.notify_before_expiry,
        }


ROTATION = KeyRotation()


def check_live_key(resource_group: str, vault_name: str, rotation: KeyRotation = ROTATION) -> None:
    """Refuse a deployment whose key differs from the live one: ARM would silently keep the old."""
    live = existing.live_key(resource_group, vault_name, CMK_KEY_NAME)
    drift = key_drift(live, rotation) if live is not None else []
    if drift:
        raise existing.ExistingStateError(
            f"key {CMK_KEY_NAME} in vault {vault_name} has {'; '.join(drift)}. ARM cannot update an existing key "
            "(Keys_CreateIfNotExist), so the change would be silently ignored: apply it through the vault's data "
            "plane first (docs/runbooks/key-rotation-policy.md), then deploy again"
        )


def live_rotation(key: Any) -> dict[str, str | None] | None:
    """The rotation policy of a live key (a getKey result) in `KeyRotation.summary` form."""
    policy = getattr(key, "rotation_policy", None)
    if policy is None:
        return None
    summary: dict[str, str | None] = {
        "expires": getattr(policy.attributes, "expiry_time", None) if policy.attributes else None
    }
    for action in policy.lifetime_actions or []:
        kind = str(action.action.type).lower() if action.action else ""
        if kind == "rotate":
            summary["rotate"] = action.trigger.time_after_create if action.trigger else None
        elif kind == "notify":
            summary["notify"] = action.trigger.time_before_expiry if action.trigger else None
    return summary


def key_drift(live: Any, rotation: KeyRotation) -> list[str]:
    """What differs between a live key (a getKey result) and the key the program declares."""
    found = []
    if getattr(live, "kty", None) not in (None, CMK_KEY_TYPE.value):
        found.append(f"type {live.kty} (declared {CMK_KEY_TYPE.value})")
    if getattr(live, "key_size", None) not in (None, CMK_KEY_SIZE):
        found.append(f"size {live.key_size} (declared {CMK_KEY_SIZE})")
    live_policy = live_rotation(live)
    if live_policy is not None and live_policy != rotation.summary():
        found.append(f"rotation policy {live_policy} (declared {rotation.summary()})")
    return found


def hardened_vault(
    name: str,
    *,
    vault_name: str,
    location: str,
    resource_group_name: pulumi.Input[str],
    tenant_id: str,
    allowed_cidrs: Sequence[str],
    tags: Mapping[str, str],
    workspace_id: pulumi.Input[str],
    archive_id: pulumi.Input[str] | None,
    parent: pulumi.Resource,
    opts: pulumi.ResourceOptions,
) -> keyvault.Vault:
    """A Premium, RBAC-only vault with soft delete (90 days) and purge protection, private unless
    `allowed_cidrs` is given (Azure services, a database's key access, bypass the firewall), and its
    diagnostic setting."""
    vault = keyvault.Vault(
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
                keyvault.PublicNetworkAccess.ENABLED
                if allowed_cidrs
                else keyvault.PublicNetworkAccess.DISABLED
            ),
            network_acls=keyvault.NetworkRuleSetArgs(
                default_action=keyvault.NetworkRuleAction.DENY,
                bypass=keyvault.NetworkRuleBypassOptions.AZURE_SERVICES,
                ip_rules=[
                    keyvault.IPRuleArgs(value=v) for cidr in allowed_cidrs for v in ip_rule_values(cidr)
                ],
            ),
        ),
        opts=opts,
    )
    # Key Vault audit events land in AzureDiagnostics (long retention, not exportable), so they are
    # also written straight to the immutable archive when one exists in this region.
    send_diagnostics(
        name,
        resource_id=vault.id,
        workspace_id=workspace_id,
        archive_id=archive_id,
        parent=parent,
        dedicated_tables=False,
    )
    return vault


def store_secret(
    name: str,
    *,
    vault: keyvault.Vault,
    resource_group_name: pulumi.Input[str],
    secret_name: str,
    value: pulumi.Input[str],
    tags: Mapping[str, str] | None,
    parent: pulumi.Resource,
) -> keyvault.Secret:
    """Write a secret (already a Pulumi secret) to `vault`; kept in Azure if dropped from the program."""
    return keyvault.Secret(
        name,
        secret_name=secret_name,
        vault_name=vault.name,
        resource_group_name=resource_group_name,
        tags=dict(tags) if tags else None,
        properties=keyvault.SecretPropertiesArgs(
            value=pulumi.Output.secret(value), content_type="text/plain"
        ),
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True),
    )


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
        resource_group_id: pulumi.Input[str],
        tenant_id: str,
        subscription_id: str,
        allowed_cidrs: Sequence[str],
        workspace_id: pulumi.Input[str],
        archive_id: pulumi.Input[str] | None,
        protection: Protection,
        tags: Mapping[str, str],
        rotation: KeyRotation = ROTATION,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:keyvault:RegionalKeyVault", name, None, opts)
        self._name = name
        self._resource_group_name = resource_group_name

        self.vault = hardened_vault(
            name,
            vault_name=vault_name,
            location=location,
            resource_group_name=resource_group_name,
            tenant_id=tenant_id,
            allowed_cidrs=allowed_cidrs,
            tags=tags,
            workspace_id=workspace_id,
            archive_id=archive_id,
            parent=self,
            opts=protection.options(self),
        )
        protection.lock(
            name,
            self.vault,
            "Holds the database encryption keys: deleting it makes the data unreadable.",
            parent=self,
        )
        key = keyvault.Key(
            f"{name}-postgres-cmk",
            key_name=CMK_KEY_NAME,
            vault_name=self.vault.name,
            resource_group_name=resource_group_name,
            properties=keyvault.KeyPropertiesArgs(
                kty=CMK_KEY_TYPE,
                key_size=CMK_KEY_SIZE,
                key_ops=[keyvault.JsonWebKeyOperation.WRAP_KEY, keyvault.JsonWebKeyOperation.UNWRAP_KEY],
                rotation_policy=rotation.policy(),
            ),
            opts=protection.options(self, retain_on_delete=True),
        )
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-postgres-identity",
            resource_name_=identity_name,
            location=location,
            resource_group_name=resource_group_name,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Granted on the resource group, not the key: a grant beneath the vault's delete lock could
        # never be removed ("A cannot-delete lock on a resource or resource group prevents the
        # deletion of Azure RBAC assignments", lock-resources). The group holds this vault alone.
        self.key_grant = roles.grant(
            f"{name}-postgres-key-access",
            role=roles.KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
            principal_id=identity.principal_id,
            scope=resource_group_id,
            subscription_id=subscription_id,
            parent=self,
        )
        self.vault_id = self.vault.id
        self.vault_name = self.vault.name
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
        return store_secret(
            f"{self._name}-{name}",
            vault=self.vault,
            resource_group_name=self._resource_group_name,
            secret_name=name,
            value=value,
            tags=None,
            parent=self,
        )
