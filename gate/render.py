"""Run the real program for one stack under Pulumi's mock runtime and record what it declares.

The program is `__main__.py` itself, run the way the Python language host runs it
(`run_in_stack`), with the stack's committed config. The recording holds each resource's inputs
exactly as the provider would receive them (after stack transforms), with secrets still marked.
"""

from __future__ import annotations

import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks, rpc, settings as runtime_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from components.settings import Origin, Settings, SettingsError, load_settings

from .mocks import OfflineAzure, stable_uuid
from .stack_files import StackConfig, read_stack_config

PROJECT = "continuity"
ORGANIZATION = "organization"
SECRET_SIG_KEY = rpc._special_sig_key
SECRET_SIG = rpc._special_secret_sig
REDACTED = "[secret]"


def qualified(stack: str) -> str:
    return f"{ORGANIZATION}/{PROJECT}/{stack}"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def redact(value: Any) -> Any:
    """Replace every secret, at any depth, by a marker: what reports and plans may show."""
    if is_secret(value):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def reveal(value: Any) -> Any:
    """Unwrap secret markers (for checks that need values; never for output)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


@dataclass
class RenderedResource:
    urn: str
    type: str
    name: str
    id: str
    custom: bool
    parent: str
    protect: bool
    dependencies: list[str]
    # Inputs as the provider receives them; secrets are wrapped (see `is_secret`).
    inputs: dict[str, Any]
    # What the (mock) provider answered: inputs plus computed values such as ids and principals.
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def plain_inputs(self) -> dict[str, Any]:
        return reveal(self.inputs)


@dataclass
class Rendering:
    stack: str
    settings: Settings
    subscription_id: str
    resources: list[RenderedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, token: str) -> list[RenderedResource]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str, name: str) -> RenderedResource:
        matches = [r for r in self.resources if r.type == token and r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {token} named {name} in stack {self.stack}")
        return matches[0]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, plus what the engine does that the stock mock skips: running stack
    transforms before the provider sees the inputs, and keeping each registration."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.records: list[RenderedResource] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack" and self._stack_transforms:
            props = rpc.deserialize_properties(request.object)
            for transform in self._stack_transforms:
                result = transform(
                    pulumi.ResourceTransformArgs(
                        custom=request.custom, type_=request.type, name=request.name, props=props,
                        opts=pulumi.ResourceOptions(),
                    )
                )
                if result is not None:
                    props = result.props
            request.object.CopyFrom(_sync_await(rpc.serialize_properties(props, {})))
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.records.append(
                RenderedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    id=response.id,
                    custom=request.custom,
                    parent=request.parent,
                    protect=bool(request.protect),
                    dependencies=list(request.dependencies),
                    inputs=json_format.MessageToDict(request.object),
                    outputs=json_format.MessageToDict(response.object),
                )
            )
        return response

    def RegisterResourceOutputs(self, request):
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def offline_identity() -> tuple[str, str]:
    """A fixed, obviously offline subscription and tenant."""
    return stable_uuid("subscription"), stable_uuid("tenant")


def render_stack(
    project_dir: Path,
    config: StackConfig,
    peer_outputs: Optional[dict[str, dict[str, Any]]] = None,
) -> Rendering:
    """Render one stack. Raises SettingsError (before running anything) on bad config."""
    settings = load_settings(config.values, config.secret_keys)
    subscription_id, tenant_id = offline_identity()
    azure = OfflineAzure(subscription_id, tenant_id, peer_outputs or {})
    monitor = RecordingMonitor(azure)

    pulumi.runtime.set_all_config(dict(config.values), sorted(config.secret_keys))
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.set_root_resource(None)
    pulumi.runtime.set_mocks(azure, project=PROJECT, stack=config.stack, preview=False, monitor=monitor,
                             organization=ORGANIZATION)
    # run_in_stack makes the Stack resource that collects exports, as the language host does.
    runtime_settings.set_root_resource(None)
    main_path = str(Path(project_dir) / "__main__.py")
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    _sync_await(run_in_stack(lambda: runpy.run_path(main_path, run_name="__main__")))

    return Rendering(
        stack=config.stack,
        settings=settings,
        subscription_id=subscription_id,
        resources=monitor.records,
        outputs=monitor.stack_outputs,
    )


class RenderError(Exception):
    """The program failed while rendering a stack; the message is the root cause."""


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def render_stacks(project_dir: Path, stacks: list[str]) -> list[Rendering]:
    """Render the given stacks, each replica-origin stack after the stack it replicates.

    Returns the renderings of the requested stacks, in the order given. Raises SettingsError (with
    the stack file named), StackFileError or RenderError.
    """
    configs: dict[str, StackConfig] = {}
    settings: dict[str, Settings] = {}
    pending = list(stacks)
    while pending:
        stack = pending.pop(0)
        if stack in configs:
            continue
        configs[stack] = read_stack_config(project_dir, stack)
        try:
            settings[stack] = load_settings(configs[stack].values, configs[stack].secret_keys)
        except SettingsError as error:
            raise SettingsError([f"{configs[stack].path.name}: {p}" for p in error.problems]) from None
        if settings[stack].origin is Origin.REPLICA:
            pending.append(settings[stack].peer.stack.rsplit("/", 1)[-1])

    order = sorted(configs, key=lambda st: settings[st].origin is Origin.REPLICA)
    exports: dict[str, dict[str, Any]] = {}
    rendered: dict[str, Rendering] = {}
    for stack in order:
        try:
            rendered[stack] = render_stack(project_dir, configs[stack], exports)
        except SettingsError:
            raise
        except Exception as error:  # the program's own failure, reported with its root cause
            raise RenderError(f"stack {stack}: {_root_cause(error)}") from error
        exports[qualified(stack)] = rendered[stack].outputs
    return [rendered[stack] for stack in stacks]
