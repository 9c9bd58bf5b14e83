"""Network: private endpoints for the data stores, DNS both regions resolve through, networks that can
be peered, and writer names that follow a failover."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any, Literal, TypedDict

from . import controls as c
from .facts import PRIVATE_DATA_STORES, PRIVATE_ENDPOINT, RECORD_SET, SERVER, VNET, ZONE_LINK, database_key
from .model import Resource, Stack
from .registry import Violation, rule


class PeerEndpoint(TypedDict, total=False):
    groupId: str
    namePrefix: str


class PeerEndpoints(TypedDict):
    peerEndpoints: list[PeerEndpoint]


class RequiredZones(TypedDict):
    requiredZones: list[str]


class PeerAddressSpace(TypedDict):
    peerAddressSpace: str


class WriterNames(TypedDict):
    writerNames: Literal["own", "peer"]
    maxTtlSeconds: int


def _networks(stack: Stack) -> list[Resource]:
    return stack.of_type(VNET)


def _anchor(stack: Stack) -> str:
    networks = _networks(stack)
    return networks[0].urn if networks else "stack"


def _connections(endpoint: Resource) -> list[Mapping[str, Any]]:
    connections: list[Mapping[str, Any]] = endpoint.get("privateLinkServiceConnections") or []
    return connections


def _targets(endpoint: Resource) -> set[str]:
    """What an endpoint connects to: the URNs it takes ids from, and the ids it names as text."""
    named = {
        str(conn.get("privateLinkServiceId"))
        for conn in _connections(endpoint)
        if conn.get("privateLinkServiceId")
    }
    return set(endpoint.property_dependencies.get("privateLinkServiceConnections", ())) | named


def _resource_id_matches(resource: Resource, targets: set[str]) -> bool:
    return resource.urn in targets or any(
        t.endswith(f"/{resource.get(key)}")
        for t in targets
        for key in ("serverName", "vaultName", "accountName")
        if resource.get(key)
    )


@rule(
    "CTY-NET-001",
    concern="network",
    title="Private endpoint for every data store",
    description="Every server, key vault and storage account has a private endpoint in its own region.",
    remediation="Declare it through components.network.RegionalNetwork.private_endpoint; a data store the peer stack "
    "keeps in this region gets its endpoint here (continuity:peer).",
    severity="high",
    controls=c.NETWORK,
    config={
        "peerEndpoints": {
            "type": "array",
            "default": [],
            "description": "endpoints this stack gives the peer's data stores in its region: "
            "[{groupId, namePrefix}]",
        }
    },
)
def private_endpoints(stack: Stack, cfg: PeerEndpoints) -> Iterator[Violation]:
    regions = {vnet.location for vnet in _networks(stack)}
    if not regions:
        for store in stack.of_type(*PRIVATE_DATA_STORES):
            yield store.urn, "no virtual network in this stack: the data store has no private path"
        return
    endpoints = stack.of_type(PRIVATE_ENDPOINT)
    for store in stack.of_type(*PRIVATE_DATA_STORES):
        if store.location not in regions:
            continue  # kept in the peer's region: the peer stack gives it its endpoint (peerEndpoints there)
        mine = [e for e in endpoints if _resource_id_matches(store, _targets(e))]
        if not mine:
            yield store.urn, "no private endpoint: with public access off nothing can reach it"
        elif not any(e.location == store.location for e in mine):
            yield store.urn, f"its private endpoints are outside its region {store.location}"
    for wanted in cfg["peerEndpoints"]:
        prefix, group = wanted.get("namePrefix", ""), wanted.get("groupId", "")
        if not any(
            group in (conn.get("groupIds") or [])
            and str(conn.get("privateLinkServiceId", "")).rsplit("/", 1)[-1].startswith(prefix)
            for e in endpoints
            for conn in _connections(e)
        ):
            yield _anchor(stack), f"no private endpoint ({group}) for the peer's {prefix}* in this region"


@rule(
    "CTY-NET-002",
    concern="network",
    title="Private DNS linked to this network",
    description="Every private DNS zone the platform resolves through is linked to this stack's virtual network.",
    remediation="Link the zones with components.network.link_zones (the linked stack links the owner's zones).",
    severity="high",
    controls=c.merge(c.NETWORK, c.CONTINUITY),
    config={
        "requiredZones": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "zone names: the privatelink zones and the writer zone",
        }
    },
)
def zones_linked(stack: Stack, cfg: RequiredZones) -> Iterator[Violation]:
    networks = _networks(stack)
    vnet_urns = {v.urn for v in networks}
    linked = set()
    for link in stack.of_type(ZONE_LINK):
        # Only a link that takes the network's outputs counts: the neutral Resource has no ARM id to
        # compare a `virtualNetwork.id` given as text with (a comparison with `v.id` never matched).
        to_us = set(link.property_dependencies.get("virtualNetwork", ())) & vnet_urns
        if to_us:
            linked.add(link.get("privateZoneName"))
    for zone in sorted(set(cfg["requiredZones"]) - linked):
        yield (
            _anchor(stack),
            f"zone {zone} is not linked to this stack's virtual network: names there do not resolve",
        )


@rule(
    "CTY-NET-003",
    concern="network",
    title="Networks that can be peered",
    description="This stack's virtual network does not overlap the peer's address space.",
    remediation="Give continuity:network.addressSpace and continuity:peer.addressSpace disjoint private ranges.",
    severity="high",
    controls=c.merge(c.NETWORK, c.CHANGE),
    config={
        "peerAddressSpace": {
            "type": "string",
            "default": "",
            "description": "the peer stack's virtual network address space",
        }
    },
)
def address_spaces_apart(stack: Stack, cfg: PeerAddressSpace) -> Iterator[Violation]:
    if not cfg["peerAddressSpace"]:
        return
    peer = ipaddress.ip_network(cfg["peerAddressSpace"], strict=False)
    for vnet in _networks(stack):
        for prefix in vnet.get("addressSpace.addressPrefixes") or []:
            if ipaddress.ip_network(prefix, strict=False).overlaps(peer):
                yield (
                    vnet.urn,
                    f"address space {prefix} overlaps the peer's {peer}: the networks cannot be peered",
                )


WRITER_TTL_LIMITS = (
    1,
    300,
)  # seconds; 300 is the reliability guide's starting point for records that do not move


@rule(
    "CTY-NET-004",
    concern="network",
    title="Writer name for every database",
    description="The stack that holds the private DNS zones gives each database a writer name: a CNAME to its server, "
    "with a TTL short enough for a failover to move it; the other stack declares none.",
    remediation="Keep components.network.writer_name for each database in the owner stack "
    "(continuity:network.privateDns owner) and none in the linked one.",
    severity="high",
    controls=c.merge(c.NETWORK, c.CONTINUITY),
    config={
        "writerNames": {
            "type": "string",
            "enum": ["own", "peer"],
            "default": "own",
            "description": "own: this stack declares the writer names; peer: the peer stack does",
        },
        "maxTtlSeconds": {
            "type": "integer",
            "minimum": WRITER_TTL_LIMITS[0],
            "maximum": WRITER_TTL_LIMITS[1],
            "default": 60,
            "description": "longest TTL of a writer name: clients follow a "
            "failover no later than this after the name moves",
        },
    },
)
def writer_names(stack: Stack, cfg: WriterNames) -> Iterator[Violation]:
    records = {
        r.get("relativeRecordSetName"): r
        for r in stack.of_type(RECORD_SET)
        if str(r.get("relativeRecordSetName", "")).endswith(".writer")
    }
    if cfg["writerNames"] == "peer":
        for name, declared in sorted(records.items()):
            yield (
                declared.urn,
                f"writer name {name} declared here, but the peer stack holds the writer names: two stacks would fight over it",
            )
        return
    for server in stack.of_type(SERVER):
        name = f"{database_key(server)}.writer"
        record = records.get(name)
        if record is None:
            yield server.urn, f"no writer name {name}: clients would need another host after a failover"
            continue
        if record.get("recordType") != "CNAME":
            yield (
                record.urn,
                f"writer name {name} is a {record.get('recordType')} record, not a CNAME to the server's name",
            )
            continue
        ttl = record.get("ttl")
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl > cfg["maxTtlSeconds"]:
            yield (
                record.urn,
                (
                    f"writer name {name} has TTL {ttl}: clients would keep the old writer for longer than "
                    f"{cfg['maxTtlSeconds']} s after a failover"
                ),
            )
        points_here = server.urn in record.property_dependencies.get("cnameRecord", ()) or (
            record.get("cnameRecord.cname") == server.get("fullyQualifiedDomainName")
        )
        if not points_here:
            yield (
                record.urn,
                f"writer name {name} is created pointing elsewhere than this stack's server {server.get('serverName')}",
            )
