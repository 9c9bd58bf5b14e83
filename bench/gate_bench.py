"""Benchmark of the offline gate against its targets (a script, not a test: these machines are
shared and noisy, so every target is a ratio of two figures measured side by side in one run).

    .venv/bin/python bench/gate_bench.py [--repeat 3] [--scale 10,25,50,100] [--today YYYY-MM-DD]

Each figure is the median of --repeat runs, each in a fresh process with no render cache (cold),
and memory is the peak of the proportional set size (PSS: a page shared by forked processes counts
once, split between them) summed over the whole process tree, sampled every 20 ms. It prints:
  1. checkov alone: the `checkov` command over the two stacks' ARM exports, in one invocation;
  2. the gate (`python -m gate`) with and without checkov, against checkov alone;
  3. rendering prod against Pulumi's own floor for the same resources (bench/render_floor.py);
  4. a synthetic prod with N database servers, rendered and evaluated through the pack, to show
     the cost per resource stays flat (linear growth), with its peak memory;
  5. for information, the gate without checkov when CI's render cache already holds the renders.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from gate.checkov import CHECKOV, CUSTOM_CHECKS, OFFLINE_ENV, PLATFORM_ENV, checkov_command  # noqa: E402
from gate.render_process import RENDER_CACHE_VARIABLE  # noqa: E402

PYTHON = sys.executable
# The targets of the gate-speed work, as ratios (see README "Benchmark").
GATE_WITHOUT_CHECKOV_MAX = 0.5  # x checkov alone
FULL_GATE_MAX = 1.3  # x checkov alone
RENDER_FLOOR_MAX = 1.3  # x Pulumi's floor, per resource
LINEAR_GROWTH_MAX = 1.25  # cost per resource at the largest scale / at the smallest
MEMORY_MAX_MB = 300


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    tree, index = [root], 0
    while index < len(tree):
        tree += children.get(tree[index], [])
        index += 1
    return tree


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run `command`; its wall time (s), the peak PSS of its process tree (MB) and its stdout."""
    peak = 0
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    output: dict[str, str] = {}
    reader = threading.Thread(
        target=lambda: output.update(zip(("out", "err"), process.communicate(), strict=True))
    )
    reader.start()
    while reader.is_alive():
        peak = max(peak, sum(_pss_bytes(pid) for pid in _tree(process.pid)))
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    if process.returncode not in (0, 1):  # 1: the gate found something, still a full run
        raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode}):\n{output.get('err', '')}")
    return elapsed, peak / 2**20, output.get("out", "")


def median_of(repeat: int, run: Callable[[], tuple[float, float, str]]) -> tuple[float, float, str]:
    runs = [run() for _ in range(repeat)]
    return (
        statistics.median(r[0] for r in runs),
        max(r[1] for r in runs),
        runs[-1][2],
    )


def cold_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != RENDER_CACHE_VARIABLE}
    env.update(extra)
    return env


def verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "NOT MET"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", default="10,25,50,100")
    parser.add_argument("--today", default=time.strftime("%Y-%m-%d", time.gmtime()))
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        gate = [PYTHON, "-m", "gate", "--today", args.today, "--arm-dir", str(folder / "arm")]
        gate_s, gate_mb, _ = median_of(
            args.repeat, lambda: measured([*gate, "--json", str(folder / "full.json")], cold_env())
        )
        bare_s, bare_mb, _ = median_of(
            args.repeat,
            lambda: measured([*gate, "--no-checkov", "--json", str(folder / "bare.json")], cold_env()),
        )
        templates = sorted((folder / "arm").glob("*.json"))
        checkov_env = {k: v for k, v in cold_env(**OFFLINE_ENV).items() if k not in PLATFORM_ENV}
        checkov_s, checkov_mb, _ = median_of(
            args.repeat, lambda: measured(checkov_command(templates, CHECKOV, CUSTOM_CHECKS), checkov_env)
        )
        cache = folder / "render-cache"
        measured([*gate, "--no-checkov"], cold_env(**{RENDER_CACHE_VARIABLE: str(cache)}))  # fills it
        cached_s, cached_mb, _ = median_of(
            args.repeat,
            lambda: measured([*gate, "--no-checkov"], cold_env(**{RENDER_CACHE_VARIABLE: str(cache)})),
        )

    rows.append(("checkov alone, prod + dr ARM export", f"{checkov_s:.2f} s, {checkov_mb:.0f} MB", ""))
    ratio = bare_s / checkov_s
    rows.append(
        (
            "gate without checkov",
            f"{bare_s:.2f} s = {ratio:.2f}x checkov",
            f"<= {GATE_WITHOUT_CHECKOV_MAX}x: {verdict(ratio, GATE_WITHOUT_CHECKOV_MAX)}",
        )
    )
    ratio = gate_s / checkov_s
    rows.append(
        (
            "full gate",
            f"{gate_s:.2f} s = {ratio:.2f}x checkov",
            f"<= {FULL_GATE_MAX}x: {verdict(ratio, FULL_GATE_MAX)}",
        )
    )
    for name, mb in (("gate without checkov", bare_mb), ("full gate", gate_mb)):
        rows.append(
            (f"peak memory, {name}", f"{mb:.0f} MB", f"< {MEMORY_MAX_MB} MB: {verdict(mb, MEMORY_MAX_MB)}")
        )

    floors = [
        json.loads(measured([PYTHON, "bench/render_floor.py"], cold_env())[2]) for _ in range(args.repeat)
    ]
    render_ms = statistics.median(1000 * f["render_s"] / f["resources"] for f in floors)
    floor_ms = statistics.median(1000 * f["floor_s"] / f["resources"] for f in floors)
    stock_ms = statistics.median(1000 * f["floor_stock_s"] / f["resources"] for f in floors)
    rows.append(
        (
            f"render prod ({floors[0]['resources']} resources) / Pulumi's floor",
            f"{render_ms:.1f} / {floor_ms:.1f} ms per resource = {render_ms / floor_ms:.2f}x "
            f"(floor with the SDK as it ships: {stock_ms:.1f} ms, {render_ms / stock_ms:.2f}x)",
            f"<= {RENDER_FLOOR_MAX}x: {verdict(render_ms / floor_ms, RENDER_FLOOR_MAX)}",
        )
    )

    scales = [int(x) for x in args.scale.split(",") if x]
    per_resource: dict[int, tuple[float, float]] = {}
    for servers in scales:
        runs = [
            measured([PYTHON, "bench/scale_run.py", "--servers", str(servers)], cold_env())
            for _ in range(args.repeat)
        ]
        mb = max(run[1] for run in runs)
        results: list[dict[str, Any]] = [json.loads(run[2]) for run in runs]
        result = {key: statistics.median(r[key] for r in results) for key in ("render_s", "evaluate_s")}
        count = results[0]["resources"]
        per_resource[servers] = (1000 * result["render_s"] / count, 1000 * result["evaluate_s"] / count)
        rows.append(
            (
                f"synthetic prod, {servers} servers ({count} resources)",
                f"render {result['render_s']:.1f} s ({per_resource[servers][0]:.1f} ms/resource), "
                f"policy {result['evaluate_s']:.2f} s ({per_resource[servers][1]:.1f} ms/resource), {mb:.0f} MB",
                f"< {MEMORY_MAX_MB} MB: {verdict(mb, MEMORY_MAX_MB)}",
            )
        )
    if len(scales) > 1:
        small, large = per_resource[scales[0]], per_resource[scales[-1]]
        growth = max(large[0] / small[0], large[1] / small[1])
        rows.append(
            (
                f"cost per resource, {scales[-1]} / {scales[0]} servers",
                f"render {large[0] / small[0]:.2f}x, policy {large[1] / small[1]:.2f}x",
                f"<= {LINEAR_GROWTH_MAX}x (linear): {verdict(growth, LINEAR_GROWTH_MAX)}",
            )
        )
    rows.append(
        (
            "gate without checkov, render cache warm (CI)",
            f"{cached_s:.2f} s = {cached_s / checkov_s:.2f}x checkov, {cached_mb:.0f} MB",
            "information",
        )
    )

    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
