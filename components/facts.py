"""Facts the settings validate, the policy rules re-check and the reports print, declared once.

Azure's limits are cited where they are stated; the tag vocabulary is the project's own.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

# --- tags ----------------------------------------------------------------------------------------
# Mandatory tag keys a stack sets (case-exact); the program adds `environment` and `dr-role`.
MANDATORY_TAG_KEYS = ("owner", "cost-center", "data-classification")
PROGRAM_TAG_KEYS = ("environment", "dr-role")
DATA_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
DR_ROLES = ("primary", "standby")
# "The tag name has a limit of 512 characters and the tag value has a limit of 256 characters. For
# storage accounts, the tag name has a limit of 128 characters"; "Tag names can't contain these
# characters: <, >, %, &, \, ?, /" (azure-resource-manager/management/tag-resources, Limitations).
# The stack's tags reach its storage accounts too, so names keep to the storage limit.
MAX_TAG_NAME, MAX_TAG_VALUE = 128, 256
FORBIDDEN_TAG_NAME_CHARACTERS = frozenset("<>%&\\?/")
# What a storage account is for, which rules read: the audit archive is immutable and locked; the
# restore staging account holds restored backup files for a day (CTY-RES-004, CTY-RET-007, CTY-RET-009).
PURPOSE_TAG = "purpose"
AUDIT_ARCHIVE = "audit-archive"
RESTORE_STAGING = "restore-staging"
# Restore checks name their disposable servers with this prefix (drill.azure_restore), which the
# service-level workbook finds them by.
DISPOSABLE_SERVER_PREFIX = "rc-"
# The tag naming the project a secret belongs to (components.project_secrets, CTY-ISO-002).
PROJECT_TAG = "project"
# A server's availability objective and the maintenance window it excludes (components.tags.sla_tags,
# the CTY-SLA rules).
OBJECTIVE_TAG = "availability-objective"
WINDOW_TAG = "maintenance-window"
# Every tag key the program sets itself. A stack's own tags may use none of them, in any case (Azure
# tag names are case-insensitive): stack tags win over a component's (components.tags), so a stack
# tag `project` would rename every project secret's project. A test checks that the rendered stacks
# carry no other key of the program's.
RESERVED_TAG_KEYS = (
    *PROGRAM_TAG_KEYS,
    "managed-by",
    "rto",
    "rpo",
    OBJECTIVE_TAG,
    WINDOW_TAG,
    PURPOSE_TAG,
    PROJECT_TAG,
)
# The vault of project secrets: unlocked so that a project's grants can be removed (CTY-ISO-002).
PROJECT_SECRETS = "project-secrets"

# --- PostgreSQL roles the platform makes ---------------------------------------------------------
# The server's password administrator (components.database), the owner of the platform's tables
# (drill.setup_sql) and each project's role, project_<name> (tenancy.sql). A project's Entra group
# becomes a login role of its own name only when no role has that name (tenancy.sql): a group named
# like one of these, or like another project's group, would be handed that role's rights.
ADMIN_LOGIN = "continuity_admin"
OWNER_ROLE = "continuity_owner"
PROJECT_ROLE_PREFIX = "project_"

# --- PostgreSQL flexible server ------------------------------------------------------------------
# Storage sizes a flexible server accepts (GiB); any other value fails at deployment.
# https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-storage
STORAGE_SIZES_GB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
# Backup retention 7..35 days (concepts-backup-restore, "Backup retention").
BACKUP_RETENTION_DAYS = (7, 35)

# Connectivity Microsoft guarantees a flexible server by HA mode, as a percentage: "at least 99.99% of the
# time ... configured with Zone Redundant High Availability", "99.95% ... Same Zone High Availability",
# "99.9% ... without High Availability" (the PostgreSQL SLA, quoted in Azure/azqr's flexible-server
# report template; reliability/reliability-postgresql-flexible-server, "SLA", gives 99.99 and 99.95).
MICROSOFT_SLA_BY_HA_MODE = {"ZoneRedundant": 99.99, "SameZone": 99.95, "Disabled": 99.9}
# A custom maintenance window is "the start time of a one hour time window" on a chosen day, in UTC
# (concepts-maintenance; how-to-configure-scheduled-maintenance: "Wed:14:29 (UTC)").
MAINTENANCE_WINDOW_MINUTES = 60
# `dayOfWeek` of a maintenance window: Sunday is 0 (Azure CLI's _map_maintenance_window for flexible
# servers: {"sun": 0, "mon": 1, ... "sat": 6}; the REST spec does not say).
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def maintenance_label(day_of_week: int, hour: int, minute: int) -> str:
    """How a server's tag and CTY-SLA-002 name a window: "Sunday 03:00 UTC"."""
    day = WEEKDAYS[day_of_week] if day_of_week in range(len(WEEKDAYS)) else f"day {day_of_week}"
    return f"{day} {hour:02d}:{minute:02d} UTC"


# "Azure platform metrics are available in under a minute in the metrics database, but they take
# another three minutes to be exported" (azure-monitor logs/data-ingestion-time): how far behind now
# a workspace's AzureMetrics is expected to run.
METRICS_EXPORT_MINUTES = 4


# Incident severities response times are declared for, most severe first.
Severity = Literal["P1", "P2", "P3", "P4"]
SEVERITIES: tuple[Severity, ...] = ("P1", "P2", "P3", "P4")

# --- Log Analytics -------------------------------------------------------------------------------
# Interactive retention 30..730 days on PerGB2018; a table's own 4..730; total retention up to 12
# years, above two years in whole years only (azure-monitor/logs/data-retention-configure).
WORKSPACE_RETENTION_DAYS = (30, 730)
TABLE_RETENTION_DAYS = (4, 730)
TOTAL_RETENTION_MAX_DAYS = 4383
TOTAL_RETENTION_YEARS = (1095, 1460, 1826, 2191, 2556, 2922, 3288, 3653, 4018, 4383)


