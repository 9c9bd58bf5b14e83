"""Renderings of stacks: what the real program declares for a stack's committed config.

Each render runs in its own process (see gate/runtime.py). A rendering holds each resource's inputs
exactly as the provider would receive them (after stack transforms), with secrets still marked.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import select
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from cli import children
from cli.exits import InternalError, UsageError
from cli.secrets import REDACTED
from components.settings import Origin, Settings, SettingsError, load_settings

from . import render_process
from .mocks import stable_uuid
from .render_process import CODE_ROOT, RENDER_CACHE_VARIABLE
from .stack_files import StackConfig, read_stack_config

PROJECT = "continuity"
ORGANIZATION = "organization"
# How the engine marks a secret value inside a property map (pulumi.runtime.rpc).
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
# A render of the default stacks takes seconds; a 100-server synthetic stack under a minute.
RENDER_TIMEOUT_SECONDS = 600


def qualified(stack: str) -> str:
    return f"{ORGANIZATION}/{PROJECT}/{stack}"


def is_azure_type(token: str, custom: bool) -> bool:
    """An Azure resource the provider manages (not a component, a password or a stack reference)."""
    return custom and token.startswith("azure-native:")


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
    # URNs this resource had before a rename or a move (its `aliases` option), as the engine matches them.
    aliases: list[str] = field(default_factory=list)
    # Input paths whose change the engine turns into a replacement (`replaceOnChanges`).
    replace_on_changes: list[str] = field(default_factory=list)
    # `import` (adopting what Azure made with the parent) and `retainOnDelete`, as the engine gets them.
    import_id: str = ""
    retain_on_delete: bool = False
    # What the (mock) provider answered: inputs plus computed values such as ids and principals.
    outputs: dict[str, Any] = field(default_factory=dict)
    # Input name -> URNs of the resources whose outputs it uses: how resources refer to each other
    # even in a preview, when ids are still unknown.
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # The REST API version the pinned SDK uses for an Azure type, read where the SDK is loaded
    # (the render worker); empty for other types.
    api_version: str = ""

    @property
    def plain_inputs(self) -> dict[str, Any]:
        plain: dict[str, Any] = reveal(self.inputs)
        return plain


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


def _request(
    project_dir: Path,
    config: StackConfig,
    peer_outputs: dict[str, dict[str, Any]] | None,
    observed: dict[str, dict[str, Any]] | None = None,
    outside_state: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    subscription_id, tenant_id = offline_identity()
    return {
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


def _rendered(project_dir: Path, stack: str, request: dict[str, Any]) -> dict[str, Any]:
    return _checked(stack, _render(project_dir, stack, request))


def _checked(stack: str, answer: dict[str, Any]) -> dict[str, Any]:
    if "error" in answer:
        raise RenderError(f"stack {stack}: {answer['error']}", declared=answer.get("declared", 0))
    return answer


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
    answer = _rendered(
        project_dir, config.stack, _request(project_dir, config, peer_outputs, observed, outside_state)
    )
    return Rendering(
        stack=config.stack,
        settings=settings,
        subscription_id=offline_identity()[0],
        resources=[RenderedResource(**record) for record in answer["resources"]],
        outputs=answer["outputs"],
    )


@dataclass
class Declaration:
    """What a stack's program declares, checked only by that program's own settings model: another
    revision's stack files need not satisfy the current one."""

    stack: str
    config: StackConfig
    resources: list[RenderedResource]
    outputs: dict[str, Any]


def _peer_stack(config: StackConfig) -> str:
    peer = config.raw("peer")
    return str(peer.get("stack", "")).rsplit("/", 1)[-1] if isinstance(peer, dict) else ""


def declare_stacks(project_dir: Path, stacks: list[str]) -> list[Declaration]:
    """Render `stacks` with only the checks the program itself makes (see Declaration), each
    replica-origin stack after the stack it replicates; raises StackFileError or RenderError."""
    configs = {stack: read_stack_config(project_dir, stack) for stack in stacks}
    peers = {stack: _peer_stack(config) for stack, config in configs.items()}
    for stack in stacks:
        if configs[stack].raw("origin") == "replica" and peers[stack] not in configs:
            configs[peers[stack]] = read_stack_config(project_dir, peers[stack])
    answers = _render_in_order(
        project_dir, configs, {st for st in configs if configs[st].raw("origin") == "replica"}
    )
    return [
        Declaration(
            stack,
            configs[stack],
            [RenderedResource(**record) for record in answers[stack]["resources"]],
            answers[stack]["outputs"],
        )
        for stack in stacks
    ]


