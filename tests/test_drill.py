"""The drill end to end: local rehearsals on real PostgreSQL, preflight, resume, the Pulumi adapter.

The data plane runs against two local PostgreSQL 15 servers (drill.localpg); the Pulumi control
plane is tested against a fake Automation API stack that records the exact calls.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PROJECT_DIR

from drill.__main__ import main as drill_main
from drill.preflight import Check, Preflight, gate_on_promoted
from drill.record import SCHEMA_FILE, DrillRecord
from drill.rehearsal import rehearse
from drill.runner import DataPlane, DrillOptions, DrillRunner, PreflightFailed
from helpers import schema_validator
from pg_fixtures import require_postgres


@pytest.fixture(scope="module")
def gate_check():
    """The policy gate on dr rendered as primary, computed once for every rehearsal here."""
    return gate_on_promoted(PROJECT_DIR, "prod", "dr")


@pytest.fixture(scope="module")
def record_validator():
    return schema_validator(SCHEMA_FILE)


def files_text(folder: Path) -> str:
    return "\n".join(p.read_text() for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def planned(tmp_path_factory, gate_check):
    require_postgres()
    drills = tmp_path_factory.mktemp("drills")
    from drill.localpg import LocalCluster

    with LocalCluster() as cluster:
        record, folder = rehearse("planned", drills, cluster=cluster, gate_check=gate_check)
        return record, folder, cluster.password


@pytest.fixture(scope="module")
def forced(tmp_path_factory, gate_check):
    require_postgres()
    drills = tmp_path_factory.mktemp("drills")
    from drill.localpg import LocalCluster

    with LocalCluster() as cluster:
        record, folder = rehearse("forced", drills, held_back=7, cluster=cluster, gate_check=gate_check)
        return record, folder, cluster.password


def test_planned_drill_loses_nothing_and_passes(planned, record_validator):
    record, folder, _ = planned
    assert record.verdict == "pass", record.notes
    assert record.lost_heartbeats == [] and record.rpo.measured_seconds == 0
    assert record.rto.met and record.rpo.met
    assert len(record.heartbeats) >= 20
    assert sum(record.rto_split.values()) == pytest.approx(record.rto.measured_seconds, abs=1e-3)
    assert record.integrity["differences"] == [] and len(record.integrity["after"]) == 2
    assert record.completed_steps == ["preflight", "baseline", "fault", "promote", "verify", "report"]
    # The RTO was measured through the writer name's stand-in, and the fenced old primary took nothing.
    assert "target_session_attrs=read-write" in record.standby["writer"]
    assert record.integrity["writes_elsewhere"] == []
    assert "quiesce: primary fenced: read-only, client sessions ended" in record.notes
    assert any(c["name"] == "writer name reaches the primary" and c["ok"] for c in record.preflight["checks"])
    record_validator.validate(json.loads((folder / "record.json").read_text()))
    assert "**Verdict: PASS**" in (folder / "report.md").read_text()
    assert record.drill_id in (folder.parent / "index.md").read_text()


def test_forced_drill_with_the_standby_held_back_loses_exactly_those_heartbeats(forced, record_validator):
    record, folder, _ = forced
    acked = [h.seq for h in record.heartbeats]
    # The 7 heartbeats written while the standby was held back, and nothing else, are gone.
    held_back = acked[20:27]
    assert record.lost_heartbeats == held_back
    assert record.rpo.measured_seconds > 0  # measured from the commit times, not assumed
    last, newest = record.heartbeats[26], record.heartbeats[19]
    import datetime as dt

    expected = (
        dt.datetime.fromisoformat(last.committed_at) - dt.datetime.fromisoformat(newest.committed_at)
    ).total_seconds()
    assert record.rpo.measured_seconds == pytest.approx(expected, abs=1e-3)
    assert any(note.startswith("fault: primary stopped") for note in record.notes)
    assert record.integrity["writes_elsewhere"] == [] and not any(
        n.startswith("quiesce") for n in record.notes
    )
    record_validator.validate(json.loads((folder / "record.json").read_text()))
    assert f"lost after promotion: 7 (sequence numbers {held_back})" in (folder / "report.md").read_text()


def test_reports_and_records_never_contain_the_password(planned, forced):
    for record, folder, password in (planned, forced):
        assert password and password not in files_text(folder)
        assert password not in json.dumps(record.to_json())


class RecordingControl:
    name = "local"

    def __init__(self):
        self.calls = []

    def quiesce(self):
        self.calls.append("quiesce")
        return "recorded"

    def inject_fault(self):
        self.calls.append("fault")
        return "recorded"

    def promote(self, option):
        self.calls.append(f"promote {option}")
        return {"operation": "fake", "result": "succeeded", "resource_changes": {}}


def failing_preflight() -> Preflight:
    return Preflight(checks=[Check("lag within the RPO target", False, "1200.0s replay lag, target 900s")])


def blank_record(tmp_path) -> DrillRecord:
    return DrillRecord(
        drill_id="20261127T000000Z-planned-knowledge",
        scenario="planned",
        database="knowledge",
        primary={"stack": "prod", "region": "australiaeast"},
        standby={"stack": "dr", "region": "australiasoutheast"},
        git_commit="x",
        versions={},
        control_plane="local",
    )


def test_failed_preflight_blocks_the_drill_and_changes_nothing(tmp_path):
    control = RecordingControl()
    record = blank_record(tmp_path)
    runner = DrillRunner(
        record,
        tmp_path / "d",
        DataPlane("", "", "", None),
        control,
        DrillOptions("Planned"),
        failing_preflight,
    )
    with pytest.raises(PreflightFailed) as caught:
        runner.run()
    assert "lag within the RPO target: 1200.0s replay lag" in str(caught.value)
    assert control.calls == [] and record.verdict == "aborted"
    saved = DrillRecord.load(tmp_path / "d")
    assert saved.verdict == "aborted" and saved.completed_steps == []


def test_forced_override_is_recorded_with_its_reason(tmp_path):
    record = blank_record(tmp_path)
    record.forced = {"reason": "region outage declared by incident INC-42", "by": "oncall"}
    runner = DrillRunner(
        record,
        tmp_path / "d",
        DataPlane("", "", "", None),
        RecordingControl(),
        DrillOptions("Planned"),
        failing_preflight,
    )
    runner.run(stop_after="preflight")
    saved = DrillRecord.load(tmp_path / "d")
    assert saved.completed_steps == ["preflight"]
    assert saved.forced["reason"] == "region outage declared by incident INC-42"
    assert any("overridden: region outage declared by incident INC-42" in note for note in saved.notes)


def test_run_with_force_needs_a_reason(capsys):
    from cli.exits import run

    assert run("drill", drill_main, ["run", "--scenario", "forced", "--force"]) == 2
    assert "--force needs --reason" in capsys.readouterr().err


def test_interrupted_drill_resumes_from_its_state(tmp_path, gate_check):
    require_postgres()
    from drill.localpg import LocalCluster

    with LocalCluster() as cluster:
        record, folder = rehearse(
            "planned", tmp_path, cluster=cluster, gate_check=gate_check, stop_after="promote"
        )
        assert (
            record.completed_steps == ["preflight", "baseline", "fault", "promote"] and record.verdict is None
        )
        # A new process would load the state file and go on with the same servers.
        resumed = DrillRecord.load(folder)
        from drill.control import LocalControlPlane
        from drill.rehearsal import TABLES

        runner = DrillRunner(
            resumed,
            folder,
            DataPlane(cluster.primary_dsn, cluster.standby_dsn, cluster.writer_dsn, cluster.password, TABLES),
            LocalControlPlane(cluster),
            DrillOptions("Planned"),
            failing_preflight,
        )
        final = runner.run()
    assert final.completed_steps[-2:] == ["verify", "report"]
    assert final.verdict == "pass" and final.lost_heartbeats == []
    assert final.heartbeats == record.heartbeats


def test_report_command_turns_a_record_into_markdown(planned, capsys):
    _, folder, _ = planned
    assert drill_main(["report", str(folder / "record.json")]) == 0
    assert "## Objectives" in capsys.readouterr().out


def test_failback_plan_names_commands_and_checks(capsys):
    assert drill_main(["failback", "plan"]) == 0
    out = capsys.readouterr().out
    assert "pulumi config set continuity:origin replica -s prod" in out
    assert "pulumi config set --path 'continuity:databases.knowledge.generation' 2 -s prod" in out
    assert "pulumi state delete --yes --force --target-dependents -s prod" in out and "check:" in out
    assert "geo-backup-key-vault" in out
    assert "pulumi config set --path continuity:promotion.highAvailability false -s dr" in out
    assert "python -m drill run --scenario planned --primary-stack dr --standby-stack prod --force" in out


def test_mutually_replicating_stacks_fail_clearly_instead_of_hanging(tmp_path):
    import shutil

    import yaml

    from gate.render import RenderError, render_stacks

    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dr.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    prod = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
    prod["config"].update({"continuity:origin": "replica", "continuity:role": "standby"})
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(prod))
    with pytest.raises(RenderError) as caught:
        render_stacks(tmp_path, ["prod", "dr"])
    assert "both origin 'replica' and each reads the other's servers" in str(caught.value)


def test_a_record_takes_every_timestamp_from_its_clock_and_does_not_save_the_clock(tmp_path):
    import datetime as dt

    from cli.clock import fixed

    at = dt.datetime(2026, 3, 1, 23, 30, 0, 250000, tzinfo=dt.timezone(dt.timedelta(hours=10)))
    record = blank_record(tmp_path)
    record.clock = fixed(at)
    assert record.stamp("fault_at") == "2026-03-01T13:30:00.250+00:00"  # UTC, to the millisecond
    record.complete("preflight")
    assert record.timestamps["preflight_completed_at"] == "2026-03-01T13:30:00.250+00:00"
    saved = json.loads(record.save(tmp_path).read_text())
    assert "clock" not in saved and saved["timestamps"]["fault_at"] == "2026-03-01T13:30:00.250+00:00"
    assert DrillRecord.load(tmp_path).timestamps == record.timestamps
