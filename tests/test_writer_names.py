"""Moving the writer names at failover, checked at the HTTP level against the REST spec's examples
(RecordSets_Get / RecordSets_CreateOrUpdate, api-version 2024-06-01, the version
pulumi-azure-native 3.29.0 uses for private record sets)."""

from __future__ import annotations

import copy

import pytest

from azure_http import FakeCredential, ScriptedAzure, answer, example
from drill.writer_names import (
    API_VERSION,
    WriterNameError,
    WriterNameMover,
    WriterNames,
    default_client,
    targets_of,
)

SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"
NAMES = WriterNames(
    SUBSCRIPTION,
    "rg-cty-prod-ase-dns",
    "continuity.internal",
    {"knowledge": "knowledge.writer", "operational": "operational.writer"},
)
PROMOTED = "psql-cty-knowledge-dr-ase-g1-62db.postgres.database.azure.com"


def record(cname: str) -> dict:
    """A CNAME record set as Azure returns one (RecordSets_Get example), pointing at `cname`."""
    body = copy.deepcopy(example("RecordSetCNAMEGet.json")["responses"]["200"]["body"])
    body["properties"]["cnameRecord"]["cname"] = cname
    return body


def mover(transport, lines=None) -> WriterNameMover:
    return WriterNameMover(
        client_for=lambda sub: default_client(
            sub, credential=FakeCredential(), transport=transport, retry_total=0
        ),
        progress=(lines.append if lines is not None else lambda _: None),
    )


def test_a_name_is_moved_with_one_put_of_its_new_target_guarded_by_its_etag():
    old = "psql-cty-knowledge-prod-aue-g1-62db.postgres.database.azure.com"
    put_body = example("RecordSetCNAMEPut.json")["responses"]["200"]["body"]
    transport, lines = ScriptedAzure([answer(200, body=record(old)), answer(200, body=put_body)]), []
    (move,) = mover(transport, lines).move(NAMES, {"knowledge": PROMOTED})
    get, put = transport.sent
    path = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-cty-prod-ase-dns/providers/Microsoft.Network/"
        "privateDnsZones/continuity.internal/CNAME/knowledge.writer"
    )
    assert (get.method, get.path, get.api_version) == ("GET", path, API_VERSION)
    assert (put.method, put.path, put.api_version) == ("PUT", path, API_VERSION)
    # The example's request shape, with the TTL and metadata kept from the record as it was.
    assert put.body == {
        "properties": {"metadata": {"key1": "value1"}, "ttl": 3600, "cnameRecord": {"cname": PROMOTED}}
    }
    assert put.body.keys() == example("RecordSetCNAMEPut.json")["parameters"]["parameters"].keys()
    assert put.headers["If-Match"] == '"00000000-0000-0000-0000-000000000000"'  # the SDK quotes the etag
    assert (
        move["name"] == "knowledge.writer.continuity.internal"
        and move["from"] == old
        and move["to"] == PROMOTED
    )
    assert move["moved"] is True
    assert lines == [f"knowledge.writer.continuity.internal: moved from {old} to {PROMOTED}"]


def test_a_name_already_on_the_target_is_left_alone():
    transport = ScriptedAzure([answer(200, body=record(PROMOTED))])
    (move,) = mover(transport).move(NAMES, {"knowledge": PROMOTED})
    assert [s.method for s in transport.sent] == ["GET"] and move["moved"] is False


def test_a_concurrent_change_is_refused_not_overwritten():
    precondition = {"error": {"code": "PreconditionFailed", "message": "The etag does not match."}}
    transport = ScriptedAzure([answer(200, body=record("elsewhere.example")), answer(412, body=precondition)])
    with pytest.raises(
        WriterNameError,
        match=r"knowledge.writer.continuity.internal: Azure refused to move it to "
        r"psql-cty-knowledge-dr-ase-g1-62db.* The etag does not match",
    ):
        mover(transport).move(NAMES, {"knowledge": PROMOTED})


def test_a_database_without_a_name_is_refused_before_any_call():
    transport = ScriptedAzure([])
    with pytest.raises(WriterNameError, match="no writer name for decisions"):
        mover(transport).move(NAMES, {"decisions": PROMOTED})
    assert transport.sent == []


def test_names_and_targets_come_from_the_stack_outputs():
    outputs = {
        "writerNames": {
            "subscriptionId": SUBSCRIPTION,
            "resourceGroupName": "rg-cty-prod-ase-dns",
            "zone": "continuity.internal",
            "records": {"knowledge": "knowledge.writer"},
        },
        "servers": {"knowledge": {"fqdn": PROMOTED, "id": "/x"}},
    }
    names = WriterNames.from_outputs(outputs)
    assert names.fqdn("knowledge") == "knowledge.writer.continuity.internal"
    assert targets_of(outputs) == {"knowledge": PROMOTED}
    with pytest.raises(WriterNameError, match="exports no writerNames"):
        WriterNames.from_outputs({})
    with pytest.raises(WriterNameError, match="lacks 'zone'"):
        WriterNames.from_outputs(
            {"writerNames": {"subscriptionId": "s", "resourceGroupName": "g", "records": {}}}
        )


def test_the_sdk_speaks_the_api_version_the_provider_uses():
    from azure.mgmt.privatedns import PrivateDnsManagementClient

    from components.arm import api_version

    assert api_version("azure-native:privatedns:PrivateRecordSet") == API_VERSION
    client = PrivateDnsManagementClient(FakeCredential(), SUBSCRIPTION)
    assert client._config.api_version == API_VERSION
