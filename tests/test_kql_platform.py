"""The KQL the platform declares (log alerts and the workbook of each stack, the promoted standby's
too) and the SLA report's query, analysed by Microsoft's Kusto language service against the
workspace tables Azure Monitor's reference declares: syntax, tables, columns and functions."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from helpers import QUERY_ALERT
from kql_analysis import analyse
from sla.live import month_query

WORKBOOK = "azure-native:applicationinsights:Workbook"


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
