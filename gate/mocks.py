"""Pulumi mocks that answer like Azure and the provider: ARM ids, names, outputs, reads and refusals.

Nothing here invents settings: every input the program sent is echoed back unchanged, and only
values Azure computes (ids, URIs, principal ids) are added. What already exists in Azure is given
as `observed` (ARM id -> the provider's read of it); with none, this is a first deployment. An
observed resource is the stack's own (in its state, so the program updates it) unless its id is
also in `outside_state` (made by Azure or by hand, so creating it would collide).

Like the provider, the mocks refuse to create what already exists (`CanCreate` in
pulumi-azure-native provider/pkg/azure/client_azcore.go): children Azure creates with their
parent (built-in Log Analytics tables) must be adopted with `import`, and an import must name
something that exists. Server parameters are the exception the provider makes itself: a
singleton custom resource it adopts on create (provider/pkg/resources/customresources/
custom_postgres_config.go, `isSingleton: true`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import grpc
import pulumi
from pulumi.runtime import rpc

from components.arm import arm_type, resource_id

STACK_REFERENCE = "pulumi:pulumi:StackReference"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
SLEEP = "time:index/sleep:Sleep"
TABLE = "azure-native:operationalinsights:Table"
CONFIGURATION = "azure-native:dbforpostgresql:Configuration"

# Children that exist as soon as their parent does, by type: which names do.
EXIST_WITH_PARENT: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    # Every workspace has Azure's tables; only custom tables (suffix _CL) are created.
    TABLE: lambda inputs: not str(inputs.get("tableName", "")).endswith("_CL"),
    CONFIGURATION: lambda inputs: True,
}
# Of those, what the provider adopts on create instead of refusing (singletons).
PROVIDER_ADOPTS = (CONFIGURATION,)

# Invokes that read one resource, and the resource type whose ARM id their arguments name.
READS = {
    "azure-native:dbforpostgresql:getServer": "azure-native:dbforpostgresql:Server",
    "azure-native:dbforpostgresql:getAdministratorsMicrosoftEntra": "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra",
    "azure-native:keyvault:getKey": "azure-native:keyvault:Key",
}


class ProviderError(grpc.RpcError):
    """An error as the engine relays a provider's failure to the program (a gRPC error's details)."""

    def __init__(self, details: str):
        super().__init__(details)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


def not_found(arm_id: str) -> ProviderError:
    """A 404 the way the provider formats it (`PulumiAzcoreResponseError.Error()`)."""
    name = arm_id.rsplit("/", 1)[-1]
    return ProviderError(
        f'request failed {arm_id}: Status=404 Code="ResourceNotFound" '
        f"Message=\"The Resource '{name}' was not found.\""
    )


def secret(value: Any) -> dict[str, Any]:
    """A value as the engine returns a secret output."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "continuity-offline/" + "/".join(parts)))


