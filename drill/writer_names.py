"""The failover's second call: point each writer name at the server just promoted.

Applications connect to `<database>.writer.<zone>`, a CNAME in the private DNS zone (components/network.py).
The owner stack creates each name pointing at its own servers and Pulumi never sets it back
(`ignore_changes`); from then on the name is moved here, right after Microsoft's promotion call and
before Pulumi reconciles anything, whichever stack is promoted: a failover to dr, or the planned
switchover back during failback. So the name moves in the same step as the writer, and no stack has
to take a resource over from the other.

The call is RecordSets_CreateOrUpdate through Microsoft's SDK, pinned to the api-version the provider
uses for `privatedns:PrivateRecordSet`, with the record's etag as If-Match so a concurrent change is
refused rather than overwritten. It writes to the zone's resource group, which lives in the peer
region of the owner stack: available when the owner's region is the one lost (a resource group's
region must be up for writes to its resources, azure-resource-manager/management/overview).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .azure_sdk import azure_client
from .promotion import PromotionError
from .record import now

if TYPE_CHECKING:
    from azure.mgmt.privatedns import PrivateDnsManagementClient

# The api-version pulumi-azure-native 3.29.0 uses for private DNS record sets ("Uses Azure REST API
# version 2024-06-01", pulumi_azure_native/privatedns/private_record_set.py); azure-mgmt-privatedns
# 2.0.0 defaults to it and it is set explicitly, as for the promotion.
API_VERSION = "2024-06-01"


class WriterNameError(PromotionError):
    """A writer name could not be moved (the servers are promoted: move it by hand, then resume)."""


@dataclass(frozen=True)
class WriterNames:
    """Where a stack's writer names live, from its `writerNames` output."""

    subscription_id: str
    resource_group: str
    zone: str
    records: Mapping[str, str]  # database key -> record name relative to the zone

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> WriterNames:
        names = outputs.get("writerNames")
        if not names:
            raise WriterNameError(
                "the stack exports no writerNames: deploy it with this version of the program first"
            )
        try:
            return cls(
                str(names["subscriptionId"]),
                str(names["resourceGroupName"]),
                str(names["zone"]),
                dict(names["records"]),
            )
        except (KeyError, TypeError) as error:
            raise WriterNameError(f"the stack's writerNames output lacks {error}") from None

    def fqdn(self, key: str) -> str:
        return f"{self.records[key]}.{self.zone}"


def targets_of(outputs: Mapping[str, Any]) -> dict[str, str]:
    """Database key -> the promoted server's own name, from the stack's `servers` output."""
    return {key: str(server["fqdn"]) for key, server in sorted((outputs.get("servers") or {}).items())}


def default_client(
    subscription_id: str, credential: Any = None, **pipeline: Any
) -> PrivateDnsManagementClient:
    from azure.mgmt.privatedns import PrivateDnsManagementClient

    return azure_client(PrivateDnsManagementClient, subscription_id, API_VERSION, credential, **pipeline)


class WriterNameMover:
    def __init__(
        self, client_for: Callable[[str], Any] = default_client, progress: Callable[[str], None] = print
    ):
        self.client_for = client_for
        self.progress = progress

    def move(self, names: WriterNames, targets: Mapping[str, str]) -> list[dict[str, Any]]:
        """Point each database's writer name at its target; returns the evidence, one entry per name."""
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.privatedns.models import CnameRecord, RecordSet, RecordSetProperties

        missing = sorted(set(targets) - set(names.records))
        if missing:
            raise WriterNameError(
                f"no writer name for {', '.join(missing)} in the stack's writerNames output"
            )
        client = self.client_for(names.subscription_id)
        moves = []
        for key, target in sorted(targets.items()):
            name = names.fqdn(key)
            try:
                current = client.record_sets.get(
                    names.resource_group, names.zone, "CNAME", names.records[key]
                )
                before = current.cname_record.cname if current.cname_record else None
                if before == target:
                    self.progress(f"{name}: already points at {target}")
                else:
                    client.record_sets.create_or_update(
                        names.resource_group,
                        names.zone,
                        "CNAME",
                        names.records[key],
                        RecordSet(
                            properties=RecordSetProperties(
                                ttl=current.ttl,
                                metadata=current.metadata,
                                cname_record=CnameRecord(cname=target),
                            )
                        ),
                        etag=current.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                    self.progress(f"{name}: moved from {before} to {target}")
            except HttpResponseError as error:
                raise WriterNameError(
                    f"{name}: Azure refused to move it to {target}: {error.message}"
                ) from None
            moves.append({"name": name, "from": before, "to": target, "moved": before != target, "at": now()})
        return moves
