"""Stack settings: the `continuity:*` config of one stack, validated before any resource exists.

Every problem is reported at once, each naming its config key path
(`continuity:databases.knowledge.rpo`), so a bad stack file is fixed in one pass.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from collections.abc import Mapping
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from cli.secrets import scrub

from .durations import Duration
from .facts import (
    ADMIN_LOGIN,
    ANY_AZURE_SERVICE,
    BACKUP_RETENTION_DAYS,
    BACKUP_VAULT_SOFT_DELETE_DAYS,
    DATA_CLASSIFICATIONS,
    FORBIDDEN_TAG_NAME_CHARACTERS,
    IMMUTABILITY_DAYS,
    LONGEST_VAULT_RETENTION,
    MANDATORY_TAG_KEYS,
    MAX_TAG_NAME,
    MAX_TAG_VALUE,
    OWNER_ROLE,
    PROJECT_ROLE_PREFIX,
    RESERVED_TAG_KEYS,
    SEVERITIES,
    STORAGE_SIZES_GB,
    TABLE_RETENTION_DAYS,
    TOTAL_RETENTION_MAX_DAYS,
    TOTAL_RETENTION_YEARS,
    UNEXPORTABLE_TABLES,
    WEBHOOK_RECEIVER,
    WEEKDAYS,
    WORKSPACE_RETENTION_DAYS,
    Severity,
    overlapping_zone,
    private_range_overlapping,
    total_retention_allowed,
)
from .naming import LONGEST_ENVIRONMENT, LONGEST_NAME
from .regions import region_info
from .skus import UnknownSku, compute

NAMESPACE = "continuity"


# The operations analysis asks for audit/access logs >= 90 days; security and change logs >= 1 year.
MIN_AUDIT_LOG_DAYS = 90
MIN_SECURITY_LOG_DAYS = 365

# The primary writes a heartbeat row this often (a pg_cron job, drill/setup_sql.py), so a replica's
# lag metric (time since the last replayed transaction) stays low while the applications are idle.
# pg_cron's finest standard schedule is one minute.
HEARTBEAT_INTERVAL_SECONDS = 60
# A lag alert below two heartbeats would fire between beats on a healthy, idle replica.
MIN_LAG_ALERT_SECONDS = 2 * HEARTBEAT_INTERVAL_SECONDS


class SettingsError(Exception):
    """Every validation problem of one stack's config, each as `key path: message`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack config:\n" + "\n".join(f"  - {p}" for p in problems))


class Role(str, Enum):
    PRIMARY = "primary"
    STANDBY = "standby"


class Origin(str, Enum):
    """How this stack's servers were created; fixed for a server's life, unlike its role."""

    PRIMARY = "primary"
    REPLICA = "replica"


class PromoteOption(str, Enum):
    PLANNED = "Planned"
    FORCED = "Forced"


class SkuTier(str, Enum):
    BURSTABLE = "Burstable"
    GENERAL_PURPOSE = "GeneralPurpose"
    MEMORY_OPTIMIZED = "MemoryOptimized"


# Runs at import, before mutation testing picks a mutant: unreachable by it.
# pragma: no mutate start
def _duration_at_least(minimum: str) -> AfterValidator:
    floor = Duration.parse(minimum)

    def check(value: Duration) -> Duration:
        if value < floor:
            raise ValueError(f"must be at least {floor}, got {value}")
        return value

    return AfterValidator(check)


# pragma: no mutate end


# Runs at import, before mutation testing picks a mutant: unreachable by it.
# pragma: no mutate start
def _duration_at_most(maximum: str) -> AfterValidator:
    ceiling = Duration.parse(maximum)

    def check(value: Duration) -> Duration:
        if ceiling < value:
            raise ValueError(f"must be at most {ceiling}, got {value}")
        return value

    return AfterValidator(check)


# pragma: no mutate end


def _whole_days(value: Duration) -> Duration:
    if value.seconds % 86400:
        raise ValueError(f"must be a whole number of days, got {value}")
    return value


def _positive(value: Duration) -> Duration:
    if value.seconds <= 0:
        raise ValueError("must be greater than zero")
    return value


def _known_region(value: str) -> str:
    region_info(value)
    return value


