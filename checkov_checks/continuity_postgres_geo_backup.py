"""CKV_CONTINUITY_1: a PostgreSQL flexible server keeps geo-redundant backups (replicas excepted)."""

from __future__ import annotations

from typing import Any

from checkov.arm.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class PostgresFlexibleGeoRedundantBackup(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure PostgreSQL flexible servers keep geo-redundant backups (except read replicas)",
            id="CKV_CONTINUITY_1",
            categories=(CheckCategories.BACKUP_AND_RECOVERY,),
            supported_resources=("Microsoft.DBforPostgreSQL/flexibleServers",),
            guideline="https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-geo-disaster-recovery",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        properties = conf.get("properties")
        if not isinstance(properties, dict):
            properties = {}
        # A read replica cannot have its own geo-backup: its source's geo-backup covers the data.
        if str(properties.get("createMode", "")).lower() == "replica":
            return CheckResult.PASSED
        self.evaluated_keys = ["properties/backup/geoRedundantBackup"]
        backup = properties.get("backup")
        geo = backup.get("geoRedundantBackup") if isinstance(backup, dict) else None
        return CheckResult.PASSED if str(geo).lower() == "enabled" else CheckResult.FAILED


check = PostgresFlexibleGeoRedundantBackup()
