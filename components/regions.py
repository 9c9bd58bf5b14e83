"""What the platform needs to know about Azure regions: short code, display name, availability zones
and geo-paired region.

Zone support decides the HA mode (zone-redundant vs same-zone) and the storage redundancy (GZRS vs
GRS): Australia Southeast, for one, has no availability zones, so neither ZRS/GZRS storage nor
zone-redundant HA exists there.
https://learn.microsoft.com/azure/reliability/availability-zones-region-support
https://learn.microsoft.com/azure/storage/common/redundancy-regions-gzrs

A server's geo-redundant backups are "replicated to a geo-paired region" (PostgreSQL flexible server
concepts-backup-restore), so its geo-backup key vault must be there. Pairs from Microsoft's table of
Azure paired regions (reliability/cross-region-replication-azure, "Paired regions").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegionInfo:
    code: str
    display_name: str
    has_zones: bool
    pair: str  # the geo-paired region, which may be outside this table


REGIONS = {
    "australiaeast": RegionInfo("aue", "Australia East", True, "australiasoutheast"),
    "australiasoutheast": RegionInfo("ase", "Australia Southeast", False, "australiaeast"),
    "australiacentral": RegionInfo("auc", "Australia Central", False, "australiacentral2"),
    "eastus": RegionInfo("eus", "East US", True, "westus"),
    "eastus2": RegionInfo("eu2", "East US 2", True, "centralus"),
    "westus2": RegionInfo("wu2", "West US 2", True, "westcentralus"),
    "westus": RegionInfo("wus", "West US", False, "eastus"),
    "centralus": RegionInfo("cus", "Central US", True, "eastus2"),
    "northeurope": RegionInfo("neu", "North Europe", True, "westeurope"),
    "westeurope": RegionInfo("weu", "West Europe", True, "northeurope"),
    "uksouth": RegionInfo("uks", "UK South", True, "ukwest"),
    "ukwest": RegionInfo("ukw", "UK West", False, "uksouth"),
    "southeastasia": RegionInfo("sea", "Southeast Asia", True, "eastasia"),
    "eastasia": RegionInfo("eas", "East Asia", True, "southeastasia"),
    "japaneast": RegionInfo("jpe", "Japan East", True, "japanwest"),
    "japanwest": RegionInfo("jpw", "Japan West", True, "japaneast"),
    "canadacentral": RegionInfo("cac", "Canada Central", True, "canadaeast"),
    "canadaeast": RegionInfo("cae", "Canada East", False, "canadacentral"),
}


def region_info(region: str) -> RegionInfo:
    try:
        return REGIONS[region]
    except KeyError:
        raise ValueError(
            f"region '{region}' is not in the platform's region table (components/regions.py); "
            f"known: {', '.join(sorted(REGIONS))}"
        ) from None
