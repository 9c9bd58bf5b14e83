"""Built-in Azure RBAC roles the platform grants, and one helper to grant them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pulumi
from pulumi_azure_native import authorization

from . import facts
from .settings import EntraPrincipal

# Built-in role definition IDs (the same in every tenant).
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
# Lets a Backup vault take long-term-retention backups of a PostgreSQL flexible server.
# https://learn.microsoft.com/azure/backup/backup-azure-database-postgresql-flex-overview
POSTGRESQL_FLEXIBLE_SERVER_LTR_BACKUP = "c088a766-074b-43ba-90d4-1fb21feae531"
# Read, write and delete blobs: what a Backup vault needs on the container it restores files into
# ("Restore: Storage Blob Data Contributor role on the target storage account", which may be
# scoped to the container: restore-azure-database-postgresql, "Restore permissions on the target
# storage account").
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
# Read a secret's value (components.facts, where the policies read it too).
KEY_VAULT_SECRETS_USER = facts.KEY_VAULT_SECRETS_USER


def grant(
    name: str,
    *,
    role: str,
    principal_id: pulumi.Input[str],
    scope: pulumi.Input[str],
    subscription_id: str,
    parent: pulumi.Resource,
    principal_type: authorization.PrincipalType = authorization.PrincipalType.SERVICE_PRINCIPAL,
    depends_on: Sequence[pulumi.Resource] = (),
) -> authorization.RoleAssignment:
    """Grant a built-in role to a principal (by default a managed identity).

    The assignment name is a GUID derived from the stack and logical name, so a re-run updates the
    same assignment instead of colliding with it.
    """
    return authorization.RoleAssignment(
        name,
        role_assignment_name=str(uuid.uuid5(uuid.NAMESPACE_URL, f"continuity/{pulumi.get_stack()}/{name}")),
        principal_id=principal_id,
        principal_type=principal_type,
        role_definition_id=f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        scope=scope,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def principal_type_of(principal: EntraPrincipal) -> authorization.PrincipalType:
    """The assignment's principalType for a configured Entra principal (group, user, servicePrincipal)."""
    return authorization.PrincipalType(principal.principal_type[0].upper() + principal.principal_type[1:])
