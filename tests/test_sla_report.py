"""The SLA's arithmetic (sla/availability.py) and the two Azure Monitor response formats it reads
(sla/samples.py), against what docs/sla.md says: a minute is up with a sample >= 1, down without
one, and the maintenance window's hour is neither."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from cli.exits import Exit, run
from components.naming import Naming
from components.settings import MaintenanceWindow
from sla import __main__ as sla_main
from sla.availability import Incident, in_window, minutes, month_bounds, monthly_availability
from sla.samples import SampleError, from_log_analytics, from_metrics, read_samples

SUNDAY_3 = MaintenanceWindow.model_validate({"weekday": "Sunday", "startUtc": "03:00"})
NOVEMBER = "2026-11"  # 30 days; Sundays 1, 8, 15, 22, 29
UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


@functools.cache
def stamped_minutes(month: str) -> tuple[tuple[dt.datetime, str], ...]:
    """Each minute of `month` with the timestamp Azure writes for it: made once, read by every fake
    answer (formatting 43,200 timestamps per answer was a fifth of this file's time)."""
    return tuple((m, m.strftime("%Y-%m-%dT%H:%M:%SZ")) for m in minutes(*month_bounds(month)))


def alive_all(month: str = NOVEMBER, value: float = 1.0, except_: set[dt.datetime] = frozenset()) -> dict:
    start, end = month_bounds(month)
    return {m: value for m in minutes(start, end) if m not in except_}


def outage(start: dt.datetime, end: dt.datetime) -> set[dt.datetime]:
    return set(minutes(start, end))


def test_a_month_without_an_outage_is_fully_available_less_its_windows():
    result = monthly_availability(NOVEMBER, alive_all(), 99.9, SUNDAY_3)
    assert (result.availability, result.met, result.downtime_minutes) == (100.0, True, 0)
    assert result.excluded_minutes == 5 * 60, "five Sundays, an hour each"
    assert result.incidents == []


def test_an_outage_is_an_incident_with_an_exclusive_end():
    down = outage(at(10, 10), at(10, 10, 30))
    result = monthly_availability(NOVEMBER, alive_all(except_=down), 99.9, SUNDAY_3)
    assert result.incidents == [Incident(at(10, 10), at(10, 10, 30))]
    assert result.incidents[0].minutes == 30 == result.downtime_minutes
    counted = 30 * 1440 - 300
    assert result.availability == pytest.approx(100 * (counted - 30) / counted)


def test_maintenance_cuts_an_outage_short_and_is_never_downtime():
    down = outage(at(8, 2, 30), at(8, 3, 10))  # Sunday: into the 03:00 window
    result = monthly_availability(NOVEMBER, alive_all(except_=down), 99.9, SUNDAY_3)
    assert result.incidents == [Incident(at(8, 2, 30), at(8, 3))]
    assert result.downtime_minutes == 30 and result.excluded_minutes == 300


def test_silence_is_downtime_and_an_outage_can_run_to_the_end_of_the_month():
    result = monthly_availability(NOVEMBER, {}, 99.9, SUNDAY_3)
    assert result.availability == 0.0 and not result.met
    assert result.downtime_minutes == 30 * 1440 - 300
    assert result.incidents[0] == Incident(at(1, 0), at(1, 3))
    assert result.incidents[-1] == Incident(at(29, 4), dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert len(result.incidents) == 6, "five windows split the month into six outages"


@pytest.mark.parametrize("value, up", [(1.0, True), (0.999, False), (0.0, False), (2.0, True)])
def test_a_minute_is_up_when_its_largest_sample_is_at_least_one(value, up):
    alive = alive_all()
    alive[at(10, 10)] = value
    assert monthly_availability(NOVEMBER, alive, 99.9, SUNDAY_3).downtime_minutes == (0 if up else 1)


@pytest.mark.parametrize("objective", [99.0, 99.5, 99.9, 99.95, 99.99])
@pytest.mark.parametrize("over", [0, 1], ids=["whole budget spent", "one minute over"])
def test_the_objective_is_met_exactly_to_the_minute(objective, over):
    """The budget is the largest whole number of minutes the objective allows (exact arithmetic:
    99.9 % of 42,900 counted minutes leaves 42.9); one minute more misses it."""
    counted = 30 * 1440 - 300
    budget = int(counted * (100 - Fraction(str(objective))) / 100)
    lost = set(list(minutes(at(9, 0), at(13, 0)))[: budget + over])
    result = monthly_availability(NOVEMBER, alive_all(except_=lost), objective, SUNDAY_3)
    assert result.downtime_minutes == budget + over
    assert result.met is (over == 0)


@pytest.mark.parametrize(
    "window, moment, inside",
    [
        ({"weekday": "Sunday", "startUtc": "03:00"}, at(8, 3, 0), True),
        ({"weekday": "Sunday", "startUtc": "03:00"}, at(8, 3, 59), True),
        ({"weekday": "Sunday", "startUtc": "03:00"}, at(8, 4, 0), False),
        ({"weekday": "Sunday", "startUtc": "03:00"}, at(8, 2, 59), False),
        ({"weekday": "Sunday", "startUtc": "03:00"}, at(9, 3, 30), False),  # Monday
        ({"weekday": "Saturday", "startUtc": "23:30"}, at(8, 0, 15), True),  # into Sunday
        ({"weekday": "Saturday", "startUtc": "23:30"}, at(7, 23, 30), True),
        ({"weekday": "Saturday", "startUtc": "23:30"}, at(8, 0, 30), False),
        ({"weekday": "Monday", "startUtc": "00:00"}, at(9, 0, 0), True),
        ({"weekday": "Wednesday", "startUtc": "14:29"}, at(11, 15, 28), True),
    ],
)
def test_the_window_is_the_hour_from_its_start_each_week(window, moment, inside):
    assert in_window(moment, MaintenanceWindow.model_validate(window)) is inside


@pytest.mark.parametrize("month, days", [("2026-11", 30), ("2026-12", 31), ("2028-02", 29), ("2027-02", 28)])
def test_months_are_calendar_months_in_utc(month, days):
    start, end = month_bounds(month)
    assert start.tzinfo == UTC and (end - start).days == days and start.day == 1


@pytest.mark.parametrize("month", ["2026-13", "2026-1x", "Nov 2026", ""])
def test_a_malformed_month_is_refused(month):
    with pytest.raises(ValueError, match="is not a month in the form YYYY-MM"):
        month_bounds(month)


def test_the_report_json_has_the_documented_keys():
    down = outage(at(10, 10), at(10, 10, 2))
    data = monthly_availability(NOVEMBER, alive_all(except_=down), 99.9, SUNDAY_3).to_json()
    assert set(data) == {
        "objective",
        "availability",
        "met",
        "downtime_minutes",
        "excluded_minutes",
        "incidents",
    }
    assert data["incidents"] == [
        {"start": "2026-11-10T10:00:00+00:00", "end": "2026-11-10T10:02:00+00:00", "minutes": 2}
    ]


# --- the two response formats ---------------------------------------------------------------------

LOG_ANALYTICS = {
    "tables": [
        {
            "name": "PrimaryResult",
            "columns": [
                {"name": "TimeGenerated", "type": "datetime"},
                {"name": "Resource", "type": "string"},
                {"name": "MetricName", "type": "string"},
                {"name": "Maximum", "type": "real"},
            ],
            "rows": [
                ["2026-11-10T10:00:00Z", "PSQL-CTY-KNOWLEDGE-PROD-AUE-G1-62DB", "is_db_alive", 1],
                ["2026-11-10T10:00:42.1Z", "PSQL-CTY-KNOWLEDGE-PROD-AUE-G1-62DB", "is_db_alive", 0],
                ["2026-11-10T10:01:00Z", "PSQL-CTY-KNOWLEDGE-PROD-AUE-G1-62DB", "is_db_alive", 0],
                ["2026-11-10T10:01:00Z", "PSQL-CTY-KNOWLEDGE-PROD-AUE-G1-62DB", "cpu_percent", 80],
                ["2026-11-10T10:02:00Z", "PSQL-CTY-KNOWLEDGE-PROD-AUE-G1-62DB", "is_db_alive", None],
            ],
        }
    ]
}


def test_log_analytics_rows_become_the_largest_sample_per_server_and_minute():
    samples = from_log_analytics(LOG_ANALYTICS)
    assert samples == {
        "psql-cty-knowledge-prod-aue-g1-62db": {at(10, 10, 0): 1.0, at(10, 10, 1): 0.0},
    }


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({"tables": []}, "not a Log Analytics query response"),
        (
            {"tables": [{"columns": [{"name": "TimeGenerated"}], "rows": []}]},
            "lacks the AzureMetrics columns ['Resource', 'MetricName', 'Maximum']",
        ),
        (
            {"value": [{"name": {"value": "is_db_alive"}, "id": "/subscriptions/x/metrics/is_db_alive"}]},
            "value[0].id names no flexible server",
        ),
        ({"something": 1}, "neither a Log Analytics query response"),
    ],
)
def test_a_response_in_another_shape_is_refused_saying_what_is_missing(payload, fragment):
    with pytest.raises(SampleError, match=re.escape(fragment)):
        read_samples(payload)


