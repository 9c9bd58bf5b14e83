"""Pulumi mocks that answer like Azure: ARM ids, names and the outputs the program reads back.

Nothing here invents settings: every input the program sent is echoed back unchanged, and only
values Azure computes (ids, URIs, principal ids) are added.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any, Optional

import pulumi
from pulumi.runtime import rpc

from .arm import arm_type, resource_id

STACK_REFERENCE = "pulumi:pulumi:StackReference"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"


def secret(value: Any) -> dict:
    """A value as the engine returns a secret output."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "continuity-offline/" + "/".join(parts)))


class OfflineAzure(pulumi.runtime.Mocks):
    def __init__(self, subscription_id: str, tenant_id: str, stack_outputs: Mapping[str, Mapping[str, Any]]):
        self.subscription_id = subscription_id
        self.tenant_id = tenant_id
        # Exports of already-rendered stacks, by fully qualified stack name, for StackReferences.
        self.stack_outputs = stack_outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "subscriptionId": self.subscription_id,
                "tenantId": self.tenant_id,
                "clientId": stable_uuid("deployer-client"),
                "objectId": stable_uuid("deployer-object"),
            }
        raise NotImplementedError(f"offline render has no answer for function {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict]:
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
        if not args.typ.startswith("azure-native:"):
            raise NotImplementedError(f"offline render has no mock for resource type {args.typ}")

        inputs = dict(args.inputs)
        arm_id = resource_id(args.typ, inputs, self.subscription_id)
        name = str(inputs[arm_type(args.typ).name_keys[-1]])
        state = {**inputs, "id": arm_id, "name": name, "type": arm_type(args.typ).resource_type}
        state.update(self._computed(args.typ, inputs, arm_id, name))
        return arm_id, state

    def _computed(self, token: str, inputs: Mapping[str, Any], arm_id: str, name: str) -> dict:
        """Values Azure computes and the program reads back."""
        if token == "azure-native:dbforpostgresql:Server":
            return {"fullyQualifiedDomainName": f"{name}.postgres.database.azure.com", "state": "Ready"}
        if token == "azure-native:keyvault:Vault":
            return {"properties": {**inputs.get("properties", {}), "vaultUri": f"https://{name}.vault.azure.net/"}}
        if token == "azure-native:keyvault:Key":
            uri = f"https://{inputs['vaultName']}.vault.azure.net/keys/{name}"
            return {"keyUri": uri, "keyUriWithVersion": f"{uri}/{stable_uuid(arm_id).replace('-', '')}"}
        if token == "azure-native:managedidentity:UserAssignedIdentity":
            return {"principalId": stable_uuid(arm_id, "principal"), "clientId": stable_uuid(arm_id, "client"),
                    "tenantId": self.tenant_id}
        if token == "azure-native:dataprotection:BackupVault":
            return {"identity": {**inputs.get("identity", {}), "principalId": stable_uuid(arm_id, "principal"),
                                 "tenantId": self.tenant_id}}
        if token == "azure-native:operationalinsights:Workspace":
            return {"customerId": stable_uuid(arm_id, "workspace")}
        return {}
