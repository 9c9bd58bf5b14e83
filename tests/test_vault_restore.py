"""The `vault` restore check's Azure half at the HTTP level: what Microsoft's SDKs send to restore a
long-term-retention backup as files, create a server like the source, allow its extensions, reach
it, load the files and delete everything, built from the REST specs' examples
(tests/fixtures/azure/README.md) and the Blob service's documented List Blobs response."""

from __future__ import annotations

import copy
import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.mgmt.postgresqlflexibleservers.models import Server
from azure_fakes import HERE, IDENTITIES, POINT, PRIMARY_KEY, SOURCE, SUBSCRIPTION, FakeAzure, source_body

from azure_http import FakeCredential, ScriptedAzure, Sent, example
from drill import vault_restore
from drill.azure_restore import DISPOSABLE_TAG, LEDGER_FILE, Ledger, RestoreError, network_client
from drill.promotion import API_VERSION, default_client
from drill.vault_restore import (
    DATAPROTECTION_API_VERSION,
    RecoveryPoint,
    VaultRestorer,
    VaultSource,
    container_client,
    create_request,
    database_files,
    dataprotection_client,
    newest_point,
)

VAULT_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-cty-prod-aue/providers/Microsoft.DataProtection/"
    "backupVaults/bvault-cty-prod-aue"
)
CONTAINER_URL = "https://stctyltrprodaue62db.blob.core.windows.net/ltr-restores"
NAME = "rc-vault-knowledge-20261128t101500z-abc123"
OLDER, NEWER = "2026-11-15T02:04:11Z", "2026-11-22T02:03:07Z"
DUMP = b"PGDMP\x01\x0e\x00 the knowledge database"
DATABASES = ("knowledge", "patterns")
JOB = "3c60cb49-63e8-4b21-b9bd-26277b3fdfae"
# Another check's files in the same container: never touched by this one.
OTHER_CHECK_FILE = "rc-vault-operational-20261101t030000z-def456_decisions.sql"


def list_blobs_xml(names: list[str], prefix: str) -> bytes:
    """A List Blobs response body in the documented shape (learn.microsoft.com/rest/api/
    storageservices/list-blobs, "Response body")."""
    blobs = "".join(
        f"<Blob><Name>{name}</Name><Properties><Last-Modified>Sun, 22 Nov 2026 03:10:00 GMT</Last-Modified>"
        f"<Etag>0x8DD</Etag><Content-Length>{len(DUMP)}</Content-Length><BlobType>BlockBlob</BlobType>"
        "</Properties></Blob>"
        for name in names
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><EnumerationResults '
        'ServiceEndpoint="https://stctyltrprodaue62db.blob.core.windows.net/" ContainerName="ltr-restores">'
        f"<Prefix>{prefix}</Prefix><Blobs>{blobs}</Blobs><NextMarker /></EnumerationResults>"
    ).encode()