Region = Annotated[str, AfterValidator(_known_region)]
Days = Annotated[Duration, AfterValidator(_whole_days)]


class Model(BaseModel):
    """Config objects: camelCase keys as written in YAML, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        extra="forbid",
        frozen=True,
    )


# RFC 1918. Python's `is_private` also counts loopback, link-local and reserved ranges, which Azure
# refuses for a virtual network.
RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _private_network(value: str) -> str:
    """An IPv4 range in private address space (RFC 1918), written as its network address."""
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not an IPv4 network in CIDR form ({exc})") from None
    if not any(network.subnet_of(private) for private in RFC1918):
        raise ValueError(f"{value} is not a private address range (10/8, 172.16/12, 192.168/16)")
    return value


PrivateNetwork = Annotated[str, AfterValidator(_private_network)]


class PrivateDnsRole(str, Enum):
    """Which stack of the pair holds the private DNS zones and the writer names.

    Fixed for the pair's life, whatever the roles and origins become: the zones outlive every server
    generation, and a failback that rebuilds the owner as replicas must not take them with it.
    """

    OWNER = "owner"  # declares the zones (in the peer region) and the writer names
    LINKED = "linked"  # links the owner's zones to its network and declares both sides of the peering


class Peer(Model):
    stack: str = Field(
        min_length=1, description="Stack name of the other region (`prod`, `org/continuity/prod`)."
    )
    region: Region
    # The peer's VNet address space: the two networks are peered, so they must not overlap.
    address_space: PrivateNetwork
    # The peer's `origin`; read only by a `linked` stack, which gives the peer's geo-backup key vault
    # (kept in this region by a primary-origin peer) a private endpoint here.
    origin: Origin | None = None


class Promotion(Model):
    # HA cannot be enabled in the same update as the promotion; it comes in a later `pulumi up`.
    # The promotion itself is Microsoft's PATCH, run by `python -m drill promote`, not a config value.
    high_availability: bool = False


class Waits(Model):
    """Pauses for Azure's eventual consistency (components.waits explains each)."""

    rbac_propagation: Annotated[Duration, _duration_at_most("1h")] = Duration(10, "min")
    server_settle: Annotated[Duration, _duration_at_most("30min")] = Duration(1, "min")


def _public_ipv4_range(value: str) -> str:
    """A public endpoint's exception: a public IPv4 address or range (facts.PRIVATE_RANGES and
    facts.ANY_AZURE_SERVICE say what Azure refuses or reads otherwise)."""
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not an IPv4 address or CIDR range ({exc})") from None
    if ipaddress.IPv4Address(ANY_AZURE_SERVICE) in network:
        raise ValueError(
            f"'{value}' holds {ANY_AZURE_SERVICE}, which a PostgreSQL firewall rule reads as any Azure "
            "service, other customers' included"
        )
    private = private_range_overlapping(network)
    if private:
        raise ValueError(
            f"'{value}' is not a public range (it overlaps {private}): Azure refuses private ranges "
            "in IP rules, and clients in the networks reach the data stores through their private endpoints"
        )
    return value


def _writer_zone(zone: str) -> str:
    clash = overlapping_zone(zone)
    if clash:
        raise ValueError(
            f"'{zone}' shares the namespace of {clash}, a zone the platform links to both networks"
        )
    return zone


class NetworkAccess(Model):
    """The region's virtual network and who may reach the data stores."""

    address_space: PrivateNetwork
    # Private endpoints of this region's servers, vaults and archive.
    private_endpoint_subnet: PrivateNetwork
    # Applications, runners and operators' jump hosts in this region.
    client_subnet: PrivateNetwork
    # Which stack of the pair holds the private DNS zones and the writer names.
    private_dns: PrivateDnsRole
    # The private DNS zone of the writer names (`<database>.writer.<zone>`).
    writer_zone: Annotated[
        str,
        Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"),
        AfterValidator(_writer_zone),
    ] = "continuity.internal"
    # Empty: public network access disabled on vaults and servers; anything listed is an exception.
    allowed_cidrs: list[Annotated[str, AfterValidator(_public_ipv4_range)]] = []

    @model_validator(mode="after")
    def _subnets_inside(self) -> NetworkAccess:
        space = ipaddress.IPv4Network(self.address_space)
        subnets = {"privateEndpointSubnet": self.private_endpoint_subnet, "clientSubnet": self.client_subnet}
        for key, cidr in subnets.items():
            if not ipaddress.IPv4Network(cidr).subnet_of(space):
                raise ValueError(f"{key} {cidr} is not inside addressSpace {self.address_space}")
        if ipaddress.IPv4Network(self.private_endpoint_subnet).overlaps(
            ipaddress.IPv4Network(self.client_subnet)
        ):
            raise ValueError(
                f"privateEndpointSubnet {self.private_endpoint_subnet} overlaps clientSubnet {self.client_subnet}"
            )
        return self


