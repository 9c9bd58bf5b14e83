"""Service levels as code: `continuity:sla` validated, set on the servers, and written out as
docs/sla.md (which must match the committed stacks)."""

from __future__ import annotations

import json

import pytest
from conftest import PROJECT_DIR, render_variant
from hypothesis import given
from hypothesis import strategies as st

from cli.exits import Exit, run
from components.database import maintenance_window
from components.facts import WEEKDAYS
from components.settings import DatabaseSla, SettingsError, load_settings
from gate.analyzer import load_pack_config
from gate.neutral import as_stack
from gate.stack_files import read_stack_config
from helpers import SERVER
from policies.rules import evaluate
from sla import __main__ as sla_main
from sla.document import sla_document

PROD = read_stack_config(PROJECT_DIR, "prod")


def sla_config(**changes) -> dict:
    sla = json.loads(PROD.values["continuity:sla"])
    for path, value in changes.items():
        target = sla
        *parents, last = path.split("__")
        for part in parents:
            target = target[part]
        if value is None:
            target.pop(last)
        else:
            target[last] = value
    return sla


def problems(sla: dict) -> str:
    with pytest.raises(SettingsError) as error:
        load_settings({**PROD.values, "continuity:sla": json.dumps(sla)}, PROD.secret_keys)
    return str(error.value)


def test_the_document_matches_the_committed_stacks():
    committed = (PROJECT_DIR / "docs" / "sla.md").read_text()
    assert committed == sla_document(sla_main.committed_stacks()), (
        "docs/sla.md is stale: .venv/bin/python -m sla document > docs/sla.md"
    )


def test_the_document_command_prints_it(capsys):
    assert run("sla", sla_main.main, ["document"]) == Exit.OK
    out = capsys.readouterr().out
    assert (
        out.startswith("# Service levels")
        and "| knowledge | 99.95 % | 21.6 min | Sunday 03:00, 60 min |" in out
    )


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"databases__knowledge__availability": 100}, "continuity:sla.databases.knowledge.availability"),
        ({"databases__knowledge__availability": 9.99}, "greater than 90"),
        (
            {"databases__knowledge__maintenanceWindow__weekday": "Sun"},
            "continuity:sla.databases.knowledge.maintenanceWindow.weekday",
        ),
        ({"databases__knowledge__maintenanceWindow__startUtc": "24:00"}, "maintenanceWindow.startUtc"),
        ({"databases__operational": None}, "missing ['operational']"),
        (
            {
                "databases__reporting": {
                    "availability": 99.9,
                    "maintenanceWindow": {"weekday": "Monday", "startUtc": "01:00"},
                }
            },
            "unknown ['reporting']",
        ),
        ({"responseTimes__P4": None}, "responseTimes lacks ['P4']"),
        ({"responseTimes__P5": {"acknowledge": "1d", "resolve": "2d"}}, "continuity:sla.responseTimes.P5"),
        (
            {"responseTimes__P1": {"acknowledge": "1h", "resolve": "30min"}},
            "resolve (30min) is sooner than acknowledge (1h)",
        ),
        (
            {"responseTimes__P1": {"acknowledge": "1h", "resolve": "4h"}},
            "responseTimes.P1.acknowledge is slower than P2's",
        ),
        (
            {"responseTimes__P3": {"acknowledge": "4h", "resolve": "11d"}},
            "responseTimes.P3.resolve is slower than P4's",
        ),
        ({"responseTimes__P2": {"acknowledge": "0min", "resolve": "8h"}}, "must be greater than zero"),
    ],
)
def test_a_bad_sla_is_refused_naming_its_key(changes, fragment):
    assert fragment in problems(sla_config(**changes))


def test_the_objective_is_a_percentage_strictly_between_90_and_100():
    for edge in (90, 100):
        assert "continuity:sla.databases.knowledge.availability" in problems(
            sla_config(databases__knowledge__availability=edge)
        )
    settings = load_settings(
        {**PROD.values, "continuity:sla": json.dumps(sla_config(databases__knowledge__availability=99.999))}
    )
    assert settings.sla.databases["knowledge"].availability == 99.999


@given(weekday=st.sampled_from(WEEKDAYS), hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_the_window_on_the_server_is_the_declared_one(weekday, hour, minute):
    sla = DatabaseSla.model_validate(
        {
            "availability": 99.9,
            "maintenanceWindow": {"weekday": weekday, "startUtc": f"{hour:02d}:{minute:02d}"},
        }
    )
    window = maintenance_window(sla)
    # Sunday is 0, as Azure CLI maps it (_map_maintenance_window).
    assert (window.custom_window, window.day_of_week, window.start_hour, window.start_minute) == (
        "Enabled",
        WEEKDAYS.index(weekday),
        hour,
        minute,
    )
    assert sla.maintenance_window.start_minute_of_week == WEEKDAYS.index(weekday) * 1440 + hour * 60 + minute


def test_writable_servers_get_their_window_and_objective_tags_and_replicas_only_the_tags(prod, dr):
    for rendering, writable in ((prod, True), (dr, False)):
        for server in rendering.of_type(SERVER):
            key = server.name.rsplit("-g", 1)[0]
            inputs = server.plain_inputs
            expected = {"knowledge": ("99.95", 0, 3), "operational": ("99.9", 0, 4)}[key]
            assert inputs["tags"]["availability-objective"] == expected[0]
            assert inputs["tags"]["maintenance-window"] == f"Sunday {expected[2]:02d}:00 UTC"
            window = inputs.get("maintenanceWindow")
            if writable:
                assert window == {
                    "customWindow": "Enabled",
                    "dayOfWeek": expected[1],
                    "startHour": expected[2],
                    "startMinute": 0,
                }
            else:
                assert window is None, "a replica's window is Azure's until it is promoted"


def test_a_promoted_replica_takes_its_window_in_the_reconciling_update(prod):
    promoted = render_variant("dr", {"continuity:role": "primary"}, peer=prod)
    for server in promoted.of_type(SERVER):
        assert server.plain_inputs["maintenanceWindow"]["customWindow"] == "Enabled"


def test_without_an_sla_nothing_is_set(prod):
    rendering = render_variant("prod", {"continuity:sla": None})
    for server in rendering.of_type(SERVER):
        assert "maintenanceWindow" not in server.plain_inputs
        assert "availability-objective" not in server.plain_inputs["tags"]


def test_a_promoted_replica_without_ha_records_the_objective_it_cannot_meet(promoted_dr):
    found = evaluate(as_stack(promoted_dr), load_pack_config("dr"))
    gaps = {
        (urn.rsplit("::", 1)[-1], message) for rule, urn, message in found if rule.rule_id == "CTY-RES-900"
    }
    assert (
        "knowledge-g1",
        "degraded: the availability objective 99.95% is above the 99.9% Microsoft guarantees without HA",
    ) in gaps
    assert not [m for name, m in gaps if name == "operational-g1" and "objective" in m], "99.9 % is met"
    assert not [rule for rule, _, _ in found if rule.rule_id.startswith("CTY-SLA")], "recorded, not blocking"
