"""Azure Resource Manager as the restore checks meet it, offline: a source server with this
project's customer-managed keys, and a fake that answers creates, reads and deletes of servers and
private endpoints as Azure does (202 with the REST examples' headers, one InProgress poll, then the
outcome), built from the REST specs' own examples (tests/fixtures/azure/README.md)."""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter

from azure_http import Sent, example
from drill.azure_restore import Placement
from drill.promotion import ServerRef

SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"
GROUP = "exampleresourcegroup"
SOURCE = ServerRef("knowledge", SUBSCRIPTION, GROUP, "examplesourceserver")
SOURCE_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.DBforPostgreSQL/"
    "flexibleServers/examplesourceserver"
)
IDENTITIES = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
PRIMARY_KEY = "https://kv-cty-prod-aue.vault.azure.net/keys/psql-knowledge/1111"
GEO_KEY = "https://kv-cty-prod-ase.vault.azure.net/keys/psql-knowledge-geo/2222"
# In Sydney's summer offset: the request must carry the same instant, in UTC.
POINT = dt.datetime(2026, 11, 28, 21, 15, 0, 500000, tzinfo=dt.timezone(dt.timedelta(hours=11)))
HERE = Placement(
    SUBSCRIPTION, GROUP, "eastus", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/"
    "Microsoft.Network/virtualNetworks/vnet-cty-prod-aue",
)  # fmt: skip


def source_body(geo_backup: str = "Enabled") -> dict:
    """The source as Servers_Get describes a server, with the customer-managed keys this project's
    servers have (ServersCreateGeoRestoreWithDataEncryptionEnabled.json names the fields)."""
    body = copy.deepcopy(example("ServersGet.json")["responses"]["200"]["body"])
    body.update(id=SOURCE_ID, name="examplesourceserver")
    body["identity"] = {
        "type": "UserAssigned",
        "userAssignedIdentities": {f"{IDENTITIES}/id-primary": {}, f"{IDENTITIES}/id-geo": {}},
    }
    body["properties"]["dataEncryption"] = {
        "type": "AzureKeyVault",
        "primaryKeyURI": PRIMARY_KEY,
        "primaryUserAssignedIdentityId": f"{IDENTITIES}/id-primary",
        "geoBackupKeyURI": GEO_KEY,
        "geoBackupUserAssignedIdentityId": f"{IDENTITIES}/id-geo",
    }
    body["properties"]["network"] = {"publicNetworkAccess": "Disabled"}
    body["properties"]["backup"]["geoRedundantBackup"] = geo_backup
    return body


class FakeAzure:
    """Answers by method and path, as Azure would. Each create or delete is accepted (202, with the
    example's headers pointing at an operation of its own), polled once as InProgress, then ends as
    `create_outcome` (creates) or Succeeded (deletes)."""

    def __init__(self, source: dict, create_outcome: str = "Succeeded", delete_status: int = 202):
        self.source, self.create_outcome, self.delete_status = source, create_outcome, delete_status
        self.refused_endpoint_delete = False
        self.restored_state = "Ready"
        self.endpoint_body: dict | None = None
        self.endpoint_status = 200
        self.operations: list[str] = []  # outcome of each accepted operation
        self.polls: Counter[int] = Counter()
        self.created: dict[str, dict] = {}
        self.listed: list[dict] = []

    def __call__(self, sent: Sent) -> tuple[int, dict, object]:
        path = sent.path
        if "/op-" in path:
            return self._operation(path)
        if path.endswith("/examplesourceserver"):
            return 200, {}, self.source
        if path.endswith("/flexibleServers"):  # Servers_ListByResourceGroup
            return 200, {}, {"value": self.listed}
        if "/flexibleServers/" in path:
            return self._server(sent)
        if "/privateEndpoints/" in path:
            return self._endpoint(sent)
        raise AssertionError(f"unexpected {sent.method} {sent.url}")

    def _accepted(self, example_file: str, outcome: str) -> tuple[int, dict, object]:
        """202 with the example's headers, each URL renamed to this operation."""
        number = len(self.operations)
        self.operations.append(outcome)
        headers = {}
        for header, url in example(example_file)["responses"]["202"]["headers"].items():
            base, query = url.split("?", 1)
            role = "status" if header == "Azure-AsyncOperation" else "result"
            headers[header] = f"{base.rsplit('/', 1)[0]}/op-{number}-{role}?{query}"
        return 202, headers, None

    def _operation(self, path: str) -> tuple[int, dict, object]:
        number, role = path.rsplit("/op-", 1)[1].split("-")
        if role == "result":
            return 200, {}, None
        self.polls[int(number)] += 1
        if self.polls[int(number)] == 1:
            return 200, {}, {"status": "InProgress"}
        status: dict = {"status": self.operations[int(number)]}
        if status["status"] == "Failed":
            status["error"] = {"code": "RestoreFailed", "message": "the restore could not finish"}
        return 200, {}, status

    def _server(self, sent: Sent) -> tuple[int, dict, object]:
        name = sent.path.rsplit("/", 1)[-1]
        if sent.method == "PUT":
            self.created[sent.path] = sent.body
            return self._accepted("ServersCreatePointInTimeRestore.json", self.create_outcome)
        if sent.method == "DELETE":
            if self.delete_status != 202:
                return (
                    self.delete_status,
                    {},
                    {"error": {"code": "Conflict", "message": "the server is busy"}},
                )
            return self._accepted("ServersDelete.json", "Succeeded")
        restored = copy.deepcopy(self.source)
        restored.update(id=sent.path, name=name, location=self.created[sent.path]["location"])
        restored["properties"]["fullyQualifiedDomainName"] = f"{name}.postgres.database.azure.com"
        restored["properties"]["state"] = self.restored_state
        return 200, {}, restored

    def _endpoint(self, sent: Sent) -> tuple[int, dict, object]:
        if sent.method == "DELETE":
            if self.refused_endpoint_delete:
                return 409, {}, {"error": {"code": "Conflict", "message": "the endpoint is in use"}}
            return self._accepted("PrivateEndpointDelete.json", "Succeeded")
        if self.endpoint_status != 200:
            return self.endpoint_status, {}, {"error": {"code": "SubnetFull", "message": "no address left"}}
        body = copy.deepcopy(
            self.endpoint_body or example("PrivateEndpointCreate.json")["responses"]["200"]["body"]
        )
        body.update(id=sent.path, name=sent.path.rsplit("/", 1)[-1])
        return 200, {}, body
