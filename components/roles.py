"""Built-in Azure RBAC roles the platform grants, and one helper to grant them."""

from __future__ import annotations

import uuid

import pulumi
from pulumi_azure_native import authorization

# Built-in role definition IDs (the same in every tenant).
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
# Lets a Backup vault take long-term-retention backups of a PostgreSQL flexible server.
# https://learn.microsoft.com/azure/backup/backup-azure-database-postgresql-flex-overview
POSTGRESQL_FLEXIBLE_SERVER_LTR_BACKUP = "c088a766-074b-43ba-90d4-1fb21feae531"


def grant(
    name: str,
    *,
    role: str,
    principal_id: pulumi.Input[str],
    scope: pulumi.Input[str],
    subscription_id: str,
    parent: pulumi.Resource,
) -> authorization.RoleAssignment:
    """Grant a built-in role to a managed identity.

    The assignment name is a GUID derived from the stack and logical name, so a re-run updates the
    same assignment instead of colliding with it.
    """
    return authorization.RoleAssignment(
        name,
        role_assignment_name=str(uuid.uuid5(uuid.NAMESPACE_URL, f"continuity/{pulumi.get_stack()}/{name}")),
        principal_id=principal_id,
        principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        scope=scope,
        opts=pulumi.ResourceOptions(parent=parent),
    )