class FakeVault(FakeAzure):
    """FakeAzure plus the backup vault (recovery points, the restore, its job), the staging container
    and the server parameters of the source and of the new server."""

    def __init__(
        self,
        job_statuses=("InProgress", "Completed"),
        restored_files=None,
        parameters=None,
        job_id=f"{VAULT_ID}/backupJobs/{JOB}",
        refuse=(),
    ):
        super().__init__(source_body())
        self.job_id = job_id
        self.vault_polls = 0
        self.failure_details = [
            {"code": "UserErrorTargetStorageNotReachable", "message": "the storage account is not reachable"}
        ]
        # (method, path ending) pairs Azure answers with an error
        self.refuse = set(refuse)
        points = example("ListRecoveryPoints.json")["responses"]["200"]["body"]
        self.points = copy.deepcopy(points)
        for point, when in zip(self.points["value"], (OLDER, NEWER), strict=True):
            point["properties"]["recoveryPointTime"] = when
            point["properties"]["recoveryPointId"] = f"rp-{when[:10]}"
        self.job_statuses = list(job_statuses)
        self.restore_requests: list[Sent] = []
        self.blobs = dict.fromkeys(
            restored_files
            or [
                f"{NAME}_knowledge.sql",
                f"{NAME}_patterns.sql",
                f"{NAME}_roles.sql",
                f"{NAME}_schema.sql",
                OTHER_CHECK_FILE,
            ],
            DUMP,
        )
        self.deleted_blobs: list[str] = []
        self.downloads: list[str] = []
        # (server, parameter) -> (value, isDynamicConfig)
        self.parameters = parameters or {
            ("examplesourceserver", "azure.extensions"): ("pg_cron,pgaudit,vector", True),
            ("examplesourceserver", "shared_preload_libraries"): ("pg_cron,pgaudit", False),
            (NAME, "azure.extensions"): ("", True),
            (NAME, "shared_preload_libraries"): ("pg_cron,pgaudit", False),
        }
        self.parameter_puts: list[Sent] = []
        self.restarts = 0

    def __call__(self, sent: Sent):
        if any(sent.method == method and sent.path.endswith(end) for method, end in self.refuse):
            return 409, {}, {"error": {"code": "Conflict", "message": f"refused {sent.method} {sent.path}"}}
        if urlsplit(sent.url).netloc.endswith(".blob.core.windows.net"):
            return self._blob(sent)
        path = sent.path
        if "/vaultop-" in path:
            return self._vault_operation(path)
        if path.endswith("/recoveryPoints"):
            return 200, {}, self.points
        if path.endswith("/restore") and "/backupInstances/" in path:
            self.restore_requests.append(sent)
            headers = example("TriggerRestoreAsFiles.json")["responses"]["202"]["headers"]
            base = "https://management.azure.com" + path.rsplit("/backupInstances/", 1)[0]
            return (
                202,
                {
                    "Azure-AsyncOperation": f"{base}/vaultop-status?api-version={DATAPROTECTION_API_VERSION}",
                    "Location": f"{base}/vaultop-result?api-version={DATAPROTECTION_API_VERSION}",
                    "Retry-After": headers["Retry-After"],
                },
                None,
            )
        if "/backupJobs/" in path:
            job = copy.deepcopy(example("GetJob.json")["responses"]["200"]["body"])
            status = self.job_statuses.pop(0)
            job["properties"].update(status=status, operationCategory="Restore")
            if status == "Failed" and self.failure_details:
                job["properties"]["errorDetails"] = self.failure_details
            return 200, {}, job
        if "/configurations/" in path:
            return self._parameter(sent)
        if path.endswith("/restart"):
            self.restarts += 1
            return self._accepted("ConfigurationsUpdateUsingPut.json", "Succeeded")
        return super().__call__(sent)

    def _vault_operation(self, path: str):
        if path.endswith("-status"):
            self.vault_polls += 1
            return 200, {}, {"status": "InProgress" if self.vault_polls == 1 else "Succeeded"}
        # Microsoft's REST guide shows the job id as a full ARM id, the spec's example as a GUID.
        return 200, {}, {"jobId": self.job_id, "objectType": "OperationJobExtendedInfo"}

    def _parameter(self, sent: Sent):
        server, _, name = sent.path.split("/flexibleServers/", 1)[1].partition("/configurations/")
        if sent.method == "PUT":
            self.parameter_puts.append(sent)
            self.parameters[(server, name)] = (sent.body["properties"]["value"], False)
            return self._accepted("ConfigurationsUpdateUsingPut.json", "Succeeded")
        body = copy.deepcopy(example("ConfigurationsGet.json")["responses"]["200"]["body"])
        value, dynamic = self.parameters[(server, name)]
        body.update(name=name, id=sent.path)
        body["properties"].update(value=value, isDynamicConfig=dynamic)
        return 200, {}, body

    def _blob(self, sent: Sent):
        path = urlsplit(sent.url).path
        query = parse_qs(urlsplit(sent.url).query)
        if query.get("comp") == ["list"]:
            prefix = query.get("prefix", [""])[0]
            names = [name for name in self.blobs if name.startswith(prefix)]
            return 200, {"Content-Type": "application/xml"}, list_blobs_xml(names, prefix)
        name = path.split("/ltr-restores/", 1)[1]
        if sent.method == "DELETE":
            self.deleted_blobs.append(name)
            self.blobs.pop(name, None)
            return 202, {}, None
        self.downloads.append(name)
        content = self.blobs[name]
        return (
            206,
            {
                "Content-Length": str(len(content)),
                "Content-Range": f"bytes 0-{len(content) - 1}/{len(content)}",
                "x-ms-blob-type": "BlockBlob",
                "ETag": '"0x8DD"',
                "Last-Modified": "Sun, 22 Nov 2026 03:10:00 GMT",
            },
            content,
        )