def test_a_row_with_a_bad_time_is_named():
    bad = {"tables": [{**LOG_ANALYTICS["tables"][0], "rows": [["yesterday", "S", "is_db_alive", 1]]}]}
    with pytest.raises(SampleError, match=r"tables\[0\]\.rows\[0\]: 'yesterday' is not an ISO 8601 time"):
        from_log_analytics(bad)


SERVER_ID = (
    "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/rg-cty-prod-aue/providers/"
    "Microsoft.DBforPostgreSQL/flexibleServers/psql-cty-knowledge-prod-aue-g1-62db"
)
METRICS = {
    "cost": 598,
    "timespan": "2026-11-10T10:00:00Z/2026-11-10T10:04:00Z",
    "interval": "PT1M",
    "value": [
        {
            "id": f"{SERVER_ID}/providers/Microsoft.Insights/metrics/is_db_alive",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": "is_db_alive", "localizedValue": "Database Is Alive"},
            "unit": "Count",
            "timeseries": [
                {
                    "metadatavalues": [],
                    "data": [
                        {"timeStamp": "2026-11-10T10:00:00Z", "maximum": 1.0},
                        {"timeStamp": "2026-11-10T10:01:00Z", "maximum": 0.0},
                        {"timeStamp": "2026-11-10T10:02:00Z"},
                    ],
                }
            ],
            "errorCode": "Success",
        }
    ],
    "namespace": "microsoft.dbforpostgresql/flexibleservers",
}


