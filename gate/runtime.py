"""The render worker: runs the real program for one stack under Pulumi's mock runtime.

`python -m gate.render_server --once` reads a JSON request on stdin and writes the recorded
resources and stack outputs as JSON on stdout. The program is `__main__.py` itself, run the way the
Python language host runs it (`run_in_stack`), one stack per process. `python -m gate.render_server`
keeps the imports warm and forks one such process per request (see `serve`).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import runpy
import select
import sys
import threading
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from cli.exits import InternalError
from components.arm import api_version, sdk_class
from components.tags import TAGGABLE_TYPES, UNTAGGABLE_TYPES

from .mocks import OfflineAzure
from .render import ORGANIZATION, PROJECT, RenderedResource, is_azure_type


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, plus what the engine does that the stock mock skips: running stack
    transforms before the provider sees the inputs, and keeping each registration."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.records: list[RenderedResource] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(
        self, request: resource_pb2.RegisterResourceRequest
    ) -> resource_pb2.RegisterResourceResponse:
        if request.type != "pulumi:pulumi:Stack" and self._stack_transforms:
            props = rpc.deserialize_properties(request.object)
            for transform in self._stack_transforms:
                result = transform(
                    pulumi.ResourceTransformArgs(
                        custom=request.custom,
                        type_=request.type,
                        name=request.name,
                        props=props,
                        opts=pulumi.ResourceOptions(),
                    )
                )
                if result is not None and not isinstance(result, pulumi.ResourceTransformResult):
                    result = _sync_await(result)  # an async transform: the engine awaits it too
                if result is not None:
                    props = result.props
            request.object.CopyFrom(_sync_await(rpc.serialize_properties(props, {})))
        response: resource_pb2.RegisterResourceResponse = super().RegisterResource(request)
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
                    ignore_changes=list(request.ignoreChanges),
                    aliases=alias_urns(request, self.make_urn),
                    replace_on_changes=list(request.replaceOnChanges),
                    import_id=request.importId,
                    retain_on_delete=bool(request.retainOnDelete),
                    property_dependencies={
                        key: list(deps.urns)
                        for key, deps in request.propertyDependencies.items()
                        if deps.urns
                    },
                    inputs=json_format.MessageToDict(request.object),
                    outputs=json_format.MessageToDict(response.object),
                    api_version=api_version(request.type)
                    if is_azure_type(request.type, request.custom)
                    else "",
                )
            )
        return response

    def RegisterResourceOutputs(self, request: resource_pb2.RegisterResourceOutputsRequest) -> Any:
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def alias_urns(
    request: resource_pb2.RegisterResourceRequest, make_urn: Callable[[str, str, str], str]
) -> list[str]:
    """The URNs a resource's aliases name, made by `make_urn(parent, type, name)` as the monitor
    makes every URN (a field a spec leaves out is the resource's own). An alias into another stack
    or project names another stack's state, which a per-stack comparison never holds: left out."""
    urns = list(request.aliasURNs)
    for alias in request.aliases:
        if alias.urn:
            urns.append(alias.urn)
            continue
        spec = alias.spec
        if spec.stack or spec.project:
            continue
        parent = "" if spec.noParent else spec.parentUrn or request.parent
        urns.append(make_urn(parent, spec.type or request.type, spec.name or request.name))
    return urns


def run_program(request: dict[str, Any], monitor: RecordingMonitor) -> dict[str, Any]:
    azure = monitor.mocks
    pulumi.runtime.set_all_config(dict(request["values"]), list(request["secretKeys"]))
    pulumi.runtime.set_mocks(
        azure,
        project=PROJECT,
        stack=request["stack"],
        preview=False,
        monitor=monitor,
        organization=ORGANIZATION,
    )
    # run_in_stack makes the Stack resource that collects exports, as the language host does.
    runtime_settings.ROOT.set(None)  # set_root_resource(None), which its annotation does not admit
    project_dir = request["projectDir"]
    sys.path.insert(0, project_dir)

    def program() -> None:
        runpy.run_path(str(Path(project_dir) / "__main__.py"), run_name="__main__")

    _sync_await(run_in_stack(program))
    return {"resources": [vars(record) for record in monitor.records], "outputs": monitor.stack_outputs}


def root_cause(error: BaseException) -> BaseException:
    """The innermost cause; a chain that loops back on itself ends where it would repeat."""
    seen = {id(error)}
    while error.__cause__ is not None and id(error.__cause__) not in seen:
        error = error.__cause__
        seen.add(id(error))
    return error


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The rendering of one request, or the program's own failure reported by its root cause."""
    monitor = RecordingMonitor(
        OfflineAzure(
            request["subscriptionId"],
            request["tenantId"],
            request["peerOutputs"],
            request.get("observed"),
            frozenset(request.get("outsideState", ())),
        )
    )
    try:
        return run_program(request, monitor)
    except Exception as error:
        return {
            "error": str(root_cause(error)) or type(root_cause(error)).__name__,
            "declared": len(monitor.records),
        }


def without_cycle_collection() -> None:
    """Turn off Python's cycle collector for the rest of this short-lived render process.

    Each collection of the oldest generation walks every object alive, and the provider SDK's
    loaded modules are most of them: with the collector on, it takes over half of a render (prod:
    4.9 s with it, 1.8 s without, on a 2-core machine). A render lives seconds and leaves few cycles
    behind (peak memory +6 MB for prod, +44 MB of 326 MB for an 826-resource stack); the process
    ends when it has answered.
    """
    gc.disable()


def as_a_render_child() -> None:
    """What a forked render sets up before it runs the program (and the bench's renders with it)."""
    without_cycle_collection()
    without_engine_only_work()


# The SDK functions `without_engine_only_work` replaces, by module.
ENGINE_ONLY_WORK = (
    ("pulumi.resource", "collapse_alias_to_urn"),
    ("pulumi.runtime.resource", "all_aliases"),
    ("pulumi.runtime.resource", "_get_stack_trace"),
)


def without_engine_only_work() -> None:
    """Skip two things the SDK does for every resource only for a real engine's sake: together
    more than half of a render (prod: 2.4 s of processor time with them, 1.1 s without). Forked
    renders only: `--once` keeps the SDK as it ships, and tests/test_render.py checks that both
    render the same. A name missing from another SDK version fails every render, never silently.

    - Alias URNs. `Resource.__init__` turns each alias into a URN Output, read only by
      `all_aliases`, which `prepare_aliases` calls only for a monitor without alias specs
      (pulumi/runtime/resource.py). The mock monitor advertises them
      (RESOURCE_MONITOR_FEATURE_ALIAS_SPECS), so the aliases reach it as specs either way; the
      provider SDK gives each resource one alias per earlier API version, 14 on average in prod.
      `all_aliases` now fails loudly if a monitor without alias specs ever reaches it.
    - Stack traces. Each registration walks the Python stack for the engine's source positions;
      the mock monitor drops them and a record keeps none.
    """
    import importlib

    from pulumi.runtime.proto import source_pb2

    def without_alias_specs(*_: object) -> NoReturn:
        raise InternalError("the monitor does not take alias specs: aliases were never collapsed to URNs")

    replacements = (lambda *_: None, without_alias_specs, source_pb2.StackTrace)
    for (module_name, name), replacement in zip(ENGINE_ONLY_WORK, replacements, strict=True):
        module = importlib.import_module(module_name)
        getattr(module, name)  # AttributeError: this SDK version needs the shortcut looked at again
        setattr(module, name, replacement)


def main() -> int:
    """One request on stdin, its answer on stdout: one stack per process."""
    request = json.load(sys.stdin)
    _exit_with_parent()
    json.dump(answer(request), sys.stdout)
    return 0


def preload() -> int:
    """Load what every render needs, once: the program's modules and, in full, each provider module
    they import (the provider SDK loads a module's classes on first use, which is most of a cold
    render's time). Returns how many provider modules were loaded."""
    import importlib

    from pulumi._utils import _LazyModule

    importlib.import_module("components.program")
    used = {
        id(value): value
        for name, module in list(sys.modules.items())
        if name.startswith("components.")
        for value in vars(module).values()
        if isinstance(value, _LazyModule)
    }
    for module in used.values():
        getattr(module, "__all__", None)  # any non-introspection attribute loads the module
    # Read once here, not in every forked render: the API version of each type the program declares,
    # and the SDK's tables of each one's property types.
    declared = sorted(TAGGABLE_TYPES | UNTAGGABLE_TYPES)
    for token in declared:
        api_version(token)
    classes = []
    for token, suffix in itertools.product(declared, ("", "Args", "InitArgs")):
        with contextlib.suppress(AttributeError):  # InitArgs where the type also names a nested input
            classes.append(sdk_class(token, suffix))
    warm_type_tables(classes)
    return len(used)


def warm_type_tables(classes: list[Any]) -> int:
    """Fill the SDK's caches of property types for these resource and input classes and every input
    or output type they hold, as a render's inputs and outputs ask for them; returns how many.

    The SDK keeps each table once made (`functools.cache` in pulumi/_types.py), but a forked render
    starts with none. Made here first, a prod render makes 16 tables instead of 238 (none of them
    large: the rest are this project's components and two small providers' types), and takes 0.7-0.9 s
    of processor time instead of 0.95-1.1 s, for 0.19 s once in the server.
    """
    from pulumi import _types

    pending, seen = list(classes), set[Any]()
    while pending:
        kind = pending.pop()
        if kind in seen:
            continue
        seen.add(kind)
        if issubclass(kind, pulumi.Resource):
            table = _types.resource_types(kind)
        else:
            table = _types._types_from_py_properties(kind)
        pending += [
            held
            for hint in table.values()
            for held in _held_types(hint)
            if _types.is_input_type(held) or _types.is_output_type(held)
        ]
    return len(seen)


def _held_types(hint: Any) -> Iterator[type]:
    """The classes a type hint names, through Optional, Sequence, Mapping, Union and the like."""
    if isinstance(hint, type):
        yield hint
    for argument in typing.get_args(hint):
        yield from _held_types(argument)


def use_program_from(program_root: Path) -> None:
    """Make `components` (the program's package) come from `program_root` from now on.

    The gate's own modules have already imported what they use of this checkout's `components`
    (ARM ids, settings types) and keep it; another revision's program, run next, imports its own.
    """
    if program_root.resolve() == Path(__file__).resolve().parent.parent:
        return
    for name in [n for n in sys.modules if n == "components" or n.startswith("components.")]:
        del sys.modules[name]
    sys.path.insert(0, str(program_root))


class LatePeerOutputs(Mapping[str, Mapping[str, Any]]):
    """The peer stacks' exports, read from a pipe the first time the program asks for one: a stack
    that replicates another starts rendering while that one still renders (see `serve`)."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._outputs: dict[str, Mapping[str, Any]] | None = None
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Mapping[str, Any]]:
        with self._lock:  # the engine's threads may ask at once
            if self._outputs is None:
                with os.fdopen(self._descriptor) as pipe:
                    self._outputs = json.loads(pipe.read() or "{}")
            return self._outputs

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        return self._read()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def serve(program_root: Path) -> int:
    """`python -m gate.render_server PROGRAM_ROOT`: render each request in a fork of this preloaded process.

    A forked child starts from the same untouched state every time (nothing here ever runs the
    program), so a render is the same as in a fresh process, without paying for imports again.
    Requests are lines of JSON, each with an "id"; renders run side by side, and each answer is one
    line, "ID JSON", in the order they finish. A request with "peerOutputsLater" starts at once and
    gets its peers' exports from a later line {"id": ID, "peerOutputs": {...}}, when the program
    first asks for them. A child that dies without answering is reported as {"crashed": "exit N"}.
    """
    _exit_with_parent()
    use_program_from(program_root)
    preload()
    renders: dict[int, tuple[int, int, list[bytes]]] = {}  # reply pipe -> (request id, pid, chunks)
    late: dict[int, int] = {}  # request id -> the pipe its peers' exports go to
    pending, open_input = b"", True
    while open_input or renders:
        readable, _, _ = select.select(([0] if open_input else []) + list(renders), [], [])
        for source in readable:
            if source != 0:
                _collect(source, renders)
                continue
            chunk = os.read(0, 1 << 16)
            open_input = bool(chunk)
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                message = json.loads(line)
                if "peerOutputs" in message and "stack" not in message:
                    # From a thread: a child reads them only when its program asks, and the loop
                    # must go on reading answers meanwhile (a full pipe each way would deadlock).
                    threading.Thread(
                        target=_send_late, args=(late.pop(message["id"]), message["peerOutputs"]), daemon=True
                    ).start()
                else:
                    reply, peers = _fork_render(message, [*renders, *late.values()])
                    renders[reply[0]] = (message["id"], reply[1], [])
                    if peers is not None:
                        late[message["id"]] = peers
    return 0


def _fork_render(request: dict[str, Any], others: list[int]) -> tuple[tuple[int, int], int | None]:
    """Fork a child that renders `request` and writes its answer to a pipe: ((pipe, pid), the pipe
    its peers' exports go to when they come later, else None). `others` are the pipes of the renders
    already running, which the child closes: a copy of another's would keep it from seeing the end
    of its peers' exports."""
    from cli.children import die_with_parent

    read_end, write_end = os.pipe()
    peers_read, peers_write = os.pipe() if request.get("peerOutputsLater") else (-1, -1)
    pid = os.fork()
    if pid == 0:  # the child: render, answer through the pipe, leave without cleanup handlers
        for descriptor in (read_end, *others):
            os.close(descriptor)
        if peers_write >= 0:
            os.close(peers_write)
            request = {**request, "peerOutputs": LatePeerOutputs(peers_read)}
        die_with_parent()
        as_a_render_child()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the program's own prints must not reach the answer channel
        with os.fdopen(write_end, "w") as out:
            json.dump(answer(request), out)
        os._exit(0)
    os.close(write_end)
    if peers_read >= 0:
        os.close(peers_read)
    return (read_end, pid), (peers_write if peers_write >= 0 else None)


def _send_late(pipe: int, outputs: dict[str, Any]) -> None:
    try:
        with os.fdopen(pipe, "w") as out:
            out.write(json.dumps(outputs))
    except OSError:
        pass  # the child has already finished (or failed) without asking: its answer says which


def _collect(pipe: int, renders: dict[int, tuple[int, int, list[bytes]]]) -> None:
    """Read what a child wrote; at its end, pass its answer on as one line."""
    request_id, pid, chunks = renders[pipe]
    chunk = os.read(pipe, 1 << 20)
    if chunk:
        chunks.append(chunk)
        return
    os.close(pipe)
    del renders[pipe]
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode()
    if not text:
        text = json.dumps({"crashed": f"exit {os.waitstatus_to_exitcode(status)}"})
    sys.stdout.write(f"{request_id} {text.replace(chr(10), ' ')}\n")
    sys.stdout.flush()


def _exit_with_parent() -> None:
    """Belt and braces next to the parent-death signal: stop when the gate that started us is gone."""
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
