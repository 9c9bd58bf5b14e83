"""The `vault` restore check's Azure half: a long-term-retention backup from the backup vault,
restored as files and loaded into a disposable server.

- Recovery points: RecoveryPoints_List of the server's backup instance (named after the server,
  components/backup.py); the newest `Completed` one, or the newest at or before `--to`.
- Files: BackupInstances_TriggerRestore with an AzureBackupRecoveryPointBasedRestoreRequest from
  the VaultStore and a RestoreFilesTargetInfo into the stack's staging container
  (TriggerRestoreAsFiles.json). The operation returns a job id, "a full ARM id or a bare GUID" in
  Microsoft's examples, which Jobs_Get follows to the end. LTR restores are "only available as
  'Restore as Files'" (concepts-backup-restore), one file per database; their names are not
  documented, so they are found by listing the check's own prefix.
- Server: Servers_CreateOrUpdate with createMode Create, shaped like the source (sku, version,
  storage, identities and customer-managed key), public access Disabled and a private endpoint, an
  admin password made for this check alone. Extensions must be allowed (`azure.extensions`) and
  preloaded (`shared_preload_libraries`, static: a restart) before the files can create them
  (how-to-allow-extensions; the restore article's "enable required extensions" step), so both
  parameters are copied from the source.
- Load: drill/dump_load.py, one database at a time.

The Data Protection calls use api-version 2025-01-01, the version pulumi-azure-native 3.29.0 uses
for backup vaults and instances; azure-mgmt-dataprotection 2.0.1's models come from 2025-07-01,
whose examples for these operations are the same but for the version string.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from .azure_restore import (
    DISPOSABLE_TAG,
    AzureRestorer,
    Ledger,
    Placement,
    Restored,
    RestoreError,
    arm_names,
    source_identities,
)
from .azure_sdk import azure_client, wait_for
from .dump_load import load_dump, require_client

if TYPE_CHECKING:
    from azure.mgmt.postgresqlflexibleservers.models import Server
    from azure.storage.blob import ContainerClient

DATAPROTECTION_API_VERSION = "2025-01-01"
# Jobs_Get status values (AzureBackupJob.status: "InProgress/Completed/Failed/Cancelled/
# CompletedWithWarnings/Cancelling/Paused"; Microsoft's GetJob.json example shows "Started").
JOB_SUCCEEDED = ("Completed", "CompletedWithWarnings")
JOB_FAILED = ("Failed", "Cancelled")
# How long a restore job may run before the check stops waiting: Microsoft gives restores of a
# flexible server "from few minutes up to 12 hours" (concepts-business-continuity).
JOB_TIMEOUT_SECONDS = 12 * 3600
# Server parameters a restored database may depend on, copied from the source.
COPIED_PARAMETERS = ("azure.extensions", "shared_preload_libraries")
# Files that are not one database: the article lists roles, tablespace and schema files besides
# "Database.sql file per database", and advises against running the schema file.
SERVER_WIDE_FILES = ("roles", "tablespace", "schema")


@dataclass(frozen=True)
class VaultSource:
    """Where a server's long-term-retention backups are and where they are restored to."""

    vault_id: str  # the stack's backupVaultId
    container_url: str  # the stack's restoreContainerUrl
    databases: tuple[str, ...]  # the server's databases (continuity:databases.<key>.databases)

    @property
    def vault(self) -> tuple[str, str, str]:
        """Subscription, resource group and name of the vault."""
        return arm_names(self.vault_id)


@dataclass(frozen=True)
class RecoveryPoint:
    point_id: str
    time: dt.datetime


def dataprotection_client(subscription_id: str, credential: Any = None, **pipeline: Any) -> Any:
    from azure.mgmt.dataprotection import DataProtectionMgmtClient

    return azure_client(
        DataProtectionMgmtClient, subscription_id, DATAPROTECTION_API_VERSION, credential, **pipeline
    )


def container_client(container_url: str, credential: Any = None, **pipeline: Any) -> ContainerClient:
    """The staging container, with the ambient Azure login (shared keys are off on the account)."""
    from azure.storage.blob import ContainerClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return ContainerClient.from_container_url(container_url, credential=credential, **pipeline)


def newest_point(points: Iterable[Any], to: dt.datetime | None) -> RecoveryPoint:
    """The newest completed recovery point, at or before `to` when given."""
    found = [
        RecoveryPoint(p.properties.recovery_point_id or p.name, p.properties.recovery_point_time)
        for p in points
        if getattr(p.properties, "recovery_point_state", None) in (None, "Completed")
        and p.properties.recovery_point_time is not None
        and (to is None or p.properties.recovery_point_time <= to)
    ]
    if not found:
        limit = f" at or before {to.isoformat()}" if to else ""
        raise RestoreError(f"the backup vault holds no completed recovery point{limit}")
    return max(found, key=lambda point: point.time)