def test_metrics_api_points_become_samples_and_points_without_a_maximum_are_missing():
    assert from_metrics(METRICS) == {
        "psql-cty-knowledge-prod-aue-g1-62db": {at(10, 10, 0): 1.0, at(10, 10, 1): 0.0}
    }
    assert read_samples(METRICS) == from_metrics(METRICS) and read_samples(
        LOG_ANALYTICS
    ) == from_log_analytics(LOG_ANALYTICS)


def test_times_with_offsets_are_read_in_utc():
    payload = {
        "tables": [
            {**LOG_ANALYTICS["tables"][0], "rows": [["2026-11-10T21:00:30+11:00", "S", "is_db_alive", 1]]}
        ]
    }
    assert from_log_analytics(payload) == {"s": {at(10, 10, 0): 1.0}}


# --- python -m sla report ------------------------------------------------------------------------

PROD_SERVERS = {
    key: Naming("prod", "australiaeast", "any-subscription").server(key, 1)
    for key in ("knowledge", "operational")
}


def saved_response(tmp_path, down: dict[str, set[dt.datetime]], month: str = NOVEMBER) -> Path:
    """A metrics API response for prod's servers over `month`, with the minutes in `down` at 0."""
    value = []
    for key, server in PROD_SERVERS.items():
        data = [
            {"timeStamp": stamp, "maximum": 0.0 if m in down.get(key, set()) else 1.0}
            for m, stamp in stamped_minutes(month)
        ]
        value.append(
            {
                "id": f"{SERVER_ID.rsplit('/', 1)[0]}/{server}/providers/Microsoft.Insights/metrics/is_db_alive",
                "name": {"value": "is_db_alive"},
                "timeseries": [{"data": data}],
            }
        )
    path = tmp_path / "response.json"
    path.write_text(json.dumps({"value": value}))
    return path


def sla(*argv: str) -> int:
    return run("sla", sla_main.main, list(argv))


def test_a_missed_objective_exits_1_with_the_documented_json(tmp_path, capsys):
    knowledge_down = outage(at(10, 10), at(10, 10, 30))  # 30 min > 99.95 %'s 21 min budget
    path = saved_response(tmp_path, {"knowledge": knowledge_down})
    out = tmp_path / "report.json"
    assert (
        sla("report", "--month", NOVEMBER, "--from-file", str(path), "--json", str(out), "--markdown", "-")
        == Exit.FAILED
    )
    report = json.loads(out.read_text())
    assert report["month"] == NOVEMBER and set(report["databases"]) == {"knowledge", "operational"}
    knowledge = report["databases"]["knowledge"]
    assert (knowledge["objective"], knowledge["met"], knowledge["downtime_minutes"]) == (99.95, False, 30)
    assert knowledge["incidents"] == [
        {"start": "2026-11-10T10:00:00+00:00", "end": "2026-11-10T10:30:00+00:00", "minutes": 30}
    ]
    assert report["databases"]["operational"]["met"] is True
    assert "| knowledge | 99.95 % | 99.930 % | **no** | 30 | 300 |" in capsys.readouterr().out


