"""Private networking as the stacks render it: one VNet per region, a private endpoint for every data
store in its own region, DNS zones kept out of the primary region and linked to both networks, the
peering declared in both directions by the stack that reads the other, and writer names that point
at the peer while standing by and at the stack's own servers once promoted.

Sources for the Azure behaviours are cited in components/network.py and docs/azure-behaviours.md.
"""

from __future__ import annotations

import json

import pytest
from conftest import PROJECT_DIR, render_variant
from hypothesis import given, settings
from hypothesis import strategies as st

from components.facts import PRIVATE_LINK_ZONES, ip_rule_values
from components.network import WRITER_TTL_SECONDS
from components.settings import SettingsError
from gate.neutral import as_stack
from gate.render import RenderError
from gate.stack_files import read_stack_config
from helpers import (
    PRIVATE_ENDPOINT,
    PRIVATE_ZONE,
    RECORD_SET,
    RESOURCE_GROUP,
    SERVER,
    STORAGE,
    VAULT,
    VNET,
    ZONE_LINK,
    audit_archive,
)
from policies.rules import evaluate

PEERING = "azure-native:network:VirtualNetworkPeering"
SUBNET = "azure-native:network:Subnet"
ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
REGIONS = {"prod": ("australiaeast", "10.20"), "dr": ("australiasoutheast", "10.30")}


@pytest.fixture(params=["prod", "dr"])
def stack(request, prod, dr):
    return {"prod": prod, "dr": dr}[request.param]


def endpoint_targets(rendering) -> dict[str, tuple[str, str]]:
    """Private-link target id -> (group id, endpoint region)."""
    found = {}
    for endpoint in rendering.of_type(PRIVATE_ENDPOINT):
        (connection,) = endpoint.plain_inputs["privateLinkServiceConnections"]
        (group,) = connection["groupIds"]
        found[connection["privateLinkServiceId"]] = (group, endpoint.plain_inputs["location"])
    return found


def test_each_stack_has_one_network_in_its_region_with_the_configured_ranges(stack):
    region, prefix = REGIONS[stack.stack]
    (vnet,) = stack.of_type(VNET)
    assert vnet.plain_inputs["location"] == region
    assert vnet.plain_inputs["addressSpace"] == {"addressPrefixes": [f"{prefix}.0.0/16"]}
    subnets = {s.plain_inputs["subnetName"]: s.plain_inputs["addressPrefix"] for s in stack.of_type(SUBNET)}
    assert subnets == {"snet-private-endpoints": f"{prefix}.1.0/24", "snet-clients": f"{prefix}.2.0/24"}
    # Subnets are separate resources, never inline: one VNet PUT must not fight them.
    assert "subnets" not in vnet.plain_inputs


def test_every_data_store_of_the_stack_has_a_private_endpoint_in_its_region(stack):
    region, _ = REGIONS[stack.stack]
    targets = endpoint_targets(stack)
    expected_groups = {SERVER: "postgresqlServer", VAULT: "vault", STORAGE: "blob"}
    stores = [
        r for kind in expected_groups for r in stack.of_type(kind) if r.plain_inputs.get("location") == region
    ]
    assert len(stores) >= 4  # two servers, the vault, the archive
    for store in stores:
        assert targets.get(store.id) == (expected_groups[store.type], region), store.name


def test_every_endpoint_registers_in_the_zone_of_its_group(stack):
    endpoints = {e.name: e for e in stack.of_type(PRIVATE_ENDPOINT)}
    groups = {g.name.removesuffix("-dns"): g for g in stack.of_type(ZONE_GROUP)}
    assert set(groups) == set(endpoints)
    for name, endpoint in endpoints.items():
        (connection,) = endpoint.plain_inputs["privateLinkServiceConnections"]
        (config,) = groups[name].plain_inputs["privateDnsZoneConfigs"]
        zone = PRIVATE_LINK_ZONES[connection["groupIds"][0]]
        assert config["privateDnsZoneId"].endswith(f"/privateDnsZones/{zone}")


def test_data_stores_refuse_public_traffic_by_default(stack):
    for server in stack.of_type(SERVER):
        assert server.plain_inputs["network"]["publicNetworkAccess"] == "Disabled"
    for vault in stack.of_type(VAULT):
        assert vault.plain_inputs["properties"]["publicNetworkAccess"] == "Disabled"
    for account in stack.of_type(STORAGE):
        # The archive keeps the public endpoint for Azure Monitor's trusted-service writes only.
        rules = account.plain_inputs["networkRuleSet"]
        assert rules["defaultAction"] == "Deny" and rules["bypass"] == "AzureServices"
        assert not rules.get("ipRules")


def test_the_owner_stack_holds_the_zones_in_the_peer_region(prod, dr):
    zones = {z.plain_inputs["privateZoneName"]: z for z in prod.of_type(PRIVATE_ZONE)}
    assert set(zones) == {*PRIVATE_LINK_ZONES.values(), "continuity.internal"}
    groups = {
        g.plain_inputs["resourceGroupName"]: g.plain_inputs["location"] for g in prod.of_type(RESOURCE_GROUP)
    }
    for zone in zones.values():
        assert zone.plain_inputs["location"] == "global"
        # Resource Manager blocks writes when a group's region is down: the zones' group is in dr's region.
        assert groups[zone.plain_inputs["resourceGroupName"]] == "australiasoutheast"
    assert dr.of_type(PRIVATE_ZONE) == []


