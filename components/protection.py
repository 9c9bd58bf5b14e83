"""Protection of stateful resources: `protect` in Pulumi and a `CanNotDelete` lock in Azure.

Both are switched by the stack's `protect` setting, which is off only for disposable test stacks.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_azure_native import authorization


class Protection:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def options(self, parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
        """Options for a resource that holds data or evidence."""
        return pulumi.ResourceOptions(parent=parent, protect=self.enabled, **extra)

    def lock(
        self, name: str, resource: pulumi.CustomResource, reason: str, parent: pulumi.Resource
    ) -> authorization.ManagementLockByScope | None:
        """A delete lock, so that not even a portal click or a CLI call can remove the resource.

        The lock is a sibling of the resource, not its child, so it does not inherit `protect`.
        """
        if not self.enabled:
            return None
        return authorization.ManagementLockByScope(
            f"{name}-delete-lock",
            lock_name="continuity-do-not-delete",
            scope=resource.id,
            level=authorization.LockLevel.CAN_NOT_DELETE,
            notes=reason,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[resource]),
        )