def test_every_objective_met_exits_0_and_json_can_go_to_standard_output(tmp_path, capsys):
    path = saved_response(tmp_path, {"knowledge": outage(at(10, 10), at(10, 10, 21))})  # within budget
    assert sla("report", "--month", NOVEMBER, "--from-file", str(path), "--json", "-") == Exit.OK
    report = json.loads(capsys.readouterr().out)
    assert all(d["met"] for d in report["databases"].values())


def test_a_server_with_no_samples_is_down_all_month(tmp_path, capsys):
    path = saved_response(tmp_path, {})
    data = json.loads(path.read_text())
    data["value"] = data["value"][1:]  # knowledge's metric missing
    path.write_text(json.dumps(data))
    assert sla("report", "--month", NOVEMBER, "--from-file", str(path), "--json", "-") == Exit.FAILED
    assert json.loads(capsys.readouterr().out)["databases"]["knowledge"]["availability"] == 0.0


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (("--month", "2026-13"), "--month: '2026-13' is not a month in the form YYYY-MM"),
        (("--month", NOVEMBER, "--stack", "staging"), "--stack staging: no Pulumi.staging.yaml"),
        (("--month", NOVEMBER, "--from-file", "missing.json"), "missing.json"),
        (
            ("--month", NOVEMBER, "--from-file", "FILE", "--json", "-", "--markdown", "-"),
            "only one report can go to standard output",
        ),
    ],
)
def test_bad_input_is_a_one_line_usage_error(tmp_path, capsys, argv, fragment):
    path = tmp_path / "FILE"
    path.write_text('{"something": 1}')
    argv = tuple(str(path) if a == "FILE" else str(tmp_path / a) if a == "missing.json" else a for a in argv)
    assert sla("report", *argv) == Exit.USAGE
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_a_response_in_another_shape_is_named_with_its_file(tmp_path, capsys):
    path = tmp_path / "odd.json"
    path.write_text('{"something": 1}')
    assert sla("report", "--month", NOVEMBER, "--from-file", str(path)) == Exit.USAGE
    assert f"{path}: neither a Log Analytics query response" in capsys.readouterr().err


def test_the_markdown_report_in_full(tmp_path, capsys):
    path = saved_response(
        tmp_path, {"knowledge": outage(at(10, 10), at(10, 10, 30)) | outage(at(12, 1), at(12, 1, 5))}
    )
    assert sla("report", "--month", NOVEMBER, "--from-file", str(path)) == Exit.FAILED
    assert capsys.readouterr().out == (
        "# SLA report 2026-11 (stack `prod`)\n"
        "\n"
        "| database | objective | availability | met | downtime (min) | excluded (min) | incidents |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        "| knowledge | 99.95 % | 99.918 % | **no** | 35 | 300 | "
        "2026-11-10T10:00:00+00:00 for 30 min<br>2026-11-12T01:00:00+00:00 for 5 min |\n"
        "| operational | 99.9 % | 100.000 % | yes | 0 | 300 | none |\n"
    )


def test_a_stack_without_objectives_or_with_two_matching_servers_is_refused():
    from conftest import PROJECT_DIR

    from components.settings import load_settings
    from gate.stack_files import read_stack_config
    from sla.report import monthly_report

    config = read_stack_config(PROJECT_DIR, "prod")
    bare = load_settings({k: v for k, v in config.values.items() if k != "continuity:sla"})
    with pytest.raises(ValueError, match=r"^the stack declares no continuity:sla$"):
        monthly_report(NOVEMBER, bare, {})
    settings = load_settings(config.values)
    twins = {PROD_SERVERS["knowledge"]: {}, PROD_SERVERS["knowledge"][:-4] + "zzzz": {}}
    with pytest.raises(ValueError) as error:
        monthly_report(NOVEMBER, settings, twins)
    prefix = PROD_SERVERS["knowledge"][:-4]
    assert str(error.value) == f"2 servers match {prefix}*: {', '.join(sorted(twins))}"