def test_every_zone_is_linked_to_both_networks(prod, dr):
    zones = {z.plain_inputs["privateZoneName"] for z in prod.of_type(PRIVATE_ZONE)}
    for rendering in (prod, dr):
        (vnet,) = rendering.of_type(VNET)
        links = {
            link.plain_inputs["privateZoneName"]
            for link in rendering.of_type(ZONE_LINK)
            if link.plain_inputs["virtualNetwork"]["id"] == vnet.id
        }
        assert links == zones, rendering.stack
        assert all(link.plain_inputs["registrationEnabled"] is False for link in rendering.of_type(ZONE_LINK))


def test_the_linked_stack_declares_both_directions_of_the_peering(prod, dr):
    (prod_vnet,), (dr_vnet,) = prod.of_type(VNET), dr.of_type(VNET)
    sides = {
        p.plain_inputs["virtualNetworkName"]: p.plain_inputs["remoteVirtualNetwork"]["id"]
        for p in dr.of_type(PEERING)
    }
    assert sides == {"vnet-cty-dr-ase": prod_vnet.id, "vnet-cty-prod-aue": dr_vnet.id}
    assert prod.of_type(PEERING) == []  # one-way stack references: prod never reads dr


def test_the_peer_region_geo_backup_key_vault_gets_an_endpoint_in_the_dr_network(prod, dr):
    (geo_vault,) = [v for v in prod.of_type(VAULT) if v.plain_inputs["location"] == "australiasoutheast"]
    assert endpoint_targets(dr)[geo_vault.id] == ("vault", "australiasoutheast")
    assert geo_vault.id not in endpoint_targets(prod)


def writer_records(rendering) -> dict[str, tuple[str, float]]:
    return {
        r.plain_inputs["relativeRecordSetName"]: (
            r.plain_inputs["cnameRecord"]["cname"],
            r.plain_inputs["ttl"],
        )
        for r in rendering.of_type(RECORD_SET)
    }


def test_the_owner_creates_a_writer_name_per_database_pointing_at_its_servers(prod):
    own = {s.name.rsplit("-g", 1)[0]: s.plain_inputs["serverName"] for s in prod.of_type(SERVER)}
    assert writer_records(prod) == {
        f"{key}.writer": (f"{name}.postgres.database.azure.com", WRITER_TTL_SECONDS)
        for key, name in own.items()
    }
    for record in prod.of_type(RECORD_SET):
        # From creation on, the failover moves the name; Pulumi never sets it back, nor deletes it.
        assert record.ignore_changes == ["cnameRecord"] and record.retain_on_delete
        assert record.plain_inputs["resourceGroupName"] == "rg-cty-prod-ase-dns"


def test_the_linked_stack_declares_no_writer_name_in_any_role(dr, promoted_dr):
    assert dr.of_type(RECORD_SET) == [] and promoted_dr.of_type(RECORD_SET) == []


def test_both_stacks_export_where_the_failover_moves_the_names(prod, dr):
    for rendering in (prod, dr):
        names = rendering.outputs["writerNames"]
        assert names["resourceGroupName"] == "rg-cty-prod-ase-dns" and names["zone"] == "continuity.internal"
        assert names["records"] == {"knowledge": "knowledge.writer", "operational": "operational.writer"}
        assert names["subscriptionId"] == rendering.subscription_id


def test_zones_are_protected_but_not_delete_locked(prod):
    assert all(zone.protect for zone in prod.of_type(PRIVATE_ZONE))
    locks = [r for r in prod.resources if r.type == "azure-native:authorization:ManagementLockByScope"]
    assert not any("privateDnsZones" in str(lock.plain_inputs.get("scope")) for lock in locks)


def test_overlapping_address_spaces_are_refused_before_anything_is_declared(prod):
    with pytest.raises((RenderError, SettingsError)) as caught:
        render_variant(
            "dr",
            {
                "continuity:network": {
                    "privateDns": "linked",
                    "addressSpace": "10.20.128.0/17",
                    "privateEndpointSubnet": "10.20.129.0/24",
                    "clientSubnet": "10.20.130.0/24",
                }
            },
            peer=prod,
        )
    message = str(caught.value)
    assert "continuity:network.addressSpace" in message and "continuity:peer.addressSpace" in message


def test_a_linked_stack_must_say_its_peer_origin(prod):
    with pytest.raises(
        (RenderError, SettingsError),
        match=r"continuity:peer.origin: required when "
        r"continuity:network.privateDns is 'linked'",
    ):
        render_variant(
            "dr",
            {"continuity:peer": {"stack": "prod", "region": "australiaeast", "addressSpace": "10.20.0.0/16"}},
            peer=prod,
        )


