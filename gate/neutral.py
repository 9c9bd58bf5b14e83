"""A rendering as the rules' neutral model, for in-process uses of the rules (tests, the continuity matrix)."""

from __future__ import annotations

from policies.rules.model import Resource, Stack

from .render import Rendering


def as_stack(rendering: Rendering) -> Stack:
    return Stack(
        tuple(
            Resource(
                type=r.type,
                urn=r.urn,
                name=r.name,
                props=r.plain_inputs,
                protect=r.protect,
                parent=r.parent,
                dependencies=tuple(r.dependencies),
                property_dependencies={k: tuple(v) for k, v in r.property_dependencies.items()},
            )
            for r in rendering.resources
            if r.custom
        )
    )
