"""`continuity:tenancy` validated like the rest of the config, and `python -m tenancy sql`: the SQL
and JSON it prints, with and without the Azure-only Entra statements, and its usage errors."""

from __future__ import annotations

import json

import pytest
from conftest import PROJECT_DIR

from cli.exits import Exit, run
from components.settings import SettingsError, load_settings
from gate.stack_files import read_stack_config
from tenancy import __main__ as tenancy_main
from tenancy.sql import COMMANDS

PROD = read_stack_config(PROJECT_DIR, "prod")
TENANCY = json.loads(PROD.values["continuity:tenancy"])


def with_tenancy(tenancy: dict) -> None:
    load_settings({**PROD.values, "continuity:tenancy": json.dumps(tenancy)}, PROD.secret_keys)


@pytest.mark.parametrize(
    "change, where, fragment",
    [
        (
            lambda t: t["projects"].update({"Atlas": t["projects"].pop("atlas")}),
            "continuity:tenancy.projects",
            "project name 'Atlas'",
        ),
        (
            lambda t: t["projects"].update({"a-b": t["projects"].pop("atlas")}),
            "continuity:tenancy.projects",
            "lowercase letters and digits",
        ),
        (lambda t: t["projects"].clear(), "continuity:tenancy.projects", "at least 1 item"),
        (
            lambda t: t["projects"]["borealis"].update(group=t["projects"]["atlas"]["group"]),
            "continuity:tenancy",
            "projects.borealis.group is projects.atlas.group",
        ),
        (
            lambda t: t["tables"].update(reports=["public.reports"]),
            "continuity",
            "tenancy.tables names ['reports'], which no server holds",
        ),
        (
            lambda t: t["tables"].update(knowledge=["documents"]),
            "continuity:tenancy.tables.knowledge[0]",
            "should match pattern",
        ),
        (
            lambda t: t["tables"].update(knowledge=[]),
            "continuity:tenancy",
            "tables.knowledge must list each table once",
        ),
        (
            lambda t: t["tables"].update(knowledge=["public.documents", "public.documents"]),
            "continuity:tenancy",
            "['public.documents']",
        ),
        (
            lambda t: t["projects"]["atlas"]["group"].update(objectId="not-a-guid"),
            "continuity:tenancy.projects.atlas.group.objectId",
            "pattern",
        ),
    ],
)
def test_bad_tenancy_config_names_its_key(change, where, fragment):
    tenancy = json.loads(json.dumps(TENANCY))
    change(tenancy)
    with pytest.raises(SettingsError) as caught:
        with_tenancy(tenancy)
    assert where in str(caught.value) and fragment in str(caught.value)


def tenancy(*argv: str) -> int:
    return run("tenancy", tenancy_main.main, list(argv))


def test_the_json_names_roles_tables_and_the_sql(capsys):
    assert tenancy("sql", "--stack", "dr", "--database", "knowledge", "--json", "-") == Exit.OK
    out = json.loads(capsys.readouterr().out)
    assert out["roles"] == {"atlas": "project_atlas", "borealis": "project_borealis"}
    assert out["tables"] == ["public.documents", "public.chunks"]
    sql = out["sql"]
    assert sql.startswith("-- continuity tenancy for database knowledge") and sql.rstrip().endswith("COMMIT;")
    for table in out["tables"]:
        schema, name = table.split(".")
        assert f'ALTER TABLE "{schema}"."{name}" FORCE ROW LEVEL SECURITY;' in sql
        for project in out["roles"]:
            for command in COMMANDS:
                assert (
                    f'CREATE POLICY "tenant_{project}_{command}" ON "{schema}"."{name}" FOR {command.upper()} TO "project_{project}"'
                    in sql
                )
    assert "TRUNCATE" not in sql and "BYPASSRLS;" in sql  # NOBYPASSRLS, never granted


