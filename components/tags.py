"""One stack-wide tag set, applied to every taggable resource by a single resource transform."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Awaitable, Callable, Mapping

import pulumi

from .durations import Duration
from .facts import OBJECTIVE_TAG, WINDOW_TAG, maintenance_label
from .settings import DatabaseSla, Settings


def stack_tags(settings: Settings) -> dict[str, str]:
    """The mandatory tags of this stack; data stores add their own `rto`/`rpo`."""
    return {
        **settings.tags,
        "environment": settings.environment,
        "dr-role": settings.role.value,
        "managed-by": "pulumi-continuity",
    }


def sla_tags(sla: DatabaseSla) -> dict[str, str]:
    """Tags a server carries to state its availability objective and the window it excludes, which
    the SLA rules check against its configuration."""
    window = sla.maintenance_window
    return {
        OBJECTIVE_TAG: f"{sla.availability:g}",
        WINDOW_TAG: maintenance_label(window.day_of_week, *window.start),
    }


def recovery_tags(rto: Duration, rpo: Duration) -> dict[str, str]:
    """Tags a data store carries to state its recovery targets."""
    return {"rto": str(rto), "rpo": str(rpo)}


# The types the program declares, by whether the SDK's constructor takes `tags` (what
# `sdk_taggable` reads; a test keeps the two in step). Reading it from the SDK loads the type's
# module, up to 0.8 s each: the policy pack, which loads no provider module otherwise, asks here.
TAGGABLE_TYPES = frozenset(
    "azure-native:" + token
    for token in (
        "applicationinsights:Workbook",
        "dataprotection:BackupInstance",
        "dataprotection:BackupVault",
        "dbforpostgresql:Server",
        "keyvault:Key",
        "keyvault:Secret",
        "keyvault:Vault",
        "managedidentity:UserAssignedIdentity",
        "monitor:ActionGroup",
        "monitor:ActivityLogAlert",
        "monitor:MetricAlert",
        "monitor:ScheduledQueryRule",
        "network:PrivateEndpoint",
        "network:VirtualNetwork",
        "operationalinsights:Workspace",
        "privatedns:PrivateZone",
        "privatedns:VirtualNetworkLink",
        "resources:ResourceGroup",
        "storage:StorageAccount",
    )
)
UNTAGGABLE_TYPES = frozenset(
    "azure-native:" + token
    for token in (
        "authorization:ManagementLockByScope",
        "authorization:RoleAssignment",
        "dataprotection:BackupPolicy",
        "dbforpostgresql:Configuration",
        "dbforpostgresql:Database",
        "monitor:DiagnosticSetting",
        "monitor:SubscriptionDiagnosticSetting",
        "network:PrivateDnsZoneGroup",
        "network:Subnet",
        "network:VirtualNetworkPeering",
        "operationalinsights:DataExport",
        "operationalinsights:Table",
        "privatedns:PrivateRecordSet",
        "storage:BlobContainer",
        "storage:BlobServiceProperties",
        "storage:ManagementPolicy",
    )
)


def is_taggable(type_token: str) -> bool:
    """Whether a provider resource type accepts `tags`: from the table above, else from the SDK."""
    if type_token in TAGGABLE_TYPES:
        return True
    if type_token in UNTAGGABLE_TYPES:
        return False
    return sdk_taggable(type_token)


@functools.cache
def sdk_taggable(type_token: str) -> bool:
    """Whether a provider resource type accepts `tags`, read from the SDK's own constructor."""
    package, _, rest = type_token.partition(":")
    if package != "azure-native":
        return False
    module_name, _, class_name = rest.partition(":")
    try:
        module = importlib.import_module(f"pulumi_azure_native.{module_name}")
        resource_class = getattr(module, class_name)
    except (ImportError, AttributeError):
        return False
    return "tags" in inspect.signature(resource_class._internal_init).parameters


def tagging_transform(
    tags: Mapping[str, str],
) -> Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None]:
    """A resource transform that merges the stack tags into every taggable resource.

    Stack tags win over tags a component sets, so no component can drop or rename a mandatory tag.
    """
    mandatory = dict(tags)

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.custom or not is_taggable(args.type_):
            return None
        own = args.props.get("tags")
        merged: pulumi.Input[dict[str, str]]
        if isinstance(own, (pulumi.Output, Awaitable)):  # an input may be either
            own_tags: pulumi.Output[Mapping[str, str] | None] = pulumi.Output.from_input(own)
            merged = own_tags.apply(lambda t: {**(t or {}), **mandatory})
        else:
            merged = {**(own or {}), **mandatory}
        return pulumi.ResourceTransformResult(props={**args.props, "tags": merged}, opts=args.opts)

    return transform