class OfflineAzure(pulumi.runtime.Mocks):
    def __init__(
        self,
        subscription_id: str,
        tenant_id: str,
        stack_outputs: Mapping[str, Mapping[str, Any]],
        observed: Mapping[str, Mapping[str, Any]] | None = None,
        outside_state: frozenset[str] = frozenset(),
    ):
        self.subscription_id = subscription_id
        self.tenant_id = tenant_id
        # Exports of already-rendered stacks, by fully qualified stack name, for StackReferences.
        self.stack_outputs = stack_outputs
        # What exists in Azure before this deployment: ARM id -> the provider's read of it.
        self.observed = dict(observed or {})
        self.outside_state = outside_state
        self.created: set[str] = set()

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """An invoke's result, and no check failures."""
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "subscriptionId": self.subscription_id,
                "tenantId": self.tenant_id,
                "clientId": stable_uuid("deployer-client"),
                "objectId": stable_uuid("deployer-object"),
            }, []
        if args.token in READS:
            arm_id = resource_id(READS[args.token], dict(args.args), self.subscription_id)
            if arm_id not in self.observed:
                raise not_found(arm_id)
            return dict(self.observed[arm_id]), []
        raise NotImplementedError(f"offline render has no answer for function {args.token}")

    def _made_with_parent(self, token: str, inputs: Mapping[str, Any], arm_id: str) -> bool:
        """Whether Azure made this child together with its (existing) parent."""
        parent = arm_id.rsplit("/", 2)[0]
        made_with_parent = EXIST_WITH_PARENT.get(token)
        return bool(
            made_with_parent
            and made_with_parent(inputs)
            and (parent in self.created or parent in self.observed)
        )

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if not args.custom and args.typ != STACK_REFERENCE:
            return "", {}  # component resources have no provider state
        if args.typ == STACK_REFERENCE:
            name = args.inputs["name"]
            if name not in self.stack_outputs:
                raise KeyError(f"stack reference to {name}: that stack was not rendered first")
            return name, {"name": name, "outputs": dict(self.stack_outputs[name]), "secretOutputNames": []}
        if args.typ == RANDOM_PASSWORD:
            # Never a usable password: a marker that shows where a generated secret flows.
            digest = hashlib.sha256(args.name.encode()).hexdigest()[:12]
            # The engine marks `result` secret (additionalSecretOutputs); the mock does the same.
            return f"random-{digest}", {**args.inputs, "result": secret(f"offline-password-{digest}")}
        if args.typ == SLEEP:
            return f"sleep-{stable_uuid(args.name)}", dict(args.inputs)
        if not args.typ.startswith("azure-native:"):
            raise NotImplementedError(f"offline render has no mock for resource type {args.typ}")

        inputs = dict(args.inputs)
        arm_id = resource_id(args.typ, inputs, self.subscription_id)
        in_state = arm_id in self.observed and arm_id not in self.outside_state
        exists_outside_state = not in_state and (
            arm_id in self.outside_state or self._made_with_parent(args.typ, inputs, arm_id)
        )
        if args.resource_id:
            if args.resource_id != arm_id:
                raise ProviderError(
                    f"import id {args.resource_id} of {args.name} is not the resource's id {arm_id}"
                )
            if not (exists_outside_state or in_state):
                raise ProviderError(f"Preview failed: resource '{arm_id}' does not exist")
        elif exists_outside_state and args.typ not in PROVIDER_ADOPTS:
            raise ProviderError(f"cannot create already existing resource '{arm_id}'")
        self.created.add(arm_id)
        name = str(inputs[arm_type(args.typ).name_keys[-1]])
        state = {**inputs, "id": arm_id, "name": name, "type": arm_type(args.typ).resource_type}
        state.update(self._computed(args.typ, inputs, arm_id, name))
        return arm_id, state

    def _computed(self, token: str, inputs: Mapping[str, Any], arm_id: str, name: str) -> dict[str, Any]:
        """Values Azure computes and the program reads back."""
        if token == "azure-native:dbforpostgresql:Server":
            return {"fullyQualifiedDomainName": f"{name}.postgres.database.azure.com", "state": "Ready"}
        if token == "azure-native:keyvault:Vault":
            return {
                "properties": {**inputs.get("properties", {}), "vaultUri": f"https://{name}.vault.azure.net/"}
            }
        if token == "azure-native:keyvault:Key":
            uri = f"https://{inputs['vaultName']}.vault.azure.net/keys/{name}"
            return {"keyUri": uri, "keyUriWithVersion": f"{uri}/{stable_uuid(arm_id).replace('-', '')}"}
        if token == "azure-native:managedidentity:UserAssignedIdentity":
            return {
                "principalId": stable_uuid(arm_id, "principal"),
                "clientId": stable_uuid(arm_id, "client"),
                "tenantId": self.tenant_id,
            }
        if token == "azure-native:dataprotection:BackupVault":
            return {
                "identity": {
                    **inputs.get("identity", {}),
                    "principalId": stable_uuid(arm_id, "principal"),
                    "tenantId": self.tenant_id,
                }
            }
        if token == "azure-native:storage:StorageAccount":
            return {"primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"}}
        if token == "azure-native:operationalinsights:Workspace":
            return {"customerId": stable_uuid(arm_id, "workspace")}
        return {}
