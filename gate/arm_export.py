"""ARM deployment templates of rendered stacks, for scanners that read ARM (checkov).

One template per stack, one ARM resource per rendered Azure resource, built from the inputs the
provider receives. pulumi-azure-native mostly uses ARM's own property names, with two layouts:
most resources flatten ARM's `properties` into top-level inputs, while some (Key Vault, Data
Protection) already take a `properties` object; both end up as one ARM `properties` object here.
The few inputs the provider renames or moves are mapped back per type (`_RELOCATED`).

The templates are for reading, not deploying: every stack's resources sit in one template whatever
their resource group, extension resources carry their target as `scope`, and secrets are masked.
Each resource names its Pulumi URN in `metadata.pulumiUrn` (ARM and checkov ignore other keys
under `metadata`) so findings can be traced back to the program.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cli.secrets import REDACTED
from components.arm import api_version, arm_type, name_segments

from .render import RenderedResource, Rendering, is_azure_type, is_secret, reveal

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
CONTENT_VERSION = "1.0.0.0"
URN_KEY = "pulumiUrn"

# Inputs that are not ARM properties: they address the resource or become the ARM envelope.
_ENVELOPE_INPUTS = ("resourceGroupName", "location", "tags")
# Inputs ARM keeps beside `properties`, unless a type says otherwise (`_IN_PROPERTIES`).
_TOP_LEVEL = ("sku", "kind", "identity", "zones", "plan", "extendedLocation", "managedBy")
# Types whose ARM schema keeps one of the usual top-level keys inside `properties`.
_IN_PROPERTIES: dict[str, frozenset[str]] = {
    "azure-native:operationalinsights:Workspace": frozenset({"sku"}),
}
# Inputs the provider renames or lifts out of a nested ARM object: input key -> path in `properties`.
_RELOCATED: dict[str, dict[str, tuple[str, ...]]] = {
    "azure-native:storage:StorageAccount": {
        "enableHttpsTrafficOnly": ("supportsHttpsTrafficOnly",),
        "networkRuleSet": ("networkAcls",),
        "enableNfsV3": ("isNfsV3Enabled",),
    },
    "azure-native:operationalinsights:DataExport": {
        "resourceId": ("destination", "resourceId"),
        "eventHubName": ("destination", "metaData", "eventHubName"),
    },
}
# Nested renames inside properties (the provider spells discriminators without dots).
_RENAMED_NESTED: dict[str, dict[tuple[str, ...], str]] = {
    "azure-native:monitor:MetricAlert": {("criteria", "odataType"): "odata.type"},
}


def is_azure_resource(resource: RenderedResource) -> bool:
    return is_azure_type(resource.type, resource.custom)


def masked(value: Any) -> Any:
    """The value with every secret replaced by the redaction marker.

    A secret object keeps its keys (a scanner may check that a secret's content type is set) but
    every value under it is masked; a secret scalar becomes the marker.
    """
    if is_secret(value):
        return _mask_all(reveal(value))
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def _mask_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    return REDACTED


def _normalized(value: Any) -> Any:
    """Integral floats (the engine's numbers) as ints, as ARM templates write them; keys sorted."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalized(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _rename_nested(properties: dict[str, Any], renames: dict[tuple[str, ...], str]) -> None:
    for path, arm_key in renames.items():
        parent: Any = properties
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent:
            parent[arm_key] = parent.pop(path[-1])


def arm_resource(resource: RenderedResource, subscription_id: str) -> dict[str, Any]:
    """One rendered Azure resource as an ARM template resource (secrets masked)."""
    kind = arm_type(resource.type)
    inputs = _normalized(masked(resource.inputs))
    entry: dict[str, Any] = {
        "type": kind.resource_type,
        # The worker recorded it with the SDK loaded; loading it here would take seconds.
        "apiVersion": resource.api_version or api_version(resource.type),
        "name": "/".join(name_segments(resource.type, inputs)),
    }
    if kind.scope_key:
        entry["scope"] = inputs[kind.scope_key]
    elif kind.subscription_scoped:
        entry["scope"] = f"/subscriptions/{subscription_id}"
    for key in ("location", "tags"):
        if key in inputs:
            entry[key] = inputs[key]

    consumed = set(kind.name_keys) | set(_ENVELOPE_INPUTS) | ({kind.scope_key} if kind.scope_key else set())
    in_properties = _IN_PROPERTIES.get(resource.type, frozenset())
    relocated = _RELOCATED.get(resource.type, {})
    # Resources whose inputs already hold ARM's `properties` object: don't nest it again.
    nested = inputs.get("properties")
    properties: dict[str, Any] = dict(nested) if isinstance(nested, dict) else {}
    consumed.add("properties")
    for key, value in inputs.items():
        if key in consumed:
            continue
        if key in _TOP_LEVEL and key not in in_properties:
            entry[key] = value
        elif key in relocated:
            _put(properties, relocated[key], value)
        else:
            properties[key] = value
    _rename_nested(properties, _RENAMED_NESTED.get(resource.type, {}))
    if properties:
        entry["properties"] = dict(sorted(properties.items()))
    entry["metadata"] = {URN_KEY: resource.urn}
    return entry


def arm_template(rendering: Rendering) -> dict[str, Any]:
    """The stack's Azure resources as one ARM deployment template, ordered by URN.

    Registration order varies between renders (components declare in parallel); ARM ignores the
    order, so sorting keeps the file the same for the same program and config.
    """
    azure = sorted((r for r in rendering.resources if is_azure_resource(r)), key=lambda r: r.urn)
    return {
        "$schema": SCHEMA,
        "contentVersion": CONTENT_VERSION,
        "resources": [arm_resource(resource, rendering.subscription_id) for resource in azure],
    }


def write_templates(renderings: Iterable[Rendering], out_dir: Path) -> dict[str, Path]:
    """Write `<out_dir>/<stack>.json` for each rendering; returns stack -> template path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for rendering in renderings:
        path = out_dir / f"{rendering.stack}.json"
        path.write_text(json.dumps(arm_template(rendering), indent=2) + "\n")
        paths[rendering.stack] = path
    return paths
