"""The continuity CrossGuard policy pack.

    pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json

The pack shares the project's region table and duration parser, so it runs from inside the
project tree.
"""

import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.adapter import build_policies

policies = build_policies()
# Everything loaded so far lives as long as the pack: out of the collector's way. A request makes
# many short-lived objects (each policy deserializes every resource); with the default thresholds,
# full collections walk them all, and the time per resource grows with the stack (1.6x from 376 to
# 1,276 resources, bench/gate_bench.py's synthetic stacks), with these 1.1x. Collections still run.
gc.freeze()
gc.set_threshold(50_000, 20, 100)

PolicyPack(
    name="continuity",
    description="Retention, encryption, tagging, resilience, observability, access, continuity and "
    "deployability rules for the continuity DR platform.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policies,
)
