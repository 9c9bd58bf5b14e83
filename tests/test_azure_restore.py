"""The restore check's Azure half at the HTTP level: what Microsoft's SDKs send to restore a server
into a disposable one, reach it through a private endpoint and delete both, built from the REST
specs' own examples (tests/fixtures/azure/README.md). Long-running operations answer as Azure
Resource Manager documents ({"status": "InProgress" | "Succeeded" | "Failed"}, async-operations).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re

import pytest
from azure_fakes import (
    GEO_KEY,
    HERE,
    IDENTITIES,
    POINT,
    PRIMARY_KEY,
    SOURCE,
    SOURCE_ID,
    SUBSCRIPTION,
    FakeAzure,
    source_body,
)

from azure_http import FakeCredential, ScriptedAzure, Sent, answer, example
from drill.azure_restore import (
    DISPOSABLE_TAG,
    LEDGER_FILE,
    NETWORK_API_VERSION,
    AzureRestorer,
    Ledger,
    Placement,
    RestoreError,
    disposable_name,
    network_client,
    restore_request,
)
from drill.promotion import API_VERSION, ServerRef, default_client


def restorer(
    azure: FakeAzure, progress: list[str] | None = None, poll_seconds: float = 0
) -> tuple[AzureRestorer, ScriptedAzure]:
    transport = ScriptedAzure([azure] * 60)
    lines = progress if progress is not None else []
    return (
        AzureRestorer(
            postgres_for=lambda sub: default_client(
                sub, credential=FakeCredential(), transport=transport, retry_total=0
            ),
            network_for=lambda sub: network_client(
                sub, credential=FakeCredential(), transport=transport, retry_total=0
            ),
            progress=lines.append,
            poll_seconds=poll_seconds,
        ),
        transport,
    )


def sent(transport: ScriptedAzure, method: str, fragment: str) -> list[Sent]:
    return [s for s in transport.sent if s.method == method and fragment in s.path]


def test_a_point_in_time_restore_sends_the_documented_request_and_removes_what_it_made(tmp_path):
    azure, progress = FakeAzure(source_body()), []
    restore, transport = restorer(azure, progress, poll_seconds=7)
    ledger = Ledger(tmp_path / LEDGER_FILE)
    name = disposable_name("pitr", "knowledge", SOURCE, "20261128T101500Z")

    restored = restore.restore(ledger, restore.source(SOURCE), "pitr", name, HERE, POINT)

    (put,) = sent(transport, "PUT", "/flexibleServers/")
    documented = example("ServersCreatePointInTimeRestore.json")["parameters"]["parameters"]
    assert put.api_version == API_VERSION
    assert set(documented["properties"]) <= set(put.body["properties"])
    assert put.body["location"] == "eastus"
    assert put.body["properties"] | {"pointInTimeUTC": None} == {
        "createMode": "PointInTimeRestore",
        "sourceServerResourceId": SOURCE_ID,
        "pointInTimeUTC": None,
        "network": {"publicNetworkAccess": "Disabled"},
        # The source's own keys, through the identities the source uses.
        "dataEncryption": source_body()["properties"]["dataEncryption"],
    }
    sent_point = put.body["properties"]["pointInTimeUTC"]
    assert dt.datetime.fromisoformat(sent_point) == POINT and sent_point.startswith("2026-11-28T10:15:00.5")
    assert put.body["identity"] == source_body()["identity"]
    assert put.body["tags"] == {DISPOSABLE_TAG: tmp_path.name}, "found by a later check if this one dies"
    (endpoint,) = sent(transport, "PUT", "/privateEndpoints/")
    assert endpoint.api_version == NETWORK_API_VERSION
    (connection,) = endpoint.body["properties"]["privateLinkServiceConnections"]
    assert connection == {
        "name": f"pe-{name}",
        "properties": {"privateLinkServiceId": restored.server_id, "groupIds": ["postgresqlServer"]},
    }
    assert endpoint.body["location"] == "eastus"
    assert (
        endpoint.body["properties"]["subnet"]["id"]
        == f"{HERE.virtual_network_id}/subnets/snet-private-endpoints"
    )
    # The address Azure reported for the endpoint (customDnsConfigs of PrivateEndpointCreate.json).
    assert (restored.fqdn, restored.private_ip) == (f"{name}.postgres.database.azure.com", "192.168.0.4")
    assert progress[0] == f"{name}: restoring examplesourceserver (PointInTimeRestore) in eastus"

    assert restore.remove(ledger) == []
    deletes = [s.path for s in transport.sent if s.method == "DELETE"]
    assert deletes == [e["id"] for e in reversed(ledger.entries)], "the endpoint goes before its server"
    assert [e["kind"] for e in reversed(ledger.entries)] == ["privateEndpoint", "server"]
    assert Ledger(tmp_path / LEDGER_FILE).pending() == []
    assert f"pe-{name}: deleting" in progress and f"{name}: deleted" in progress
    # Azure answered without Retry-After: every wait was the interval asked for.
    assert transport.slept and set(transport.slept) == {7}


def test_a_geo_restore_goes_to_the_paired_region_with_the_keys_swapped(tmp_path):
    restore, transport = restorer(FakeAzure(source_body()))
    paired = Placement(SUBSCRIPTION, "rg-cty-dr-ase", "westus", HERE.virtual_network_id)
    restore.restore(Ledger(tmp_path / LEDGER_FILE), restore.source(SOURCE), "geo", "rc-geo", paired, POINT)
    (put,) = sent(transport, "PUT", "/flexibleServers/")
    documented = example("ServersCreateGeoRestoreWithDataEncryptionEnabled.json")["parameters"]["parameters"]
    assert set(documented["properties"]) <= set(put.body["properties"])
    assert set(documented["properties"]["dataEncryption"]) <= set(put.body["properties"]["dataEncryption"])
    assert put.body["location"] == "westus" and "/resourceGroups/rg-cty-dr-ase/" in put.path
    assert put.body["properties"]["createMode"] == "GeoRestore"
    # The paired region's key is the new server's own; the home region's becomes its geo-backup key.
    assert put.body["properties"]["dataEncryption"] == {
        "type": "AzureKeyVault",
        "primaryKeyURI": GEO_KEY,
        "primaryUserAssignedIdentityId": f"{IDENTITIES}/id-geo",
        "geoBackupKeyURI": PRIMARY_KEY,
        "geoBackupUserAssignedIdentityId": f"{IDENTITIES}/id-primary",
    }


def test_a_geo_restore_without_geo_backup_is_refused_before_anything_is_created(tmp_path):
    restore, transport = restorer(FakeAzure(source_body(geo_backup="Disabled")))
    ledger = Ledger(tmp_path / LEDGER_FILE)
    with pytest.raises(
        RestoreError,
        match=re.escape(
            "examplesourceserver: geo-redundant backup is not enabled, so there is nothing to geo-restore "
            "(it can only be turned on when a server is created)"
        )
        + "$",
    ):
        restore.restore(ledger, restore.source(SOURCE), "geo", "rc-geo", HERE, POINT)
    assert [s.method for s in transport.sent] == ["GET"] and ledger.entries == []


def test_a_source_that_is_not_ready_is_refused():
    body = source_body()
    body["properties"]["state"] = "Stopped"
    restore, _ = restorer(FakeAzure(body))
    with pytest.raises(RestoreError, match="examplesourceserver: the source server is Stopped, not Ready"):
        restore.source(SOURCE)


def test_a_failed_restore_is_reported_and_the_server_it_asked_for_is_still_deleted(tmp_path):
    restore, transport = restorer(FakeAzure(source_body(), create_outcome="Failed"))
    ledger = Ledger(tmp_path / LEDGER_FILE)
    with pytest.raises(RestoreError, match="rc-pitr: Azure refused or failed the restore"):
        restore.restore(ledger, restore.source(SOURCE), "pitr", "rc-pitr", HERE, POINT)
    assert [e["kind"] for e in ledger.pending()] == ["server"], "listed before the request was sent"
    assert restore.remove(ledger) == []
    assert len(sent(transport, "DELETE", "/flexibleServers/rc-pitr")) == 1


def test_an_interrupted_check_leaves_a_ledger_the_next_one_clears(tmp_path):
    azure = FakeAzure(source_body())

    def interrupt(line: str) -> None:
        if "private endpoint" in line:  # the server exists; the endpoint is listed, not yet asked for
            raise KeyboardInterrupt

    restore, _ = restorer(azure)
    restore.progress = interrupt
    with pytest.raises(KeyboardInterrupt):
        restore.restore(
            Ledger(tmp_path / LEDGER_FILE), restore.source(SOURCE), "pitr", "rc-pitr", HERE, POINT
        )
    left = json.loads((tmp_path / LEDGER_FILE).read_text())
    assert [(e["kind"], e["deleted"]) for e in left] == [("server", False), ("privateEndpoint", False)]

    later, transport = restorer(azure)
    assert later.remove(Ledger(tmp_path / LEDGER_FILE)) == []
    assert [s.path.rsplit("/", 1)[-1] for s in transport.sent if s.method == "DELETE"] == [
        "pe-rc-pitr",
        "rc-pitr",
    ]
    assert Ledger(tmp_path / LEDGER_FILE).pending() == []


def test_a_delete_azure_refuses_is_reported_and_stays_in_the_ledger(tmp_path):
    ledger = Ledger(tmp_path / LEDGER_FILE)
    ledger.will_create("server", SOURCE_ID.replace("examplesourceserver", "rc-pitr"))
    restore, _ = restorer(FakeAzure(source_body(), delete_status=409))
    (left,) = restore.remove(ledger)
    assert left.startswith(SOURCE_ID.replace("examplesourceserver", "rc-pitr")) and "busy" in left
    assert len(Ledger(tmp_path / LEDGER_FILE).pending()) == 1


@pytest.mark.parametrize("database", ["knowledge", "a-database-with-a-very-long-name-that-goes-on-and-on"])
def test_disposable_names_are_valid_server_names_and_differ_by_source(database):
    name = disposable_name("pitr", database, SOURCE, "20261128T101500Z")
    other = disposable_name(
        "pitr", database, ServerRef("knowledge", SUBSCRIPTION, "rg-other", "x"), "20261128T101500Z"
    )
    for candidate in (name, other):
        assert 3 <= len(candidate) <= 63 and candidate == candidate.lower() and not candidate.endswith("-")
        assert set(candidate) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert name != other


def test_a_later_check_finds_what_a_lost_machine_left_by_its_tag(tmp_path):
    azure = FakeAzure(source_body())
    leftover = copy.deepcopy(source_body())
    leftover.update(id=SOURCE_ID.replace("examplesourceserver", "rc-pitr-x"), name="rc-pitr-x")
    leftover["tags"] = {DISPOSABLE_TAG: "20261101T030000Z-pitr-knowledge"}
    azure.listed = [source_body(), leftover]  # the source itself carries no such tag
    restore, transport = restorer(azure)
    found = restore.leftovers(HERE, Ledger(tmp_path / "leftovers.json"))
    assert [(e["kind"], e["id"].rsplit("/", 1)[-1]) for e in found.pending()] == [
        ("privateEndpoint", "pe-rc-pitr-x"),
        ("server", "rc-pitr-x"),
    ]
    assert restore.remove(found) == []
    assert [s.path.rsplit("/", 1)[-1] for s in transport.sent if s.method == "DELETE"] == [
        "pe-rc-pitr-x",
        "rc-pitr-x",
    ]


def test_a_server_with_service_managed_keys_is_restored_without_keys_or_identities(tmp_path):
    body = source_body()
    body["properties"]["dataEncryption"] = {"type": "SystemManaged"}
    del body["identity"]
    for kind in ("pitr", "geo"):
        restore, transport = restorer(FakeAzure(body))
        restore.restore(Ledger(tmp_path / f"{kind}.json"), restore.source(SOURCE), kind, "rc", HERE, POINT)
        (put,) = sent(transport, "PUT", "/flexibleServers/")
        assert (
            put.body["properties"]["dataEncryption"] == {"type": "SystemManaged"}
            and "identity" not in put.body
        )


def test_a_source_that_cannot_be_read_is_named():
    restore, _ = restorer(FakeAzure(source_body()))
    restore.postgres_for = lambda sub: default_client(
        sub,
        credential=FakeCredential(),
        transport=ScriptedAzure(
            [answer(404, body={"error": {"code": "ResourceNotFound", "message": "gone"}})]
        ),
        retry_total=0,
    )
    with pytest.raises(RestoreError, match=r"examplesourceserver: cannot read the source server: .*gone"):
        restore.source(SOURCE)


def test_a_restore_that_ends_in_another_state_is_refused(tmp_path):
    azure = FakeAzure(source_body())
    azure.restored_state = "Disabled"
    restore, _ = restorer(azure)
    with pytest.raises(RestoreError, match="rc: the restore finished but the server is Disabled"):
        restore.restore(Ledger(tmp_path / LEDGER_FILE), restore.source(SOURCE), "pitr", "rc", HERE, POINT)


def test_the_endpoint_address_comes_from_its_ip_configurations_when_azure_lists_no_dns_configs(tmp_path):
    azure = FakeAzure(source_body())
    body = copy.deepcopy(example("PrivateEndpointCreate.json")["responses"]["200"]["body"])
    del body["properties"]["customDnsConfigs"]
    azure.endpoint_body = body
    restore, _ = restorer(azure)
    restored = restore.restore(
        Ledger(tmp_path / LEDGER_FILE), restore.source(SOURCE), "pitr", "rc", HERE, POINT
    )
    assert restored.private_ip == "192.168.0.6"
    del body["properties"]["ipConfigurations"]
    with pytest.raises(RestoreError, match="pe-rc: Azure reported no private address for the endpoint"):
        restore.restore(Ledger(tmp_path / "again.json"), restore.source(SOURCE), "pitr", "rc", HERE, POINT)


def test_a_refused_endpoint_is_named_and_listed_for_removal(tmp_path):
    azure = FakeAzure(source_body())
    azure.endpoint_status = 400
    restore, _ = restorer(azure)
    ledger = Ledger(tmp_path / LEDGER_FILE)
    with pytest.raises(RestoreError, match=r"pe-rc: Azure refused or failed the endpoint: .*no address left"):
        restore.restore(ledger, restore.source(SOURCE), "pitr", "rc", HERE, POINT)
    assert [e["kind"] for e in ledger.pending()] == ["privateEndpoint", "server"]


def test_a_refused_endpoint_delete_still_deletes_the_server(tmp_path):
    azure = FakeAzure(source_body())
    restore, transport = restorer(azure)
    ledger = Ledger(tmp_path / LEDGER_FILE)
    restore.restore(ledger, restore.source(SOURCE), "pitr", "rc", HERE, POINT)
    azure.refused_endpoint_delete = True
    (left,) = restore.remove(ledger)
    assert "/privateEndpoints/pe-rc: " in left and "in use" in left
    assert [e["kind"] for e in Ledger(tmp_path / LEDGER_FILE).pending()] == ["privateEndpoint"]
    assert len(sent(transport, "DELETE", "/flexibleServers/rc")) == 1


def test_a_ledger_is_kept_where_its_folder_does_not_exist_yet(tmp_path):
    ledger = Ledger(tmp_path / "drills" / "20261128T101500Z-pitr-knowledge" / LEDGER_FILE)
    ledger.will_create("server", SOURCE_ID)
    assert Ledger(ledger.path).entries == [{"kind": "server", "id": SOURCE_ID, "deleted": False}]


def test_disposable_names_keep_their_shape():
    name = disposable_name("pitr", "knowledge", SOURCE, "20261128T101500Z")
    assert re.fullmatch(r"rc-pitr-knowledge-20261128t101500z-[0-9a-f]{6}", name)
    # A long key is cut to 20 characters, without a hyphen left at the cut.
    assert "-abcdefghijklmnopqrst-2026" in disposable_name(
        "geo", "abcdefghijklmnopqrstuvwxyz", SOURCE, "2026"
    )
    assert "-abcdefghijklmnopqrs-2026" in disposable_name(
        "geo", "abcdefghijklmnopqrs-tuvwxyz", SOURCE, "2026"
    )
    assert "-operationalstore-2026" in disposable_name("geo", "operationalStore", SOURCE, "2026"), (
        "lower case only"
    )


def test_only_the_kinds_azure_restores_into_a_server_are_asked_for():
    from azure.mgmt.postgresqlflexibleservers.models import Server

    source = Server.deserialize(example("ServersGet.json")["responses"]["200"]["body"])
    with pytest.raises(
        RestoreError, match=re.escape("no Azure server restore of kind 'vault' (one of ['geo', 'pitr'])")
    ):
        restore_request(source, "vault", "eastus", POINT, "check")
