"""The SQL that isolates projects inside one PostgreSQL database, from `continuity:tenancy`.

For each project a role `project_<name>` that cannot log in, own anything or bypass row-level
security; for each tenant-scoped table row-level security ENABLED and FORCED (so the owner is held to
it too) and, per project, one policy per command tied to the project's role with a fixed predicate
(`project_id = '<name>'`): nothing a session can set changes what it sees. PUBLIC loses its default
rights on the tables and CREATE on schema public, so no role reaches the rows except through a
project role. TRUNCATE, which row-level security does not govern, is never granted.

The tables belong to the application: the SQL never creates or drops one, and stops, changing
nothing, when one is missing or lacks `project_id text NOT NULL`. Everything runs in one
transaction, and re-running it converges: roles are created once, policies named `tenant_*` are
replaced, and a removed project's policies are dropped.

On Azure the project's Entra group becomes a login role with pgaadauth_create_principal_with_oid
(how-to-manage-azure-ad-users: "pgaadauth_create_principal_with_oid(roleName text, objectId text,
objectType text, isAdmin boolean, isMfa boolean)"; group members sign in with the group's name) and
is granted the project role. `plain=True` leaves those statements out, so the SQL applies to any
PostgreSQL 15 (the tests grant the project roles to local login roles instead).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.facts import PROJECT_ROLE_PREFIX
from components.settings import Tenancy

COMMANDS = ("select", "insert", "update", "delete")
POLICY_PREFIX = "tenant_"


def project_role(project: str) -> str:
    return f"{PROJECT_ROLE_PREFIX}{project}"


def ident(name: str) -> str:
    """A quoted identifier (names in config are validated; quoting keeps hyphenated group names whole)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def qualified(table: str) -> str:
    schema, name = table.split(".", 1)
    return f"{ident(schema)}.{ident(name)}"


def _policy(project: str, table: str, command: str) -> str:
    role, predicate = ident(project_role(project)), f"(project_id = {literal(project)})"
    name = ident(f"{POLICY_PREFIX}{project}_{command}")
    clauses = {
        "select": f"USING {predicate}",
        "insert": f"WITH CHECK {predicate}",
        "update": f"USING {predicate} WITH CHECK {predicate}",
        "delete": f"USING {predicate}",
    }[command]
    return f"CREATE POLICY {name} ON {qualified(table)} FOR {command.upper()} TO {role} {clauses};"


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(literal(v) for v in values) + "]::text[]"


def _require_tables(tables: list[str]) -> str:
    return f"""DO $tenancy$
DECLARE
  missing text;
BEGIN
  SELECT string_agg(t, ', ') INTO missing FROM unnest({_array(tables)}) AS t WHERE to_regclass(t) IS NULL;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'tenancy: % not found in database %: the application creates its tables; apply this after its migrations', missing, current_database();
  END IF;
  SELECT string_agg(t, ', ') INTO missing FROM unnest({_array(tables)}) AS t
   WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass(t) AND a.attname = 'project_id'
                       AND a.atttypid = 'text'::regtype AND a.attnotnull AND NOT a.attisdropped);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'tenancy: % in database % lack a project_id text NOT NULL column', missing, current_database();
  END IF;
END
$tenancy$;"""


def _role(project: str) -> list[str]:
    role = project_role(project)
    return [
        f"""DO $tenancy$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(role)}) THEN
    CREATE ROLE {ident(role)} NOLOGIN;
  END IF;
END
$tenancy$;""",
        f"ALTER ROLE {ident(role)} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;",
    ]


def _replace_policies(table: str) -> str:
    schema, name = table.split(".", 1)
    return f"""DO $tenancy$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT policyname FROM pg_policies
            WHERE schemaname = {literal(schema)} AND tablename = {literal(name)} AND policyname LIKE 'tenant\\_%'
  LOOP
    EXECUTE format('DROP POLICY %I ON {qualified(table).replace("'", "''")}', p.policyname);
  END LOOP;
END
$tenancy$;"""


def _grant_sequences(table: str, roles: list[str]) -> str:
    """Sequences of serial columns: a project inserting a row needs to draw from them."""
    grantees = ", ".join(ident(r) for r in roles)
    return f"""DO $tenancy$
DECLARE
  s regclass;
BEGIN
  FOR s IN SELECT d.objid::regclass FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
            WHERE d.refobjid = to_regclass({literal(table)}) AND d.deptype = 'a' AND c.relkind = 'S'
  LOOP
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {grantees.replace("'", "''")}', s);
  END LOOP;
END
$tenancy$;"""


def _entra_member(project: str, group_name: str, object_id: str) -> list[str]:
    return [
        f"""DO $tenancy$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(group_name)}) THEN
    PERFORM pgaadauth_create_principal_with_oid({literal(group_name)}, {literal(object_id)}, 'group', false, false);
  END IF;
END
$tenancy$;""",
        f"GRANT {ident(project_role(project))} TO {ident(group_name)};",
    ]


@dataclass(frozen=True)
class TenancySql:
    roles: dict[str, str]  # project -> its role
    tables: list[str]
    sql: str

    def to_json(self) -> dict[str, object]:
        return {"roles": self.roles, "tables": self.tables, "sql": self.sql}


def tenancy_sql(tenancy: Tenancy, database: str, *, plain: bool = False) -> TenancySql:
    """The idempotent SQL for one logical database; ValueError when it has no tenant-scoped tables."""
    tables = tenancy.tables.get(database)
    if not tables:
        raise ValueError(
            f"continuity:tenancy.tables has no tables for database {database!r} "
            f"(it lists {sorted(tenancy.tables) or 'none'})"
        )
    projects = sorted(tenancy.projects)
    roles = [project_role(p) for p in projects]
    statements = [
        f"-- continuity tenancy for database {database}: projects {', '.join(projects)}",
        "BEGIN;",
        _require_tables(tables),
    ]
    for project in projects:
        statements += _role(project)
    statements += [
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        f"GRANT CONNECT ON DATABASE {ident(database)} TO {', '.join(ident(r) for r in roles)};",
    ]
    for table in tables:
        schema = table.split(".", 1)[0]
        statements += [
            f"REVOKE ALL ON TABLE {qualified(table)} FROM PUBLIC;",
            f"REVOKE ALL ON TABLE {qualified(table)} FROM {', '.join(ident(r) for r in roles)};",
            f"GRANT USAGE ON SCHEMA {ident(schema)} TO {', '.join(ident(r) for r in roles)};",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {qualified(table)} TO "
            f"{', '.join(ident(r) for r in roles)};",
            _grant_sequences(table, roles),
            f"ALTER TABLE {qualified(table)} ENABLE ROW LEVEL SECURITY;",
            f"ALTER TABLE {qualified(table)} FORCE ROW LEVEL SECURITY;",
            _replace_policies(table),
        ]
        statements += [_policy(p, table, command) for p in projects for command in COMMANDS]
    if not plain:
        for project in projects:
            group = tenancy.projects[project].group
            statements += _entra_member(project, group.principal_name, group.object_id)
    statements.append("COMMIT;")
    return TenancySql({p: project_role(p) for p in projects}, list(tables), "\n".join(statements) + "\n")
