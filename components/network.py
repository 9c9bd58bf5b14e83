"""Private networking: a VNet per region, private endpoints for the data stores, private DNS that
outlives either region, and the writer names that a failover moves.

Who owns what is fixed per stack by `continuity:network.privateDns`, not by role or origin, so that
no promotion or failback moves a resource between stacks, and stack references stay one way:

- Each stack: its VNet (a subnet for private endpoints, one for clients and runners) and the private
  endpoints of the data stores in its region.
- The `owner` stack (prod): the private DNS zones (`privatelink.*` and the writer zone), in a
  resource group in the peer region, linked to its own VNet, and the writer names. Azure Private DNS
  is global: "Azure DNS private zones are resilient to region outages because zone data is globally
  available ... name resolution continues to work" and "Region B can add, edit, or delete records"
  (reliability/reliability-dns-private, dns/private-dns-resiliency). Resource Manager, however,
  blocks writes whose resource group's region is down (azure-resource-manager/management/overview,
  "Resource group location alignment"), so the group is kept out of the owner's region: the writer
  names can be moved exactly when the owner's region is the one lost.
- The `linked` stack (dr): the zones' links to its VNet, both directions of the VNet peering (a
  peering must exist on each VNet before traffic flows, virtual-network-manage-peering), and private
  endpoints for what a primary-origin peer keeps in this region (the geo-backup key vault).

The writer names are CNAMEs, `<database>.writer.<zone>`, created pointing at the owner's servers and
from then on moved only by the failover (`python -m drill promote`, drill/writer_names.py), right
after Microsoft's promotion call, whichever stack is promoted: Pulumi ignores their target.

One zone per private-link type serves both regions: the servers, vaults and accounts of the two
regions have different names, so their records never collide ("A single private DNS zone is
required for this configuration", private-link/private-endpoint-dns).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from .facts import PRIVATE_LINK_ZONES
from .settings import NetworkAccess

# Short, so that clients follow a moved writer name quickly; the reliability guide suggests 300 s
# for records that do not move (reliability-dns-private).
WRITER_TTL_SECONDS = 30
WRITER_LABEL = "writer"
# The subnet of each VNet that holds private endpoints (the restore check puts its own there too).
PRIVATE_ENDPOINT_SUBNET = "private-endpoints"


def subnet_name(key: str) -> str:
    return f"snet-{key}"


def writer_record_name(database_key: str) -> str:
    """The record, relative to the writer zone: `knowledge.writer` -> knowledge.writer.<zone>."""
    return f"{database_key}.{WRITER_LABEL}"


@dataclass(frozen=True)
class DnsZones:
    """The zones, as the owner stack exports them and the linked stack reads them."""

    resource_group: pulumi.Input[str]
    zone_ids: Mapping[str, pulumi.Input[str]]  # zone name -> id
    writer_zone: pulumi.Input[str]


class RegionalNetwork(pulumi.ComponentResource):
    """One region's VNet with a private-endpoint subnet and a client subnet."""

    virtual_network_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        vnet_name: str,
        location: str,
        resource_group_name: pulumi.Input[str],
        settings: NetworkAccess,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:network:RegionalNetwork", name, None, opts)
        self._name = name
        self._location = location
        self._resource_group_name = resource_group_name
        # Subnets are their own resources and never inline: a VNet PUT with inline subnets would
        # fight separate Subnet resources (pulumi-azure-native#611).
        self.vnet = network.VirtualNetwork(
            name,
            virtual_network_name=vnet_name,
            location=location,
            resource_group_name=resource_group_name,
            address_space=network.AddressSpaceArgs(address_prefixes=[settings.address_space]),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.private_endpoint_subnet = self._subnet(PRIVATE_ENDPOINT_SUBNET, settings.private_endpoint_subnet)
        # One subnet change at a time on a VNet.
        self.client_subnet = self._subnet(
            "clients", settings.client_subnet, after=self.private_endpoint_subnet
        )
        self.virtual_network_id = self.vnet.id
        self.virtual_network_name = self.vnet.name
        self.register_outputs(
            {"virtual_network_id": self.virtual_network_id, "virtual_network_name": self.virtual_network_name}
        )

    def _subnet(self, key: str, prefix: str, after: pulumi.Resource | None = None) -> network.Subnet:
        return network.Subnet(
            f"{self._name}-{key}",
            subnet_name=subnet_name(key),
            virtual_network_name=self.vnet.name,
            resource_group_name=self._resource_group_name,
            address_prefix=prefix,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[after] if after else None),
        )

    def private_endpoint(
        self,
        key: str,
        *,
        target_id: pulumi.Input[str],
        target_name: pulumi.Input[str],
        group_id: str,
        zone_id: pulumi.Input[str],
    ) -> network.PrivateEndpoint:
        """A private endpoint for one data store, its address registered in the private-link zone."""
        zone = PRIVATE_LINK_ZONES[group_id]
        endpoint_name = pulumi.Output.concat("pe-", target_name)
        endpoint = network.PrivateEndpoint(
            f"{self._name}-pe-{key}",
            private_endpoint_name=endpoint_name,
            location=self._location,
            resource_group_name=self._resource_group_name,
            subnet=network.SubnetArgs(id=self.private_endpoint_subnet.id),
            custom_network_interface_name=pulumi.Output.concat("nic-pe-", target_name),
            private_link_service_connections=[
                network.PrivateLinkServiceConnectionArgs(
                    name=endpoint_name, private_link_service_id=target_id, group_ids=[group_id]
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        network.PrivateDnsZoneGroup(
            f"{self._name}-pe-{key}-dns",
            private_endpoint_name=endpoint.name,
            private_dns_zone_group_name="default",
            resource_group_name=self._resource_group_name,
            # Each config carries a name: the provider cannot send one without (pulumi/pulumi#14241).
            private_dns_zone_configs=[
                network.PrivateDnsZoneConfigArgs(name=zone.replace(".", "-"), private_dns_zone_id=zone_id)
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        return endpoint


class PrivateDns(pulumi.ComponentResource):
    """The zones both regions resolve through; held by the `owner` stack.

    Protected in Pulumi but not delete-locked in Azure: the private endpoints' zone groups add and
    remove their A records in these zones, which a lock would block (Microsoft warns that locks on
    the zone or its records "might interfere with the ability of an Azure Database for PostgreSQL
    flexible server instance to update DNS records", postgresql/network/concepts-networking-private).
    """

    def __init__(
        self,
        name: str,
        *,
        resource_group_name: pulumi.Input[str],
        writer_zone: str,
        virtual_network_id: pulumi.Input[str],
        link_name: str,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("continuity:network:PrivateDns", name, None, opts)
        # Keyed by zone name, the writer zone under WRITER_LABEL (its name is configurable).
        names = {**{zone: zone for zone in PRIVATE_LINK_ZONES.values()}, WRITER_LABEL: writer_zone}
        self.zones = {
            key: privatedns.PrivateZone(
                f"{name}-{key}",
                private_zone_name=zone,
                location="global",
                resource_group_name=resource_group_name,
                opts=pulumi.ResourceOptions(parent=self, protect=protect),
            )
            for key, zone in names.items()
        }
        link_zones(
            name,
            zones={key: z.name for key, z in self.zones.items()},
            resource_group_name=resource_group_name,
            virtual_network_id=virtual_network_id,
            link_name=link_name,
            parent=self,
        )
        self.exports = DnsZones(
            resource_group_name,
            {zone: self.zones[zone].id for zone in PRIVATE_LINK_ZONES.values()},
            writer_zone,
        )
        self.register_outputs({"zone_ids": dict(self.exports.zone_ids)})


def link_zones(
    name: str,
    *,
    zones: Mapping[str, pulumi.Input[str]],
    resource_group_name: pulumi.Input[str],
    virtual_network_id: pulumi.Input[str],
    link_name: str,
    parent: pulumi.Resource,
) -> None:
    """Link each zone (key -> zone name) to a VNet, so its resolver answers from the zone."""
    for key, zone_name in zones.items():
        privatedns.VirtualNetworkLink(
            f"{name}-{key}-link",
            virtual_network_link_name=link_name,
            private_zone_name=zone_name,
            resource_group_name=resource_group_name,
            location="global",
            registration_enabled=False,
            virtual_network=privatedns.SubResourceArgs(id=virtual_network_id),
            opts=pulumi.ResourceOptions(parent=parent),
        )


def peer_networks(
    name: str,
    *,
    local_name: pulumi.Input[str],
    local_id: pulumi.Input[str],
    local_resource_group: pulumi.Input[str],
    remote_name: pulumi.Input[str],
    remote_id: pulumi.Input[str],
    remote_resource_group: pulumi.Input[str],
    parent: pulumi.Resource,
) -> None:
    """Both directions of a VNet peering, declared by one stack (the one that reads the other)."""
    for suffix, vnet, rg, remote, remote_vnet in (
        ("to-peer", local_name, local_resource_group, remote_id, remote_name),
        ("from-peer", remote_name, remote_resource_group, local_id, local_name),
    ):
        network.VirtualNetworkPeering(
            f"{name}-{suffix}",
            virtual_network_peering_name=pulumi.Output.concat("peer-to-", remote_vnet),
            virtual_network_name=vnet,
            resource_group_name=rg,
            remote_virtual_network=network.SubResourceArgs(id=remote),
            allow_virtual_network_access=True,
            allow_forwarded_traffic=False,
            opts=pulumi.ResourceOptions(parent=parent),
        )


def writer_name(
    name: str,
    *,
    database_key: str,
    target_fqdn: pulumi.Input[str],
    zone: pulumi.Input[str],
    resource_group_name: pulumi.Input[str],
    parent: pulumi.Resource,
) -> privatedns.PrivateRecordSet:
    """`<database>.writer.<zone>`: a CNAME to the writer's own name, which resolves through the
    server's private endpoint. Clients verify the server certificate with sslmode=verify-ca: a
    CNAME's name is not the certificate's (Microsoft: verify-full "unless private DNS resolvers use
    a different name", security/security-tls).

    `target_fqdn` is where the name points when created; after that the failover moves it, so
    Pulumi never sets it back, and keeps the name in Azure if the record leaves the program.
    """
    return privatedns.PrivateRecordSet(
        name,
        private_zone_name=zone,
        resource_group_name=resource_group_name,
        record_type="CNAME",
        relative_record_set_name=writer_record_name(database_key),
        ttl=WRITER_TTL_SECONDS,
        cname_record=privatedns.CnameRecordArgs(cname=target_fqdn),
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["cnameRecord"], retain_on_delete=True),
    )