def _render_in_order(
    project_dir: Path, configs: dict[str, StackConfig], replicas: set[str]
) -> dict[str, dict[str, Any]]:
    """Each stack's answer. Replica-origin stacks read the others' exports through their
    StackReference, so they render after them; when some of those must be rendered first, the
    replica-origin stacks start at once, side by side, and get the exports when their program asks
    for them. Their requests, and so their answers, are the same either way."""
    ordered = sorted(configs, key=lambda st: st in replicas)
    peers_pending = any(
        _known(project_dir, _request(project_dir, configs[st], {})) is None
        for st in ordered
        if st not in replicas
    )
    server = _render_server(project_dir) if replicas and peers_pending else None
    # A render started early is claimed by its first request (the exports still to come) until its
    # answer is filed: another process wanting the same stack waits for that claim, then reads the
    # answer from the cache. Each claim ends with its own stack, so two processes each holding one
    # never wait on each other.
    first_requests = {st: _request(project_dir, configs[st], {}) for st in replicas}
    claims: dict[str, contextlib.ExitStack] = {}
    exports: dict[str, dict[str, Any]] = {}
    answers: dict[str, dict[str, Any]] = {}
    # Replica-origin stack -> its render, started now, waiting for the exports.
    early: dict[str, int] = {}
    try:
        if server is not None:
            for st in (st for st in ordered if st in replicas):
                claim = claims[st] = contextlib.ExitStack()
                if claim.enter_context(_claimed(project_dir, first_requests[st], wait=False)):
                    early[st] = server.start(st, first_requests[st], peers_later=True)
        for stack in ordered:
            request = _request(project_dir, configs[stack], exports)
            if server and stack in early:
                server.supply(stack, early[stack], exports)
                answers[stack] = _checked(
                    stack, _keep(project_dir, request, server.answer(stack, early.pop(stack)))
                )
            else:
                if stack in replicas:  # started early elsewhere? then its answer is filed first
                    with _claimed(project_dir, first_requests[stack]):
                        pass
                answers[stack] = _rendered(project_dir, stack, request)
            if stack in claims:
                claims.pop(stack).close()
            exports[qualified(stack)] = answers[stack]["outputs"]
    finally:
        for stack, ticket in early.items():  # a stack before them failed: let them end, unread
            assert server is not None
            with contextlib.suppress(InternalError):  # (a server that failed is already stopped)
                server.supply(stack, ticket, {})
                server.answer(stack, ticket)
        for claim in claims.values():
            claim.close()
    return answers


