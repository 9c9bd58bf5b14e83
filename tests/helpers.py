"""Small queries over a rendering, shared by the tests."""

from __future__ import annotations

import subprocess

from conftest import TODAY

from components.facts import PROJECT_SECRETS, PURPOSE_TAG
from gate.render import RenderedResource, Rendering

# Type tokens the rules know, plus a few only the tests query.
from policies.rules.facts import (  # noqa: F401
    ACTION_GROUP,
    ACTIVITY_ALERT,
    BACKUP_INSTANCE,
    BACKUP_POLICY,
    BACKUP_VAULT,
    BLOB_SERVICE,
    CONFIGURATION,
    DATA_EXPORT,
    DIAGNOSTIC,
    FIREWALL_RULE,
    KEY,
    LOCK,
    MANAGEMENT_POLICY,
    METRIC_ALERT,
    PRIVATE_ENDPOINT,
    PRIVATE_ZONE,
    RECORD_SET,
    ROLE_ASSIGNMENT,
    SERVER,
    STATEFUL,
    STORAGE,
    SUBSCRIPTION_DIAGNOSTIC,
    TABLE,
    VAULT,
    VNET,
    WORKSPACE,
    ZONE_LINK,
)

DATABASE = "azure-native:dbforpostgresql:Database"
SECRET = "azure-native:keyvault:Secret"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
QUERY_ALERT = "azure-native:monitor:ScheduledQueryRule"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"

ENTRA_ADMIN = "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra"
SLEEP = "time:index/sleep:Sleep"

STATEFUL_TYPES = STATEFUL


def key_vaults(rendering: Rendering) -> list[RenderedResource]:
    """The vaults of encryption keys and platform secrets: all but the project-secrets vault."""
    return [v for v in rendering.of_type(VAULT) if v.plain_inputs["tags"].get(PURPOSE_TAG) != PROJECT_SECRETS]


def servers(rendering: Rendering) -> dict[str, dict]:
    """Server inputs by config key (`knowledge`, `operational`)."""
    return {r.name.rsplit("-g", 1)[0]: r.plain_inputs for r in rendering.of_type(SERVER)}


def server_resource(rendering: Rendering, key: str) -> RenderedResource:
    (match,) = [r for r in rendering.of_type(SERVER) if r.name.startswith(f"{key}-g")]
    return match


def by_id(rendering: Rendering, arm_id: str) -> RenderedResource:
    (match,) = [r for r in rendering.resources if r.id == arm_id]
    return match


def parameters(rendering: Rendering, server_name: str) -> dict[str, str]:
    return {
        c.plain_inputs["configurationName"]: c.plain_inputs["value"]
        for c in rendering.of_type(CONFIGURATION)
        if c.plain_inputs["serverName"] == server_name
    }


def audit_archive(rendering: Rendering) -> RenderedResource:
    """The audit archive, the storage account data export and diagnostic settings write to."""
    (archive,) = [r for r in rendering.of_type(STORAGE) if r.name == "observability-archive"]
    return archive


def workspace_id(rendering: Rendering) -> str:
    (workspace,) = rendering.of_type(WORKSPACE)
    return workspace.id


def schema_validator(path):
    """A validator for a JSON schema file, in the schema's own draft, with format checks."""
    import json

    import jsonschema

    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def gate_in_process(capsys, *args: str) -> subprocess.CompletedProcess:
    """The same command line through the same entry point, in this process (sharing its renders)."""
    from cli.exits import run
    from gate.__main__ import main

    capsys.readouterr()
    code = run("gate", main, ["--today", TODAY.isoformat(), *args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["gate", *args], code, captured.out, captured.err)