class EmailReceiver(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,127}$")
    address: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Alerts(Model):
    emails: list[EmailReceiver] = Field(min_length=1)
    # Replication-lag alert fires at this fraction of the RPO, leaving time to act before the target is breached.
    lag_alert_fraction: float = Field(0.5, gt=0, lt=1)
    cpu_percent: int = Field(80, ge=1, le=100)
    memory_percent: int = Field(85, ge=1, le=100)
    storage_percent: int = Field(80, ge=1, le=100)
    failed_connections: int = Field(25, ge=1)
    key_vault_availability_percent: float = Field(99.9, gt=0, le=100)

    @model_validator(mode="after")
    def _receiver_names_are_unique(self) -> Alerts:
        seen = {WEBHOOK_RECEIVER: "the webhook's receiver"}
        for index, receiver in enumerate(self.emails):
            other = seen.setdefault(receiver.name.lower(), f"emails[{index}]")
            if other != f"emails[{index}]":
                raise ValueError(
                    f"emails[{index}].name '{receiver.name}' is the name of {other}: an action group's "
                    "receivers need names of their own"
                )
        return self


TableName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{1,62}$")]


def _exportable(table: str) -> str:
    if table in UNEXPORTABLE_TABLES:
        raise ValueError(f"{table} cannot be exported by a data export rule (Azure exports nothing from it)")
    return table


def _total_retention(value: Duration) -> Duration:
    """A table's total retention as Azure takes it (facts.total_retention_allowed): a year of the
    project's durations is 365 days, so 5y (1825) is not Azure's five years (1826)."""
    if not total_retention_allowed(int(value.days)):
        years = ", ".join(f"{days}d" for days in TOTAL_RETENTION_YEARS)
        raise ValueError(
            f"{value} is {int(value.days)} days; Azure keeps a table {TABLE_RETENTION_DAYS[0]}-"
            f"{TABLE_RETENTION_DAYS[1]} days in all, or beyond two years whole years as it counts them: {years}"
        )
    return value


class Logs(Model):
    retention: Annotated[
        Days,
        _duration_at_least(f"{MIN_AUDIT_LOG_DAYS}d"),
        _duration_at_most(f"{WORKSPACE_RETENTION_DAYS[1]}d"),
    ] = Duration(90, "d")
    audit_retention: Annotated[
        Days,
        _duration_at_least(f"{MIN_SECURITY_LOG_DAYS}d"),
        _duration_at_most(f"{TOTAL_RETENTION_MAX_DAYS}d"),
        AfterValidator(_total_retention),
    ] = Duration(365, "d")
    # Locked cannot be undone (nor the period shortened); leave Unlocked until the period is agreed.
    lock_archive: bool = False
    archive_immutability: Annotated[
        Days, _duration_at_least(f"{MIN_SECURITY_LOG_DAYS}d"), _duration_at_most(f"{IMMUTABILITY_DAYS[1]}d")
    ] = Duration(365, "d")
    # Tables kept for auditRetention in total (interactive for `retention`, then long-term).
    audit_tables: list[TableName] = Field(
        default_factory=lambda: ["AzureActivity", "AzureDiagnostics", "LAQueryLogs"], min_length=1
    )
    # Tables copied to the immutable archive by the workspace's data export rule. Logs that land in
    # tables export cannot read (AzureDiagnostics) go to the archive from their diagnostic settings.
    archive_tables: list[Annotated[TableName, AfterValidator(_exportable)]] = Field(
        default_factory=lambda: ["AzureActivity", "LAQueryLogs"], min_length=1
    )


