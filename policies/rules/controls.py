"""Control identifiers the rules map to, named once so mappings stay consistent.

CIS: CIS Microsoft Azure Foundations Benchmark v2.0.0 recommendation numbers.
SOC 2: AICPA Trust Services Criteria (2017, revised points of focus 2022).
ISO: ISO/IEC 27001:2022 Annex A controls.
"""

from collections.abc import Iterable, Mapping

CIS = "CIS Microsoft Azure Foundations"
SOC2 = "SOC 2"
ISO = "ISO/IEC 27001:2022"

BACKUP = {SOC2: ("A1.2",), ISO: ("A.8.13",)}
REDUNDANCY = {SOC2: ("A1.2",), ISO: ("A.8.14", "A.5.30")}
CONTINUITY = {SOC2: ("A1.2", "A1.3"), ISO: ("A.5.29", "A.5.30")}
LOGGING = {SOC2: ("CC7.2",), ISO: ("A.8.15", "A.8.16")}
CRYPTO = {SOC2: ("CC6.1", "CC6.7"), ISO: ("A.8.24",)}
ACCESS = {SOC2: ("CC6.1", "CC6.6"), ISO: ("A.5.15", "A.8.20")}
INVENTORY = {SOC2: ("CC6.1",), ISO: ("A.5.9", "A.5.12")}
CHANGE = {SOC2: ("CC8.1",), ISO: ("A.8.32", "A.8.9")}


# Runs while the rules are declared, at import, before mutation testing picks a mutant: unreachable.
# pragma: no mutate start
def merge(*mappings: Mapping[str, Iterable[str]], **cis: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Combine mappings; `cis=("5.1.1",)` adds CIS recommendation numbers."""
    merged: dict[str, tuple[str, ...]] = {}
    for mapping in mappings:
        for framework, ids in mapping.items():
            merged[framework] = tuple(dict.fromkeys(merged.get(framework, ()) + tuple(ids)))
    if cis.get("cis"):
        merged[CIS] = tuple(cis["cis"])
    return merged


# pragma: no mutate end


NETWORK = {SOC2: ("CC6.1", "CC6.6"), ISO: ("A.8.20", "A.8.21", "A.8.22")}
