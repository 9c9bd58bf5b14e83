"""Encryption: customer-managed keys (including the geo-backup key), TLS and storage encryption."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypedDict

from . import controls as c
from .facts import CONFIGURATION, KEY, SERVER, STORAGE
from .model import Resource, Stack
from .registry import NoConfig, Violation, rule


class MinKeySize(TypedDict):
    minKeySize: int


TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")


def server_parameters(stack: Stack, server: Resource) -> dict[str, str]:
    return {
        p.get("configurationName"): str(p.get("value"))
        for p in stack.referring_to(server, "serverName", CONFIGURATION)
    }


@rule(
    "CTY-ENC-001",
    concern="encryption",
    title="Customer-managed key",
    description="A PostgreSQL server encrypts its data with a customer-managed key through a user-assigned identity.",
    remediation="Declare the server through components.database.PostgresServer, which sets dataEncryption from the regional vault.",
    severity="high",
    controls=c.merge(c.CRYPTO, cis=("4.3.8",)),
    resource_types=(SERVER,),
)
def customer_managed_key(server: Resource, cfg: NoConfig) -> Iterator[str]:
    encryption = server.get("dataEncryption") or {}
    if encryption.get("type") != "AzureKeyVault":
        yield f"data encryption is {encryption.get('type') or 'service-managed'}, not a customer-managed key"
    elif not encryption.get("primaryKeyURI") or not encryption.get("primaryUserAssignedIdentityId"):
        yield "customer-managed key without a key URI or identity"


@rule(
    "CTY-ENC-002",
    concern="encryption",
    title="Geo-backup key",
    description="A server with geo-redundant backup encrypts the geo-backup with its own customer-managed key and identity.",
    remediation="Keep the geo-backup key vault in the prod stack (components.platform) and pass its key to the server.",
    severity="high",
    controls=c.CRYPTO,
    resource_types=(SERVER,),
)
def geo_backup_key(server: Resource, cfg: NoConfig) -> Iterator[str]:
    if server.get("backup.geoRedundantBackup") != "Enabled":
        return
    encryption = server.get("dataEncryption") or {}
    if not encryption.get("geoBackupKeyURI") or not encryption.get("geoBackupUserAssignedIdentityId"):
        yield "geo-redundant backup without a geo-backup key and identity: the copy in the peer region is not under your key"


@rule(
    "CTY-ENC-003",
    concern="encryption",
    title="TLS 1.2 or later",
    description="Every PostgreSQL server sets ssl_min_protocol_version to TLS 1.2 or later.",
    remediation="Keep ssl_min_protocol_version in components.database.server_parameters.",
    severity="high",
    controls=c.merge(c.CRYPTO, cis=("4.3.1",)),
)
def tls_minimum(stack: Stack, cfg: NoConfig) -> Iterator[Violation]:
    for server in stack.of_type(SERVER):
        version = server_parameters(stack, server).get("ssl_min_protocol_version")
        if version not in TLS_VERSIONS:
            yield (
                server.urn,
                f"ssl_min_protocol_version is {version or 'not set'}; use one of {list(TLS_VERSIONS)}",
            )


@rule(
    "CTY-ENC-004",
    concern="encryption",
    title="Secure transport",
    description="Every PostgreSQL server refuses connections without TLS.",
    remediation="Keep require_secure_transport=on in components.database.server_parameters.",
    severity="high",
    controls=c.merge(c.CRYPTO, cis=("4.3.1",)),
)
def secure_transport(stack: Stack, cfg: NoConfig) -> Iterator[Violation]:
    for server in stack.of_type(SERVER):
        value = server_parameters(stack, server).get("require_secure_transport")
        if (value or "").lower() != "on":
            yield server.urn, f"require_secure_transport is {value or 'not set'}"


@rule(
    "CTY-ENC-005",
    concern="encryption",
    title="Storage in transit",
    description="A storage account accepts HTTPS only with TLS 1.2 or later.",
    remediation="Set enableHttpsTrafficOnly=true and minimumTlsVersion=TLS1_2 on the account.",
    severity="high",
    controls=c.merge(c.CRYPTO, cis=("3.1", "3.15")),
    resource_types=(STORAGE,),
)
def storage_in_transit(account: Resource, cfg: NoConfig) -> Iterator[str]:
    if account.get("enableHttpsTrafficOnly") is False:
        yield "plain HTTP is allowed"
    if account.get("minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
        yield f"minimum TLS version is {account.get('minimumTlsVersion') or 'the service default'}"


@rule(
    "CTY-ENC-006",
    concern="encryption",
    title="Infrastructure encryption",
    description="A storage account adds infrastructure (double) encryption where the service offers it.",
    remediation="Set encryption.requireInfrastructureEncryption=true (creation-only: a new account is needed).",
    severity="medium",
    controls=c.merge(c.CRYPTO, cis=("3.2",)),
    resource_types=(STORAGE,),
)
def infrastructure_encryption(account: Resource, cfg: NoConfig) -> Iterator[str]:
    if not account.get("encryption.requireInfrastructureEncryption"):
        yield "infrastructure encryption is off"


@rule(
    "CTY-ENC-007",
    concern="encryption",
    title="Key strength and rotation",
    description="A customer-managed key is RSA of at least the minimum size and rotates automatically.",
    remediation="Use components.keyvault.RegionalKeyVault, which creates RSA-HSM 3072 keys with a rotation policy.",
    severity="high",
    controls=c.merge(c.CRYPTO, {c.ISO: ("A.8.24",)}, cis=("8.8",)),
    resource_types=(KEY,),
    config={"minKeySize": {"type": "integer", "default": 3072}},
)
def key_strength_and_rotation(key: Resource, cfg: MinKeySize) -> Iterator[str]:
    props = key.get("properties") or {}
    if props.get("kty") not in ("RSA", "RSA-HSM"):
        yield f"key type {props.get('kty')} cannot wrap a PostgreSQL data key"
    if (props.get("keySize") or 0) < cfg["minKeySize"]:
        yield f"key size {props.get('keySize')} is below {cfg['minKeySize']}"
    actions = [
        a.get("action", {}).get("type")
        for a in (props.get("rotationPolicy") or {}).get("lifetimeActions", [])
    ]
    if "rotate" not in [str(a).lower() for a in actions]:
        yield "no automatic rotation in the key's rotation policy"
