"""The platform's KQL builders (components/kql.py): every query they make parses and uses only the
workspace's documented tables and columns (Microsoft's Kusto language service, tests/kql_analysis.py),
reads back what a policy needs, refuses what could change its meaning, and says exactly what the
reviewed text below says."""

from __future__ import annotations

import json
import os

import pytest

from components import kql
from kql_analysis import KUSTO, analyse, declared_tables

REFUSED = {
    "misspelt column": ('AzureMetrics | where MetricNmae == "is_db_alive"', "KS142"),
    "unknown table": ("AzureMetric | take 1", "KS204"),
    "broken syntax": ("AzureMetrics | summarize max(Maximum) by bin(TimeGenerated 1m)", None),
    "another table's column": ("AzureActivity | where JobStatus == 'Failed'", "KS142"),
}


# A copy of AzureMetrics without its Maximum column, analysed in the same run as the rest (each start
# of the language service costs seconds): a query the platform builds, pointed at it, must be caught.
WITHOUT_MAXIMUM = "AzureMetricsWithoutMaximum"


@pytest.fixture(scope="module")
def diagnosed() -> dict[str, list[dict]]:
    """One run of the language service over the refused queries and every builder's query."""
    queries = {name: query for name, (query, _code) in REFUSED.items()}
    queries |= {f"built {name}": build() for name, build in BUILT.items()}
    queries["without Maximum"] = BUILT["burn-rate"]().replace("AzureMetrics", WITHOUT_MAXIMUM)
    tables = {name: table["columns"] for name, table in declared_tables().items()}
    tables[WITHOUT_MAXIMUM] = {k: v for k, v in tables["AzureMetrics"].items() if k != "Maximum"}
    return analyse(queries, tables)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_analysis_fails_what_azure_would_refuse(diagnosed, name):
    query, code = REFUSED[name]
    found = diagnosed[name]
    assert found, f"no diagnostic for {query!r}"
    assert any(d["severity"] == "Error" for d in found)
    if code:
        assert code in {d["code"] for d in found}


def test_a_column_outside_the_declared_schema_is_caught_in_the_platform_s_own_queries(diagnosed):
    assert "AzureMetrics" in BUILT["burn-rate"]() and diagnosed["built burn-rate"] == []
    assert any("Maximum" in d["message"] for d in diagnosed["without Maximum"])


def test_the_schema_cites_its_source_for_every_table():
    for name, table in declared_tables().items():
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
    assert (KUSTO / "package-lock.json").is_file()
    lock = json.loads((KUSTO / "package-lock.json").read_text())
    versions = {name: entry["version"] for name, entry in lock["packages"].items() if name}
    assert versions == {
        "node_modules/@kusto/language-service": "0.0.278",
        "node_modules/@kusto/language-service-next": "12.4.1",
    }


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


# --- the reviewed text ---------------------------------------------------------------------------
# Each builder's output for fixed arguments, committed under tests/fixtures/kql and read by a person
# when it changes (regenerate with CONTINUITY_UPDATE_SNAPSHOTS=1 and read the diff).
SNAPSHOTS = KUSTO.parent / "fixtures" / "kql"
BUILT = {
    "burn-rate": lambda: kql.burn_rate(
        "psql-a-1", objective=99.95, window_start=180, long_minutes=60, short_minutes=5, burn=14.4
    ),
    "budget-spent": lambda: kql.budget_spent(
        "psql-a-1", objective=99.9, window_start=240, reach_minutes=2820
    ),
    "month-to-date": lambda: kql.month_to_date(
        [
            kql.Objective("knowledge", "psql-k-", 99.95, 180),
            kql.Objective("operational", "psql-o-", 99.9, 240),
        ]
    ),
    "replication-lag": lambda: kql.replication_lag(
        {"knowledge": ("psql-k-", 900), "operational": ("psql-o-", 3600)}
    ),
    "replication-lag-none": lambda: kql.replication_lag({}),
    "restore-check-servers": lambda: kql.restore_check_servers("rg-cty-prod-aue", "rc-"),
    "alive-samples": lambda: kql.alive_samples(
        kql.any_of([kql.starting("psql-k-"), kql.starting("psql-o-")]),
        "datetime(2026-11-01)",
        "datetime(2026-12-01)",
    ),
    "last-backups": lambda: kql.LAST_BACKUPS,
    "backup-failures": lambda: kql.BACKUP_FAILURES,
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_each_builder_says_what_the_reviewed_text_says(name):
    path = SNAPSHOTS / f"{name}.kql"
    text = BUILT[name]() + "\n"
    if os.environ.get("CONTINUITY_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{path.name} changed: regenerate it and read the diff"


def test_every_builder_s_query_is_clean_kql_over_the_workspace(diagnosed):
    assert {name: found for name, found in diagnosed.items() if name.startswith("built ") and found} == {}
    assert len([name for name in diagnosed if name.startswith("built ")]) == len(BUILT)


def test_a_server_filter_that_matches_nothing_is_false_not_an_empty_where():
    assert kql.any_of([]) == "false"
    assert kql.any_of(["a", "b"]) == "(a) or (b)"


def test_numbers_are_written_as_kql_reals():
    assert [kql._number(v) for v in (6.0, 3, 14.4, 99.95, 1e8)] == ["6.0", "3.0", "14.4", "99.95", "1e+08"]


def test_window_bounds_are_checked_at_their_edges():
    assert "let short_start = end_time - 1m;" in kql.burn_rate(
        "s", objective=99.9, window_start=0, long_minutes=2, short_minutes=1, burn=1
    )
    for short, long in ((0, 5), (5, 5), (6, 5)):
        with pytest.raises(ValueError, match="must be shorter"):
            kql.burn_rate("s", objective=99.9, window_start=0, long_minutes=long, short_minutes=short, burn=1)


def test_a_query_naming_a_server_without_objective_or_window_reads_back_as_unknown():
    assert kql.measured('AzureMetrics\n| where Resource =~ "psql-a-1"') == kql.Measured(
        "psql-a-1", None, None
    )