def test_exact_messages_for_responses_in_another_shape():
    cases = [
        ({"tables": [{}]}, "not a Log Analytics query response: expected tables[0].columns and .rows"),
        ({"value": 3}, "not a metrics API response: expected value[]"),
        (
            {"value": [{"name": {"value": "is_db_alive"}, "id": "/subscriptions/x"}]},
            "value[0].id names no flexible server: '/subscriptions/x'",
        ),
        (
            {
                "value": [
                    {
                        "name": {"value": "is_db_alive"},
                        "id": SERVER_ID,
                        "timeseries": [{"data": [{"timeStamp": "soon", "maximum": 1}]}],
                    }
                ]
            },
            "value[0].timeseries.data: 'soon' is not an ISO 8601 time",
        ),
    ]
    for payload, message in cases:
        with pytest.raises(SampleError) as error:
            read_samples(payload)
        assert str(error.value) == message


def test_other_metrics_anywhere_in_a_response_are_skipped_not_the_end():
    rows = [
        ["2026-11-10T10:00:00Z", "S", "cpu_percent", 80],
        ["2026-11-10T10:01:00Z", "S", "is_db_alive", 1],
    ]
    assert from_log_analytics({"tables": [{**LOG_ANALYTICS["tables"][0], "rows": rows}]}) == {
        "s": {at(10, 10, 1): 1.0}
    }
    other = {
        "id": f"{SERVER_ID}/providers/Microsoft.Insights/metrics/cpu_percent",
        "name": {"value": "cpu_percent"},
    }
    assert from_metrics({"value": [other, *METRICS["value"]]}) == from_metrics(METRICS)


def test_times_without_a_zone_are_utc_whatever_the_machines_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Australia/Sydney")
    time.tzset()
    try:
        payload = {
            "tables": [
                {
                    **LOG_ANALYTICS["tables"][0],
                    "rows": [
                        ["2026-11-10T10:00:00", "S", "is_db_alive", 1],
                        ["2026-11-10T21:01:00+11:00", "S", "is_db_alive", 1],
                    ],
                }
            ]
        }
        assert from_log_analytics(payload) == {"s": {at(10, 10, 0): 1.0, at(10, 10, 1): 1.0}}
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# --- querying the workspace ----------------------------------------------------------------------

WORKSPACE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-cty-prod-aue"
    "/providers/Microsoft.OperationalInsights/workspaces/log-cty-prod-aue"
)


def workspace_answer(down: dict[str, set[dt.datetime]], month: str = NOVEMBER) -> dict:
    """What the query API answers `alive_samples`: its columns, in the shape of the v1 spec's
    oms-post-example.json (tables -> columns with types, rows), Resource in upper case as Azure writes it."""
    rows = [
        [server.upper(), "is_db_alive", stamp, 0.0 if m in down.get(key, set()) else 1.0]
        for key, server in PROD_SERVERS.items()
        for m, stamp in stamped_minutes(month)
    ]
    columns = [
        ("Resource", "string"),
        ("MetricName", "string"),
        ("TimeGenerated", "datetime"),
        ("Maximum", "real"),
    ]
    return {
        "tables": [
            {"name": "PrimaryResult", "columns": [{"name": n, "type": t} for n, t in columns], "rows": rows}
        ]
    }


@pytest.fixture
def workspace(monkeypatch):
    """The report's live path through Microsoft's LogsQueryClient, answered offline."""
    from functools import partial

    from azure_http import FakeCredential, ScriptedAzure, answer

    def serve(body, status=200):
        transport = ScriptedAzure([answer(status, body=body)])
        monkeypatch.setattr(sla_main, "stack_outputs", lambda stack: {"workspaceId": WORKSPACE_ID})
        monkeypatch.setattr(
            sla_main,
            "query_workspace",
            partial(sla_main.query_workspace, credential=FakeCredential(), transport=transport),
        )
        return transport

    return serve


def test_the_live_report_runs_the_printed_query_over_the_month_on_the_stack_workspace(workspace, capsys):
    assert sla("report", "--month", NOVEMBER, "--print-query") == Exit.OK
    printed = capsys.readouterr().out
    transport = workspace(workspace_answer({"knowledge": outage(at(10, 10), at(10, 10, 30))}))
    assert sla("report", "--month", NOVEMBER, "--json", "-") == Exit.FAILED
    (sent,) = transport.sent
    assert sent.method == "POST" and sent.url == f"https://api.loganalytics.io/v1{WORKSPACE_ID}/query"
    assert sent.body["query"] + "\n" == printed
    assert sent.body["timespan"] == "2026-11-01T00:00:00.000Z/2026-12-01T00:00:00.000Z"
    report = json.loads(capsys.readouterr().out)
    assert report["databases"]["knowledge"]["downtime_minutes"] == 30
    assert report["databases"]["operational"]["met"] is True


