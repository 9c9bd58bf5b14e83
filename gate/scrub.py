"""Secrets out of every report: each value the renderings mark as secret is replaced by the marker
in every finding and waiver, before any report format escapes (and so hides) it."""

from __future__ import annotations

import dataclasses
from typing import Any, overload

from cli.secrets import scrub

from .findings import Finding
from .pipeline import GateResult
from .render import Declaration, Rendering, is_secret, reveal


def secret_values(result: GateResult) -> list[str]:
    """Every string the renderings (and the base's) mark as secret (resource inputs, outputs, stack
    outputs)."""
    found: set[str] = set()

    def leaves(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                leaves(v)
        elif isinstance(value, list):
            for v in value:
                leaves(v)
        elif isinstance(value, str) and len(value) >= 4:
            found.add(value)

    def walk(value: Any) -> None:
        if is_secret(value):
            leaves(reveal(value))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    declared: list[Rendering | Declaration] = [*result.renderings]
    if result.base is not None:
        declared += [d for d in result.base.declarations.values() if d is not None]
    for rendering in declared:
        walk(rendering.outputs)
        for resource in rendering.resources:
            walk(resource.inputs)
            walk(resource.outputs)
    return sorted(found)


class Scrubber:
    """Scrubs strings, and the strings inside dicts and lists, of the result's secrets."""

    def __init__(self, result: GateResult):
        self.secrets = secret_values(result)

    @overload
    def __call__(self, value: str) -> str: ...

    @overload
    def __call__(self, value: dict[str, Any]) -> dict[str, Any]: ...

    @overload
    def __call__(self, value: Any) -> Any: ...

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return scrub(value, self.secrets)
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def scrubbed(result: GateResult) -> tuple[GateResult, Scrubber]:
    """The result with secrets scrubbed from every finding (before any escaping hides them)."""
    scrub = Scrubber(result)
    if not scrub.secrets:
        return result, scrub

    def clean(finding: Finding) -> Finding:
        waiver = finding.waiver
        if waiver is not None:
            waiver = dataclasses.replace(waiver, **{k: scrub(v) for k, v in vars(waiver).items()})
        fields = {k: scrub(v) for k, v in vars(finding).items() if k != "waiver"}
        return dataclasses.replace(finding, **fields, waiver=waiver)

    return dataclasses.replace(result, findings=[clean(f) for f in result.findings]), scrub
