"""Deliberate waits where Azure needs time that the provider does not give it.

- RBAC propagation. "When you assign roles or remove role assignments, it can take up to 10
  minutes for changes to take effect" (Azure RBAC troubleshooting,
  https://learn.microsoft.com/azure/role-based-access-control/troubleshooting), and the provider
  retries no authorization failure: it retries 408, 429, 5xx and 409 AnotherOperationInProgress
  only (`initPipelineOpts` in pulumi-azure-native provider/pkg/azure/client_azcore.go). A server
  whose identity unwraps a customer-managed key, and a backup instance that the vault validates
  against its grants, must wait for their role assignments.
- Server settle. A parameter write right after a server is created or changed commonly fails
  with ServerIsBusy (Azure/azure-postgresql#134: "even a 1sec sleep works"; Azure/bicep-registry-
  modules#4451), which the provider does not retry either. The writes after a server change wait
  for it, and then run one at a time (components.database).

A wait is a `Sleep` of pulumiverse-time, a maintained provider resource: it runs when created and
again whenever one of its triggers changes, so an unchanged stack never waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumiverse_time as time

from .durations import Duration


def go_duration(duration: Duration) -> str:
    """The Go duration text the time provider parses ("600s")."""
    return f"{duration.seconds}s"


def wait(
    name: str,
    *,
    duration: Duration,
    after: Sequence[pulumi.Resource],
    triggers: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> time.Sleep:
    """A pause of `duration` after `after`, repeated whenever a trigger value changes."""
    return time.Sleep(
        name,
        create_duration=go_duration(duration),
        triggers=dict(triggers),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)),
    )
