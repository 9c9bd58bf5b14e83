"""Compute sizes of PostgreSQL flexible server SKUs, and what makes a replica big enough for its source.

vCores and memory per SKU are Microsoft's table (concepts-compute,
https://learn.microsoft.com/azure/postgresql/compute-storage/concepts-compute, rows "D4ds_v5 /
D4ads_v5 | 4 | 16 GiB", ...). A SKU missing here fails validation: add it with its row from that page.

Replicas (concepts-read-replicas, "Scale", https://learn.microsoft.com/azure/postgresql/read-replica/concepts-read-replicas):
"Compute on the primary must always be equal or smaller than the compute on the smallest replica",
"Storage size on the primary must be always equal or smaller than the storage size on the smallest
replica", and "The Burstable server compute tier is not supported" for read replicas. Hence the order:
scale replicas up first, the primary down first (docs/runbooks/scaling.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Compute:
    tier: str
    vcores: int
    memory_gib: int


# Runs at import, before mutation testing picks a mutant: unreachable by it.
# pragma: no mutate start
def _both(sku: str, compute: Compute) -> dict[str, Compute]:
    # The page lists the Intel (ds) and AMD (ads) variants of a size on one row.
    return {f"Standard_{sku}": compute, f"Standard_{sku.replace('ds_', 'ads_')}": compute}


# pragma: no mutate end


SKUS: dict[str, Compute] = {
    "Standard_B1ms": Compute("Burstable", 1, 2),
    "Standard_B2s": Compute("Burstable", 2, 4),
    "Standard_B2ms": Compute("Burstable", 2, 8),
    **_both("D2ds_v5", Compute("GeneralPurpose", 2, 8)),
    **_both("D4ds_v5", Compute("GeneralPurpose", 4, 16)),
    **_both("D8ds_v5", Compute("GeneralPurpose", 8, 32)),
    **_both("D16ds_v5", Compute("GeneralPurpose", 16, 64)),
    **_both("E2ds_v5", Compute("MemoryOptimized", 2, 16)),
    **_both("E4ds_v5", Compute("MemoryOptimized", 4, 32)),
    **_both("E8ds_v5", Compute("MemoryOptimized", 8, 64)),
}

# General Purpose and Memory Optimized may be switched either way; Burstable neither hosts a replica
# nor has one: "Read Replicas are currently supported for the General Purpose and Memory Optimized
# server compute tiers. The Burstable server compute tier is not supported" (concepts-read-replicas).
TIER_RANK = {"Burstable": 0, "GeneralPurpose": 1, "MemoryOptimized": 2}
REPLICA_TIERS = ("GeneralPurpose", "MemoryOptimized")


class UnknownSku(ValueError):
    pass


def compute(sku: str) -> Compute:
    try:
        return SKUS[sku]
    except KeyError:
        raise UnknownSku(
            f"SKU {sku} is not in the platform's SKU table (components/skus.py); known: {', '.join(sorted(SKUS))}"
        ) from None


def replica_shortfalls(
    replica_sku: str,
    replica_tier: str,
    replica_storage_gb: int,
    source_sku: str,
    source_tier: str,
    source_storage_gb: int,
) -> list[str]:
    """Why a replica cannot serve its source: a tier without replicas, or smaller than the source,
    one reason per dimension (empty when it fits)."""
    replica, source = compute(replica_sku), compute(source_sku)
    reasons = []
    if source_tier not in REPLICA_TIERS:
        reasons.append(f"the source's tier {source_tier} cannot have a read replica")
    if replica_tier not in REPLICA_TIERS:
        reasons.append(f"tier {replica_tier} cannot host a read replica")
    elif TIER_RANK[replica_tier] < TIER_RANK[source_tier]:
        reasons.append(f"tier {replica_tier} is below the source's {source_tier}")
    if replica.vcores < source.vcores:
        reasons.append(
            f"{replica.vcores} vCores ({replica_sku}) are fewer than the source's {source.vcores} ({source_sku})"
        )
    if replica.memory_gib < source.memory_gib:
        reasons.append(
            f"{replica.memory_gib} GiB memory ({replica_sku}) is less than the source's "
            f"{source.memory_gib} GiB ({source_sku})"
        )
    if replica_storage_gb < source_storage_gb:
        reasons.append(f"{replica_storage_gb} GiB storage is less than the source's {source_storage_gb} GiB")
    return reasons
