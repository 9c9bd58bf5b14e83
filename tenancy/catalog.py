"""Project isolation as a database's own catalog shows it, not as the config says it should be.

A tenant-scoped table is any table with a `project_id` column; a project role is any role named
`project_<name>`. For each such table the report checks row-level security is enabled and forced,
that PUBLIC holds no right on it and no project role owns it or may TRUNCATE it (TRUNCATE is not
governed by row-level security), that no policy applies to every role, and that each project role
has a policy for every command whose predicate is `project_id = '<name>'` for its own name only.
Project roles must not log in, be superusers or bypass row-level security. The restore check runs
this on the restored server; the tests run it on real PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.facts import PROJECT_ROLE_PREFIX

from .sql import COMMANDS

TABLES = """
SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity,
       pg_get_userbyid(c.relowner), coalesce(c.relacl::text[], ARRAY[]::text[])
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%'
 ORDER BY 1
"""
ROLES = r"""
SELECT rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname LIKE 'project\_%' ORDER BY 1
"""
POLICIES = """
SELECT schemaname || '.' || tablename, policyname, permissive, roles::text[], lower(cmd), qual, with_check
  FROM pg_policies
"""
TRUNCATE = "SELECT has_table_privilege(%s, %s, 'TRUNCATE')"
# Which predicate each command's policy carries (the other is NULL in pg_policies).
CLAUSES = {
    "select": ("qual",),
    "insert": ("with_check",),
    "update": ("qual", "with_check"),
    "delete": ("qual",),
}


def predicate(project: str) -> str:
    """A policy predicate as pg_policies prints it."""
    return f"(project_id = '{project}'::text)"


@dataclass
class IsolationReport:
    tables: list[str] = field(default_factory=list)
    projects: dict[str, str] = field(default_factory=dict)  # project -> its role
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"tables": self.tables, "projects": self.projects, "problems": self.problems}


def _policies_for(policies: list[tuple[Any, ...]], table: str) -> list[tuple[Any, ...]]:
    return [p for p in policies if p[0] == table]


def _judge_policies(table: str, policies: list[tuple[Any, ...]], projects: dict[str, str]) -> list[str]:
    problems = []
    by_role = {role: name for name, role in projects.items()}
    for _table, name, permissive, roles, command, qual, with_check in policies:
        if "public" in roles:
            problems.append(f"{table}: policy {name} applies to every role (PUBLIC)")
        for role in roles:
            project = by_role.get(role)
            if project is None:
                continue
            clauses = CLAUSES.get(command, ("qual", "with_check"))
            values = {"qual": qual, "with_check": with_check}
            if permissive == "PERMISSIVE" and any(values[c] != predicate(project) for c in clauses):
                problems.append(
                    f"{table}: policy {name} for {role} does not hold it to project_id = '{project}'"
                )
    for role in projects.values():
        for command in COMMANDS:
            covered = any(
                role in roles and cmd in (command, "all") and permissive == "PERMISSIVE"
                for _t, _n, permissive, roles, cmd, _q, _w in policies
            )
            if not covered:
                problems.append(f"{table}: no {command.upper()} policy for {role}")
    return problems


def isolation_report(conn: Any) -> IsolationReport:
    """What `conn`'s database shows of project isolation (run as a role that can read the catalog)."""
    report = IsolationReport()
    for role, superuser, bypass, login in conn.execute(ROLES).fetchall():
        report.projects[role.removeprefix(PROJECT_ROLE_PREFIX)] = role
        if superuser or bypass or login:
            granted = [
                w for w, on in (("SUPERUSER", superuser), ("BYPASSRLS", bypass), ("LOGIN", login)) if on
            ]
            report.problems.append(f"role {role} has {', '.join(granted)}")
    policies = conn.execute(POLICIES).fetchall()
    for table, enabled, forced, owner, acl in conn.execute(TABLES).fetchall():
        report.tables.append(table)
        if not enabled:
            report.problems.append(f"{table}: row-level security is not enabled")
        if not forced:
            report.problems.append(
                f"{table}: row-level security is not forced (its owner would see every row)"
            )
        if owner in report.projects.values():
            report.problems.append(f"{table}: owned by {owner}, a project role")
        if any(entry.startswith("=") for entry in acl):
            report.problems.append(f"{table}: PUBLIC holds rights on it")
        for role in report.projects.values():
            if conn.execute(TRUNCATE, (role, table)).fetchone()[0]:
                report.problems.append(
                    f"{table}: {role} may TRUNCATE it (row-level security does not govern TRUNCATE)"
                )
        report.problems += _judge_policies(table, _policies_for(policies, table), report.projects)
    if report.tables and not report.projects:
        report.problems.append("tables with a project_id column, but no project roles")
    return report


def kept_after_restore(source: IsolationReport, restored: IsolationReport) -> list[str]:
    """What a restored server lacks of its source's isolation: the restored catalog's own problems,
    and any tenant table or project role the source has and the restore does not."""
    problems = list(restored.problems)
    lost_tables = sorted(set(source.tables) - set(restored.tables))
    lost_roles = sorted(set(source.projects.values()) - set(restored.projects.values()))
    if lost_tables:
        problems.append(f"tenant tables on the source but not restored: {', '.join(lost_tables)}")
    if lost_roles:
        problems.append(f"project roles on the source but not restored: {', '.join(lost_roles)}")
    return problems
