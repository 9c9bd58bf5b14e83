"""Control planes: how a drill promotes the standby.

`PulumiControlPlane` does what an operator does in a real failover, through Pulumi's Automation
API: select the dr stack, set `continuity:role primary` and the promote option, `up` with the
policy pack. `LocalControlPlane` does the same to two local PostgreSQL servers with `pg_promote()`,
so the data plane of a drill can be rehearsed and tested without Azure.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

from .record import now

PROJECT_DIR = Path(__file__).resolve().parent.parent


class ControlPlaneError(Exception):
    pass


class ControlPlane(Protocol):
    name: str

    def inject_fault(self) -> str:
        """Make the primary unusable (forced scenario); returns what was done."""

    def promote(self, option: str) -> dict[str, Any]:
        """Promote the standby; returns the update summary."""


class PulumiControlPlane:
    """Promotion in place of the dr stack, exactly as the failover runbook does it."""

    name = "pulumi"

    def __init__(self, stack_name: str, *, work_dir: Path = PROJECT_DIR, fence_command: Optional[str] = None,
                 select_stack: Optional[Callable[..., Any]] = None, log: Callable[[str], None] = lambda _: None):
        if select_stack is None:
            from pulumi import automation

            select_stack = automation.select_stack
        self.stack_name = stack_name
        self.work_dir = work_dir
        self.fence_command = fence_command
        self.log = log
        self.stack = select_stack(stack_name=stack_name, work_dir=str(work_dir))

    def inject_fault(self) -> str:
        """A drill cannot burn a region down: it fences writes to the old primary with the
        operator's command (e.g. `az postgres flexible-server stop ...`), or records that none ran."""
        if not self.fence_command:
            return "no fence command given: writes to the old primary were not blocked by the drill"
        run = subprocess.run(shlex.split(self.fence_command), capture_output=True, text=True, timeout=1800)
        if run.returncode != 0:
            raise ControlPlaneError(f"fence command failed (exit {run.returncode}): {run.stderr.strip()[-2000:]}")
        return f"fenced with: {self.fence_command}"

    def promote(self, option: str) -> dict[str, Any]:
        from pulumi.automation import ConfigValue

        self.stack.set_config("continuity:role", ConfigValue("primary"))
        self.stack.set_config("continuity:promotion.option", ConfigValue(option), path=True)
        started = now()
        result = self.stack.up(
            policy_packs=[str(self.work_dir / "policies")],
            policy_pack_configs=[str(self.work_dir / "policies" / "config" / f"{self.stack_name.rsplit('/', 1)[-1]}.json")],
            # Engine output goes to the drill log; secrets stay masked and outputs unprinted.
            on_output=self.log, show_secrets=False, suppress_outputs=True, color="never",
        )
        summary = result.summary
        return {
            "operation": "pulumi up",
            "stack": self.stack_name,
            "started_at": started,
            "finished_at": now(),
            "result": getattr(summary, "result", None),
            "resource_changes": dict(getattr(summary, "resource_changes", None) or {}),
        }


class LocalControlPlane:
    """Two local servers: the fault stops the primary, promotion is `pg_promote()`."""

    name = "local"

    def __init__(self, cluster):
        self.cluster = cluster

    def inject_fault(self) -> str:
        self.cluster.stop_primary()
        return "primary stopped (immediate shutdown)"

    def promote(self, option: str) -> dict[str, Any]:
        started = now()
        if option == "Planned":
            # Planned promotion waits for the standby to replay everything, as Azure's does.
            self.cluster.wait_caught_up(timeout=60)
        self.cluster.promote_standby()
        return {"operation": f"pg_promote ({option})", "started_at": started, "finished_at": now(),
                "result": "succeeded", "resource_changes": {"update": 1}}
