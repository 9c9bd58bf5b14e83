"""What already exists in Azure: read through the provider's own functions, adopted with `import`.

Two situations need the live state rather than the program's wish:

- Azure creates some children together with their parent: every Log Analytics workspace already
  has its built-in tables, every PostgreSQL server its parameters, and a promoted replica the
  Entra administrators replicated from its source. The provider refuses to create a resource that
  exists ("cannot create already existing resource", `CanCreate` in
  pulumi-azure-native provider/pkg/azure/client_azcore.go), so the program adopts such children
  with the `import` option: Pulumi reads the existing child, then updates it to the declared
  inputs (import-then-update, pulumi/pulumi#19339, documented in pulumi/docs#16580).
- Some inputs must never go below what Azure already has: storage grows by itself (autogrow) and
  cannot shrink, so the program reads the live size before declaring one.

Reads use the provider's invokes (`getServer`, `getKey`, ...), which run in previews too. A missing
resource comes back as an error carrying `Status=404` (`PulumiAzcoreResponseError.Error()` in
client_azcore.go); that alone means "not there". Any other failure stops the program: guessing
would risk the shrink or the duplicate create this module exists to prevent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
from pulumi_azure_native import dbforpostgresql as pg
from pulumi_azure_native import keyvault

T = TypeVar("T")

# How the provider formats an ARM "not found" (404) in an invoke's error.
NOT_FOUND_MARKER = "Status=404"


class ExistingStateError(Exception):
    """Azure could not be asked what exists, or what exists rules the deployment out; the program
    stops before it declares any resource."""


@dataclass(frozen=True)
class LiveState:
    """What the program read from Azure before declaring anything (empty on a first deployment)."""

    storage_gb: Mapping[str, int] = field(default_factory=dict)  # server name -> current size
    entra_admins: frozenset[str] = frozenset()  # servers that already have the configured administrator


NOTHING_LIVE = LiveState()  # a first deployment: nothing exists yet


def is_not_found(error: BaseException) -> bool:
    return NOT_FOUND_MARKER in str(error)


def lookup(read: Callable[[], T], what: str) -> T | None:
    """The result of a provider read, or None when Azure answers 404 (the resource does not exist)."""
    try:
        return read()
    except Exception as error:  # the SDK raises a plain Exception for a failed invoke
        if is_not_found(error):
            return None
        raise ExistingStateError(f"could not read {what} from Azure: {error}") from None


def adopt(resource_id: str) -> str | None:
    """The `import` option for a child Azure creates with its parent.

    In a preview of the first deployment the parent does not exist yet, so an import would read a
    missing child and fail the preview; a preview shows a create instead (the provider checks
    existence only when it really creates). Once the child is in the stack's state the engine
    ignores the option.
    """
    return None if pulumi.runtime.is_dry_run() else resource_id


def live_server(resource_group: str, server_name: str) -> Any | None:
    return lookup(
        lambda: pg.get_server(resource_group_name=resource_group, server_name=server_name),
        f"PostgreSQL server {server_name}",
    )


def live_storage_gb(resource_group: str, server_name: str) -> int | None:
    """The server's current storage size, grown by autogrow or by hand; None if it does not exist."""
    server = live_server(resource_group, server_name)
    if server is None or server.storage is None or server.storage.storage_size_gb is None:
        return None
    return int(server.storage.storage_size_gb)


def live_entra_admin(resource_group: str, server_name: str, object_id: str) -> bool:
    """Whether the server already has this Microsoft Entra administrator."""
    found = lookup(
        lambda: pg.get_administrators_microsoft_entra(
            resource_group_name=resource_group, server_name=server_name, object_id=object_id
        ),
        f"the Entra administrators of {server_name}",
    )
    return found is not None


def live_key(resource_group: str, vault_name: str, key_name: str) -> Any | None:
    return lookup(
        lambda: keyvault.get_key(
            resource_group_name=resource_group, vault_name=vault_name, key_name=key_name
        ),
        f"key {key_name} in vault {vault_name}",
    )
