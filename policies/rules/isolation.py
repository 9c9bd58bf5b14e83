"""Project isolation in Azure: a project's principal reads its own secrets and nothing broader, and
each project secret is readable by its own project alone.

The projects and their Entra object ids come from the stack's continuity:tenancy, passed as rule
config (policies/config/<stack>.json, checked against the stack file by the gate). Row-level
security inside the databases is not judged here: it lives in the database, so it is checked
against a real database's catalog (python -m tenancy check, the restore check), never against the
config that generated it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TypedDict

from components.facts import KEY_VAULT_SECRETS_USER, PROJECT_TAG

from . import controls as c
from .facts import KEY, ROLE_ASSIGNMENT, VAULT, is_project_vault
from .model import Resource, Stack
from .registry import Violation, rule

SECRET = "azure-native:keyvault:Secret"
SECRET_SCOPE = re.compile(r"/providers/Microsoft\.KeyVault/vaults/[^/]+/secrets/([^/]+)$", re.IGNORECASE)


class Projects(TypedDict):
    projects: dict[str, str]


PROJECTS = {
    "projects": {
        "type": "object",
        "default": {},
        "description": "the stack's projects (continuity:tenancy): name -> the Entra object id of its group",
    }
}


def _role_of(grant: Resource) -> str:
    return str(grant.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()


def _scope_vaults(stack: Stack, grant: Resource) -> list[Resource]:
    return [r for r in stack.referenced(grant, "scope") if r.type == VAULT]


def _owners(cfg: Projects) -> Mapping[str, str]:
    """Object id (lower case) -> project."""
    return {object_id.lower(): project for project, object_id in cfg["projects"].items()}


@rule(
    "CTY-ISO-001",
    concern="isolation",
    title="Project principals read their own secrets only",
    description="A project's Entra principal holds no role but Key Vault Secrets User, and that only on single "
    "secrets of the project-secrets vault, never on a vault, workspace, resource group or subscription.",
    remediation="Grant projects through components.project_secrets only; give operators of one project no "
    "vault-wide or workspace-wide data role.",
    severity="critical",
    controls=c.merge(c.ACCESS, {c.ISO: ("A.8.3",)}),
    config=PROJECTS,
)
def project_principals_narrow(stack: Stack, cfg: Projects) -> Iterator[Violation]:
    owners = _owners(cfg)
    for grant in stack.of_type(ROLE_ASSIGNMENT):
        project = owners.get(str(grant.get("principalId", "")).lower())
        if project is None:
            continue
        role = _role_of(grant)
        if role != KEY_VAULT_SECRETS_USER:
            yield (
                grant.urn,
                f"project {project}'s principal holds role {role or 'of no definition'}, not Key Vault Secrets User",
            )
        scope = grant.get("scope")
        secret_scope = isinstance(scope, str) and SECRET_SCOPE.search(scope) is not None
        vaults = _scope_vaults(stack, grant)
        if isinstance(scope, str) and not secret_scope:
            yield grant.urn, f"project {project}'s principal is granted on {scope}, broader than one secret"
        elif any(not is_project_vault(v) for v in vaults):
            yield (
                grant.urn,
                f"project {project}'s principal is granted inside a vault that is not the project-secrets vault",
            )


@rule(
    "CTY-ISO-002",
    concern="isolation",
    title="Each project secret readable by its project alone",
    description="The project-secrets vault holds project secrets only, each granted to exactly its own project's "
    "principal and to nobody else, and nobody holds a role on the vault as a whole.",
    remediation="Keep project secrets in components.project_secrets: one secret per project, tagged with it, "
    "one Key Vault Secrets User grant at the secret's scope.",
    severity="critical",
    controls=c.merge(c.ACCESS, {c.ISO: ("A.8.3",)}),
    config=PROJECTS,
)
def project_secrets_granted_alone(stack: Stack, cfg: Projects) -> Iterator[Violation]:
    object_ids = {project: oid.lower() for project, oid in cfg["projects"].items()}
    for vault in stack.of_type(VAULT):
        if not is_project_vault(vault):
            continue
        grants = [g for g in stack.of_type(ROLE_ASSIGNMENT) if vault in _scope_vaults(stack, g)]
        by_secret: dict[str, list[Resource]] = {}
        for grant in grants:
            scope = grant.get("scope")
            match = SECRET_SCOPE.search(scope) if isinstance(scope, str) else None
            if isinstance(scope, str) and match is None:
                yield (
                    vault.urn,
                    f"{grant.name} grants role {_role_of(grant)} on the whole vault: every project's secrets",
                )
            elif match is not None:
                by_secret.setdefault(match.group(1), []).append(grant)
        for key in stack.of_type(KEY):
            if vault.urn in key.property_dependencies.get("vaultName", ()):
                yield (
                    key.urn,
                    "a key in the project-secrets vault, which is unlocked and meant for project secrets only",
                )
        for secret in stack.of_type(SECRET):
            if vault.urn not in secret.property_dependencies.get("vaultName", ()):
                continue
            project = secret.tags.get(PROJECT_TAG)
            if project not in object_ids:
                yield (
                    secret.urn,
                    f"not a project secret (tag {PROJECT_TAG}={project!r} names no project of the stack)",
                )
                continue
            readers = by_secret.get(str(secret.get("secretName")), [])
            principals = sorted({str(g.get("principalId", "")).lower() for g in readers})
            if principals != [object_ids[project]]:
                yield (
                    secret.urn,
                    (
                        f"readable by {principals or 'nobody'}; it must be readable by project {project}'s "
                        f"principal ({object_ids[project]}) alone"
                    ),
                )
            wrong = sorted({_role_of(g) for g in readers} - {KEY_VAULT_SECRETS_USER})
            if wrong:
                yield (
                    secret.urn,
                    f"granted roles {wrong}; a project only reads its secret (Key Vault Secrets User)",
                )
