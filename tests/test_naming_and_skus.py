"""components.naming and components.skus: names within Azure's rules, and replicas never smaller."""

from __future__ import annotations

import pytest

from components.naming import (
    ACCOUNT_PURPOSES,
    LONGEST_ENVIRONMENT,
    LONGEST_NAME,
    VAULT_PURPOSES,
    Naming,
    region_code,
)
from components.regions import REGIONS
from components.skus import SKUS, UnknownSku, compute, replica_shortfalls

NAMING = Naming("prod", "australiaeast", "00000000-0000-0000-0000-000000000000")
SUFFIX = NAMING.suffix


def test_names_follow_one_pattern_per_kind():
    assert len(SUFFIX) == 4 and Naming("dr", "westeurope", NAMING.subscription_id).suffix == SUFFIX
    assert region_code("australiaeast") == "aue" and region_code("australiasoutheast") == "ase"
    assert NAMING.resource_group() == "rg-cty-prod-aue"
    assert NAMING.resource_group("australiasoutheast", "dns") == "rg-cty-prod-ase-dns"
    assert NAMING.key_vault_prefix() == "kv-cty-prod-aue-"
    assert NAMING.key_vault_prefix("kvgeo", "australiasoutheast") == "kvgeo-cty-prod-ase-"
    assert NAMING.key_vault() == f"kv-cty-prod-aue-{SUFFIX}"
    assert NAMING.key_vault("kvgeo", "australiasoutheast") == f"kvgeo-cty-prod-ase-{SUFFIX}"
    assert NAMING.storage_account("arch") == f"stctyarchprodaue{SUFFIX}"
    assert NAMING.server("knowledge", 2) == f"psql-cty-knowledge-prod-aue-g2-{SUFFIX}"
    assert NAMING.scoped("log") == "log-cty-prod-aue"
    assert NAMING.scoped("ag", "alerts") == "ag-cty-prod-aue-alerts"
    assert NAMING.scoped("id", "geo", "australiasoutheast") == "id-cty-prod-ase-geo"


def test_names_that_would_break_azures_length_rules_are_refused():
    long_env = Naming("production", "australiaeast", NAMING.subscription_id)
    with pytest.raises(AssertionError):
        long_env.key_vault("kvgeo")  # 29 characters
    with pytest.raises(AssertionError):
        long_env.storage_account("archive")
    assert len(NAMING.key_vault("kvgeo", "australiasoutheast")) <= 24


def test_names_of_24_characters_are_accepted_and_of_25_refused():
    five_letters = Naming("stage", "australiaeast", NAMING.subscription_id)
    assert len(five_letters.key_vault("kvgeo")) == 24
    assert len(five_letters.storage_account("archive")) == 24
    six_letters = Naming("staged", "australiaeast", NAMING.subscription_id)
    with pytest.raises(AssertionError, match=r"^kvgeo-cty-staged-aue-"):
        six_letters.key_vault("kvgeo")
    with pytest.raises(AssertionError, match=r"^stctyarchivestagedaue"):
        six_letters.storage_account("archive")


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_every_vault_and_account_name_fits_the_longest_environment_the_settings_allow(region):
    """The settings stop an environment at LONGEST_ENVIRONMENT characters, so that no name the
    platform makes is refused; a purpose added later that breaks this fails here, not at `pulumi up`."""
    longest = Naming("e" * LONGEST_ENVIRONMENT, region, NAMING.subscription_id)
    for purpose in VAULT_PURPOSES:
        assert len(longest.key_vault(purpose)) <= LONGEST_NAME
    for purpose in ACCOUNT_PURPOSES:
        assert len(longest.storage_account(purpose)) <= LONGEST_NAME
    one_more = Naming("e" * (LONGEST_ENVIRONMENT + 1), region, NAMING.subscription_id)
    with pytest.raises(AssertionError):
        one_more.key_vault(max(VAULT_PURPOSES, key=len))


def test_the_suffix_is_the_subscriptions_own():
    other = Naming("prod", "australiaeast", "11111111-1111-1111-1111-111111111111")
    assert other.suffix != SUFFIX and other.key_vault() != NAMING.key_vault()


def test_intel_and_amd_variants_share_their_row():
    assert compute("Standard_D4ds_v5") == compute("Standard_D4ads_v5")
    assert (compute("Standard_E8ds_v5").vcores, compute("Standard_E8ds_v5").memory_gib) == (8, 64)
    assert "Standard_E2ads_v5" in SKUS and "Standard_B1ms" in SKUS
    with pytest.raises(UnknownSku) as caught:
        compute("Standard_Z99")
    assert str(caught.value).startswith(
        "SKU Standard_Z99 is not in the platform's SKU table (components/skus.py); "
        "known: Standard_B1ms, Standard_B2ms, Standard_B2s, Standard_D16ads_v5, "
    )


def test_an_unknown_region_is_refused_with_the_known_ones():
    with pytest.raises(ValueError) as caught:
        region_code("mars")
    assert str(caught.value).startswith(
        "region 'mars' is not in the platform's region table (components/regions.py); "
        "known: australiacentral, australiaeast, australiasoutheast, "
    )


@pytest.mark.parametrize(
    "replica, source, reasons",
    [
        (("D4ds_v5", "GeneralPurpose", 256), ("D4ds_v5", "GeneralPurpose", 256), []),
        (("D8ds_v5", "GeneralPurpose", 512), ("D4ds_v5", "GeneralPurpose", 256), []),
        (("E4ds_v5", "MemoryOptimized", 256), ("D4ds_v5", "GeneralPurpose", 256), []),
        (
            ("D4ds_v5", "GeneralPurpose", 256),
            ("E4ds_v5", "MemoryOptimized", 256),
            [
                "tier GeneralPurpose is below the source's MemoryOptimized",
                "16 GiB memory (Standard_D4ds_v5) is less than the source's 32 GiB (Standard_E4ds_v5)",
            ],
        ),
        (
            ("B2ms", "Burstable", 256),
            ("B2ms", "Burstable", 256),
            [
                "the source's tier Burstable cannot have a read replica",
                "tier Burstable cannot host a read replica",
            ],
        ),
        (
            ("D4ds_v5", "GeneralPurpose", 256),
            ("B2ms", "Burstable", 256),
            ["the source's tier Burstable cannot have a read replica"],
        ),
        (
            ("D2ds_v5", "GeneralPurpose", 128),
            ("D4ds_v5", "GeneralPurpose", 256),
            [
                "2 vCores (Standard_D2ds_v5) are fewer than the source's 4 (Standard_D4ds_v5)",
                "8 GiB memory (Standard_D2ds_v5) is less than the source's 16 GiB (Standard_D4ds_v5)",
                "128 GiB storage is less than the source's 256 GiB",
            ],
        ),
    ],
)
def test_replica_shortfalls_one_reason_per_dimension(replica, source, reasons):
    (r_sku, r_tier, r_gb), (s_sku, s_tier, s_gb) = replica, source
    assert replica_shortfalls(f"Standard_{r_sku}", r_tier, r_gb, f"Standard_{s_sku}", s_tier, s_gb) == reasons