def database_files(names: Iterable[str], prefix: str, databases: Iterable[str]) -> dict[str, str]:
    """Which restored file holds which database: the one file under `prefix` whose name has the
    database's name as a word of its own and is not a server-wide file (roles, tablespace, schema)."""
    names = list(names)
    candidates = {
        name: words
        for name in names
        if name.startswith(prefix) and not (words := _words(name[len(prefix) :])) & set(SERVER_WIDE_FILES)
    }
    files = {}
    for database in databases:
        matching = [name for name, words in candidates.items() if database.lower() in words]
        if len(matching) != 1:
            raise RestoreError(
                f"{len(matching)} restored files match database {database} under {prefix!r} "
                f"(found: {', '.join(sorted(names)) or 'none'})"
            )
        files[database] = matching[0]
    return files


def _words(name: str) -> set[str]:
    """The lower-case words of a file name without its .sql suffix (split at / _ - and .)."""
    stem = name.lower().removesuffix(".sql")
    return {word for word in re.split(r"[/_.\-]+", stem) if word}


def create_request(source: Server, location: str, password: str, check_id: str) -> Server:
    """A new server shaped like `source` (Servers_CreateOrUpdate, createMode Create), encrypted with
    its key, with no public access, no HA and no geo-backup: it lives for one check."""
    from azure.mgmt.postgresqlflexibleservers.models import (
        AuthConfig,
        Backup,
        HighAvailability,
        Network,
        Server,
        Sku,
        Storage,
    )

    if source.sku is None or source.storage is None or not source.administrator_login:
        raise RestoreError(f"{source.name}: Azure did not report the source's sku, storage or admin login")
    encryption = source.data_encryption
    if encryption is not None and encryption.type == "AzureKeyVault":
        from azure.mgmt.postgresqlflexibleservers.models import DataEncryption

        encryption = DataEncryption(
            type="AzureKeyVault",
            primary_key_uri=encryption.primary_key_uri,
            primary_user_assigned_identity_id=encryption.primary_user_assigned_identity_id,
        )
    return Server(
        location=location,
        tags={DISPOSABLE_TAG: check_id},
        sku=Sku(name=source.sku.name, tier=source.sku.tier),
        identity=source_identities(source),
        data_encryption=encryption,
        administrator_login=source.administrator_login,
        administrator_login_password=password,
        version=source.version,
        storage=Storage(storage_size_gb=source.storage.storage_size_gb),
        auth_config=AuthConfig(password_auth="Enabled", active_directory_auth="Disabled"),
        backup=Backup(geo_redundant_backup="Disabled"),  # and the SDK's (and Azure's) 7 days of backups
        high_availability=HighAvailability(mode="Disabled"),
        network=Network(public_network_access="Disabled"),
        create_mode="Create",
    )


