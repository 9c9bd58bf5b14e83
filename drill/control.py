"""Control planes: how a drill promotes the standby.

`PulumiControlPlane` does what an operator does in a real failover: promote each replica with
Microsoft's documented PATCH (drill/promotion.py), move the writer names to the promoted servers
(drill/writer_names.py), then reconcile the promoted stack through Pulumi's Automation API: refresh
(Azure no longer reports a source for the promoted servers), set `continuity:role primary`, preview
and refuse if the preview would replace or delete anything that holds data, then `up` with the
policy pack. `LocalControlPlane` does the same to two local
PostgreSQL servers with `pg_promote()`, so the data plane of a drill can be rehearsed and tested
without Azure.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from components.settings import PromoteOption
from policies.rules.facts import SERVER, STATEFUL

from .promotion import Promoter, servers_of
from .record import now
from .writer_names import WriterNameMover, WriterNames, targets_of

if TYPE_CHECKING:
    from pulumi.automation import EngineEvent

    from .localpg import LocalCluster

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Operations a reconciling `up` must never contain for these types (waits are replaced when their
# triggers change, which is harmless).
REPLACING = ("replace", "create-replacement", "delete-replaced")
HARMLESS_REPLACEMENTS = ("time:index/sleep:Sleep",)


class ControlPlaneError(Exception):
    pass


class ControlPlane(Protocol):
    name: str

    def quiesce(self) -> str:
        """Stop writes to the primary before a planned promotion; returns what was done."""

    def inject_fault(self) -> str:
        """Make the primary unusable (forced scenario); returns what was done."""

    def promote(self, option: str) -> dict[str, Any]:
        """Promote the standby; returns the update summary."""


class PulumiControlPlane:
    """Promotion of the dr stack, exactly as the failover runbook does it."""

    name = "pulumi"

    def __init__(
        self,
        stack_name: str,
        *,
        work_dir: Path = PROJECT_DIR,
        fence_command: str | None = None,
        select_stack: Callable[..., Any] | None = None,
        promoter: Promoter | None = None,
        mover: WriterNameMover | None = None,
        log: Callable[[str], None] = lambda _: None,
    ):
        if select_stack is None:
            from pulumi import automation

            select_stack = automation.select_stack
        self.stack_name = stack_name
        self.work_dir = work_dir
        self.fence_command = fence_command
        self.log = log
        self.promoter = promoter or Promoter(progress=log)
        self.mover = mover or WriterNameMover(progress=log)
        self.stack = select_stack(stack_name=stack_name, work_dir=str(work_dir))

    def quiesce(self) -> str:
        """Planned: the operator's fence command, if any, stops writes to the old primary; without
        one the old primary stays writable, and what the writer name still sends there is reported."""
        return self._fence()

    def inject_fault(self) -> str:
        """A drill cannot burn a region down: it fences writes to the old primary with the
        operator's command (e.g. `az postgres flexible-server stop ...`), or records that none ran."""
        return self._fence()

    def _fence(self) -> str:
        if not self.fence_command:
            return "no fence command given: writes to the old primary were not blocked by the drill"
        run = subprocess.run(shlex.split(self.fence_command), capture_output=True, text=True, timeout=1800)
        if run.returncode != 0:
            raise ControlPlaneError(
                f"fence command failed (exit {run.returncode}): {run.stderr.strip()[-2000:]}"
            )
        return f"fenced with: {self.fence_command}"

    def _pack(self) -> dict[str, Any]:
        stack = self.stack_name.rsplit("/", 1)[-1]
        return {
            "policy_packs": [str(self.work_dir / "policies")],
            "policy_pack_configs": [str(self.work_dir / "policies" / "config" / f"{stack}.json")],
        }

    def _server_urns(self) -> list[str]:
        deployment = self.stack.export_stack().deployment
        if deployment is None:
            raise ControlPlaneError(f"{self.stack_name}: its exported state has no deployment")
        resources = deployment.get("resources", [])
        return [r["urn"] for r in resources if r.get("type") == SERVER]

    def _dangerous_steps(self) -> list[str]:
        """What a preview of the reconciling update would replace or delete that it must not."""
        found: list[str] = []

        def watch(event: EngineEvent) -> None:
            pre = getattr(event, "resource_pre_event", None)
            if pre is None:
                return
            op, kind, urn = (
                str(getattr(pre.metadata.op, "value", pre.metadata.op)),
                pre.metadata.type,
                pre.metadata.urn,
            )
            if (op in REPLACING and kind not in HARMLESS_REPLACEMENTS) or (
                op == "delete" and kind in STATEFUL
            ):
                found.append(f"{op} {urn}")

        self.stack.preview(on_event=watch, on_output=self.log, color="never", **self._pack())
        return found

    def promote(self, option: str) -> dict[str, Any]:
        from pulumi.automation import ConfigValue

        started = now()
        outputs = {name: output.value for name, output in self.stack.outputs().items()}
        servers, names = servers_of(outputs), WriterNames.from_outputs(outputs)
        promotions = [self.promoter.promote(server, PromoteOption(option)) for server in servers]
        # Applications follow the writer as soon as it accepts writes, not after Pulumi has caught up.
        moves = self.mover.move(names, targets_of(outputs))
        # Pulumi learns what the promotion changed (no source, HA off) before it computes anything. Only
        # the servers are refreshed: the stack also holds resources in the peer's region (the peer's
        # side of the VNet peering), which a regional loss makes unreadable.
        self.stack.refresh(target=self._server_urns(), on_output=self.log, color="never")
        self.stack.set_config("continuity:role", ConfigValue("primary"))
        dangerous = self._dangerous_steps()
        if dangerous:
            raise ControlPlaneError(
                "the servers are promoted, but reconciling the stack would "
                + "; ".join(dangerous)
                + ": stopped before `pulumi up`; fix the program or stack config, then `python -m drill resume`"
            )
        result = self.stack.up(
            # Engine output goes to the drill log; secrets stay masked and outputs unprinted.
            on_output=self.log,
            show_secrets=False,
            suppress_outputs=True,
            color="never",
            **self._pack(),
        )
        summary = result.summary
        return {
            "operation": "PATCH Servers_Update (promote), PUT writer names, pulumi refresh, preview, up",
            "stack": self.stack_name,
            "promotions": promotions,
            "writer_names": moves,
            "started_at": started,
            "finished_at": now(),
            "result": getattr(summary, "result", None),
            "resource_changes": dict(getattr(summary, "resource_changes", None) or {}),
        }


class LocalControlPlane:
    """Two local servers: the quiesce makes the primary read-only, the fault stops it, promotion is
    `pg_promote()`."""

    name = "local"

    def __init__(self, cluster: LocalCluster):
        self.cluster = cluster

    def quiesce(self) -> str:
        self.cluster.fence_primary()
        return "primary fenced: read-only, client sessions ended"

    def inject_fault(self) -> str:
        self.cluster.stop_primary()
        return "primary stopped (immediate shutdown)"

    def promote(self, option: str) -> dict[str, Any]:
        started = now()
        if option == "Planned":
            # Planned promotion waits for the standby to replay everything, as Azure's does.
            self.cluster.wait_caught_up(timeout=60)
        self.cluster.promote_standby()
        return {
            "operation": f"pg_promote ({option})",
            "started_at": started,
            "finished_at": now(),
            "result": "succeeded",
            "resource_changes": {"update": 1},
        }
