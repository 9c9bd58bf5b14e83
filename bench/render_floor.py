"""The render of one stack against Pulumi's own floor for the same resources (run by gate_bench.py).

    .venv/bin/python bench/render_floor.py [--servers N]

Prints one JSON object: how many resources the program declares, the seconds its render takes and
the seconds the floor takes. Both run in a fork of one process that has loaded the program's
modules, as the render server's children do, with the same settings (no cycle collector). The
floor is a minimal program of the same resources: each resource the program declared, constructed
through the SDK's own class with the same input values as constants (so the SDK translates and
checks them, and adds its aliases, as it does for the program), under Pulumi's stock mock monitor
with mocks that echo their inputs. What the program adds on top of that is its own cost: its
logic, the outputs that link resources, the stack transforms and the recording.

The floor is measured twice: with the SDK as it ships ("floor_stock_s"), and with the two costs
a render skips because only a real engine reads them (runtime.without_engine_only_work), as the
render runs ("floor_s", the like-for-like floor the target is measured against).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import pulumi  # noqa: E402
from pulumi.runtime import settings as runtime_settings  # noqa: E402
from pulumi.runtime.stack import run_in_stack  # noqa: E402
from pulumi.runtime.sync_await import _sync_await  # noqa: E402

from gate import runtime  # noqa: E402
from gate.render import PROJECT as PROJECT_NAME  # noqa: E402
from gate.render import _request, reveal  # noqa: E402
from gate.stack_files import StackConfig, read_stack_config  # noqa: E402


def synthetic_prod(servers: int) -> StackConfig:
    """The committed prod stack grown to `servers` database servers: its own, then copies of its
    knowledge server."""
    base = read_stack_config(PROJECT, "prod")
    databases = json.loads(base.values["continuity:databases"])
    sla = json.loads(base.values["continuity:sla"])
    copies = [f"db{i:03d}" for i in range(servers - len(databases))]
    databases.update({key: databases["knowledge"] for key in copies})
    sla["databases"].update({key: sla["databases"]["knowledge"] for key in copies})
    return base.with_overrides({"continuity:databases": databases, "continuity:sla": sla})


class EchoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def floor_program(resources: list[dict[str, Any]]) -> None:
    for record in resources:
        props = reveal(record["inputs"])
        package, module, name = record["type"].split(":")
        if package != "azure-native":
            pulumi.CustomResource(record["type"], record["name"], props)
            continue
        resource_class = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), name)
        accepted = set(inspect.signature(resource_class._internal_init).parameters) - {
            "resource_name",
            "opts",
        }
        arguments = {_snake(key): value for key, value in props.items() if _snake(key) in accepted}
        resource_class(record["name"], None, **arguments)


def in_child(work: Any, as_rendered: bool = True) -> Any:
    """`work()` in a fork of this process, set up as a render child is (`as_rendered`), or with
    only the cycle collector off and the SDK as it ships."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        if as_rendered:
            runtime.as_a_render_child()
        else:
            runtime.without_cycle_collection()
        with os.fdopen(write_end, "w") as out:
            json.dump(work(), out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reply:
        text = reply.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=0, help="a synthetic prod with N servers (0: prod)")
    args = parser.parse_args()
    config = synthetic_prod(args.servers) if args.servers else read_stack_config(PROJECT, "prod")
    request = _request(PROJECT, config, {})
    runtime.preload()

    def render() -> dict[str, Any]:
        started = time.perf_counter()
        answer = runtime.answer(request)
        if "error" in answer:
            raise SystemExit(f"render failed: {answer['error']}")
        return {"seconds": time.perf_counter() - started, "resources": answer["resources"]}

    rendered = in_child(render)
    custom = [r for r in rendered["resources"] if r["custom"]]

    def floor() -> dict[str, Any]:
        pulumi.runtime.set_mocks(EchoMocks(), project=PROJECT_NAME, stack=config.stack, preview=False)
        runtime_settings.ROOT.set(None)
        started = time.perf_counter()
        _sync_await(run_in_stack(lambda: floor_program(custom)))
        return {"seconds": time.perf_counter() - started}

    print(
        json.dumps(
            {
                "resources": len(custom),
                "render_s": rendered["seconds"],
                "floor_s": in_child(floor)["seconds"],
                "floor_stock_s": in_child(floor, as_rendered=False)["seconds"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