def _with(rendering, **changes):
    """A rendering's stand-in with some settings replaced (stack_file_consistency reads only these)."""
    from types import SimpleNamespace

    settings = rendering.settings
    for path, value in changes.items():
        section, _, field = path.partition("__")
        if not field:
            settings = settings.model_copy(update={section: value})
            continue
        settings = settings.model_copy(
            update={section: getattr(settings, section).model_copy(update={field: value})}
        )
    return SimpleNamespace(stack=rendering.stack, settings=settings)


def test_the_gate_wants_one_zone_owner_two_environments_and_the_peer_origin_the_peer_has(prod, dr):
    from components.settings import Origin, PrivateDnsRole
    from gate.pipeline import stack_file_consistency

    assert stack_file_consistency(dr, prod) == [] and stack_file_consistency(prod, dr) == []
    (two_owners,) = stack_file_consistency(_with(dr, network__private_dns=PrivateDnsRole.OWNER), prod)
    assert two_owners == (
        "Pulumi.dr.yaml: continuity:network.privateDns is owner in both stacks; "
        "exactly one is the owner, the other linked"
    )
    (address_space,) = stack_file_consistency(_with(dr, peer__address_space="10.99.0.0/16"), prod)
    assert address_space == (
        "Pulumi.dr.yaml: continuity:peer.addressSpace is 10.99.0.0/16 but Pulumi.prod.yaml "
        "continuity:network.addressSpace is 10.20.0.0/16"
    )
    (writer_zone,) = stack_file_consistency(_with(dr, network__writer_zone="other.internal"), prod)
    assert writer_zone == (
        "Pulumi.dr.yaml: continuity:network.writerZone is other.internal but Pulumi.prod.yaml says "
        "continuity.internal; the stacks share one zone"
    )
    (same_environment,) = stack_file_consistency(_with(dr, environment="prod"), prod)
    assert same_environment == (
        "Pulumi.dr.yaml: continuity:environment is prod in both stacks; their resource names would collide"
    )
    (origin,) = stack_file_consistency(_with(dr, peer__origin=Origin.REPLICA), prod)
    assert (
        origin
        == "Pulumi.dr.yaml: continuity:peer.origin is replica but Pulumi.prod.yaml continuity:origin is primary"
    )


@settings(max_examples=80, deadline=None)
@given(ttl=st.integers(min_value=1, max_value=7200), limit=st.integers(min_value=1, max_value=300))
def test_a_writer_name_is_flagged_exactly_when_its_ttl_exceeds_the_limit(prod, ttl, limit):
    import copy

    from gate.neutral import as_stack
    from policies.rules import REGISTRY

    rendering = copy.deepcopy(prod)
    records = rendering.of_type(RECORD_SET)
    for record in records:
        record.inputs["ttl"] = ttl
    rule = REGISTRY["CTY-NET-004"]
    found = list(rule.check(as_stack(rendering), {**rule.defaults(), "maxTtlSeconds": limit}))
    assert sorted(urn for urn, _ in found) == (sorted(r.urn for r in records) if ttl > limit else [])


def test_allowed_ranges_reach_vaults_and_the_archive_as_azure_takes_them_and_pass_the_access_rules():
    """Storage takes no /31 or /32 ("Configure these ranges using individual IP address rules",
    storage-network-security-limitations): those are written as addresses, in vaults too, and the
    access rules still find every rule inside the configured ranges."""
    network = json.loads(read_stack_config(PROJECT_DIR, "prod").values["continuity:network"])
    network["allowedCidrs"] = ["203.0.113.7/32", "198.51.100.6/31", "192.0.2.9/24", "198.51.100.12/30"]
    rendering = render_variant("prod", {"continuity:network": network})
    written = ["203.0.113.7", "198.51.100.6", "198.51.100.7", "192.0.2.0/24", "198.51.100.12/30"]
    vaults = [v.plain_inputs["properties"]["networkAcls"] for v in rendering.of_type(VAULT)]
    assert len(vaults) >= 2 and all([r["value"] for r in acls["ipRules"]] == written for acls in vaults)
    archive = audit_archive(rendering).plain_inputs["networkRuleSet"]
    assert [r["iPAddressOrRange"] for r in archive["ipRules"]] == written
    allowed = {"allowedCidrs": network["allowedCidrs"]}
    access = {rule_id: allowed for rule_id in ("CTY-ACC-002", "CTY-ACC-003", "CTY-ACC-004")}
    assert [(r.rule_id, m) for r, _, m in evaluate(as_stack(rendering), access) if r.rule_id in access] == []


@pytest.mark.parametrize(
    "cidr, values",
    [
        ("203.0.113.7", ["203.0.113.7"]),
        ("203.0.113.7/32", ["203.0.113.7"]),
        ("203.0.113.7/31", ["203.0.113.6", "203.0.113.7"]),
        ("203.0.113.5/30", ["203.0.113.4/30"]),
        ("203.0.113.77/24", ["203.0.113.0/24"]),
    ],
)
def test_an_allowed_range_becomes_the_ip_rules_azure_takes(cidr, values):
    assert ip_rule_values(cidr) == values
