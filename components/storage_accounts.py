"""The one way this platform builds a storage account: HTTPS with TLS 1.2, Entra authorization
only (no shared keys, no anonymous blobs), infrastructure encryption, and every network denied
except trusted Azure services and what each account adds."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_azure_native import storage

from .facts import AUDIT_ARCHIVE, PURPOSE_TAG, RESTORE_STAGING
from .regions import region_info

__all__ = ["AUDIT_ARCHIVE", "RESTORE_STAGING", "private_account", "redundant_sku"]


def redundant_sku(region: str) -> storage.SkuName:
    """Geo-zone-redundant where the region has zones; geo-redundant where it has none."""
    return storage.SkuName.STANDARD_GZRS if region_info(region).has_zones else storage.SkuName.STANDARD_GRS


def private_account(
    name: str,
    *,
    account_name: str,
    purpose: str,
    location: str,
    resource_group_name: pulumi.Input[str],
    sku: storage.SkuName,
    network_rule_set: storage.NetworkRuleSetArgs,
    opts: pulumi.ResourceOptions,
    **extra: Any,
) -> storage.StorageAccount:
    """A StorageV2 account with the platform's hardening; `extra` adds what only one account needs.

    Public network access stays Enabled and `network_rule_set` denies by default: Azure services
    reach the account as trusted services (or resource instances), people through its private endpoint.
    """
    arguments: dict[str, Any] = {
        "allow_cross_tenant_replication": False,
        "allowed_copy_scope": storage.AllowedCopyScope.AAD,
        **extra,
    }
    return storage.StorageAccount(
        name,
        account_name=account_name,
        location=location,
        resource_group_name=resource_group_name,
        kind=storage.Kind.STORAGE_V2,
        sku=storage.SkuArgs(name=sku),
        minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
        enable_https_traffic_only=True,
        allow_blob_public_access=False,
        allow_shared_key_access=False,
        default_to_o_auth_authentication=True,
        public_network_access=storage.PublicNetworkAccess.ENABLED,
        network_rule_set=network_rule_set,
        encryption=storage.EncryptionArgs(
            key_source=storage.KeySource.MICROSOFT_STORAGE,
            require_infrastructure_encryption=True,
            services=storage.EncryptionServicesArgs(
                blob=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
                file=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
            ),
        ),
        tags={PURPOSE_TAG: purpose},
        opts=opts,
        **arguments,
    )
