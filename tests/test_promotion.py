"""Promotion through Microsoft's SDK, checked at the HTTP level, and the reconciliation that follows.

What goes over the wire is recorded by azure-core's transport hook (tests/azure_http.py) and
compared with the REST spec's own promotion examples (Servers_Update, api-version 2025-08-01, the
version pulumi-azure-native 3.29.0 uses). Async operation bodies follow Azure Resource Manager's
documented shape ({"status": "InProgress" | "Succeeded" | "Failed", "error": ...}, async-operations).
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from conftest import PROJECT_DIR

from azure_http import FakeCredential, ScriptedAzure, answer, example
from components.settings import PromoteOption
from drill.control import ControlPlaneError, PulumiControlPlane
from drill.promotion import API_VERSION, Promoter, PromotionError, ServerRef, default_client, servers_of
from drill.writer_names import WriterNameMover
from drill.writer_names import default_client as dns_client

SERVER = ServerRef(
    "knowledge", "ffffffff-ffff-ffff-ffff-ffffffffffff", "exampleresourcegroup", "exampleserver"
)
SERVER_PATH = (
    "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/exampleresourcegroup/providers/"
    "Microsoft.DBforPostgreSQL/flexibleServers/exampleserver"
)


def replica_body() -> dict:
    """A read replica as Azure describes one (Replicas_ListByServer example)."""
    body = copy.deepcopy(example("ReplicasListByServer.json")["responses"]["200"]["body"]["value"][0])
    assert body["properties"]["replicationRole"] == "AsyncReplica"
    return body


def promoted_body() -> dict:
    body = replica_body()
    body["properties"]["replicationRole"] = "None"
    body["properties"]["replica"] = {"role": "None", "capacity": 5}
    return body


def promotion_script(option_example: str, final_status: str = "Succeeded") -> list:
    accepted = example(option_example)["responses"]["202"]["headers"]
    status = {"name": "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "startTime": "2026-11-27T10:00:00Z"}
    finished = {**status, "status": final_status}
    if final_status == "Failed":
        finished["error"] = {"code": "ReplicaPromotionFailed", "message": "the replica could not be promoted"}
    return [
        answer(200, body=replica_body()),  # GET: is it still a replica?
        answer(202, headers=accepted),  # PATCH, as in the example
        answer(200, body={**status, "status": "InProgress"}),  # polling the Azure-AsyncOperation URL
        answer(200, body=finished),
        answer(200, body=promoted_body()),  # final GET of the server
    ]


def promoter(transport, progress=None) -> Promoter:
    return Promoter(
        client_for=lambda sub: default_client(
            sub, credential=FakeCredential(), transport=transport, retry_total=0
        ),
        progress=progress if progress is not None else (lambda _: None),
        poll_seconds=0,
    )


@pytest.mark.parametrize(
    "option, example_file",
    [
        (PromoteOption.PLANNED, "ServersPromoteReplicaAsPlannedStandaloneServer.json"),
        (PromoteOption.FORCED, "ServersPromoteReplicaAsForcedStandaloneServer.json"),
    ],
)
def test_promotion_sends_exactly_the_documented_patch(option, example_file):
    transport, progress = ScriptedAzure(promotion_script(example_file)), []
    result = promoter(transport, progress.append).promote(SERVER, option)

    get, patch, *polls, final = transport.sent
    assert (get.method, get.path, get.api_version) == ("GET", SERVER_PATH, API_VERSION)
    assert (patch.method, patch.path, patch.api_version) == ("PATCH", SERVER_PATH, "2025-08-01")
    documented = example(example_file)["parameters"]
    assert documented["api-version"] == API_VERSION
    assert patch.body == documented["parameters"], "the promote fields and nothing else"
    headers = example(example_file)["responses"]["202"]["headers"]
    assert [p.url for p in polls] == [headers["Azure-AsyncOperation"]] * 2
    assert (final.method, final.path, final.api_version) == ("GET", SERVER_PATH, API_VERSION)
    assert (
        result["skipped"] is False
        and result["replication_role"] == "None"
        and result["option"] == option.value
    )
    assert progress[0] == f"exampleserver: promoting ({option.value}, standalone)"
    assert progress[-1] == "exampleserver: promoted (replication role None)"


def test_a_server_that_is_no_longer_a_replica_is_never_promoted_again():
    primary = example("ServersGet.json")["responses"]["200"]["body"]
    transport = ScriptedAzure([answer(200, body=primary)])
    result = promoter(transport).promote(SERVER, PromoteOption.PLANNED)
    assert [s.method for s in transport.sent] == ["GET"]
    assert result["skipped"] is True and result["replication_role"] == "Primary"


def test_a_failed_promotion_stops_with_azures_reason():
    transport = ScriptedAzure(
        promotion_script("ServersPromoteReplicaAsForcedStandaloneServer.json", "Failed")[:4]
    )
    with pytest.raises(PromotionError) as caught:
        promoter(transport).promote(SERVER, PromoteOption.FORCED)
    assert "exampleserver: Azure refused or failed the promotion" in str(caught.value)
    assert "the replica could not be promoted" in str(caught.value)


def test_a_refused_request_stops_with_azures_reason():
    refusal = {"error": {"code": "AuthorizationFailed", "message": "no permission to write flexibleServers"}}
    transport = ScriptedAzure([answer(200, body=replica_body()), answer(403, body=refusal)])
    with pytest.raises(PromotionError, match="no permission to write flexibleServers"):
        promoter(transport).promote(SERVER, PromoteOption.PLANNED)


def test_servers_are_read_from_the_stack_outputs():
    outputs = {
        "servers": {
            "operational": {"id": SERVER_PATH.replace("exampleserver", "ops")},
            "knowledge": {"id": SERVER_PATH},
        }
    }
    assert [(s.key, s.resource_group, s.name) for s in servers_of(outputs)] == [
        ("knowledge", "exampleresourcegroup", "exampleserver"),
        ("operational", "exampleresourcegroup", "ops"),
    ]
    with pytest.raises(PromotionError, match="exports no servers"):
        servers_of({})
    with pytest.raises(PromotionError, match="is not a flexible server id"):
        servers_of({"servers": {"knowledge": {"id": "/subscriptions/x"}}})


# --- the reconciliation through Pulumi's Automation API -------------------------------------------------


class FakeStack:
    """Stands in for pulumi.automation.Stack and records every call in order."""

    def __init__(self, preview_ops=()):
        self.calls = []
        self.preview_ops = preview_ops

    def outputs(self):
        self.calls.append(("outputs",))
        return {
            "servers": SimpleNamespace(value={"knowledge": {"id": SERVER_PATH, "fqdn": PROMOTED_FQDN}}),
            "writerNames": SimpleNamespace(
                value={
                    "subscriptionId": SERVER.subscription_id,
                    "resourceGroupName": "rg-cty-prod-ase-dns",
                    "zone": "continuity.internal",
                    "records": {"knowledge": "knowledge.writer"},
                }
            ),
        }

    def export_stack(self):
        return SimpleNamespace(
            deployment={
                "resources": [
                    {
                        "urn": "urn:pulumi:dr::continuity::x$azure-native:dbforpostgresql:Server::knowledge-g1",
                        "type": "azure-native:dbforpostgresql:Server",
                    },
                    {
                        "urn": "urn:pulumi:dr::continuity::x$azure-native:network:VirtualNetworkPeering::network-peering-from-peer",
                        "type": "azure-native:network:VirtualNetworkPeering",
                    },
                ]
            }
        )

    def refresh(self, **kwargs):
        self.calls.append(("refresh", kwargs["target"]))
        kwargs["on_output"]("Refreshing (dr)")

    def set_config(self, key, value, *, path=False):
        self.calls.append(("set_config", key, value.value, path))

    def preview(self, **kwargs):
        self.calls.append(("preview", kwargs["policy_pack_configs"]))
        for op, type_, urn in self.preview_ops:
            metadata = SimpleNamespace(op=SimpleNamespace(value=op), type=type_, urn=urn)
            kwargs["on_event"](SimpleNamespace(resource_pre_event=SimpleNamespace(metadata=metadata)))

    def up(self, **kwargs):
        self.calls.append(("up", kwargs))
        kwargs["on_output"]("Updating (dr): ... resources: 2 updated")
        return SimpleNamespace(
            summary=SimpleNamespace(result="succeeded", resource_changes={"update": 2, "same": 60})
        )


PROMOTED_FQDN = "exampleserver.postgres.database.azure.com"


def writer_name_script() -> list:
    """The writer name still on the old primary, then moved (RecordSets examples, tests/fixtures/azure)."""
    body = copy.deepcopy(example("RecordSetCNAMEGet.json")["responses"]["200"]["body"])
    return [
        answer(200, body=body),
        answer(200, body=example("RecordSetCNAMEPut.json")["responses"]["200"]["body"]),
    ]


def control_plane(stack, transport, lines):
    mover = WriterNameMover(
        client_for=lambda sub: dns_client(
            sub, credential=FakeCredential(), transport=transport, retry_total=0
        ),
        progress=lines.append,
    )
    return PulumiControlPlane(
        "organization/continuity/dr",
        work_dir=PROJECT_DIR,
        log=lines.append,
        select_stack=lambda **kwargs: stack,
        promoter=promoter(transport, lines.append),
        mover=mover,
    )


def test_the_drill_promotes_with_the_patch_then_reconciles_pulumi():
    harmless = [
        ("replace", "time:index/sleep:Sleep", "urn:...:knowledge-g1-settled"),
        ("delete", "azure-native:monitor:MetricAlert", "urn:...:alerts-knowledge-g1-replication-lag"),
    ]
    stack, lines = FakeStack(harmless), []
    transport = ScriptedAzure(
        promotion_script("ServersPromoteReplicaAsForcedStandaloneServer.json") + writer_name_script()
    )
    summary = control_plane(stack, transport, lines).promote("Forced")
    assert [s.method for s in transport.sent][:2] == ["GET", "PATCH"]
    # Once promoted, and before Pulumi does anything, the writer name moves to the promoted server.
    get_name, put_name = transport.sent[-2:]
    assert (get_name.method, put_name.method) == ("GET", "PUT") and put_name.path.endswith(
        "/CNAME/knowledge.writer"
    )
    assert put_name.body["properties"]["cnameRecord"] == {"cname": PROMOTED_FQDN}
    assert summary["writer_names"][0]["name"] == "knowledge.writer.continuity.internal"
    assert summary["writer_names"][0]["moved"] is True
    moved = next(
        i for i, line in enumerate(lines) if line.startswith("knowledge.writer.continuity.internal: moved")
    )
    assert moved < lines.index("Refreshing (dr)")
    assert [call[0] for call in stack.calls] == ["outputs", "refresh", "set_config", "preview", "up"]
    # Only the servers are refreshed: the peer's side of the VNet peering is in the lost region.
    assert stack.calls[1][1] == [
        "urn:pulumi:dr::continuity::x$azure-native:dbforpostgresql:Server::knowledge-g1"
    ]
    assert stack.calls[2] == ("set_config", "continuity:role", "primary", False)
    up = stack.calls[4][1]
    assert up["policy_packs"] == [str(PROJECT_DIR / "policies")]
    assert up["policy_pack_configs"] == [str(PROJECT_DIR / "policies" / "config" / "dr.json")]
    assert up["show_secrets"] is False and up["suppress_outputs"] is True
    assert summary["result"] == "succeeded" and summary["promotions"][0]["server"] == "exampleserver"
    assert "Updating (dr): ... resources: 2 updated" in lines


@pytest.mark.parametrize(
    "op, type_",
    [
        ("replace", "azure-native:dbforpostgresql:Server"),
        ("delete-replaced", "azure-native:keyvault:Vault"),
        ("delete", "azure-native:dbforpostgresql:Server"),
    ],
)
def test_a_reconciliation_that_would_replace_or_delete_data_stops_before_up(op, type_):
    stack, lines = FakeStack([(op, type_, "urn:pulumi:dr::continuity::x")]), []
    transport = ScriptedAzure(
        promotion_script("ServersPromoteReplicaAsPlannedStandaloneServer.json") + writer_name_script()
    )
    with pytest.raises(ControlPlaneError) as caught:
        control_plane(stack, transport, lines).promote("Planned")
    assert f"{op} urn:pulumi:dr::continuity::x" in str(caught.value)
    assert "up" not in [call[0] for call in stack.calls]


def test_the_sdk_speaks_the_api_version_the_provider_uses():
    """One API version for the same resource, whether Pulumi or the drill talks to it."""
    from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

    from components.arm import api_version

    assert api_version("azure-native:dbforpostgresql:Server") == API_VERSION
    client = PostgreSQLManagementClient(FakeCredential(), SERVER.subscription_id)
    assert client._config.api_version == API_VERSION, "the pinned SDK's default, set explicitly anyway"
