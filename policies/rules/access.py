"""Access: RBAC on vaults, no public network access beyond configured ranges, no shared keys."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import TypedDict

from . import controls as c
from .facts import FIREWALL_RULE, SERVER, STORAGE, VAULT, WORKSPACE, ip_rule_network
from .model import Resource, Stack
from .registry import NoConfig, Violation, rule


class AllowedCidrs(TypedDict):
    allowedCidrs: list[str]


ALLOWED_CIDRS = {"allowedCidrs": {"type": "array", "items": {"type": "string"}, "default": []}}


def _unlisted_ranges(ranges: Iterable[object], cfg: AllowedCidrs) -> Iterator[str]:
    """IP rules that no allowed range holds. A rule may be written otherwise than its range (a /32 as
    the single address, components.facts.ip_rule_values), so ranges are compared as networks. Azure's
    IP rules are IPv4 only: anything else, or a rule that is no address at all, is never inside."""
    allowed = [network for network in map(ip_rule_network, cfg["allowedCidrs"]) if network is not None]
    extra = sorted({str(r) for r in ranges if not _inside(ip_rule_network(r), allowed)})
    if extra:
        yield f"address ranges {extra} are not in the allowed list"


def _inside(network: ipaddress.IPv4Network | None, allowed: list[ipaddress.IPv4Network]) -> bool:
    return network is not None and any(network.subnet_of(a) for a in allowed)


@rule(
    "CTY-ACC-001",
    concern="access",
    title="Key Vault RBAC",
    description="A Key Vault authorizes data access with Azure RBAC, not access policies.",
    remediation="Set properties.enableRbacAuthorization=true.",
    severity="high",
    controls=c.merge(c.ACCESS, {c.ISO: ("A.8.2",)}, cis=("8.6",)),
    resource_types=(VAULT,),
)
def key_vault_rbac(vault: Resource, cfg: NoConfig) -> Iterator[str]:
    if not vault.get("properties.enableRbacAuthorization"):
        yield "the vault uses access policies instead of RBAC"


@rule(
    "CTY-ACC-002",
    concern="access",
    title="Key Vault network access",
    description="A Key Vault allows public network access only from the configured address ranges.",
    remediation="Leave continuity:network.allowedCidrs empty (access off) or list the ranges that need it.",
    severity="high",
    controls=c.merge(c.ACCESS, cis=("8.7",)),
    resource_types=(VAULT,),
    config=ALLOWED_CIDRS,
)
def key_vault_network(vault: Resource, cfg: AllowedCidrs) -> Iterator[str]:
    props = vault.get("properties") or {}
    if props.get("publicNetworkAccess") == "Disabled":
        return
    acls = props.get("networkAcls") or {}
    if acls.get("defaultAction") != "Deny":
        yield "public network access is open to every address"
    yield from _unlisted_ranges((r.get("value") for r in acls.get("ipRules", [])), cfg)


@rule(
    "CTY-ACC-003",
    concern="access",
    title="Server network access",
    description="A PostgreSQL server allows public network access only from the configured address ranges.",
    remediation="Leave continuity:network.allowedCidrs empty (access off) or list the ranges that need it.",
    severity="high",
    controls=c.merge(c.ACCESS, cis=("4.3.7",)),
    config=ALLOWED_CIDRS,
)
def server_network(stack: Stack, cfg: AllowedCidrs) -> Iterator[Violation]:
    allowed = [ipaddress.ip_network(cidr, strict=False) for cidr in cfg["allowedCidrs"]]
    servers = stack.of_type(SERVER)
    for firewall in stack.of_type(FIREWALL_RULE):
        owners = _firewall_servers(stack, firewall, servers)
        if not owners:
            # A rule that names a server outside this stack (or none) cannot be judged: fail closed.
            yield (
                firewall.urn,
                (
                    f"firewall rule for server {firewall.get('serverName')!r} cannot be tied to a server "
                    "of this stack"
                ),
            )
            continue
        try:
            start = ipaddress.ip_address(firewall.get("startIpAddress", "0.0.0.0"))
            end = ipaddress.ip_address(firewall.get("endIpAddress", "255.255.255.255"))
        except ValueError as error:
            yield firewall.urn, f"firewall rule has an address that is not one: {error}"
            continue
        if not any(start in net and end in net for net in allowed):
            for server in owners:
                yield server.urn, f"firewall rule {start}-{end} is outside the allowed ranges"
    for server in servers:
        if server.get("network.publicNetworkAccess") == "Enabled" and not allowed:
            yield server.urn, "public network access is on but no address range is allowed"


def _firewall_servers(stack: Stack, firewall: Resource, servers: list[Resource]) -> list[Resource]:
    """The servers a firewall rule belongs to: through the server's outputs (a preview's only link)
    or, when the rule names its server as text, by server name and resource group."""
    linked = stack.referenced(firewall, "serverName", SERVER)
    if linked:
        return linked
    name, group = firewall.get("serverName"), firewall.get("resourceGroupName")
    return [
        server
        for server in servers
        if isinstance(name, str)
        and server.get("serverName") == name
        and (
            not isinstance(group, str)
            or not isinstance(server.get("resourceGroupName"), str)
            or server.get("resourceGroupName") == group
        )
    ]


@rule(
    "CTY-ACC-004",
    concern="access",
    title="Storage exposure",
    description="A storage account allows no anonymous blob access, no shared-key authorization and denies networks by default.",
    remediation="Set allowBlobPublicAccess=false, allowSharedKeyAccess=false and networkRuleSet.defaultAction=Deny.",
    severity="high",
    controls=c.merge(c.ACCESS, {c.ISO: ("A.8.5",)}, cis=("3.7", "3.8")),
    resource_types=(STORAGE,),
    config=ALLOWED_CIDRS,
)
def storage_exposure(account: Resource, cfg: AllowedCidrs) -> Iterator[str]:
    if account.get("allowBlobPublicAccess") is not False:
        yield "anonymous blob access is allowed"
    if account.get("allowSharedKeyAccess") is not False:
        yield "shared-key (account key) authorization is allowed"
    if (
        account.get("publicNetworkAccess") != "Disabled"
        and account.get("networkRuleSet.defaultAction") != "Deny"
    ):
        yield "every network can reach the account"
    yield from _unlisted_ranges(
        (r.get("iPAddressOrRange") for r in account.get("networkRuleSet.ipRules", [])), cfg
    )


@rule(
    "CTY-ACC-005",
    concern="access",
    title="Entra authentication",
    description="PostgreSQL servers accept Microsoft Entra authentication and workspaces refuse shared keys.",
    remediation="Keep authConfig.activeDirectoryAuth=Enabled on servers and features.disableLocalAuth=true on workspaces.",
    severity="medium",
    controls=c.merge(c.ACCESS, {c.ISO: ("A.8.5",)}),
    resource_types=(SERVER, WORKSPACE),
)
def entra_authentication(resource: Resource, cfg: NoConfig) -> Iterator[str]:
    if resource.type == SERVER and resource.get("authConfig.activeDirectoryAuth") != "Enabled":
        yield "Microsoft Entra authentication is off"
    if resource.type == WORKSPACE and not resource.get("features.disableLocalAuth"):
        yield "the workspace accepts shared keys"
