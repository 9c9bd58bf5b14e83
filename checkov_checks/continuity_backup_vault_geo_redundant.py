"""CKV_CONTINUITY_2: a Data Protection backup vault stores its backups geo-redundantly."""

from __future__ import annotations

from typing import Any

from checkov.arm.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class BackupVaultGeoRedundantStorage(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure Data Protection backup vaults use GeoRedundant vault storage",
            id="CKV_CONTINUITY_2",
            categories=(CheckCategories.BACKUP_AND_RECOVERY,),
            supported_resources=("Microsoft.DataProtection/backupVaults",),
            guideline="https://learn.microsoft.com/azure/backup/create-manage-backup-vault",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["properties/storageSettings"]
        properties = conf.get("properties")
        settings = properties.get("storageSettings") if isinstance(properties, dict) else None
        if not isinstance(settings, list) or not settings:
            return CheckResult.FAILED
        vault_stores = [
            s
            for s in settings
            if isinstance(s, dict) and str(s.get("datastoreType", "")).lower() == "vaultstore"
        ]
        if vault_stores and all(str(s.get("type", "")).lower() == "georedundant" for s in vault_stores):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = BackupVaultGeoRedundantStorage()
