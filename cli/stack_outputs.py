"""A deployed stack's outputs, read through Pulumi's Automation API (needs the Pulumi CLI and a
login to the stack's backend; the offline tools never call it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent


def stack_outputs(stack: str) -> dict[str, Any]:
    from pulumi import automation

    selected = automation.select_stack(stack_name=stack, work_dir=str(PROJECT_DIR))
    return {name: output.value for name, output in selected.outputs().items()}
