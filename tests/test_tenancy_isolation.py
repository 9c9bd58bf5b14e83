"""Project isolation on real PostgreSQL 15: the SQL of `python -m tenancy sql --plain` applied to
tables the application owns, then project A's login tries everything a session can to reach
project B's rows, on the source server and on a server restored from its backup to a point in time
(the restore rehearsal's PITR). Each attempt returns nothing of B's or is refused.

The project's login role stands in for the Entra group role Azure creates; it is granted the
project role exactly as the Azure-only statements grant it to the group.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from components.settings import Tenancy
from drill.localpg import LocalCluster
from pg_fixtures import require_postgres
from tenancy.catalog import isolation_report
from tenancy.sql import tenancy_sql

DATABASE = "knowledge"
TENANCY = Tenancy.model_validate(
    {
        "projects": {
            "atlas": {
                "group": {"objectId": "7c1e2a40-3b5d-4f6e-8a9b-0c1d2e3f4a51", "principalName": "grp-a"}
            },
            "borealis": {
                "group": {"objectId": "9d3f4b62-5c7e-4a8f-9b0c-1d2e3f4a5b62", "principalName": "grp-b"}
            },
        },
        "tables": {DATABASE: ["public.documents", "public.chunks"]},
    }
)
LOGIN = {"atlas": "grp-a", "borealis": "grp-b"}
APP_TABLES = """
CREATE TABLE public.documents (id serial PRIMARY KEY, project_id text NOT NULL, body text NOT NULL);
CREATE TABLE public.chunks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, project_id text NOT NULL,
                            document_id int NOT NULL, content text NOT NULL);
INSERT INTO public.documents (project_id, body) VALUES
  ('atlas', 'atlas plan'), ('atlas', 'atlas budget'), ('borealis', 'borealis secret roadmap');
INSERT INTO public.chunks (project_id, document_id, content) VALUES
  ('atlas', 1, 'atlas chunk'), ('borealis', 3, 'borealis chunk');
