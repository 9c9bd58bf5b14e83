"""The neutral view of resources every rule reads: the same for `pulumi preview` and the offline gate.

Resources refer to each other through property dependencies (input name -> URNs), not ids, because
in a preview of new resources ids are still unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Resource:
    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, path: str, default: Any = None) -> Any:
        """A nested input by dotted path (`backup.geoRedundantBackup`), or `default`."""
        value: Any = self.props
        for part in path.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]
        return value

    @property
    def tags(self) -> Mapping[str, str]:
        return self.props.get("tags") or {}

    @property
    def location(self) -> str | None:
        return self.props.get("location")


@dataclass(frozen=True)
class Stack:
    resources: tuple[Resource, ...]

    @cached_property
    def _by_urn(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.resources}

    @cached_property
    def _by_type(self) -> dict[str, list[Resource]]:
        index: dict[str, list[Resource]] = {}
        for r in self.resources:
            index.setdefault(r.type, []).append(r)
        return index

    def of_type(self, *types: str) -> list[Resource]:
        if len(types) == 1:
            return list(self._by_type.get(types[0], ()))
        return [r for r in self.resources if r.type in types]

    def by_urn(self, urn: str) -> Resource | None:
        return self._by_urn.get(urn)

    def referenced(self, resource: Resource, prop: str, type_: str | None = None) -> list[Resource]:
        """Resources whose outputs feed `resource`'s input `prop`."""
        found = [self.by_urn(urn) for urn in resource.property_dependencies.get(prop, ())]
        return [r for r in found if r is not None and (type_ is None or r.type == type_)]

    def referring_to(self, target: Resource, prop: str, type_: str) -> list[Resource]:
        """Resources of `type_` whose input `prop` uses `target`'s outputs."""
        return [r for r in self.of_type(type_) if target.urn in r.property_dependencies.get(prop, ())]


def stack_of(resources: Iterable[Resource]) -> Stack:
    return Stack(tuple(resources))
