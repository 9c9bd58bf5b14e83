"""Benchmark of the offline gate (a script, not a test: these machines are shared and noisy).

    .venv/bin/python bench/gate_bench.py [--repeat 3] [--scale 10,25,50,100] [--no-checkov]

Reports, as the median of --repeat runs:
  1. rendering prod and dr (each stack in its own process, as the language host runs it);
  2. policy evaluation of both stacks through the pack process (analyzer gRPC), excluding the
     pack's start-up, which is reported on its own;
  3. checkov alone over the same stacks' ARM export, and the whole gate with and without checkov;
  4. a synthetic prod stack with N database servers, rendered and evaluated, to show how the cost
     grows with size (time per resource should stay flat if cost is linear).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from gate.analyzer import PolicyPackProcess, load_pack_config  # noqa: E402
from gate.pipeline import analyze, rule_info, run_gate  # noqa: E402
from gate.render import render_stack, render_stacks  # noqa: E402
from gate.stack_files import read_stack_config  # noqa: E402


def timed(function, repeat: int) -> tuple[float, object]:
    samples, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), value


def synthetic_prod(servers: int):
    """The committed prod stack with `servers` copies of the knowledge database."""
    base = read_stack_config(PROJECT, "prod")
    knowledge = json.loads(base.values["continuity:databases"])["knowledge"]
    databases = {f"db{i:03d}": knowledge for i in range(servers)}
    return base.with_overrides({"continuity:databases": databases})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", default="10,25,50,100")
    parser.add_argument("--no-checkov", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []

    render_s, renderings = timed(lambda: render_stacks(PROJECT, ["prod", "dr"]), args.repeat)
    resources = sum(1 for r in renderings for x in r.resources if x.custom)
    rows.append(("render prod + dr", f"{render_s:.2f} s ({resources} resources)"))

    start_s, pack = timed(lambda: PolicyPackProcess(), 1)
    with pack:
        rules = {p.name: rule_info(p) for p in pack.info()}
        configs = {r.stack: load_pack_config(r.stack) for r in renderings}
        eval_s, _ = timed(lambda: analyze(renderings, configs, pack, rules), args.repeat)
        rows.append(("policy pack start-up", f"{start_s:.2f} s"))
        rows.append(
            (
                "policy evaluation prod + dr (gRPC)",
                f"{eval_s:.3f} s ({1000 * eval_s / resources:.2f} ms/resource)",
            )
        )

        for n in [int(x) for x in args.scale.split(",") if x]:
            config = synthetic_prod(n)
            r_s, rendering = timed(lambda config=config: render_stack(PROJECT, config), 1)
            count = sum(1 for x in rendering.resources if x.custom)
            e_s, _ = timed(
                lambda rendering=rendering: analyze([rendering], {"prod": configs["prod"]}, pack, rules),
                args.repeat,
            )
            rows.append(
                (
                    f"scale: {n} servers",
                    f"{count} resources, render {r_s:.1f} s, policy {e_s:.3f} s "
                    f"({1000 * e_s / count:.2f} ms/resource)",
                )
            )

    gate_s, _ = timed(lambda: run_gate(PROJECT, ["prod", "dr"], checkov=False), args.repeat)
    rows.append(("whole gate without checkov", f"{gate_s:.2f} s"))
    if not args.no_checkov:
        from gate.arm_export import write_templates
        from gate.checkov import run_checkov

        with tempfile.TemporaryDirectory() as folder:
            templates = write_templates(renderings, Path(folder))
            checkov_s, _ = timed(
                lambda: [run_checkov(path, stack) for stack, path in templates.items()], args.repeat
            )
        rows.append(("checkov alone, prod + dr ARM export", f"{checkov_s:.2f} s"))
        full_s, _ = timed(lambda: run_gate(PROJECT, ["prod", "dr"], checkov=True), args.repeat)
        rows.append(("whole gate with checkov", f"{full_s:.2f} s"))
        rows.append(("policy evaluation / checkov", f"{eval_s / checkov_s:.1%}"))

    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