"""
B_WORDS = ("borealis secret roadmap", "borealis chunk")


class Servers:
    def __init__(self, local: LocalCluster, passwords: dict[str, str]):
        self.local, self.passwords = local, passwords
        self.dsn = {"source": local.primary_dsn}

    @contextmanager
    def connect(self, server: str, project: str) -> Iterator[psycopg.Connection]:
        dsn = make_conninfo(self.dsn[server], dbname=DATABASE, user=LOGIN[project])
        with psycopg.connect(dsn, password=self.passwords[project], autocommit=True) as conn:
            yield conn

    @contextmanager
    def admin(self, server: str) -> Iterator[psycopg.Connection]:
        dsn = make_conninfo(self.dsn[server], dbname=DATABASE)
        with psycopg.connect(dsn, password=self.local.password, autocommit=True) as conn:
            yield conn


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    require_postgres()
    with LocalCluster(standby=False, archive=True, logins=tuple(LOGIN.values())) as local:
        with psycopg.connect(local.primary_dsn, password=local.password, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
            conn.execute("CREATE ROLE app_owner NOLOGIN")
        passwords = {project: f"pw-{project}-{time.monotonic_ns()}" for project in LOGIN}
        found = Servers(local, passwords)
        with found.admin("source") as conn:
            conn.execute("GRANT CREATE ON SCHEMA public TO app_owner")  # the application's migrations
            conn.execute("SET ROLE app_owner")
            conn.execute(APP_TABLES)
            conn.execute("RESET ROLE")
            conn.execute(tenancy_sql(TENANCY, DATABASE, plain=True).sql)
            conn.execute(tenancy_sql(TENANCY, DATABASE, plain=True).sql)  # applying twice converges
            for project, login in LOGIN.items():
                conn.execute(f"CREATE ROLE \"{login}\" LOGIN PASSWORD '{passwords[project]}'")
                conn.execute(f'GRANT project_{project} TO "{login}"')
        backup = local.base_backup()
        with found.connect("source", "atlas") as conn:
            conn.execute(
                "INSERT INTO public.documents (project_id, body) VALUES ('atlas', 'before the point')"
            )
        time.sleep(0.2)
        point = dt.datetime.now(dt.UTC)
        time.sleep(0.2)
        with found.connect("source", "borealis") as conn:
            conn.execute(
                "INSERT INTO public.documents (project_id, body) VALUES ('borealis', 'after the point')"
            )
        local.archive_current_wal()
        local.restore(backup, point.isoformat())
        found.dsn["restored"] = local.restored_dsn
        yield found


SERVERS = ["source", "restored"]


def dump(rows: list[tuple]) -> str:
    return repr(rows)


@pytest.mark.parametrize("server", SERVERS)
def test_each_project_reads_its_own_rows_only(servers, server):
    with servers.connect(server, "atlas") as conn:
        documents = conn.execute("SELECT project_id, body FROM public.documents ORDER BY id").fetchall()
        chunks = conn.execute("SELECT project_id, content FROM public.chunks").fetchall()
    assert {p for p, _ in documents} == {"atlas"} and ("atlas", "atlas plan") in documents
    assert ("atlas", "before the point") in documents
    assert chunks == [("atlas", "atlas chunk")]
    with servers.connect(server, "borealis") as conn:
        mine = conn.execute("SELECT body FROM public.documents").fetchall()
    assert ("borealis secret roadmap",) in mine and all("atlas" not in body for (body,) in mine)
    after = ("after the point",) in mine
    assert after is (server == "source"), "the restore stopped at its point"


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM public.documents WHERE project_id = 'borealis'",
        "SELECT * FROM public.documents WHERE project_id = 'atlas' OR true",
        "SELECT * FROM public.documents WHERE body LIKE 'borealis%' OR project_id <> 'atlas'",
        "SELECT d.* FROM public.documents d JOIN public.chunks c ON c.document_id = d.id",
        "SELECT * FROM public.documents UNION ALL SELECT id, project_id, content FROM public.chunks",
        "SELECT count(*) FILTER (WHERE project_id = 'borealis') FROM public.documents",
        "WITH all_rows AS MATERIALIZED (SELECT * FROM public.documents) SELECT * FROM all_rows",
    ],
)
def test_predicates_reach_nothing_of_another_project(servers, server, query):
    with servers.connect(server, "atlas") as conn:
        rows = conn.execute(query).fetchall()
    assert not any(word in dump(rows) for word in B_WORDS)
    assert all(row[0] in (0, None) for row in rows) if query.startswith("SELECT count") else True


@pytest.mark.parametrize("server", SERVERS)
def test_a_leaky_function_in_the_where_clause_sees_only_visible_rows(servers, server):
    with servers.connect(server, "atlas") as conn:
        seen: list[str] = []
        conn.add_notice_handler(lambda notice: seen.append(notice.message_primary or ""))
        conn.execute(
            "CREATE FUNCTION pg_temp.leak(body text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS "
            "$$ BEGIN RAISE NOTICE 'saw %', body; RETURN true; END $$"
        )
        conn.execute("SELECT * FROM public.documents WHERE pg_temp.leak(body)").fetchall()
    assert seen and not any(word in " ".join(seen) for word in B_WORDS)


@pytest.mark.parametrize("server", SERVERS)
def test_views_and_functions_a_project_can_make_are_held_to_its_rows(servers, server):
    with servers.connect(server, "atlas") as conn:
        conn.execute("CREATE TEMP VIEW everything AS SELECT * FROM public.documents")
        conn.execute(
            "CREATE FUNCTION pg_temp.all_documents() RETURNS SETOF public.documents LANGUAGE sql "
            "SECURITY DEFINER AS $$ SELECT * FROM public.documents $$"
        )
        through_view = conn.execute("SELECT * FROM everything").fetchall()
        through_function = conn.execute("SELECT * FROM pg_temp.all_documents()").fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE VIEW public.everything AS SELECT * FROM public.documents")
    assert through_view and through_function
    assert not any(word in dump(through_view + through_function) for word in B_WORDS)


@pytest.mark.parametrize("server", SERVERS)
def test_copy_to_stdout_copies_only_its_rows(servers, server):
    with servers.connect(server, "atlas") as conn:
        out = []
        with conn.cursor().copy("COPY public.documents TO STDOUT") as copy:
            out += [bytes(block).decode() for block in copy]
        with conn.cursor().copy("COPY (SELECT * FROM public.chunks) TO STDOUT") as copy:
            out += [bytes(block).decode() for block in copy]
    text = "".join(out)
    assert "atlas plan" in text and not any(word in text for word in B_WORDS)


@pytest.mark.parametrize("server", SERVERS)
def test_another_project_s_rows_cannot_be_changed_or_claimed(servers, server):
    with servers.connect(server, "atlas") as conn, conn.transaction(force_rollback=True):
        assert (
            conn.execute("UPDATE public.documents SET body = 'x' WHERE project_id = 'borealis'").rowcount == 0
        )
        assert conn.execute("DELETE FROM public.documents WHERE project_id = 'borealis'").rowcount == 0
        assert conn.execute("DELETE FROM public.chunks WHERE true").rowcount == 1  # its own chunk only
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
            conn.transaction(),
        ):
            conn.execute("INSERT INTO public.documents (project_id, body) VALUES ('borealis', 'planted')")
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
            conn.transaction(),
        ):
            conn.execute("UPDATE public.documents SET project_id = 'borealis' WHERE project_id = 'atlas'")
    with servers.connect(server, "borealis") as conn:
        assert ("borealis secret roadmap",) in conn.execute("SELECT body FROM public.documents").fetchall()
        assert conn.execute("SELECT count(*) FROM public.chunks").fetchone() == (1,)


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize(
    "statement, error",
    [
        ("SET ROLE project_borealis", psycopg.errors.InsufficientPrivilege),
        ('SET ROLE "grp-b"', psycopg.errors.InsufficientPrivilege),
        ('SET SESSION AUTHORIZATION "grp-b"', psycopg.errors.InsufficientPrivilege),
        ("ALTER TABLE public.documents DISABLE ROW LEVEL SECURITY", psycopg.errors.InsufficientPrivilege),
        ("ALTER TABLE public.documents NO FORCE ROW LEVEL SECURITY", psycopg.errors.InsufficientPrivilege),
        ("DROP POLICY tenant_atlas_select ON public.documents", psycopg.errors.InsufficientPrivilege),
        ("TRUNCATE public.documents", psycopg.errors.InsufficientPrivilege),
        ('GRANT project_borealis TO "grp-a"', psycopg.errors.InsufficientPrivilege),
        ("ALTER ROLE project_atlas BYPASSRLS", psycopg.errors.InsufficientPrivilege),
        ("COPY public.documents FROM STDIN", psycopg.errors.FeatureNotSupported),
    ],
)
def test_a_project_cannot_switch_sides_or_switch_the_policies_off(servers, server, statement, error):
    with servers.connect(server, "atlas") as conn, pytest.raises(error):
        conn.execute(statement)


@pytest.mark.parametrize("server", SERVERS)
def test_switching_row_security_off_is_an_error_not_a_way_round(servers, server):
    with servers.connect(server, "atlas") as conn:
        conn.execute("SET row_security = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("SELECT * FROM public.documents")


@pytest.mark.parametrize("server", SERVERS)
def test_the_catalog_shows_every_project_column_table_forced_and_tied_to_its_project(servers, server):
    with servers.admin(server) as conn:
        report = isolation_report(conn)
    assert report.problems == []
    assert report.tables == ["public.chunks", "public.documents"]
    assert report.projects == {"atlas": "project_atlas", "borealis": "project_borealis"}


def test_the_table_owner_is_held_to_the_policies_too(servers):
    with servers.admin("source") as conn:
        conn.execute("SET ROLE app_owner")
        assert conn.execute("SELECT count(*) FROM public.documents").fetchone() == (0,)
        conn.execute("RESET ROLE")


def test_sql_for_a_missing_table_fails_and_changes_nothing(servers):
    broken = Tenancy(projects=TENANCY.projects, tables={DATABASE: ["public.documents", "public.absent"]})
    with servers.admin("source") as conn:
        before = isolation_report(conn)
        with pytest.raises(
            psycopg.errors.RaiseException, match=r"public\.absent not found in database knowledge"
        ):
            conn.execute(tenancy_sql(broken, DATABASE, plain=True).sql)
        conn.execute("ROLLBACK")
        assert isolation_report(conn) == before


def test_sql_for_a_table_without_project_id_fails(servers):
    with servers.admin("source") as conn:
        conn.execute("CREATE TABLE public.plain (id int)")
        try:
            broken = Tenancy(projects=TENANCY.projects, tables={DATABASE: ["public.plain"]})
            with pytest.raises(
                psycopg.errors.RaiseException, match=r"public\.plain in database knowledge lack"
            ):
                conn.execute(tenancy_sql(broken, DATABASE, plain=True).sql)
            conn.execute("ROLLBACK")
        finally:
            conn.execute("DROP TABLE public.plain")


def test_a_removed_project_loses_its_policies_on_reapplying(servers):
    only_atlas = Tenancy(projects={"atlas": TENANCY.projects["atlas"]}, tables=TENANCY.tables)
    with servers.admin("source") as conn:
        try:
            conn.execute(tenancy_sql(only_atlas, DATABASE, plain=True).sql)
            policies = {r[0] for r in conn.execute("SELECT policyname FROM pg_policies").fetchall()}
            assert policies == {f"tenant_atlas_{c}" for c in ("select", "insert", "update", "delete")}
        finally:
            conn.execute(tenancy_sql(TENANCY, DATABASE, plain=True).sql)
    with servers.connect("source", "borealis") as conn:
        assert ("borealis secret roadmap",) in conn.execute("SELECT body FROM public.documents").fetchall()


# --- the catalog check finds what breaks isolation (each change rolled back) -----------------------


@pytest.mark.parametrize(
    "change, problem",
    [
        (
            "ALTER TABLE public.documents NO FORCE ROW LEVEL SECURITY",
            "public.documents: row-level security is not forced",
        ),
        (
            "ALTER TABLE public.chunks DISABLE ROW LEVEL SECURITY",
            "public.chunks: row-level security is not enabled",
        ),
        ("GRANT SELECT ON public.documents TO PUBLIC", "public.documents: PUBLIC holds rights on it"),
        ("ALTER ROLE project_atlas BYPASSRLS", "role project_atlas has BYPASSRLS"),
        ("ALTER ROLE project_borealis LOGIN", "role project_borealis has LOGIN"),
        ("GRANT TRUNCATE ON public.chunks TO project_atlas", "public.chunks: project_atlas may TRUNCATE it"),
        (
            "ALTER TABLE public.chunks OWNER TO project_borealis",
            "public.chunks: owned by project_borealis, a project role",
        ),
        (
            "CREATE POLICY open ON public.documents FOR SELECT USING (true)",
            "policy open applies to every role (PUBLIC)",
        ),
        (
            "CREATE POLICY wide ON public.documents FOR SELECT TO project_atlas USING (project_id IN ('atlas', 'borealis'))",
            "public.documents: policy wide for project_atlas does not hold it to project_id = 'atlas'",
        ),
        (
            "DROP POLICY tenant_borealis_delete ON public.chunks",
            "public.chunks: no DELETE policy for project_borealis",
        ),
        (
            "CREATE TABLE public.newcomer (project_id text NOT NULL)",
            "public.newcomer: row-level security is not enabled",
        ),
        ("CREATE ROLE project_gamma NOLOGIN", "public.documents: no SELECT policy for project_gamma"),
        ("ALTER ROLE project_atlas SUPERUSER BYPASSRLS", "role project_atlas has SUPERUSER, BYPASSRLS"),
        (
            # pg_policies lists a policy's roles by name: app_owner is looked at before project_atlas.
            "CREATE POLICY mixed ON public.documents FOR SELECT TO app_owner, project_atlas USING (true)",
            "public.documents: policy mixed for project_atlas does not hold it to project_id = 'atlas'",
        ),
        (
            "CREATE POLICY everything ON public.chunks FOR ALL TO project_borealis USING (project_id = 'borealis') "
            "WITH CHECK (true)",
            "public.chunks: policy everything for project_borealis does not hold it to project_id = 'borealis'",
        ),
    ],
)
def test_the_catalog_check_names_what_breaks_isolation(servers, change, problem):
    with servers.admin("source") as conn, conn.transaction(force_rollback=True):
        conn.execute(change)
        found = isolation_report(conn).problems
    assert any(problem in p for p in found), found


def test_python_m_tenancy_check_reads_the_catalog_of_the_database_it_is_given(servers, monkeypatch, capsys):
    from cli.exits import Exit, run
    from tenancy import __main__ as tenancy_main

    dsn = make_conninfo(servers.dsn["restored"], dbname=DATABASE)
    monkeypatch.setenv("CONTINUITY_TENANCY_DSN", dsn)
    monkeypatch.setenv("PGPASSWORD", servers.local.password)
    assert run("tenancy", tenancy_main.main, ["check"]) == Exit.OK
    assert capsys.readouterr().out.endswith("isolation holds\n")
    with servers.admin("restored") as conn:
        conn.execute("ALTER TABLE public.documents NO FORCE ROW LEVEL SECURITY")
        try:
            assert run("tenancy", tenancy_main.main, ["check", "--json", "-"]) == Exit.FAILED
            report = json.loads(capsys.readouterr().out)
            assert report["problems"] == [
                "public.documents: row-level security is not forced (its owner would see every row)"
            ]
        finally:
            conn.execute("ALTER TABLE public.documents FORCE ROW LEVEL SECURITY")
    monkeypatch.setenv("PGPASSWORD", "wrong")
    assert run("tenancy", tenancy_main.main, ["check"]) == Exit.USAGE
    assert "CONTINUITY_TENANCY_DSN: connection failed" in capsys.readouterr().err


def test_python_m_tenancy_apply_applies_the_stack_s_sql_then_checks_it(servers, monkeypatch, capsys):
    """`apply` for the committed prod stack's `decisions` database: all of it or nothing."""
    from cli.exits import Exit, run
    from tenancy import __main__ as tenancy_main

    with servers.admin("source") as conn:
        conn.execute("CREATE DATABASE decisions")
    monkeypatch.setenv("CONTINUITY_TENANCY_DSN", make_conninfo(servers.dsn["source"], dbname="decisions"))
    monkeypatch.setenv("PGPASSWORD", servers.local.password)
    apply = ["apply", "--stack", "prod", "--database", "decisions", "--plain", "--json", "-"]
    assert run("tenancy", tenancy_main.main, apply) == Exit.USAGE
    error = capsys.readouterr().err
    assert "nothing applied: tenancy: public.decisions not found in database decisions" in error
    dsn = make_conninfo(servers.dsn["source"], dbname="decisions")
    with psycopg.connect(dsn, password=servers.local.password, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'project\\_%'").fetchone() == (
            2,
        )
        assert conn.execute("SELECT count(*) FROM pg_policies").fetchone() == (0,), "nothing half-applied"
        conn.execute("CREATE TABLE public.decisions (id int, project_id text NOT NULL, summary text)")
    for _ in range(2):  # and again: it converges
        assert run("tenancy", tenancy_main.main, apply) == Exit.OK
        report = json.loads(capsys.readouterr().out)
        assert report == {
            "tables": ["public.decisions"],
            "projects": {"atlas": "project_atlas", "borealis": "project_borealis"},
            "problems": [],
        }


def test_one_policy_for_all_commands_covers_each_command(servers):
    with servers.admin("source") as conn, conn.transaction(force_rollback=True):
        for command in ("select", "insert", "update", "delete"):
            conn.execute(f"DROP POLICY tenant_atlas_{command} ON public.documents")
        conn.execute(
            "CREATE POLICY tenant_atlas_all ON public.documents FOR ALL TO project_atlas "
            "USING (project_id = 'atlas') WITH CHECK (project_id = 'atlas')"
        )
        assert isolation_report(conn).problems == []
