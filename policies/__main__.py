"""The continuity CrossGuard policy pack.

    pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json

The pack shares the project's region table and duration parser, so it runs from inside the
project tree.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.adapter import build_policies

PolicyPack(
    name="continuity",
    description="Retention, encryption, tagging, resilience, observability, access, continuity and "
    "deployability rules for the continuity DR platform.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(),
)