def test_the_printed_query_selects_the_month_and_the_stack_servers_only(capsys):
    assert sla("report", "--month", "2026-02", "--stack", "dr", "--print-query") == Exit.OK
    query = capsys.readouterr().out
    assert (
        "TimeGenerated >= datetime(2026-02-01T00:00:00Z) and TimeGenerated < datetime(2026-03-01T00:00:00Z)"
        in query
    )
    prefixes = re.findall(r'Resource startswith "([^"]+)"', query)
    assert prefixes == [
        Naming("dr", "australiasoutheast", "").server_prefix(key, 1) for key in ("knowledge", "operational")
    ]


def test_a_partial_answer_is_refused_rather_than_read_as_downtime(workspace, capsys):
    body = workspace_answer({})
    # Two rows of the month: read as they stand, the rest of the month would count as downtime.
    body["tables"][0]["rows"] = body["tables"][0]["rows"][:2]
    body["error"] = {"code": "PartialError", "message": "query result truncated"}
    workspace(body)
    assert sla("report", "--month", NOVEMBER, "--json", "-") == Exit.INTERNAL
    err = capsys.readouterr().err
    assert "answered only in part" in err and "truncated" in err and WORKSPACE_ID in err


def test_a_failing_query_names_the_workspace(workspace, capsys):
    workspace({"error": {"code": "PathNotFoundError", "message": "workspace not found"}}, status=404)
    assert sla("report", "--month", NOVEMBER) == Exit.INTERNAL
    assert f"querying {WORKSPACE_ID} failed" in capsys.readouterr().err


def test_an_undeployed_stack_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr(sla_main, "stack_outputs", lambda stack: {})
    assert sla("report", "--month", NOVEMBER) == Exit.USAGE
    assert "its outputs have no workspaceId" in capsys.readouterr().err


def test_the_workspace_answer_is_returned_as_the_query_api_s_own_json(monkeypatch):
    from azure_http import FakeCredential, ScriptedAzure, answer
    from sla.live import SERVER_TIMEOUT_SECONDS, query_workspace

    body = workspace_answer({}, month="2026-02")
    body["tables"][0]["rows"] = body["tables"][0]["rows"][:2]
    transport = ScriptedAzure([answer(200, body=body)])
    start, end = month_bounds("2026-02")
    got = query_workspace(
        WORKSPACE_ID, "AzureMetrics", start, end, credential=FakeCredential(), transport=transport
    )
    assert json.loads(json.dumps(got)) == {
        "tables": [
            {
                "name": "PrimaryResult",
                "columns": body["tables"][0]["columns"],
                "rows": [[r[0], r[1], r[2].replace("Z", "+00:00"), r[3]] for r in body["tables"][0]["rows"]],
            }
        ]
    }
    (sent,) = transport.sent
    assert sent.headers["Prefer"] == f"wait={SERVER_TIMEOUT_SECONDS}"


def test_without_a_credential_the_ambient_azure_login_is_used(monkeypatch):
    import azure.identity

    from azure_http import FakeCredential, ScriptedAzure, answer
    from sla.live import query_workspace

    made = []
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", lambda: made.append(1) or FakeCredential())
    body = workspace_answer({}, month="2026-02")
    body["tables"][0]["rows"] = body["tables"][0]["rows"][:1]  # the answer is not what this is about
    transport = ScriptedAzure([answer(200, body=body)])
    start, end = month_bounds("2026-02")
    query_workspace(WORKSPACE_ID, "AzureMetrics", start, end, transport=transport)
    assert made == [1]


def test_the_printed_times_are_utc_whatever_the_machine_s_zone(monkeypatch):
    import time

    from sla.live import month_query

    monkeypatch.setenv("TZ", "Australia/Sydney")
    time.tzset()
    try:
        start, end = month_bounds("2026-11")
        query = month_query(["psql-k-"], start, end)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert (
        "TimeGenerated >= datetime(2026-11-01T00:00:00Z) and TimeGenerated < datetime(2026-12-01T00:00:00Z)"
        in query
    )


def test_a_stack_without_objectives_has_no_server_to_measure():
    from sla.report import server_prefixes

    settings = sla_main.stack_settings("prod")
    assert server_prefixes(settings.model_copy(update={"sla": None})) == {}
    assert sorted(server_prefixes(settings)) == ["knowledge", "operational"]
