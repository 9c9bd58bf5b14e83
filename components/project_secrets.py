"""Each project's own secret in each region, readable by that project's group alone.

The secrets live in a vault of their own per region (`kvprj`), apart from the vault holding the
database encryption keys: that vault carries a delete lock, and "A cannot-delete lock on a resource
or resource group prevents the deletion of Azure RBAC assignments" (lock-resources), so a grant on a
secret inside it could never be removed when a project leaves (CTY-DEP-008). This vault holds
project secrets only (CTY-ISO-002), no key, so it is not locked: soft delete (90 days) and purge
protection keep anything deleted recoverable, and the primary-origin stack holds every value.

The value is generated once by the primary-origin stack and read by the peer stack, like the other
secrets both regions need, so a failover finds the same value in the standby region. The project's
group gets Key Vault Secrets User at the secret's own scope (`{vault}/secrets/{name}`), never on the
vault: Key Vault's RBAC guide documents secret-scope assignments and keeps them to reading, which is
all a project does here; the platform writes and rotates. Rotating is a new value for one project
(`secretVersion`), removing a project removes its grant; neither touches another project's secret
or grant (tests/test_project_secrets.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_random as random

from . import roles
from .facts import PROJECT_SECRETS, PROJECT_TAG, PURPOSE_TAG
from .keyvault import hardened_vault, store_secret
from .peer import PeerStack
from .protection import Protection
from .settings import Tenancy


def project_secret_name(project: str) -> str:
    return f"project-{project}-key"


class ProjectSecrets(pulumi.ComponentResource):
    """The region's project-secrets vault, each project's secret in it, and each secret's one grant."""

    vault_id: pulumi.Output[str]
    vault_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        tenancy: Tenancy,
        generate: bool,
        peer: PeerStack | None,
        vault_name: str,
        location: str,
        resource_group_name: pulumi.Input[str],
        tenant_id: str,
        subscription_id: str,
        allowed_cidrs: Sequence[str],
        workspace_id: pulumi.Input[str],
        archive_id: pulumi.Input[str] | None,
        protection: Protection,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:tenancy:ProjectSecrets", name, None, opts)
        vault = hardened_vault(
            f"{name}-vault",
            vault_name=vault_name,
            location=location,
            resource_group_name=resource_group_name,
            tenant_id=tenant_id,
            allowed_cidrs=allowed_cidrs,
            tags={**tags, PURPOSE_TAG: PROJECT_SECRETS},
            workspace_id=workspace_id,
            archive_id=archive_id,
            parent=self,
            opts=protection.options(self),
        )
        # The values by secret name: the primary-origin stack shares them with its peer.
        self.values: dict[str, pulumi.Output[str]] = {}
        for project, config in sorted(tenancy.projects.items()):
            secret_name = project_secret_name(project)
            if generate:
                self.values[secret_name] = random.RandomPassword(
                    secret_name,
                    length=48,
                    special=False,
                    keepers={"secretVersion": str(config.secret_version)},
                    opts=pulumi.ResourceOptions(parent=self),
                ).result
            else:
                assert peer is not None  # a replica-origin stack always reads its peer
                self.values[secret_name] = peer.shared_secret(secret_name)
            secret = store_secret(
                f"{name}-{secret_name}",
                vault=vault,
                resource_group_name=resource_group_name,
                secret_name=secret_name,
                value=self.values[secret_name],
                tags={PROJECT_TAG: project},
                parent=self,
            )
            roles.grant(
                f"{secret_name}-reader",
                role=roles.KEY_VAULT_SECRETS_USER,
                principal_id=config.group.object_id,
                principal_type=roles.principal_type_of(config.group),
                scope=pulumi.Output.concat(vault.id, "/secrets/", secret_name),
                subscription_id=subscription_id,
                parent=self,
                depends_on=[secret],
            )
        self.vault_id = vault.id
        self.vault_name = vault.name
        self.register_outputs({"vault_id": self.vault_id})