class VaultRestorer(AzureRestorer):
    """AzureRestorer that also restores from the backup vault (`kind` vault) and removes the files."""

    def __init__(
        self,
        vault: VaultSource | None = None,
        dataprotection_for: Callable[[str], Any] = dataprotection_client,
        container_for: Callable[[str], Any] = container_client,
        loader: Callable[..., None] = load_dump,
        client_check: Callable[[int], None] = require_client,
        sleep: Callable[[float], None] = time.sleep,
        *,
        dsn: str,
        **restorer: Any,
    ):
        """`dsn`: the source's connection string without host and password, whose TLS settings
        (sslmode, sslrootcert) the loads reuse."""
        super().__init__(**restorer)
        self.vault = vault
        self.dsn = dsn
        self.dataprotection_for = dataprotection_for
        self.container_for = container_for
        self.loader = loader
        self.client_check = client_check
        self.sleep = sleep

    def restore(
        self, ledger: Ledger, source: Any, kind: str, name: str, placement: Placement, point: dt.datetime
    ) -> Restored:
        if kind != "vault":
            return super().restore(ledger, source, kind, name, placement, point)
        if self.vault is None:
            raise RestoreError("a vault restore needs the stack's backup vault and staging container")
        self.client_check(int(source.version))
        chosen = self._recovery_point(source, point)
        files = self._restore_files(ledger, source, name, chosen)
        password = secrets.token_urlsafe(24)
        body = create_request(source, placement.location, password, ledger.path.parent.name)
        doing = f"creating a server for {source.name}'s backup of {chosen.time.isoformat()}"
        server_id, fqdn = self.create_server(ledger, body, name, placement, doing, "the server")
        self._copy_parameters(source, placement, name)
        address = self.endpoint(ledger, name, server_id, placement)
        restored = Restored(
            server_id, fqdn, address, point=chosen.time, user=source.administrator_login, password=password
        )
        admin_dsn = restored.dsn(self.dsn)
        container = self.container_for(self.vault.container_url)
        for database, blob in files.items():
            self.progress(f"{name}: loading {database} from {blob}")
            self.loader(container.download_blob(blob).chunks(), admin_dsn, password, database)
        return restored

    def delete(self, entry: dict[str, Any]) -> None:
        if entry["kind"] != "blobs":
            super().delete(entry)
            return
        url, _, prefix = entry["id"].partition("#")
        container = self.container_for(url)
        for blob in list(container.list_blob_names(name_starts_with=prefix)):
            container.delete_blob(blob)

    # --- steps --------------------------------------------------------------------------------
    def _instance(self, source: Any) -> tuple[Any, str, str, str]:
        assert self.vault is not None
        subscription, group, vault = self.vault.vault
        return self.dataprotection_for(subscription), group, vault, source.name

    def _recovery_point(self, source: Any, point: dt.datetime) -> RecoveryPoint:
        from azure.core.exceptions import HttpResponseError

        client, group, vault, instance = self._instance(source)
        try:
            points = list(client.recovery_points.list(group, vault, instance))
        except HttpResponseError as error:
            raise RestoreError(f"{vault}/{instance}: cannot list recovery points: {error.message}") from None
        chosen = newest_point(points, point)
        self.progress(f"{instance}: recovery point {chosen.point_id} of {chosen.time.isoformat()}")
        return chosen

    def _restore_files(
        self, ledger: Ledger, source: Any, prefix: str, chosen: RecoveryPoint
    ) -> dict[str, str]:
        """Restore the recovery point as files under `prefix`; which file holds which database."""
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.dataprotection.models import (
            AzureBackupRecoveryPointBasedRestoreRequest,
            RestoreFilesTargetInfo,
            TargetDetails,
        )

        assert self.vault is not None
        client, group, vault, instance = self._instance(source)
        request = AzureBackupRecoveryPointBasedRestoreRequest(
            recovery_point_id=chosen.point_id,
            source_data_store_type="VaultStore",
            source_resource_id=source.id,
            restore_target_info=RestoreFilesTargetInfo(
                recovery_option="FailIfExists",
                restore_location=source.location,
                target_details=TargetDetails(
                    url=self.vault.container_url,
                    file_prefix=prefix,
                    restore_target_location_type="AzureBlobs",
                ),
            ),
        )
        ledger.will_create("blobs", f"{self.vault.container_url}#{prefix}")
        self.progress(f"{instance}: restoring as files to {self.vault.container_url}/{prefix}*")
        try:
            poller = client.backup_instances.begin_trigger_restore(
                group, vault, instance, request, polling_interval=self.poll_seconds
            )
            started = wait_for(poller, instance, self.progress, self.poll_seconds)
            # Microsoft's examples give the job id as a bare GUID and as a full ARM id.
            self._wait_for_job(client, group, vault, PurePosixPath(str(started.job_id)).name)
        except HttpResponseError as error:
            raise RestoreError(
                f"{vault}/{instance}: Azure refused or failed the restore: {error.message}"
            ) from None
        names = list(self.container_for(self.vault.container_url).list_blob_names(name_starts_with=prefix))
        return database_files(names, prefix, self.vault.databases)

    def _wait_for_job(self, client: Any, group: str, vault: str, job_id: str) -> None:
        """Follow the vault's restore job (Jobs_Get) until it has finished, or give up."""
        waited = 0.0
        while True:
            job = client.jobs.get(group, vault, job_id).properties
            if job.status in JOB_SUCCEEDED:
                return
            if job.status in JOB_FAILED:
                errors = "; ".join(e.message for e in job.error_details or [] if e.message)
                raise RestoreError(
                    f"restore job {job_id} in {vault} ended {job.status}" + (f": {errors}" if errors else "")
                )
            if waited >= JOB_TIMEOUT_SECONDS:
                raise RestoreError(
                    f"restore job {job_id} in {vault} is still {job.status} after {waited:.0f}s"
                )
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
            self.progress(f"restore job {job_id}: {job.status} after {waited:.0f}s")

    def _copy_parameters(self, source: Any, placement: Placement, name: str) -> None:
        """Give the new server the source's allowed and preloaded extensions; restart if a static
        one changed."""
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.postgresqlflexibleservers.models import ConfigurationForUpdate

        subscription, group, source_name = arm_names(source.id)
        reading = self.postgres_for(subscription).configurations
        writing = self.postgres_for(placement.subscription_id)
        static_changed = []
        try:
            for parameter in COPIED_PARAMETERS:
                wanted = reading.get(group, source_name, parameter).value
                current = writing.configurations.get(placement.resource_group, name, parameter)
                if (current.value or "") == (wanted or ""):
                    continue
                self.progress(f"{name}: {parameter} = {wanted}")
                poller = writing.configurations.begin_put(
                    placement.resource_group,
                    name,
                    parameter,
                    ConfigurationForUpdate(value=wanted, source="user-override"),
                    polling_interval=self.poll_seconds,
                )
                wait_for(poller, f"{name} {parameter}", self.progress, self.poll_seconds)
                if current.is_dynamic_config is False:
                    static_changed.append(parameter)
            if static_changed:
                self.progress(f"{name}: restarting, for {', '.join(static_changed)}")
                poller = writing.servers.begin_restart(
                    placement.resource_group, name, polling_interval=self.poll_seconds
                )
                wait_for(poller, f"{name} restart", self.progress, self.poll_seconds)
        except HttpResponseError as error:
            raise RestoreError(
                f"{name}: cannot set the source's server parameters: {error.message}"
            ) from None