class _RenderServer:
    """A warm `python -m gate.render_server` process: one fork of it per render.

    Started on first use and kept for the life of this process (it dies with it). Renders run side
    by side: `start` hands one over, `answer` waits for it. A render that times out or a server
    that fails is stopped, so the next render starts a new one.
    """

    def __init__(self, code_root: Path) -> None:
        # The gate runs from this checkout; the program from the code root, which is another
        # revision's when a base is rendered (with the current environment: see runtime.serve).
        self._process, self._log = render_process.take(code_root)  # the log is closed by stop()
        self._lock = threading.Lock()
        self._tickets = itertools.count()
        self._answers: dict[int, str] = {}

    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        children.stop(self._process)
        self._log.close()

    def start(self, stack: str, request: dict[str, Any], peers_later: bool = False) -> int:
        """Hand a render over; with `peers_later`, its peers' exports follow through `supply`."""
        ticket = next(self._tickets)
        self._send(stack, {**request, "id": ticket, "peerOutputsLater": peers_later})
        return ticket

    def supply(self, stack: str, ticket: int, peer_outputs: dict[str, Any]) -> None:
        self._send(stack, {"id": ticket, "peerOutputs": peer_outputs})

    def render(self, stack: str, request: dict[str, Any]) -> dict[str, Any]:
        return self.answer(stack, self.start(stack, request))

    def answer(self, stack: str, ticket: int) -> dict[str, Any]:
        """The render's answer, as JSON; others that finish first are kept for their callers."""
        with self._lock:
            assert self._process.stdout is not None
            while ticket not in self._answers:
                ready, _, _ = select.select([self._process.stdout], [], [], RENDER_TIMEOUT_SECONDS)
                if not ready:
                    self.stop()
                    raise InternalError(
                        f"stack {stack}: the program did not finish within {RENDER_TIMEOUT_SECONDS} s"
                    )
                line = self._process.stdout.readline()
                if not line:
                    self._failed(stack)
                number, _, text = line.partition(" ")
                self._answers[int(number)] = text
            answer: dict[str, Any] = json.loads(self._answers.pop(ticket))
        if "crashed" in answer:
            raise InternalError(f"stack {stack}: the render process failed: {answer['crashed']}")
        return answer

    def _send(self, stack: str, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
        except OSError:
            self._failed(stack)

    def _failed(self, stack: str) -> NoReturn:
        reason = self._last_log_line()
        self.stop()
        raise InternalError(f"stack {stack}: the render server stopped: {reason}")

    def _last_log_line(self) -> str:
        try:
            self._log.seek(0)
            lines = self._log.read().decode(errors="replace").strip().splitlines()
        except (OSError, ValueError):
            return "no output"
        return lines[-1] if lines else "no output"


_servers: dict[Path, _RenderServer] = {}
# Answers by request and code root, as JSON text (each caller gets its own objects): a render is a
# pure function of both, so a process that renders the same stack twice renders it once.
_answers: collections.OrderedDict[str, str] = collections.OrderedDict()
_ANSWERS_KEPT = 32


# What a render depends on besides the request and the program: the runtime and its mocks run
# from this checkout, with these packages.
_RUNTIME_PACKAGES = ("pulumi", "pulumi-azure-native", "pulumi-random", "pulumiverse-time")


def _render(project_dir: Path, stack: str, request: dict[str, Any]) -> dict[str, Any]:
    text = _known(project_dir, request)
    if text is None:
        with _claimed(project_dir, request):
            text = _known(project_dir, request)  # rendered by whoever held the claim before
            if text is None:
                return _keep(project_dir, request, _render_server(project_dir).render(stack, request))
    known: dict[str, Any] = json.loads(text)  # each caller gets objects of its own
    return known


@contextlib.contextmanager
def _claimed(project_dir: Path, request: dict[str, Any], wait: bool = True) -> Iterator[bool]:
    """With the shared cache, the one right to render a request: processes asking for the same
    render at once (test workers, gates side by side) wait for the first one's answer instead of
    rendering it again. The lock is the kernel's, released if its holder dies. Without `wait`,
    yields False at once when another holds it. Without the shared cache, always yields True."""
    path = _shared_file(_code_root(project_dir), request)
    if path is None:
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _answer_key(project_dir: Path, request: dict[str, Any]) -> str:
    code_root = _code_root(project_dir)
    return json.dumps([_fingerprint(code_root), _fingerprint(Path(project_dir)), request], sort_keys=True)


def _known(project_dir: Path, request: dict[str, Any]) -> str | None:
    """The answer to a request already rendered, by this process or (with the shared cache) another."""
    key = _answer_key(project_dir, request)
    if key not in _answers:
        shared = _shared_answer(_code_root(project_dir), request)
        if shared is None:
            return None
        _remember(key, shared)
    _answers.move_to_end(key)
    return _answers[key]


def _keep(project_dir: Path, request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """File a fresh answer for later requests (this process's and, with the shared cache, others');
    returns it."""
    text = json.dumps(answer)
    _remember(_answer_key(project_dir, request), text)
    _share_answer(_code_root(project_dir), request, text)
    return answer


def _remember(key: str, text: str) -> None:
    _answers[key] = text
    _answers.move_to_end(key)
    if len(_answers) > _ANSWERS_KEPT:
        _answers.popitem(last=False)


def _shared_file(code_root: Path, request: dict[str, Any]) -> Path | None:
    directory = os.environ.get(RENDER_CACHE_VARIABLE)
    if not directory:
        return None
    from importlib import metadata

    digest = hashlib.sha256(sys.version.encode())
    for package in _RUNTIME_PACKAGES:
        digest.update(f"{package}=={metadata.version(package)}".encode())
    sources = [*_program_files(code_root), *sorted((CODE_ROOT / "gate").glob("*.py"))]
    sources += _program_files(CODE_ROOT) + sorted((CODE_ROOT / "cli").glob("*.py"))
    for source in sources:
        digest.update(str(source).encode() + b"\0" + source.read_bytes())
    digest.update(json.dumps(request, sort_keys=True).encode())
    return Path(directory) / f"{digest.hexdigest()}.json"


def _shared_answer(code_root: Path, request: dict[str, Any]) -> str | None:
    path = _shared_file(code_root, request)
    try:
        return path.read_text() if path else None
    except OSError:
        return None


def _share_answer(code_root: Path, request: dict[str, Any], answer: str) -> None:
    path = _shared_file(code_root, request)
    if path is None or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: a reader never sees half an answer.
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(answer)
    os.replace(handle.name, path)


def _program_files(root: Path) -> list[Path]:
    files = [root / "__main__.py", *sorted((root / "components").glob("*.py"))]
    return [f for f in files if f.is_file()]


def _fingerprint(root: Path) -> list[tuple[str, int, int]]:
    """The program's files under `root` as (path, size, mtime): an edit makes a new cache key."""
    return [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in _program_files(root)]


def _code_root(project_dir: Path) -> Path:
    """Where the program's modules come from: the project's own `components` when it has a copy
    of its own (another revision's checkout), else this checkout."""
    components = Path(project_dir) / "components"
    if components.is_dir() and components.resolve() != CODE_ROOT / "components":
        return Path(project_dir).resolve()
    return CODE_ROOT


def _render_server(project_dir: Path) -> _RenderServer:
    """The warm server for the project's code root, started on first use."""
    code_root = _code_root(project_dir)
    server = _servers.get(code_root)
    if server is None or not server.alive():
        server = _servers[code_root] = _RenderServer(code_root)
    return server


def stop_render_server(project_dir: Path) -> None:
    """Stop the server of a project's code root (a base checkout about to be removed)."""
    server = _servers.pop(_code_root(project_dir), None)
    if server is not None:
        server.stop()


@atexit.register
def stop_render_servers() -> None:
    for server in _servers.values():
        server.stop()
    _servers.clear()


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
    answers = _render_in_order(project_dir, configs, set(replica_peers))
    return [
        Rendering(
            stack=stack,
            settings=settings[stack],
            subscription_id=offline_identity()[0],
            resources=[RenderedResource(**record) for record in answers[stack]["resources"]],
            outputs=answers[stack]["outputs"],
        )
        for stack in stacks
    ]
