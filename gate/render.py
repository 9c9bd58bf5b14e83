"""Renderings of stacks: what the real program declares for a stack's committed config.

Each render runs in its own process (see gate/runtime.py). A rendering holds each resource's inputs
exactly as the provider would receive them (after stack transforms), with secrets still marked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli import children
from cli.exits import InternalError, UsageError
from components.settings import Origin, Settings, SettingsError, load_settings

from .mocks import stable_uuid
from .stack_files import StackConfig, read_stack_config

PROJECT = "continuity"
ORGANIZATION = "organization"
# How the engine marks a secret value inside a property map (pulumi.runtime.rpc).
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
REDACTED = "[secret]"
# A render of the default stacks takes seconds; a 100-server synthetic stack under a minute.
RENDER_TIMEOUT_SECONDS = 600


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
    ignore_changes: list[str] = field(default_factory=list)
    # `import` (adopting what Azure made with the parent) and `retainOnDelete`, as the engine gets them.
    import_id: str = ""
    retain_on_delete: bool = False
    # What the (mock) provider answered: inputs plus computed values such as ids and principals.
    outputs: dict[str, Any] = field(default_factory=dict)
    # Input name -> URNs of the resources whose outputs it uses: how resources refer to each other
    # even in a preview, when ids are still unknown.
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

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


def offline_identity() -> tuple[str, str]:
    """A fixed, obviously offline subscription and tenant."""
    return stable_uuid("subscription"), stable_uuid("tenant")


def render_stack(
    project_dir: Path,
    config: StackConfig,
    peer_outputs: dict[str, dict[str, Any]] | None = None,
    observed: dict[str, dict[str, Any]] | None = None,
    outside_state: frozenset[str] = frozenset(),
) -> Rendering:
    """Render one stack in its own Python process, as the language host runs one program per process.

    `observed` is what already exists in Azure (ARM id -> the provider's read of it; see gate/mocks.py);
    by default nothing does, as in a first deployment. Raises SettingsError (before running
    anything) on bad config and RenderError if the program fails.
    """
    settings = load_settings(config.values, config.secret_keys)
    subscription_id, tenant_id = offline_identity()
    request = {
        "projectDir": str(Path(project_dir).resolve()),
        "stack": config.stack,
        "values": config.values,
        "secretKeys": sorted(config.secret_keys),
        "peerOutputs": peer_outputs or {},
        "observed": observed or {},
        "outsideState": sorted(outside_state),
        "subscriptionId": subscription_id,
        "tenantId": tenant_id,
    }
    try:
        worker = children.run(
            [sys.executable, "-m", "gate.runtime"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=str(Path(__file__).resolve().parent.parent),
            timeout=RENDER_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise InternalError(
            f"stack {config.stack}: the program did not finish within {RENDER_TIMEOUT_SECONDS} s"
        ) from None
    try:
        answer = json.loads(worker.stdout)
    except json.JSONDecodeError:
        last = (worker.stderr.strip().splitlines() or [f"exit {worker.returncode}"])[-1]
        raise InternalError(f"stack {config.stack}: the render process failed: {last}") from None
    if "error" in answer:
        raise RenderError(f"stack {config.stack}: {answer['error']}", declared=answer.get("declared", 0))
    return Rendering(
        stack=config.stack,
        settings=settings,
        subscription_id=subscription_id,
        resources=[RenderedResource(**record) for record in answer["resources"]],
        outputs=answer["outputs"],
    )


class RenderError(UsageError):
    """The program failed while rendering a stack; the message is the root cause."""

    def __init__(self, message: str, declared: int = 0):
        super().__init__(message)
        # How many resources the program had declared before it failed.
        self.declared = declared


def render_stacks(
    project_dir: Path, stacks: list[str], overrides: dict[str, dict[str, Any]] | None = None
) -> list[Rendering]:
    """Render the given stacks, each replica-origin stack after the stack it replicates.

    `overrides` replaces config keys per stack (a drill renders dr with `continuity:role primary`).
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
        configs[stack] = read_stack_config(project_dir, stack).with_overrides(
            (overrides or {}).get(stack, {})
        )
        try:
            settings[stack] = load_settings(configs[stack].values, configs[stack].secret_keys)
        except SettingsError as error:
            raise SettingsError([f"{configs[stack].path.name}: {p}" for p in error.problems]) from None
        if settings[stack].origin is Origin.REPLICA:
            pending.append(settings[stack].peer.stack.rsplit("/", 1)[-1])

    replica_peers = {
        stack: settings[stack].peer.stack.rsplit("/", 1)[-1]
        for stack in configs
        if settings[stack].origin is Origin.REPLICA
    }
    for stack, peer in replica_peers.items():
        if replica_peers.get(peer) == stack:
            raise RenderError(
                f"stacks {stack} and {peer} are both origin 'replica' and each reads the other's servers: "
                "one of them must be the stack whose servers were created as primaries "
                "(after a failback, rebuild one side as a new generation with origin primary or keep one stack's "
                "references one-way)"
            )
    order = sorted(configs, key=lambda st: settings[st].origin is Origin.REPLICA)
    exports: dict[str, dict[str, Any]] = {}
    rendered: dict[str, Rendering] = {}
    for stack in order:
        rendered[stack] = render_stack(project_dir, configs[stack], exports)
        exports[qualified(stack)] = rendered[stack].outputs
    return [rendered[stack] for stack in stacks]
