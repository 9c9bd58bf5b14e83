"""Azure resource names for one stack: deterministic, within each type's length and character rules.

Names are computed, not auto-generated, so runbooks and drills can name a server before it exists
and a re-run never renames (and so never replaces) a resource that holds data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .regions import region_info

PROJECT_CODE = "cty"
# The globally named resources a stack makes, by the purpose their names start (vaults) or hold
# (storage accounts) with.
MAIN_VAULT, GEO_VAULT, PROJECT_VAULT = "kv", "kvgeo", "kvprj"
VAULT_PURPOSES = (MAIN_VAULT, GEO_VAULT, PROJECT_VAULT)
AUDIT_ACCOUNT, STAGING_ACCOUNT = "audit", "ltr"
ACCOUNT_PURPOSES = (AUDIT_ACCOUNT, STAGING_ACCOUNT)
# Key Vault names are 3-24 characters, storage account names 3-24 lowercase letters and digits
# (azure-resource-manager/management/resource-name-rules). The longest name the environment is part
# of, "kvgeo-cty-<environment>-<region code>-<suffix>" (three letters, four characters), leaves it 5.
LONGEST_NAME = 24
LONGEST_ENVIRONMENT = LONGEST_NAME - len(f"{GEO_VAULT}-{PROJECT_CODE}--aue-0000")


def region_code(region: str) -> str:
    # Short codes keep names inside the 24-character limits of Key Vault and storage accounts.
    return region_info(region).code


@dataclass(frozen=True)
class Naming:
    """Names for the resources one stack owns, in its own region or (for prod) its peer region."""

    environment: str
    region: str
    subscription_id: str

    @property
    def suffix(self) -> str:
        # Globally unique names (vaults, storage, servers) get a short, stable per-subscription suffix.
        return hashlib.sha256(self.subscription_id.encode()).hexdigest()[:4]

    def _base(self, region: str | None = None) -> str:
        return f"{PROJECT_CODE}-{self.environment}-{region_code(region or self.region)}"

    def resource_group(self, region: str | None = None, purpose: str = "") -> str:
        return f"rg-{self._base(region)}" + (f"-{purpose}" if purpose else "")

    def key_vault_prefix(self, purpose: str = MAIN_VAULT, region: str | None = None) -> str:
        """A vault's name up to its per-subscription suffix: the same in every subscription."""
        return f"{purpose}-{self._base(region)}-"

    def key_vault(self, purpose: str = MAIN_VAULT, region: str | None = None) -> str:
        name = f"{self.key_vault_prefix(purpose, region)}{self.suffix}"
        assert len(name) <= LONGEST_NAME, name  # Key Vault: 3-24 characters
        return name

    def storage_account(self, purpose: str) -> str:
        name = f"st{PROJECT_CODE}{purpose}{self.environment}{region_code(self.region)}{self.suffix}"
        # Storage account names: 3-24 lowercase letters and digits.
        assert len(name) <= LONGEST_NAME and name.isalnum(), name
        return name

    def server_prefix(self, database: str, generation: int) -> str:
        """A server's name up to its per-subscription suffix: what reports match its metrics by."""
        return f"psql-{PROJECT_CODE}-{database}-{self.environment}-{region_code(self.region)}-g{generation}-"

    def server(self, database: str, generation: int) -> str:
        return f"{self.server_prefix(database, generation)}{self.suffix}"

    def scoped(self, kind: str, purpose: str = "", region: str | None = None) -> str:
        """Names that only need to be unique in their resource group (workspaces, alerts, identities)."""
        parts = [kind, self._base(region)] + ([purpose] if purpose else [])
        return "-".join(parts)