def vault_restorer(
    azure: FakeVault,
    progress: list[str],
    loads: list,
    databases=DATABASES,
    checked=None,
    slept=None,
    real_sleep=0.0,
):
    """A VaultRestorer whose Azure is `azure`; loads, client checks and sleeps are recorded, not run."""
    checked = checked if checked is not None else []
    slept = slept if slept is not None else []
    transport = ScriptedAzure([azure] * 200, real_sleep=real_sleep)
    pipeline = {"credential": FakeCredential(), "transport": transport, "retry_total": 0}
    restorer = VaultRestorer(
        VaultSource(VAULT_ID, CONTAINER_URL, databases),
        dataprotection_for=lambda sub: dataprotection_client(sub, **pipeline),
        container_for=lambda url: container_client(url, **pipeline),
        loader=lambda chunks, dsn, password, database: loads.append(
            (b"".join(chunks), dsn, password, database)
        ),
        client_check=checked.append,
        sleep=slept.append,
        dsn="dbname=knowledge user=app sslmode=verify-full",
        postgres_for=lambda sub: default_client(sub, **pipeline),
        network_for=lambda sub: network_client(sub, **pipeline),
        progress=progress.append,
        poll_seconds=0,
    )
    return restorer, transport


def run(tmp_path, azure=None, to=dt.datetime(2026, 11, 28, 10, 15, tzinfo=dt.UTC), checked=None):
    azure = azure or FakeVault()
    progress: list[str] = []
    loads: list = []
    restorer, transport = vault_restorer(azure, progress, loads, checked=checked)
    ledger = Ledger(tmp_path / LEDGER_FILE)
    restored = restorer.restore(ledger, restorer.source(SOURCE), "vault", NAME, HERE, to)
    return restorer, transport, ledger, restored, azure, progress, loads


def failure(tmp_path, azure: FakeVault, **settings) -> tuple[str, Ledger]:
    """What a vault restore against `azure` fails with, and its ledger; `settings` are restorer
    attributes to set first."""
    restorer, _ = vault_restorer(azure, [], [])
    for key, value in settings.items():
        setattr(restorer, key, value)
    ledger = Ledger(tmp_path / LEDGER_FILE)
    with pytest.raises(RestoreError) as error:
        restorer.restore(ledger, restorer.source(SOURCE), "vault", NAME, HERE, POINT)
    return str(error.value), ledger


