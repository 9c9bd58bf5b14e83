"""CKV_CONTINUITY_3: a Data Protection backup vault can restore in the paired region."""

from __future__ import annotations

from typing import Any

from checkov.arm.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class BackupVaultCrossRegionRestore(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure Data Protection backup vaults enable cross-region restore",
            id="CKV_CONTINUITY_3",
            categories=(CheckCategories.BACKUP_AND_RECOVERY,),
            supported_resources=("Microsoft.DataProtection/backupVaults",),
            guideline="https://learn.microsoft.com/azure/backup/create-manage-backup-vault#cross-region-restore",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["properties/featureSettings/crossRegionRestoreSettings/state"]
        state: Any = conf.get("properties")
        for key in ("featureSettings", "crossRegionRestoreSettings", "state"):
            state = state.get(key) if isinstance(state, dict) else None
        return CheckResult.PASSED if str(state).lower() == "enabled" else CheckResult.FAILED


check = BackupVaultCrossRegionRestore()
