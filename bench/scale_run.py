"""One synthetic prod with N database servers, rendered and evaluated through the pack, cold (run by
gate_bench.py, which measures its memory).

    .venv/bin/python bench/scale_run.py --servers N

Prints one JSON object: resources, render_s (the render, once the render server is up) and
evaluate_s (the pack's evaluation, its start-up excluded).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from render_floor import synthetic_prod  # noqa: E402

from gate.analyzer import PolicyPackProcess, load_pack_config  # noqa: E402
from gate.pipeline import analyze, rule_info  # noqa: E402
from gate.render import render_stack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, required=True)
    args = parser.parse_args()
    # The pack's config names prod's databases; the copies are more of the same.
    with PolicyPackProcess() as pack:
        render_stack(
            PROJECT, synthetic_prod(2)
        )  # starts the render server: a cost paid once, not per resource
        started = time.perf_counter()
        rendering = render_stack(PROJECT, synthetic_prod(args.servers))
        render_s = time.perf_counter() - started
        rules = {p.name: rule_info(p) for p in pack.info()}
        started = time.perf_counter()
        analyze([rendering], {"prod": load_pack_config("prod")}, pack, rules)
        evaluate_s = time.perf_counter() - started
    count = sum(1 for r in rendering.resources if r.custom)
    print(json.dumps({"resources": count, "render_s": render_s, "evaluate_s": evaluate_s}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
