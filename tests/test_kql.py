"""Every KQL the platform declares or runs (log alerts, the workbook, the SLA report's query) parsed
and analysed by Microsoft's Kusto language service (npm @kusto/language-service-next, set up by
bin/setup in tests/kusto) against the workspace tables as Azure Monitor's reference declares them
(tests/kusto/workspace-tables.json): syntax, tables, columns and functions, not string matching."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT_DIR

from components import kql
from helpers import QUERY_ALERT
from sla.live import month_query

KUSTO = PROJECT_DIR / "tests" / "kusto"
WORKBOOK = "azure-native:applicationinsights:Workbook"


def analyse(queries: dict[str, str], tables: dict | None = None) -> dict[str, list[dict]]:
    """Diagnostics per query, from the language service (errors and warnings alike)."""
    node = shutil.which("node")
    assert node and (KUSTO / "node_modules").is_dir(), "run bin/setup: it installs the Kusto language service"
    if tables is None:
        declared = json.loads((KUSTO / "workspace-tables.json").read_text())["tables"]
        tables = {name: table["columns"] for name, table in declared.items()}
    done = subprocess.run(
        [node, str(KUSTO / "analyse.js")],
        input=json.dumps({"tables": tables, "queries": queries}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, list[dict]] = json.loads(done.stdout)
    return result


def declared_queries(renderings: dict[str, object]) -> dict[str, str]:
    queries = {}
    for stack, rendering in renderings.items():
        for alert in rendering.of_type(QUERY_ALERT):
            for number, condition in enumerate(alert.plain_inputs["criteria"]["allOf"]):
                queries[f"{stack} alert {alert.plain_inputs['ruleName']} [{number}]"] = condition["query"]
        for workbook in rendering.of_type(WORKBOOK):
            content = json.loads(workbook.plain_inputs["serializedData"])
            for item in content["items"]:
                if item["type"] == 3:
                    queries[f"{stack} workbook {item['content']['title']}"] = item["content"]["query"]
    return queries


@pytest.fixture(scope="module")
def platform_queries(prod, dr, promoted_dr) -> dict[str, str]:
    queries = declared_queries({"prod": prod, "dr": dr, "promoted-dr": promoted_dr})
    november = dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    queries["sla report"] = month_query(["psql-cty-knowledge-prod-aue-g1-"], *november)
    return queries


def test_the_platform_declares_the_queries_it_should(platform_queries):
    names = set(platform_queries)
    assert sum(" alert " in n and "burn" in n for n in names) == 12, (
        "3 burn-rate alerts x 2 databases x 2 stacks"
    )
    assert sum("budget-spent" in n for n in names) == 4
    assert {n.split(" workbook ")[1] for n in names if " workbook " in n} == {
        "Availability and error budget this month",
        "Replica lag against the RPO",
        "Newest backup job per server",
        "Restore checks' servers",
    }


def test_every_query_parses_and_uses_only_tables_and_columns_the_workspace_has(platform_queries):
    diagnostics = analyse(platform_queries)
    assert set(diagnostics) == set(platform_queries)
    assert {name: found for name, found in diagnostics.items() if found} == {}


@pytest.mark.parametrize(
    "query, code",
    [
        ('AzureMetrics | where MetricNmae == "is_db_alive"', "KS142"),  # a misspelt column
        ("AzureMetric | take 1", "KS204"),  # a table the workspace does not have
        ("AzureMetrics | summarize max(Maximum) by bin(TimeGenerated 1m)", None),  # broken syntax
        ("AzureActivity | where JobStatus == 'Failed'", "KS142"),  # another table's column
    ],
)
def test_the_analysis_fails_what_azure_would_refuse(query, code):
    (found,) = analyse({"q": query}).values()
    assert found, f"no diagnostic for {query!r}"
    assert any(d["severity"] == "Error" for d in found)
    if code:
        assert code in {d["code"] for d in found}


def test_a_column_outside_the_declared_schema_is_caught_in_the_platform_s_own_queries():
    query = kql.burn_rate(
        "psql-x", objective=99.9, window_start=0, long_minutes=60, short_minutes=5, burn=14.4
    )
    schema = json.loads((KUSTO / "workspace-tables.json").read_text())["tables"]
    without_maximum = {
        "AzureMetrics": {k: v for k, v in schema["AzureMetrics"]["columns"].items() if k != "Maximum"}
    }
    (found,) = analyse({"q": query}, without_maximum).values()
    assert any("Maximum" in d["message"] for d in found)


def test_the_schema_cites_its_source_for_every_table():
    declared = json.loads((KUSTO / "workspace-tables.json").read_text())["tables"]
    for name, table in declared.items():
        assert table["source"].startswith("MicrosoftDocs/azure-reference-other azure-monitor-ref/tables/"), (
            name
        )
        assert {"TimeGenerated", "_ResourceId"} <= set(table["columns"]), name


def test_names_that_could_change_a_query_s_meaning_are_refused():
    for name in ('x" or true or "', "a b", "", "x\\n| take 1"):
        with pytest.raises(ValueError, match="not a server name"):
            kql.literal(name)
    assert kql.literal("psql-cty-knowledge-prod-aue-g1-") == '"psql-cty-knowledge-prod-aue-g1-"'


def test_a_maintenance_window_start_must_be_a_minute_of_the_week():
    for start in (-1, 7 * 1440):
        with pytest.raises(ValueError, match="not a minute of the week"):
            kql.minute_grid("true", "a", "b", start)
    with pytest.raises(ValueError, match="must be shorter"):
        kql.burn_rate("s", objective=99.9, window_start=0, long_minutes=5, short_minutes=5, burn=1)


def test_the_node_helper_is_the_committed_one():
    assert Path(KUSTO / "package-lock.json").is_file()
    lock = json.loads((KUSTO / "package-lock.json").read_text())
    versions = {name: entry["version"] for name, entry in lock["packages"].items() if name}
    assert versions == {
        "node_modules/@kusto/language-service": "0.0.278",
        "node_modules/@kusto/language-service-next": "12.4.1",
    }


def test_the_workbook_is_a_shared_workbook_on_the_workspace_with_a_stable_uuid(prod, dr):
    import uuid

    from components.workbook import workbook_id

    for rendering, environment, region in ((prod, "prod", "australiaeast"), (dr, "dr", "australiasoutheast")):
        (workbook,) = rendering.of_type(WORKBOOK)
        inputs = workbook.plain_inputs
        assert (
            inputs["resourceName"]
            == workbook_id(environment, region)
            == str(uuid.UUID(inputs["resourceName"]))
        )
        assert (inputs["kind"], inputs["category"], inputs["version"]) == (
            "shared",
            "workbook",
            "Notebook/1.0",
        )
        (workspace,) = [
            r for r in rendering.resources if r.type == "azure-native:operationalinsights:Workspace"
        ]
        assert inputs["sourceId"] == workspace.outputs["id"]
        content = json.loads(inputs["serializedData"])
        assert content["version"] == "Notebook/1.0" and content["fallbackResourceIds"] == [inputs["sourceId"]]
        kinds = [(item["type"], item["content"].get("version")) for item in content["items"]]
        assert kinds == [(1, None), *[(3, "KqlItem/1.0")] * 4, (1, None)]
        for item in content["items"][1:-1]:
            assert (item["content"]["queryType"], item["content"]["resourceType"]) == (
                0,
                "microsoft.operationalinsights/workspaces",
            )
    assert workbook_id("prod", "australiaeast") != workbook_id("dr", "australiasoutheast")


def test_an_alert_query_states_the_server_objective_and_window_a_policy_reads_back():
    burn = kql.burn_rate(
        "psql-a-1", objective=99.95, window_start=180, long_minutes=60, short_minutes=5, burn=14.4
    )
    spent = kql.budget_spent("psql-a-1", objective=99.9, window_start=10079, reach_minutes=2820)
    assert kql.measured(burn) == kql.Measured("psql-a-1", 99.95, 180)
    assert kql.measured(spent) == kql.Measured("psql-a-1", 99.9, 10079)
    # Queries over several servers (the report's, the workbook's) name no single one.
    assert kql.measured(kql.alive_samples(kql.starting("psql-a-"), "a", "b")) is None
    assert kql.measured(kql.BACKUP_FAILURES) is None
