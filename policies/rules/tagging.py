"""Tagging: every taggable resource says who owns it, what it holds and which DR role it plays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypedDict

from components.facts import DATA_CLASSIFICATIONS, DR_ROLES, MANDATORY_TAG_KEYS, PROGRAM_TAG_KEYS
from components.tags import is_taggable

from . import controls as c
from .facts import SERVER, VAULT, duration_tag
from .model import Resource, Stack
from .registry import NoConfig, Violation, rule


class TagRules(TypedDict):
    requiredTags: list[str]
    allowedValues: dict[str, list[str]]


@rule(
    "CTY-TAG-001",
    concern="tagging",
    title="Mandatory tags",
    description="Every taggable resource carries the mandatory tags with allowed values, keys matched case-exactly.",
    remediation="Set continuity:tags; the stack-wide transform in components.tags applies them to every resource.",
    severity="medium",
    controls=c.INVENTORY,
    config={
        "requiredTags": {
            "type": "array",
            "items": {"type": "string"},
            "default": [PROGRAM_TAG_KEYS[0], *MANDATORY_TAG_KEYS, PROGRAM_TAG_KEYS[1]],
        },
        "allowedValues": {
            "type": "object",
            "default": {
                "data-classification": list(DATA_CLASSIFICATIONS),
                "dr-role": list(DR_ROLES),
            },
        },
    },
)
def mandatory_tags(stack: Stack, cfg: TagRules) -> Iterator[Violation]:
    for resource in stack.resources:
        if not is_taggable(resource.type):
            continue
        tags = resource.tags
        missing = [key for key in cfg["requiredTags"] if not str(tags.get(key, "")).strip()]
        if missing:
            near = [k for k in tags if k.lower() in {m.lower() for m in missing}]
            hint = f" (found {near}: keys are case-exact)" if near else ""
            yield resource.urn, f"missing tag(s) {missing}{hint}"
        for key, allowed in cfg["allowedValues"].items():
            if key in tags and tags[key] not in allowed:
                yield resource.urn, f"tag {key}={tags[key]!r} is not one of {allowed}"


@rule(
    "CTY-TAG-002",
    concern="tagging",
    title="Recovery targets on data stores",
    description="Every server and key vault states its RTO and RPO as tags with units.",
    remediation="Data stores get rto/rpo tags from components.tags.recovery_tags; set the targets in config.",
    severity="medium",
    controls=c.merge(c.INVENTORY, c.CONTINUITY),
    resource_types=(SERVER, VAULT),
)
def recovery_target_tags(resource: Resource, cfg: NoConfig) -> Iterator[str]:
    for tag in ("rto", "rpo"):
        if duration_tag(resource, tag) is None:
            yield f"tag {tag} is missing or not a duration with a unit ({resource.tags.get(tag)!r})"
