"""What the platform needs to know about Azure regions: short code, display name, availability zones.

Zone support decides the HA mode (zone-redundant vs same-zone) and the storage redundancy (GZRS vs
GRS): Australia Southeast, for one, has no availability zones, so neither ZRS/GZRS storage nor
zone-redundant HA exists there.
https://learn.microsoft.com/azure/reliability/availability-zones-region-support
https://learn.microsoft.com/azure/storage/common/redundancy-regions-gzrs
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegionInfo:
    code: str
    display_name: str
    has_zones: bool


REGIONS = {
    "australiaeast": RegionInfo("aue", "Australia East", True),
    "australiasoutheast": RegionInfo("ase", "Australia Southeast", False),
    "australiacentral": RegionInfo("auc", "Australia Central", False),
    "eastus": RegionInfo("eus", "East US", True),
    "eastus2": RegionInfo("eu2", "East US 2", True),
    "westus2": RegionInfo("wu2", "West US 2", True),
    "westus": RegionInfo("wus", "West US", False),
    "centralus": RegionInfo("cus", "Central US", True),
    "northeurope": RegionInfo("neu", "North Europe", True),
    "westeurope": RegionInfo("weu", "West Europe", True),
    "uksouth": RegionInfo("uks", "UK South", True),
    "ukwest": RegionInfo("ukw", "UK West", False),
    "southeastasia": RegionInfo("sea", "Southeast Asia", True),
    "eastasia": RegionInfo("eas", "East Asia", True),
    "japaneast": RegionInfo("jpe", "Japan East", True),
    "japanwest": RegionInfo("jpw", "Japan West", True),
    "canadacentral": RegionInfo("cac", "Canada Central", True),
    "canadaeast": RegionInfo("cae", "Canada East", False),
}


def region_info(region: str) -> RegionInfo:
    try:
        return REGIONS[region]
    except KeyError:
        raise ValueError(
            f"region '{region}' is not in the platform's region table (components/regions.py); "
            f"known: {', '.join(sorted(REGIONS))}"
        ) from None
