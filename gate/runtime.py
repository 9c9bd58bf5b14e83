"""The render worker: runs the real program for one stack under Pulumi's mock runtime.

`python -m gate.runtime` reads a JSON request on stdin and writes the recorded resources and stack
outputs as JSON on stdout. The program is `__main__.py` itself, run the way the Python language host
runs it (`run_in_stack`), one stack per process.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from .mocks import OfflineAzure
from .render import ORGANIZATION, PROJECT, RenderedResource


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
                        custom=request.custom,
                        type_=request.type,
                        name=request.name,
                        props=props,
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
                    ignore_changes=list(request.ignoreChanges),
                    import_id=request.importId,
                    retain_on_delete=bool(request.retainOnDelete),
                    property_dependencies={
                        key: list(deps.urns)
                        for key, deps in request.propertyDependencies.items()
                        if deps.urns
                    },
                    inputs=json_format.MessageToDict(request.object),
                    outputs=json_format.MessageToDict(response.object),
                )
            )
        return response

    def RegisterResourceOutputs(self, request):
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


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
    runtime_settings.set_root_resource(None)
    project_dir = request["projectDir"]
    sys.path.insert(0, project_dir)
    _sync_await(
        run_in_stack(lambda: runpy.run_path(str(Path(project_dir) / "__main__.py"), run_name="__main__"))
    )
    return {"resources": [vars(record) for record in monitor.records], "outputs": monitor.stack_outputs}


def root_cause(error: BaseException) -> BaseException:
    """The innermost cause; a chain that loops back on itself ends where it would repeat."""
    seen = {id(error)}
    while error.__cause__ is not None and id(error.__cause__) not in seen:
        error = error.__cause__
        seen.add(id(error))
    return error


def main() -> int:
    request = json.load(sys.stdin)
    _exit_with_parent()
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
        answer = run_program(request, monitor)
    except Exception as error:  # the program's own failure, reported by its root cause
        answer = {
            "error": str(root_cause(error)) or type(root_cause(error)).__name__,
            "declared": len(monitor.records),
        }
    json.dump(answer, sys.stdout)
    return 0


def _exit_with_parent() -> None:
    """Belt and braces next to the parent-death signal: stop when the gate that started us is gone."""
    import os
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


if __name__ == "__main__":
    sys.exit(main())