Weekday = Literal["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def _vault_retention(value: Duration) -> Duration:
    """A backup vault retention in calendar units, as Azure Backup writes them (P30D, P20W, P12M, P7Y:
    `az dataprotection backup-policy retention-rule create-lifecycle --retention-duration-type Days|
    Weeks|Months|Years`), at most ten years counted in its own unit (121mo is 3630 days but P121M)."""
    longest = LONGEST_VAULT_RETENTION.get(value.unit)
    if longest is None:
        raise ValueError(f"{value} must be in days, weeks, months or years (d, w, mo, y)")
    if value.value > longest:
        raise ValueError(f"{value} is more than ten years: at most {longest}{value.unit}")
    return value


class LongTermRetention(Model):
    weekday: Weekday = "Sunday"
    time_utc: str = Field(default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # Every weekly backup is kept this long...
    default: Annotated[Duration, _duration_at_least("7d"), AfterValidator(_vault_retention)] = Duration(
        3, "mo"
    )
    # ...the first of each month this long, the first of each year this long.
    monthly: Annotated[Duration, _duration_at_least("1mo"), AfterValidator(_vault_retention)] | None = (
        Duration(12, "mo")
    )
    yearly: Annotated[Duration, _duration_at_least("1y"), AfterValidator(_vault_retention)] | None = Duration(
        7, "y"
    )


class EntraPrincipal(Model):
    """A Microsoft Entra group (preferably) or principal: who administers the servers, who reads restored backups."""

    object_id: str = Field(pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
    principal_name: str = Field(min_length=1)
    principal_type: Literal["group", "user", "servicePrincipal"] = "group"


class Backup(Model):
    vault_immutability: Literal["Disabled", "Unlocked", "Locked"] = "Unlocked"
    # Backup vault soft delete keeps deleted backups recoverable: 14..180 days.
    soft_delete: Annotated[
        Days,
        _duration_at_least(f"{BACKUP_VAULT_SOFT_DELETE_DAYS[0]}d"),
        _duration_at_most(f"{BACKUP_VAULT_SOFT_DELETE_DAYS[1]}d"),
    ] = Duration(14, "d")
    long_term_retention: LongTermRetention = LongTermRetention()
    # Who may read (and delete) the files a long-term-retention restore writes: the restore check's
    # identity. Nobody else gets data access to them.
    restore_readers: list[EntraPrincipal] = []

    @model_validator(mode="after")
    def _each_reader_once(self) -> Backup:
        # Object ids are GUIDs, equal in any case: a reader listed twice would get a second role
        # assignment for the same principal, role and scope, which ARM refuses ("RoleAssignmentExists:
        # The role assignment already exists", the error the Azure CLI's role commands look for).
        seen: dict[str, int] = {}
        for index, reader in enumerate(self.restore_readers):
            first = seen.setdefault(reader.object_id.lower(), index)
            if first != index:
                raise ValueError(
                    f"restoreReaders[{index}] is restoreReaders[{first}] (object id {reader.object_id})"
                )
        return self


class MaintenanceWindow(Model):
    """The server's custom maintenance window, the SLA's exclusion: one hour from `start_utc`."""

    weekday: Weekday
    start_utc: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    @property
    def day_of_week(self) -> int:
        """Sunday is 0, as Azure CLI numbers `dayOfWeek` (components.facts.WEEKDAYS)."""
        return WEEKDAYS.index(self.weekday)

    @property
    def start(self) -> tuple[int, int]:
        """Hour and minute of the start, UTC."""
        hour, minute = self.start_utc.split(":")
        return int(hour), int(minute)

    @property
    def start_minute_of_week(self) -> int:
        hour, minute = self.start
        return self.day_of_week * 1440 + hour * 60 + minute


class DatabaseSla(Model):
    # Percent of each calendar month the database answers (is_db_alive); below 100, so an error
    # budget remains, and above 90, so a typo like 9.9 is not taken for an objective.
    availability: float = Field(gt=90, lt=100)
    maintenance_window: MaintenanceWindow


class ResponseTarget(Model):
    acknowledge: Annotated[Duration, AfterValidator(_positive)]
    resolve: Annotated[Duration, AfterValidator(_positive)]

    @model_validator(mode="after")
    def _acknowledged_first(self) -> ResponseTarget:
        if self.resolve < self.acknowledge:
            raise ValueError(f"resolve ({self.resolve}) is sooner than acknowledge ({self.acknowledge})")
        return self


class Sla(Model):
    """Service level objectives: per database, and response times per incident severity."""

    databases: dict[str, DatabaseSla] = Field(min_length=1)
    response_times: dict[Severity, ResponseTarget]

    @model_validator(mode="after")
    def _every_severity_and_in_order(self) -> Sla:
        missing = [s for s in SEVERITIES if s not in self.response_times]
        if missing:
            raise ValueError(f"responseTimes lacks {missing}: declare P1 to P4")
        for more, less in itertools.pairwise(SEVERITIES):
            for step in ("acknowledge", "resolve"):
                if getattr(self.response_times[more], step) > getattr(self.response_times[less], step):
                    raise ValueError(
                        f"responseTimes.{more}.{step} is slower than {less}'s: a worse incident waits longer"
                    )
        return self


class Secrets(Model):
    rto: Annotated[Duration, AfterValidator(_positive)] = Duration(15, "min")
    rpo: Duration = Duration(0, "s")


def _offered_storage_size(value: int) -> int:
    if value not in STORAGE_SIZES_GB:
        raise ValueError(f"{value} GiB is not a size Azure offers; use one of {list(STORAGE_SIZES_GB)}")
    return value


def _str_version(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Database(Model):
    sku: str = Field(pattern=r"^Standard_[A-Za-z0-9_]+$")
    tier: SkuTier
    storage_gb: Annotated[int, AfterValidator(_offered_storage_size)]
    version: Annotated[Literal["14", "15", "16", "17", "18"], BeforeValidator(_str_version)] = "16"
    # Extensions allowed through `azure.extensions`; `vector` is pgvector.
    extensions: list[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]] = []
    databases: list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]] = Field(min_length=1)
    rto: Annotated[Duration, AfterValidator(_positive)]
    rpo: Annotated[Duration, AfterValidator(_positive)]
    backup_retention: Annotated[
        Days,
        _duration_at_least(f"{BACKUP_RETENTION_DAYS[0]}d"),
        _duration_at_most(f"{BACKUP_RETENTION_DAYS[1]}d"),
    ] = Duration(35, "d")
    high_availability: bool = True
    # A rebuilt server is a new generation: a new resource, never a replacement of one holding data.
    generation: int = Field(1, ge=1, le=99, strict=True)

    @model_validator(mode="after")
    def _checks(self) -> Database:
        if self.high_availability and self.tier is SkuTier.BURSTABLE:
            raise ValueError(
                "highAvailability is not available on the Burstable tier; use GeneralPurpose or MemoryOptimized"
            )
        try:
            sku_tier = compute(self.sku).tier
        except UnknownSku as error:
            raise ValueError(str(error)) from None
        if sku_tier != self.tier.value:
            raise ValueError(f"sku {self.sku} belongs to the {sku_tier} tier, not {self.tier.value}")
        return self

    @property
    def allowed_extensions(self) -> list[str]:
        """`azure.extensions` value: configured extensions plus pgaudit (audit logging) and pg_cron (the
        heartbeat job), lowercase as documented."""
        return sorted({e.lower() for e in self.extensions} | {"pgaudit", "pg_cron"})


def _https_url(value: SecretStr) -> SecretStr:
    # Alerts carry server names and failure details: never over plain HTTP. The value is a secret,
    # so the message must not repeat it.
    if not value.get_secret_value().startswith("https://"):
        raise ValueError("must be an https:// URL")
    return value


def _short_name(name: str, what: str, longest: int, because: str) -> str:
    """A name that becomes part of Azure and PostgreSQL names: 2 to `longest` lowercase letters and
    digits, starting with a letter. (Called by each validator when it runs, not made into a closure
    at import, so that mutation testing reaches it.)"""
    if not re.fullmatch(rf"[a-z][a-z0-9]{{1,{longest - 1}}}", name):
        raise ValueError(
            f"{what} '{name}' must be 2-{longest} lowercase letters and digits, starting with a letter ({because})"
        )
    return name


def _database_key(name: str) -> str:
    return _short_name(name, "database server key", 16, "it becomes part of the server's DNS name")


def _check_tags(tags: dict[str, str]) -> dict[str, str]:
    too_long = [k[:40] for k, v in tags.items() if len(k) > MAX_TAG_NAME or len(str(v)) > MAX_TAG_VALUE]
    if too_long:
        raise ValueError(
            f"tag(s) {too_long} exceed Azure's limits ({MAX_TAG_NAME} characters for a name, "
            f"{MAX_TAG_VALUE} for a value)"
        )
    forbidden = [k for k in tags if FORBIDDEN_TAG_NAME_CHARACTERS & set(k)]
    if forbidden:
        raise ValueError(f"tag name(s) {forbidden} contain characters Azure refuses (< > % & \\ ? /)")
    missing = [k for k in MANDATORY_TAG_KEYS if k not in tags]
    if missing:
        raise ValueError(f"missing mandatory tag(s) {missing} (keys are case-exact)")
    empty = [k for k, v in tags.items() if not str(v).strip()]
    if empty:
        raise ValueError(f"tag(s) {empty} have empty values")
    if tags["data-classification"] not in DATA_CLASSIFICATIONS:
        raise ValueError(
            f"data-classification '{tags['data-classification']}' is not one of {list(DATA_CLASSIFICATIONS)}"
        )
    # "Tag names are case-insensitive for operations" (azure-resource-manager/management/tag-resources):
    # two names that differ only in case are one tag in Azure, and "Environment" is the program's.
    folded: dict[str, list[str]] = {}
    for k in tags:
        folded.setdefault(k.lower(), []).append(k)
    twins = [names for names in folded.values() if len(names) > 1]
    if twins:
        raise ValueError(f"tag names {twins[0]} differ only in case: Azure would keep one of them")
    reserved = [k for k in tags if k.lower() in RESERVED_TAG_KEYS]
    if reserved:
        raise ValueError(f"tag(s) {reserved} are set by the program and cannot be configured")
    return tags


def _environment(name: str) -> str:
    return _short_name(
        name,
        "environment",
        LONGEST_ENVIRONMENT,
        f"it is part of Key Vault and storage account names, which Azure keeps to {LONGEST_NAME} characters",
    )


def _project_name(name: str) -> str:
    return _short_name(name, "project name", 30, "it names a PostgreSQL role, policies and Key Vault secrets")


class Project(Model):
    """A project sharing the platform: its rows, secrets and logs are readable by its group alone."""

    group: EntraPrincipal
    # Raise to rotate the project's generated secret (components/project_secrets.py).
    secret_version: int = Field(default=1, ge=1)


class Tenancy(Model):
    """Who shares the platform, and which tables hold rows of more than one project."""

    projects: dict[Annotated[str, AfterValidator(_project_name)], Project] = Field(min_length=1)
    # Logical database -> its tenant-scoped tables (schema.table), each with a `project_id text NOT
    # NULL` column holding the project's name. The tables belong to the application.
    tables: dict[
        str,
        list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$")]],
    ] = {}

    @model_validator(mode="after")
    def _one_group_per_project(self) -> Tenancy:
        seen: dict[str, str] = {}
        for name, project in self.projects.items():
            other = seen.setdefault(project.group.object_id.lower(), name)
            if other != name:
                raise ValueError(
                    f"projects.{name}.group is projects.{other}.group: a group holding two projects sees both"
                )
        # The group's login role is made only when no role has its name (facts.PROJECT_ROLE_PREFIX).
        taken = {ADMIN_LOGIN: "the server administrator", OWNER_ROLE: "the tables' owner"}
        taken |= {f"{PROJECT_ROLE_PREFIX}{name}": f"project {name}'s role" for name in self.projects}
        names: dict[str, str] = {}
        for name, project in self.projects.items():
            principal = project.group.principal_name.lower()
            holder = taken.get(principal) or names.get(principal)
            if holder:
                raise ValueError(
                    f"projects.{name}.group.principalName '{project.group.principal_name}' is the name of "
                    f"{holder} in PostgreSQL: the group would be given that role's rights"
                )
            names[principal] = f"projects.{name}.group"
        for database, tables in self.tables.items():
            doubled = sorted({t for t in tables if tables.count(t) > 1})
            if not tables or doubled:
                raise ValueError(f"tables.{database} must list each table once ({doubled or 'empty'})")
        return self


class Settings(Model):
    """Everything one stack declares. Field names are the config keys under `continuity:`."""

    role: Role
    origin: Origin = Origin.PRIMARY
    region: Region
    peer: Peer
    environment: Annotated[str, AfterValidator(_environment)]
    tags: Annotated[dict[str, str], AfterValidator(_check_tags)]
    # Off only for disposable test stacks: stateful resources are protected and locked.
    protect: bool = True
    promotion: Promotion = Promotion()
    waits: Waits = Waits()
    network: NetworkAccess
    alerts: Alerts
    alert_webhook_url: Annotated[SecretStr, AfterValidator(_https_url)] | None = None
    database_admin: EntraPrincipal | None = None
    logs: Logs = Logs()
    backup: Backup = Backup()
    secrets: Secrets = Secrets()
    databases: dict[Annotated[str, AfterValidator(_database_key)], Database] = Field(min_length=1)
    sla: Sla | None = None
    tenancy: Tenancy | None = None

    @model_validator(mode="after")
    def _tenant_tables_in_declared_databases(self) -> Settings:
        if self.tenancy is not None:
            logical = {name for database in self.databases.values() for name in database.databases}
            unknown = sorted(set(self.tenancy.tables) - logical)
            if unknown:
                raise ValueError(
                    f"tenancy.tables names {unknown}, which no server holds (databases: {sorted(logical)})"
                )
        return self

    @model_validator(mode="after")
    def _the_admin_is_no_project_s_group(self) -> Settings:
        if self.tenancy is not None and self.database_admin is not None:
            admin = self.database_admin
            for name, project in self.tenancy.projects.items():
                group = project.group
                if (
                    group.object_id.lower() == admin.object_id.lower()
                    or group.principal_name.lower() == admin.principal_name.lower()
                ):
                    raise ValueError(
                        f"databaseAdmin is tenancy.projects.{name}.group: the database administrator "
                        "reads every project's rows"
                    )
        return self

    @model_validator(mode="after")
    def _an_objective_per_database(self) -> Settings:
        if self.sla is not None:
            declared, objectives = set(self.databases), set(self.sla.databases)
            if declared != objectives:
                raise ValueError(
                    f"sla.databases must name exactly the databases ({sorted(declared)}); "
                    f"missing {sorted(declared - objectives)}, unknown {sorted(objectives - declared)}"
                )
        return self

    # --- derived values: computed here once, never written twice in config -------------------
    @property
    def is_promoted_replica(self) -> bool:
        return self.role is Role.PRIMARY and self.origin is Origin.REPLICA

    def replication_lag_threshold_seconds(self, database: str) -> int:
        """Alert threshold for replica lag, derived from the database's RPO."""
        return max(1, int(self.databases[database].rpo.seconds * self.alerts.lag_alert_fraction))


# --------------------------------------------------------------------------------------------
# Loading from Pulumi config

_FIELD_KEYS = {(field.alias or name): name for name, field in Settings.model_fields.items()}
SECRET_KEYS = ("alertWebhookUrl",)
# Keys that used to exist, with what replaced them.
MOVED_KEYS: dict[tuple[int | str, ...], str] = {
    (
        "promotion",
        "option",
    ): "promotion is Microsoft's documented PATCH, run by `python -m drill promote --option "
    "Planned|Forced`, not a `pulumi up` input; remove this key",
}


def _decode(value: Any) -> Any:
    """Pulumi passes structured config as JSON text and scalars as plain strings."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON: {exc}") from exc
    return value


def _key_path(loc: tuple[Any, ...]) -> str:
    path = f"{NAMESPACE}:{loc[0]}" if loc else NAMESPACE
    for part in loc[1:]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part.startswith(("function-", "[key]")):
            continue  # pydantic's internal validator markers
        else:
            path += f".{part}"
    return path


def load_settings(config: Mapping[str, Any], secret_keys: frozenset[str] = frozenset()) -> Settings:
    """Validate a stack's config (keys `continuity:<name>`, values as Pulumi passes them).

    Raises SettingsError listing every problem with its key path.
    """
    problems: list[str] = []
    raw: dict[str, Any] = {}
    for full_key, value in config.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        if key not in _FIELD_KEYS:
            problems.append(f"{full_key}: unknown key (known keys: {', '.join(sorted(_FIELD_KEYS))})")
            continue
        if key in SECRET_KEYS and full_key not in secret_keys:
            problems.append(
                f"{full_key}: must be stored as a secret (pulumi config set --secret {full_key} ...)"
            )
            continue
        try:
            raw[key] = _decode(value)
        except ValueError as exc:
            problems.append(f"{full_key}: {exc}")
    settings = None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "missing":
                message = "is required"
            elif error["type"] == "extra_forbidden":
                message = MOVED_KEYS.get(tuple(error["loc"]), "unknown key")
            problems.append(f"{_key_path(tuple(error['loc']))}: {message}")
    if settings is not None:
        problems.extend(_cross_field_problems(settings))
        provider_location = config.get("azure-native:location")
        if provider_location is not None and provider_location != settings.region:
            problems.append(
                f"azure-native:location: is '{provider_location}' but {NAMESPACE}:region is "
                f"'{settings.region}'; they must agree"
            )
    if problems or settings is None:
        raise SettingsError(_without_secrets(problems, [v for k, v in config.items() if k in secret_keys]))
    return settings


def _without_secrets(problems: list[str], secret_values: list[Any]) -> list[str]:
    """Problems with every secret value (and each string inside a structured one) replaced by a marker:
    a validation message must never repeat what `pulumi config set --secret` was given."""
    secrets: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str):
            if len(value) >= 3:
                secrets.add(value)
            try:
                decoded = json.loads(value) if value.strip()[:1] in ("{", "[", '"') else None
            except json.JSONDecodeError:
                decoded = None
            if decoded is not None and decoded != value:
                collect(decoded)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for value in secret_values:
        collect(value)
    return [scrub(problem, secrets) for problem in problems]


def _cross_field_problems(settings: Settings) -> list[str]:
    """Rules between keys, each reported at the key to change."""
    key = f"{NAMESPACE}:"
    problems = []
    if ipaddress.IPv4Network(settings.network.address_space).overlaps(
        ipaddress.IPv4Network(settings.peer.address_space)
    ):
        problems.append(
            f"{key}peer.addressSpace: {settings.peer.address_space} overlaps {key}network.addressSpace "
            f"{settings.network.address_space}; peered networks must not overlap"
        )
    if settings.peer.region == settings.region:
        problems.append(
            f"{key}peer.region: must differ from {key}region ({settings.region}): "
            "a standby in the same region protects nothing"
        )
    pair = region_info(settings.region).pair
    if settings.origin is Origin.PRIMARY and settings.peer.region not in (settings.region, pair):
        # The primaries' geo-redundant backups go to the paired region; their key vault goes to the
        # peer region (components.platform), so the two must be one.
        problems.append(
            f"{key}peer.region: {settings.peer.region} is not {settings.region}'s geo-paired region {pair}, "
            "where the primaries' geo-redundant backups are kept and their key vault must be"
        )
    if settings.network.private_dns is PrivateDnsRole.LINKED and settings.peer.origin is None:
        problems.append(
            f"{key}peer.origin: required when {key}network.privateDns is 'linked' (the peer's origin, "
            "'primary' or 'replica': a primary-origin peer keeps its geo-backup key vault in this region)"
        )
    if settings.role is Role.STANDBY and settings.origin is Origin.PRIMARY:
        problems.append(
            f"{key}origin: role 'standby' needs origin 'replica': a server created as a primary cannot become a "
            "replica; rebuild it as a new generation with origin 'replica'"
        )
    for name in settings.databases:
        threshold = settings.replication_lag_threshold_seconds(name)
        if threshold < MIN_LAG_ALERT_SECONDS:
            problems.append(
                f"{key}databases.{name}.rpo: the replication-lag alert (RPO x alerts.lagAlertFraction = "
                f"{threshold}s) must be at least {MIN_LAG_ALERT_SECONDS}s, two heartbeats of "
                f"{HEARTBEAT_INTERVAL_SECONDS}s; raise the RPO or the fraction"
            )
    if settings.logs.audit_retention < settings.logs.retention:
        problems.append(
            f"{key}logs.auditRetention: {settings.logs.audit_retention} is shorter than "
            f"logs.retention ({settings.logs.retention}); total retention cannot be below interactive retention"
        )
    return problems