def test_azure_statements_map_each_group_to_its_project_and_plain_leaves_them_out(capsys, tmp_path):
    assert tenancy("sql", "--database", "decisions") == Exit.OK
    azure = capsys.readouterr().out
    assert (
        "pgaadauth_create_principal_with_oid('grp-project-atlas', '7c1e2a40-3b5d-4f6e-8a9b-0c1d2e3f4a51', 'group', false, false)"
        in azure
    )
    assert 'GRANT "project_atlas" TO "grp-project-atlas";' in azure
    assert 'GRANT "project_borealis" TO "grp-project-borealis";' in azure
    out = tmp_path / "plain.json"
    assert tenancy("sql", "--database", "decisions", "--plain", "--json", str(out)) == Exit.OK
    plain = json.loads(out.read_text())["sql"]
    assert "pgaadauth" not in plain and "grp-project" not in plain
    assert (
        plain
        == azure[
            : azure.index("DO $tenancy$\nBEGIN\n  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grp-")
        ]
        + "COMMIT;\n"
    )


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            ("--database", "nope"),
            "--database nope: stack prod has no such database (it has: decisions, knowledge, patterns)",
        ),
        (("--database", "patterns"), "has no tables for database 'patterns'"),
        (("--stack", "staging", "--database", "knowledge"), "--stack staging: no Pulumi.staging.yaml"),
        ((), "the following arguments are required: --database"),
    ],
)
def test_usage_errors_are_one_line_naming_the_argument(capsys, argv, fragment):
    assert tenancy("sql", *argv) == Exit.USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert fragment in err[-1]


def test_check_without_a_connection_string_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("CONTINUITY_TENANCY_DSN", raising=False)
    assert tenancy("check") == Exit.USAGE
    assert "CONTINUITY_TENANCY_DSN: set it" in capsys.readouterr().err


# --- the SQL and the catalog report, without a database ----------------------------------------------


def test_the_sql_is_for_azure_unless_asked_plain_and_names_what_it_covers():
    from components.settings import load_settings as load
    from tenancy.sql import tenancy_sql

    tenancy = load(PROD.values, PROD.secret_keys).tenancy
    sql = tenancy_sql(tenancy, "knowledge").sql
    assert sql.startswith("-- continuity tenancy for database knowledge: projects atlas, borealis\nBEGIN;\n")
    assert "pgaadauth_create_principal_with_oid" in sql
    with pytest.raises(
        ValueError, match=r"no tables for database 'patterns' \(it lists \['decisions', 'knowledge'\]\)"
    ):
        tenancy_sql(tenancy, "patterns")
    empty = tenancy.model_copy(update={"tables": {}})
    with pytest.raises(ValueError, match=r"\(it lists none\)"):
        tenancy_sql(empty, "knowledge")


def test_names_are_quoted_so_no_name_can_end_a_literal_or_an_identifier():
    from tenancy.sql import ident, literal

    assert ident('grp "ops"') == '"grp ""ops"""'
    assert literal("o'brien") == "'o''brien'"


class ScriptedCatalog:
    """A connection that answers the catalog queries isolation_report sends, in order of their text."""

    def __init__(self, roles, policies, tables, truncate=False):
        self.answers = {"pg_roles": roles, "pg_policies": policies, "pg_class": tables}
        self.truncate = truncate

    def execute(self, query, params=None):
        from types import SimpleNamespace

        if "has_table_privilege" in query:
            return SimpleNamespace(fetchone=lambda: (self.truncate,))
        (rows,) = [rows for marker, rows in self.answers.items() if marker in query]
        return SimpleNamespace(fetchall=lambda: rows)


def test_tables_with_a_project_column_but_no_project_roles_are_a_problem():
    from tenancy.catalog import isolation_report

    report = isolation_report(ScriptedCatalog([], [], [("public.t", True, True, "app", [])]))
    assert report.problems == ["tables with a project_id column, but no project roles"]
    assert isolation_report(ScriptedCatalog([], [], [])).problems == []


def test_a_restore_that_kept_everything_has_only_the_restored_catalog_s_problems():
    from tenancy.catalog import IsolationReport, kept_after_restore

    source = IsolationReport(
        ["public.a", "public.b"], {"atlas": "project_atlas", "borealis": "project_borealis"}, []
    )
    same = IsolationReport(
        list(source.tables), dict(source.projects), ["public.a: row-level security is not forced"]
    )
    assert kept_after_restore(source, same) == ["public.a: row-level security is not forced"]
    lost = IsolationReport([], {}, [])
    assert kept_after_restore(source, lost) == [
        "tenant tables on the source but not restored: public.a, public.b",
        "project roles on the source but not restored: project_atlas, project_borealis",
    ]
    more = IsolationReport(
        ["public.a", "public.b", "public.c"], {**source.projects, "gamma": "project_gamma"}, []
    )
    assert kept_after_restore(source, more) == [], (
        "what the restore holds besides is judged by its own catalog"
    )
