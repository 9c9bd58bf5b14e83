"""What a change would do to a running stack: the base's rendering against the working tree's.

Resources are matched by URN (or by an alias the new declaration gives, as the engine matches them)
and each is classified as Pulumi's preview would show it: `create`, `update` (with the changed
inputs), `replace` (an input the provider cannot change in place), `delete` or `unchanged`.

Inputs are compared as the provider receives them, leaf by leaf (a list is one value). A path the
new declaration lists in `ignoreChanges` keeps its old value, so it changes nothing. Values marked
secret are compared by value and shown only as the redaction marker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .render import RenderedResource, is_secret, redact, reveal
from .replacement import replacing_paths, same_to_the_provider

Action = Literal["create", "update", "replace", "delete", "unchanged"]
ACTIONS: tuple[Action, ...] = ("create", "update", "replace", "delete", "unchanged")


@dataclass(frozen=True)
class PropertyChange:
    path: str  # dotted path into the provider inputs
    before: Any  # redacted: a secret shows as the marker
    after: Any
    secret: bool = False
    create_only: bool = False  # the provider replaces the resource for it


@dataclass(frozen=True)
class ResourceChange:
    stack: str
    urn: str  # the new URN (the old one for a delete)
    type: str
    name: str
    action: Action
    properties: tuple[PropertyChange, ...] = ()
    base: RenderedResource | None = field(default=None, compare=False, repr=False)
    head: RenderedResource | None = field(default=None, compare=False, repr=False)

    @property
    def old(self) -> RenderedResource:
        """The resource as the base declares it (present for update, replace, delete, unchanged)."""
        assert self.base is not None, f"{self.urn} has no base ({self.action})"
        return self.base

    @property
    def replacing(self) -> tuple[PropertyChange, ...]:
        return tuple(p for p in self.properties if p.create_only)


def as_text(value: Any) -> str:
    """A changed value as reports show it (already redacted)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the engine carries every number as a double
    if value is None:
        return "(not set)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every leaf of an input map; lists, secrets and empty maps are leaves."""
    if isinstance(value, Mapping) and value and not is_secret(value):
        for key, item in value.items():
            yield from leaves(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _ignored(path: str, ignore_changes: list[str]) -> bool:
    return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in ignore_changes)


def holds_secret(value: Any) -> bool:
    """Whether a value is, or contains at any depth, a secret (a list of receivers with a secret URL)."""
    if is_secret(value):
        return True
    if isinstance(value, Mapping):
        return any(holds_secret(v) for v in value.values())
    return isinstance(value, list) and any(holds_secret(v) for v in value)


def property_changes(base: RenderedResource, head: RenderedResource) -> tuple[PropertyChange, ...]:
    """The inputs that differ between two declarations of one resource, in path order."""
    before, after = dict(leaves(base.inputs)), dict(leaves(head.inputs))
    create_only = replacing_paths(head.type, head.replace_on_changes)
    # The resource id is built from the path parameters (name, parent, resource group, scope): when
    # it changes, the changed inputs whose old value is one of its segments are those parameters.
    moved = base.id != head.id and base.id.startswith("/subscriptions/")
    segments = {part.lower() for part in base.id.split("/")} if moved else set()
    changes = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)  # None: declared on one side only
        if (
            reveal(old) == reveal(new)
            or same_to_the_provider(path, old, new)
            or _ignored(path, head.ignore_changes)
        ):
            continue
        changes.append(
            PropertyChange(
                path=path,
                before=redact(old),
                after=redact(new),
                secret=holds_secret(old) or holds_secret(new),
                create_only=create_only(path) or (isinstance(old, str) and old.lower() in segments),
            )
        )
    if moved and not any(c.create_only for c in changes):
        # Another id is another resource, whichever input made it (one computed from an output).
        changes.append(PropertyChange(path="id", before=base.id, after=head.id, create_only=True))
    return tuple(changes)


def diff(
    stack: str, base: Sequence[RenderedResource] | None, head: Sequence[RenderedResource]
) -> list[ResourceChange]:
    """Every resource of either declaration of a stack, classified; `base` None means the stack is
    new. Order: the new declaration's, then the deletions in the base's order."""
    old = {r.urn: r for r in base or ()}
    matched: set[str] = set()
    changes = []
    for resource in head:
        previous_urn = next(
            (u for u in (resource.urn, *resource.aliases) if u in old and u not in matched), None
        )
        if previous_urn is None:
            changes.append(
                ResourceChange(stack, resource.urn, resource.type, resource.name, "create", head=resource)
            )
            continue
        matched.add(previous_urn)
        previous = old[previous_urn]
        properties = property_changes(previous, resource)
        action: Action = (
            "replace" if any(p.create_only for p in properties) else "update" if properties else "unchanged"
        )
        changes.append(
            ResourceChange(
                stack, resource.urn, resource.type, resource.name, action, properties, previous, resource
            )
        )
    for urn, resource in old.items():
        if urn not in matched:
            changes.append(ResourceChange(stack, urn, resource.type, resource.name, "delete", base=resource))
    return changes


def counts(changes: list[ResourceChange], *, custom_only: bool = True) -> dict[str, int]:
    """How many provider resources each action touches (components only group them)."""
    touched = [
        c for c in changes if not custom_only or (c.head or c.base) is None or (c.head or c.old).custom
    ]
    return {action: sum(1 for c in touched if c.action == action) for action in ACTIONS}