def test_the_newest_backup_is_restored_as_files_and_loaded_into_a_server_like_the_source(tmp_path):
    checked: list[int] = []
    restorer, transport, ledger, restored, azure, progress, loads = run(tmp_path, checked=checked)
    assert checked == [17], "pg_restore checked against the source's major version first"

    (request,) = azure.restore_requests
    documented = example("TriggerRestoreAsFiles.json")["parameters"]["parameters"]
    assert request.api_version == DATAPROTECTION_API_VERSION
    assert request.path.endswith(
        "/backupVaults/bvault-cty-prod-aue/backupInstances/examplesourceserver/restore"
    )
    assert set(request.body) == set(documented)
    assert request.body["objectType"] == "AzureBackupRecoveryPointBasedRestoreRequest"
    assert request.body["recoveryPointId"] == "rp-2026-11-22", "the newer of the two points"
    assert request.body["sourceDataStoreType"] == "VaultStore"
    assert request.body["restoreTargetInfo"] == {
        "objectType": "RestoreFilesTargetInfo",
        "recoveryOption": "FailIfExists",
        "restoreLocation": "eastus",
        "targetDetails": {
            "url": CONTAINER_URL,
            "filePrefix": NAME,
            "restoreTargetLocationType": "AzureBlobs",
        },
    }
    job_reads = [s for s in transport.sent if "/backupJobs/" in s.path]
    assert [s.path.rsplit("/", 1)[-1] for s in job_reads] == ["3c60cb49-63e8-4b21-b9bd-26277b3fdfae"] * 2
    assert all(s.api_version == DATAPROTECTION_API_VERSION for s in job_reads)

    (create,) = [
        s for s in transport.sent if s.method == "PUT" and s.path.endswith(f"/flexibleServers/{NAME}")
    ]
    documented = example("ServersCreateWithDataEncryptionEnabled.json")["parameters"]["parameters"]
    assert create.api_version == API_VERSION
    assert set(documented) <= set(create.body)
    assert set(documented["properties"]) - {"availabilityZone"} <= set(create.body["properties"])
    props = create.body["properties"]
    assert props["createMode"] == "Create"
    assert create.body["sku"] == {"name": "Standard_D4ds_v5", "tier": "GeneralPurpose"}
    assert (props["version"], props["storage"], props["administratorLogin"]) == (
        "17",
        {"storageSizeGB": 128},
        "exampleadministratorlogin",
    )
    assert props["dataEncryption"] == {
        "type": "AzureKeyVault",
        "primaryKeyURI": PRIMARY_KEY,
        "primaryUserAssignedIdentityId": f"{IDENTITIES}/id-primary",
    }
    assert props["network"] == {"publicNetworkAccess": "Disabled"}
    assert (props["highAvailability"]["mode"], props["backup"]["geoRedundantBackup"]) == (
        "Disabled",
        "Disabled",
    )
    assert create.body["tags"] == {DISPOSABLE_TAG: tmp_path.name}
    assert create.body["identity"] == source_body()["identity"], "the identities its key needs"
    auth = props["authConfig"]
    assert (auth["passwordAuth"], auth["activeDirectoryAuth"]) == ("Enabled", "Disabled")
    # The shortest retention Azure accepts (7-35 days, concepts-backup-restore): it lives an hour.
    assert props["backup"] == {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled"}
    password = props["administratorLoginPassword"]
    assert len(password) == 32, "24 random bytes, URL-safe"
    assert restored.password == password and password not in repr(restored)
    assert restored.server_id == create.path and restored.server_id.endswith(f"/flexibleServers/{NAME}")
    (endpoint,) = [s for s in transport.sent if s.method == "PUT" and "/privateEndpoints/" in s.path]
    (connection,) = endpoint.body["properties"]["privateLinkServiceConnections"]
    assert connection["properties"]["privateLinkServiceId"] == restored.server_id
    assert (
        f"{NAME}: creating a server for examplesourceserver's backup of 2026-11-22T02:03:07+00:00 in eastus"
        in progress
    )

    # azure.extensions differed and is dynamic; shared_preload_libraries already matched: no restart.
    (put,) = azure.parameter_puts
    assert put.path.endswith(f"/{NAME}/configurations/azure.extensions")
    assert put.body == {"properties": {"value": "pg_cron,pgaudit,vector", "source": "user-override"}}
    assert azure.restarts == 0

    assert restored.point == dt.datetime(2026, 11, 22, 2, 3, 7, tzinfo=dt.UTC)
    assert (restored.user, restored.private_ip) == ("exampleadministratorlogin", "192.168.0.4")
    assert azure.downloads == [f"{NAME}_knowledge.sql", f"{NAME}_patterns.sql"], "never roles or schema"
    dsn = restored.dsn("dbname=knowledge user=app sslmode=verify-full")
    assert loads == [(DUMP, dsn, password, "knowledge"), (DUMP, dsn, password, "patterns")]
    assert f"host={NAME}.postgres.database.azure.com" in dsn and "hostaddr=192.168.0.4" in dsn
    assert "user=exampleadministratorlogin" in dsn and "sslmode=verify-full" in dsn and "port=5432" in dsn
    assert all(password not in line for line in progress)

    assert [e["kind"] for e in ledger.entries] == ["blobs", "server", "privateEndpoint"]
    assert restorer.remove(ledger) == []
    assert sorted(azure.deleted_blobs) == sorted(
        [f"{NAME}_knowledge.sql", f"{NAME}_patterns.sql", f"{NAME}_roles.sql", f"{NAME}_schema.sql"]
    )
    deletes = [s.path.rsplit("/", 1)[-1] for s in transport.sent if s.method == "DELETE"]
    assert deletes[:2] == [f"pe-{NAME}", NAME], "endpoint, server, then the files"
    assert OTHER_CHECK_FILE in azure.blobs, "another check's files are left alone"
    assert Ledger(tmp_path / LEDGER_FILE).pending() == []


def test_a_pg_restore_older_than_the_server_stops_the_check_before_azure_is_asked(tmp_path):
    def too_old(major):
        raise RestoreError(f"pg_restore is PostgreSQL 15, older than the server's {major}")

    azure = FakeVault()
    message, ledger = failure(tmp_path, azure, client_check=too_old)
    assert message == "pg_restore is PostgreSQL 15, older than the server's 17"
    assert azure.restore_requests == [] and ledger.entries == []


def test_a_static_parameter_that_differs_restarts_the_new_server(tmp_path):
    azure = FakeVault()
    azure.parameters[(NAME, "shared_preload_libraries")] = ("pgaudit", False)
    *_, progress, _ = run(tmp_path, azure)
    assert [p.path.rsplit("/", 1)[-1] for p in azure.parameter_puts] == [
        "azure.extensions",
        "shared_preload_libraries",
    ]
    assert azure.restarts == 1, "pg_cron loads only at start (concepts-extensions-considerations)"
    assert f"{NAME}: restarting, for shared_preload_libraries" in progress


def test_to_picks_the_newest_point_at_or_before_it(tmp_path):
    *_, azure, _, _ = run(tmp_path, to=dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    assert azure.restore_requests[0].body["recoveryPointId"] == "rp-2026-11-15"


def test_a_failed_restore_job_is_named_and_the_files_are_still_listed_for_removal(tmp_path):
    azure = FakeVault(job_statuses=("InProgress", "Failed"))
    message, ledger = failure(tmp_path, azure)
    assert (
        message
        == f"restore job {JOB} in bvault-cty-prod-aue ended Failed: the storage account is not reachable"
    )
    assert [e["kind"] for e in ledger.pending()] == ["blobs"]
    assert not azure.created, "no server was asked for"


def test_a_job_that_never_finishes_is_given_up_on(tmp_path, monkeypatch):
    monkeypatch.setattr(vault_restore, "JOB_TIMEOUT_SECONDS", 90)
    azure = FakeVault(job_statuses=["InProgress"] * 10)
    message, _ = failure(tmp_path, azure, poll_seconds=30)
    assert message == f"restore job {JOB} in bvault-cty-prod-aue is still InProgress after 90s"
    assert len(azure.job_statuses) == 6, "asked four times: at 0, 30, 60 and 90 s"


def test_files_that_do_not_name_each_database_stop_the_check_before_a_server_is_made(tmp_path):
    azure = FakeVault(restored_files=[f"{NAME}_knowledge.sql", f"{NAME}_roles.sql"])
    message, _ = failure(tmp_path, azure)
    assert re.match(r"0 restored files match database patterns .*found: .*_knowledge.sql", message)
    assert azure.created == {}


def test_a_pitr_kind_still_goes_to_the_server_restore(tmp_path):
    azure = FakeVault()
    restorer, transport = vault_restorer(azure, [], [])
    restorer.restore(Ledger(tmp_path / LEDGER_FILE), restorer.source(SOURCE), "pitr", "rc-pitr", HERE, POINT)
    (create,) = [s for s in transport.sent if s.method == "PUT" and "/flexibleServers/" in s.path]
    assert create.body["properties"]["createMode"] == "PointInTimeRestore" and azure.restore_requests == []
    assert dt.datetime.fromisoformat(create.body["properties"]["pointInTimeUTC"]) == POINT


def test_without_a_vault_a_vault_restore_is_refused(tmp_path):
    restorer = VaultRestorer(None, dsn="")
    with pytest.raises(
        RestoreError, match=r"^a vault restore needs the stack's backup vault and staging container$"
    ):
        restorer.restore(Ledger(tmp_path / LEDGER_FILE), None, "vault", NAME, HERE, dt.datetime.now(dt.UTC))


@pytest.mark.parametrize(
    "names, databases, expected",
    [
        (["p_knowledge.sql", "p_roles.sql"], ["knowledge"], {"knowledge": "p_knowledge.sql"}),
        (
            ["p/knowledge/database.sql", "p/roles.sql"],
            ["knowledge"],
            {"knowledge": "p/knowledge/database.sql"},
        ),
        (
            ["p_decisions.sql", "p_patterns.sql"],
            ["decisions", "patterns"],
            {"decisions": "p_decisions.sql", "patterns": "p_patterns.sql"},
        ),
        (["p-knowledge-2026.sql"], ["knowledge"], {"knowledge": "p-knowledge-2026.sql"}),
        (["p_Knowledge.SQL", "p_Roles.sql"], ["knowledge"], {"knowledge": "p_Knowledge.SQL"}),
        (["p_schemas.sql", "p_schema.sql"], ["schemas"], {"schemas": "p_schemas.sql"}),
        # ".sql" is a suffix, not a word: a database may be called sql.
        (
            ["p_sql.sql", "p_knowledge.sql"],
            ["sql", "knowledge"],
            {"sql": "p_sql.sql", "knowledge": "p_knowledge.sql"},
        ),
        (["p_sql.SQL"], ["sql"], {"sql": "p_sql.SQL"}),
    ],
)
def test_restored_files_are_matched_to_databases_by_name(names, databases, expected):
    assert database_files(names, "p", databases) == expected


def test_the_refusal_lists_what_was_found():
    with pytest.raises(RestoreError, match=re.escape("under 'p' (found: none)")):
        database_files([], "p", ["knowledge"])
    with pytest.raises(RestoreError, match=re.escape("(found: a.sql, b.sql)")):
        database_files(["b.sql", "a.sql"], "p", ["knowledge"])


@pytest.mark.parametrize(
    "names, fragment",
    [
        (["p_knowledge.sql", "p_knowledge_old.sql"], "2 restored files match database knowledge"),
        (["p_knowledgebase.sql"], "0 restored files match database knowledge"),
        (["other_knowledge.sql"], "0 restored files match"),
        (["p_knowledge_schema.sql"], "0 restored files match"),
    ],
)
def test_ambiguous_or_missing_files_are_refused(names, fragment):
    with pytest.raises(RestoreError, match=re.escape(fragment)):
        database_files(names, "p", ["knowledge"])


def point(when: str, state: str | None = "Completed", point_id: str = "rp"):
    properties = type(
        "P",
        (),
        {
            "recovery_point_id": point_id,
            "recovery_point_time": dt.datetime.fromisoformat(when),
            "recovery_point_state": state,
        },
    )
    return type("R", (), {"name": point_id, "properties": properties})


def test_a_point_without_a_state_counts_and_an_empty_vault_says_so():
    stateless = type(
        "R",
        (),
        {
            "name": "n",
            "properties": type(
                "P",
                (),
                {"recovery_point_id": None, "recovery_point_time": dt.datetime(2026, 11, 1, tzinfo=dt.UTC)},
            ),
        },
    )
    assert newest_point([stateless], None) == RecoveryPoint("n", dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    with pytest.raises(RestoreError, match=r"^the backup vault holds no completed recovery point$"):
        newest_point([], None)


def test_only_completed_points_count_and_the_boundary_is_inclusive():
    points = [
        point("2026-11-01T02:00:00+00:00", point_id="a"),
        point("2026-11-08T02:00:00+00:00", point_id="b"),
        point("2026-11-15T02:00:00+00:00", state="Partial", point_id="c"),
    ]
    assert newest_point(points, None) == RecoveryPoint("b", dt.datetime(2026, 11, 8, 2, tzinfo=dt.UTC))
    assert newest_point(points, dt.datetime(2026, 11, 8, 2, tzinfo=dt.UTC)).point_id == "b"
    assert newest_point(points, dt.datetime(2026, 11, 8, 1, 59, 59, tzinfo=dt.UTC)).point_id == "a"
    with pytest.raises(RestoreError, match="no completed recovery point at or before 2026-10-31"):
        newest_point(points, dt.datetime(2026, 10, 31, tzinfo=dt.UTC))


def refused(tmp_path, *refuse) -> str:
    """What a vault restore's RestoreError says when Azure refuses `refuse` (method, path ending)."""
    return failure(tmp_path, FakeVault(refuse=refuse))[0]


def test_each_refusal_is_named_by_what_was_refused(tmp_path):
    message = refused(tmp_path, ("GET", "/recoveryPoints"))
    assert message.startswith("bvault-cty-prod-aue/examplesourceserver: cannot list recovery points: ")
    message = refused(tmp_path, ("POST", "/restore"))
    assert message.startswith(
        "bvault-cty-prod-aue/examplesourceserver: Azure refused or failed the restore: "
    )
    message = refused(tmp_path, ("PUT", f"/flexibleServers/{NAME}"))
    assert message.startswith(f"{NAME}: Azure refused or failed the server: (Conflict) refused PUT")
    message = refused(tmp_path, ("PUT", "/configurations/azure.extensions"))
    assert message.startswith(f"{NAME}: cannot set the source's server parameters: (Conflict)")


def test_a_bare_job_id_as_in_the_specs_example_is_followed_too(tmp_path):
    _, transport, _, _, azure, _, _ = run(tmp_path, FakeVault(job_id=JOB))
    assert azure.job_statuses == [], "both job states read"
    jobs = [s.path for s in transport.sent if "/backupJobs/" in s.path]
    assert jobs and all(path.endswith(f"/backupJobs/{JOB}") for path in jobs)


def test_the_job_is_polled_at_the_interval_and_its_progress_said(tmp_path):
    slept: list[float] = []
    progress: list[str] = []
    restorer, _ = vault_restorer(
        FakeVault(job_statuses=("InProgress", "InProgress", "Completed")), progress, [], slept=slept
    )
    restorer.poll_seconds = 30
    restorer.restore(
        Ledger(tmp_path / LEDGER_FILE), restorer.source(SOURCE), "vault", NAME, HERE, dt.datetime.now(dt.UTC)
    )
    assert slept == [30, 30]
    assert [line for line in progress if line.startswith("restore job")] == [
        f"restore job {JOB}: InProgress after 30s",
        f"restore job {JOB}: InProgress after 60s",
    ]


def test_equal_parameters_are_left_alone_and_each_is_compared(tmp_path):
    azure = FakeVault()
    azure.parameters.update(
        {
            ("examplesourceserver", "azure.extensions"): ("", True),
            (NAME, "azure.extensions"): (None, True),  # unset on the new server: the same as empty
            (NAME, "shared_preload_libraries"): ("pgaudit", False),
        }
    )
    run(tmp_path, azure)
    assert [p.path.rsplit("/", 1)[-1] for p in azure.parameter_puts] == ["shared_preload_libraries"]
    assert azure.restarts == 1


def test_a_source_azure_describes_without_sku_storage_or_login_is_refused():
    for missing in ("sku", "storage", "administratorLogin"):
        body = source_body()
        body.pop(missing, None)
        body["properties"].pop(missing, None)
        server = Server.deserialize(body)
        with pytest.raises(
            RestoreError,
            match=r"^examplesourceserver: Azure did not report the source's sku, storage or admin login$",
        ):
            create_request(server, "eastus", "pw", "check")


def test_a_source_with_service_managed_keys_gets_no_keys_or_identities():
    body = source_body()
    body["properties"]["dataEncryption"] = {"type": "SystemManaged"}
    body.pop("identity")
    request = create_request(Server.deserialize(body), "eastus", "pw", "check").serialize()
    assert request["properties"]["dataEncryption"] == {"type": "SystemManaged"}
    assert "identity" not in request


def test_an_unknown_ledger_entry_is_reported_and_the_rest_still_removed(tmp_path):
    azure = FakeVault()
    restorer, _ = vault_restorer(azure, [], [])
    ledger = Ledger(tmp_path / LEDGER_FILE)
    ledger.will_create(
        "server",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/rc-old",
    )
    ledger.will_create("gizmo", "/subscriptions/s/resourceGroups/rg/providers/x/gizmos/g1")
    assert restorer.remove(ledger) == [
        "/subscriptions/s/resourceGroups/rg/providers/x/gizmos/g1: this restorer cannot delete a gizmo"
    ]
    assert [e["id"].rsplit("/", 1)[-1] for e in ledger.pending()] == ["g1"], "the server after it was deleted"


def test_every_long_running_operation_says_how_it_is_going_under_its_own_name(tmp_path):
    """With Azure taking its time (each poll waits 0.15 s for real), every operation the check waits
    for reports its progress, and asks to be polled at the check's interval, not the SDK's 30 s."""
    azure = FakeVault()
    azure.parameters[(NAME, "shared_preload_libraries")] = ("pgaudit", False)
    progress: list[str] = []
    restorer, transport = vault_restorer(azure, progress, [], real_sleep=0.15)
    restorer.poll_seconds = 0.01
    ledger = Ledger(tmp_path / LEDGER_FILE)
    restorer.restore(ledger, restorer.source(SOURCE), "vault", NAME, HERE, dt.datetime.now(dt.UTC))
    assert restorer.remove(ledger) == []

    def reported(what: str) -> bool:
        return any(re.fullmatch(rf"{re.escape(what)}: \w+ after \d+s", line) for line in progress)

    waited_for = [
        "examplesourceserver",  # the vault's restore request
        NAME,  # the new server, then its deletion
        f"{NAME} azure.extensions",
        f"{NAME} shared_preload_libraries",
        f"{NAME} restart",
        f"pe-{NAME}",  # the endpoint's deletion (its creation answers at once: 200)
    ]
    assert [what for what in waited_for if not reported(what)] == []
    assert not [line for line in progress if line.startswith("None")], "every operation under its name"
    # Azure's own Retry-After (60 s on the vault's restore, TriggerRestoreAsFiles.json) is honoured.
    assert set(transport.slept) <= {0.01, 60}, transport.slept


@pytest.mark.parametrize(
    "details, ending",
    [
        ([], "ended Failed"),
        ([{"message": "first"}, {"message": ""}, {"message": "second"}], "ended Failed: first; second"),
    ],
)
def test_a_failed_jobs_errors_are_all_named(tmp_path, details, ending):
    azure = FakeVault(job_statuses=("Failed",))
    azure.failure_details = details
    assert failure(tmp_path, azure)[0] == f"restore job {JOB} in bvault-cty-prod-aue {ending}"


def test_the_container_is_reached_with_the_ambient_azure_login():
    from azure.identity import DefaultAzureCredential

    client = container_client(CONTAINER_URL)
    assert isinstance(client.credential, DefaultAzureCredential)
    assert (client.account_name, client.container_name) == ("stctyltrprodaue62db", "ltr-restores")


def test_a_restart_names_every_static_parameter_that_changed(tmp_path):
    """Whether a parameter needs a restart is what Azure says (isDynamicConfig), not assumed by name."""
    azure = FakeVault()
    azure.parameters[(NAME, "azure.extensions")] = ("", False)
    azure.parameters[(NAME, "shared_preload_libraries")] = ("pgaudit", False)
    *_, progress, _ = run(tmp_path, azure)
    assert f"{NAME}: restarting, for azure.extensions, shared_preload_libraries" in progress
    assert azure.restarts == 1