def total_retention_allowed(days: object) -> bool:
    """Whether Azure takes `days` as a table's total retention: 4..730, or one of the whole years."""
    # A number as JSON carries it (365.0 reads as 365); not a bool, which Python counts as one.
    return (
        isinstance(days, (int, float))
        and not isinstance(days, bool)
        and (TABLE_RETENTION_DAYS[0] <= days <= TABLE_RETENTION_DAYS[1] or days in TOTAL_RETENTION_YEARS)
    )


# Log Analytics data export cannot read these tables; a rule naming them succeeds and exports nothing.
# https://learn.microsoft.com/azure/azure-monitor/logs/logs-data-export#unsupported-tables
UNEXPORTABLE_TABLES = ("AzureDiagnostics",)

# --- access --------------------------------------------------------------------------------------
# Key Vault Secrets User: read a secret's value. A project's group gets it on each of its own secrets
# alone (Key Vault rbac-guide, "Secret scope role assignment"; Microsoft keeps object-scope
# assignments to reading: teams that manage their own secrets need a vault of their own).
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

# --- alerts --------------------------------------------------------------------------------------
# The action group's webhook receiver (components.alerts). Receiver names "must be unique across all
# receivers within an action group" (the pinned provider's EmailReceiverArgs and WebhookReceiverArgs,
# generated from the REST spec); the settings compare them without case, to be safe.
WEBHOOK_RECEIVER = "webhook"

# --- private DNS ---------------------------------------------------------------------------------
# Group ids and zones from Microsoft's table (private-link/private-endpoint-dns).
PRIVATE_LINK_ZONES = {
    "postgresqlServer": "privatelink.postgres.database.azure.com",
    "vault": "privatelink.vaultcore.azure.net",
    "blob": "privatelink.blob.core.windows.net",
}


def overlapping_zone(zone: str) -> str | None:
    """The private-link zone whose namespace `zone` shares, if any: the same zone, one inside it, or
    a parent of it (so also of the service's public names). Every zone is linked to both networks,
    and "A virtual network cannot be linked to multiple zones with overlapping namespaces" (the
    BadRequest quoted by Microsoft's troubleshooting article "CreateOrUpdateVirtualNetworkLinkFailed
    error code", whose case is two zones of one name; zones inside or above are refused on the
    message's own words, not tried against Azure). A parent zone would also answer, inside the
    networks, for the service names it holds no record of."""
    for link_zone in PRIVATE_LINK_ZONES.values():
        if zone == link_zone or zone.endswith(f".{link_zone}") or link_zone.endswith(f".{zone}"):
            return link_zone
    return None


# --- public network exceptions (continuity:network.allowedCidrs) ---------------------------------
# "IP address ranges reserved for private networks (as defined in RFC 1918) aren't allowed in IP
# rules" (storage/common/storage-network-security-limitations; the same in
# key-vault/general/network-security). Clients in the networks use the private endpoints anyway.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# "a firewall rule setting with a starting and ending address equal to 0.0.0.0 does the equivalent of
# the Allow public access from any Azure service within Azure to this server option", which admits
# "connections from the subscriptions of other customers" (postgresql/flexible-server/
# concepts-firewall-rules).
ANY_AZURE_SERVICE = "0.0.0.0"


def private_range_overlapping(network: ipaddress.IPv4Network) -> str | None:
    """The first RFC 1918 block `network` overlaps, if any."""
    return next((block for block in PRIVATE_RANGES if network.overlaps(ipaddress.IPv4Network(block))), None)


def ip_rule_values(cidr: str) -> list[str]:
    """A storage account's or Key Vault's IP rules for one allowed range: the network in CIDR form,
    and a /31 or /32 as single addresses ("Small address ranges that use /31 or /32 prefix sizes
    aren't supported. Configure these ranges using individual IP address rules",
    storage-network-security-limitations; Key Vault documents a single address the same way,
    "124.56.78.91", in its IPRule reference)."""
    network = ipaddress.IPv4Network(cidr, strict=False)
    if network.prefixlen >= 31:
        return [str(address) for address in network]  # one or two
    return [str(network)]


# --- vaults --------------------------------------------------------------------------------------
# Key Vault soft delete keeps a deleted vault "for a configurable period of 7 to 90 calendar days. If
# no configuration is specified, the default recovery period is set to 90 days"
# (key-vault/general/soft-delete-overview).
KEY_VAULT_SOFT_DELETE_DAYS = (7, 90)
KEY_VAULT_SOFT_DELETE_DEFAULT_DAYS = 90
# A backup vault keeps soft-deleted data "14 days and can be extended up to 180 days"
# (backup/secure-by-default).
BACKUP_VAULT_SOFT_DELETE_DAYS = (14, 180)
# A vaulted PostgreSQL backup is kept up to ten years (backup/backup-azure-database-postgresql-flex-
# overview, long-term retention), here in each calendar unit a retention may be written in: Azure
# Backup's retention durations are Days, Weeks, Months or Years (`az dataprotection backup-policy
# retention-rule create-lifecycle --retention-duration-type`).
LONGEST_VAULT_RETENTION = {"d": 3650, "w": 521, "mo": 120, "y": 10}

# --- storage -------------------------------------------------------------------------------------
# Time-based immutability: 1..146000 days (storage/blobs/immutable-time-based-retention-policy-overview).
IMMUTABILITY_DAYS = (1, 146000)
# Zone-redundant storage SKUs: unavailable in a region without availability zones.
ZONE_STORAGE_SKUS = ("Standard_ZRS", "Standard_GZRS", "Standard_RAGZRS", "Premium_ZRS")
