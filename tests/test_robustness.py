"""The gate and the drill under bad input and faults: they fail closed, never hang, leave nothing
behind, and say what is wrong in one line with the documented exit code (cli/exits.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, TODAY

from cli.exits import Exit, UsageError, run
from cli.files import MAX_INPUT_BYTES, load_yaml
from gate.analyzer import PackFailed, PolicyPackError, PolicyPackProcess, load_pack_config
from gate.pipeline import GateConfigError, analyze, apply_waivers, rule_info
from gate.runtime import root_cause
from policies.adapter import RuleFailed, guarded
from policies.rules.registry import REGISTRY

# Where the drill's local clusters are made (TMPDIR, which the test run may point into memory).
TEMP = Path(tempfile.gettempdir())
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dr.yaml", "__main__.py")


def gate_cli(*argv: str) -> int:
    """The gate's command line in this process, with waiver expiry checked as of the suite's day."""
    from gate.__main__ import main

    return run("gate", main, ["--today", TODAY.isoformat(), *argv])


def drill_cli(*argv: str) -> int:
    from drill.__main__ import main

    return run("drill", main, list(argv))


@pytest.fixture
def project(tmp_path) -> Path:
    for name in PROJECT_FILES:
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


# --- fail-open: a pack config may not quietly lower a mandatory rule ---------------------------------


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


def configs_with(tmp_path, stack: str, changes: dict):
    folder = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "policies" / "config", folder)
    document = json.loads((folder / f"{stack}.json").read_text())
    document.update(changes)
    (folder / f"{stack}.json").write_text(json.dumps(document))
    return {name: load_pack_config(name, folder) for name in ("prod", "dr")}


def waiver_file(tmp_path, monkeypatch, entries: str):
    path = tmp_path / "waivers.yaml"
    path.write_text(textwrap.dedent(entries))
    monkeypatch.setenv("CONTINUITY_WAIVERS_FILE", str(path))


@pytest.mark.parametrize(
    "changes, lowered",
    [
        ({"CTY-RES-002": {"enforcementLevel": "disabled"}}, {"CTY-RES-002": "disabled"}),
        ({"CTY-RES-002": "advisory"}, {"CTY-RES-002": "advisory"}),
        ({"all": "disabled"}, None),  # every mandatory rule
        ({"all": {"enforcementLevel": "advisory"}, "CTY-RES-001": "mandatory"}, None),
    ],
)
def test_a_pack_config_that_lowers_a_rule_is_refused_unless_recorded(
    stacks, pack, tmp_path, monkeypatch, changes, lowered
):
    configs = configs_with(tmp_path, "prod", changes)
    waiver_file(tmp_path, monkeypatch, "[]\n")
    rules = {p.name: rule_info(p) for p in pack.info()}
    levels: dict = {}
    findings = analyze([stacks["prod"]], {"prod": configs["prod"]}, pack, rules, levels=levels)
    with pytest.raises(GateConfigError) as caught:
        apply_waivers(findings, rules, ["prod"], TODAY, levels=levels, known_stacks=["prod", "dr"])
    assert caught.value.code is Exit.USAGE
    problems = caught.value.problems
    from gate.analyzer import LEVEL_RANK

    expected = lowered or {
        rule: levels["prod"][rule]
        for rule, info in rules.items()
        if LEVEL_RANK[levels["prod"][rule]] < LEVEL_RANK[info.enforcement]
    }
    assert len(problems) == len(expected) > 0
    for rule, level in expected.items():
        assert any(
            f"policies/config/prod.json lowers {rule} from {rules[rule].enforcement} to {level}" in p
            for p in problems
        )
    assert "CTY-RES-001" not in " ".join(problems) or changes.get("CTY-RES-001") != "mandatory"


def test_a_recorded_lowering_passes_and_reports_show_the_effective_level(stacks, pack, tmp_path, monkeypatch):
    from gate.pipeline import GateResult
    from gate.reports import to_json

    configs = configs_with(tmp_path, "prod", {"CTY-RES-002": {"enforcementLevel": "disabled"}})
    waiver_file(
        tmp_path,
        monkeypatch,
        """\
        - rule: CTY-RES-002
          stack: prod
          enforcement: disabled
          reason: zone-redundant HA is being rebuilt after the 2026-11 incident (OPS-77)
          owner: platform-engineering
          expires: 2027-01-31
        """,
    )
    rules = {p.name: rule_info(p) for p in pack.info()}
    weakened = stacks["prod"]
    levels: dict = {}
    findings = apply_waivers(
        analyze([weakened], {"prod": configs["prod"]}, pack, rules, levels=levels),
        rules,
        ["prod"],
        TODAY,
        levels=levels,
        known_stacks=["prod", "dr"],
    )
    report = to_json(GateResult([weakened], rules, findings, levels=levels))
    (res002,) = [r for r in report["rules"] if r["id"] == "CTY-RES-002"]
    assert res002["enforcement"] == "mandatory" and res002["effectiveEnforcement"] == {"prod": "disabled"}


def test_the_cli_refuses_a_disabled_rule_end_to_end(tmp_path, capsys, monkeypatch):
    """Through `python -m gate`: exit 2, one line naming the file and the rule."""
    import gate.pipeline

    config_dir = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "policies" / "config", config_dir)
    document = json.loads((config_dir / "dr.json").read_text())
    document["CTY-RES-005"] = {"enforcementLevel": "disabled", **document["CTY-RES-005"]}
    (config_dir / "dr.json").write_text(json.dumps(document))
    original = gate.pipeline.run_gate
    monkeypatch.setattr("gate.__main__.run_gate", lambda *a, **k: original(*a, config_dir=config_dir, **k))
    assert gate_cli("--no-checkov") == Exit.USAGE
    assert "policies/config/dr.json lowers CTY-RES-005 from mandatory to disabled" in one_line_error(capsys)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"CTY-RES-002": {"enforcementLevel": "off"}}', "enforcement level 'off' is not one of"),
        (
            '{"CTY-RES-002": {"enforcementLevel": ["mandatory"]}}',
            "enforcement level ['mandatory'] is not one of",
        ),
        ('{"CTY-RES-002": 3}', "CTY-RES-002 must be an enforcement level or an object"),
        ('{"CTY-ACC-002": {}, "CTY-ACC-002": {}}', "duplicate key 'CTY-ACC-002'"),
        ("[1, 2]", "must be a JSON object of policy names"),
        ('{"all": {"enforcementLevel": "advisory", "x": 1}}', "'all' takes only an enforcement level"),
        ("{\n  'x': 1\n}", ":2: not valid JSON"),
    ],
)
def test_bad_pack_configs_are_usage_errors_naming_the_file(tmp_path, text, fragment):
    (tmp_path / "prod.json").write_text(text)
    with pytest.raises(PolicyPackError) as caught:
        load_pack_config("prod", tmp_path)
    assert str(tmp_path / "prod.json") in str(caught.value) and fragment in str(caught.value)


# --- hangs: a rule that never returns or crashes fails the gate, naming the rule --------------------


@pytest.fixture(scope="module")
def faulty_pack(tmp_path_factory) -> Path:
    """The real pack plus a rule that hangs on servers and one that crashes on workspaces."""
    folder = tmp_path_factory.mktemp("faulty-pack")
    (folder / "__main__.py").write_text(
        textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(PROJECT_DIR)!r})
        import time
        from policies.rules import REGISTRY
        from policies.rules.registry import rule
        from pulumi_policy import EnforcementLevel, PolicyPack

        def metadata(rule_id):
            return dict(concern="deployability", title="Fault", description="A rule that misbehaves on purpose.",
                        remediation="Fix it.", severity="low", controls={{"SOC 2": ("CC8.1",)}})

        @rule("CTY-DEP-990", resource_types=("azure-native:dbforpostgresql:Server",), **metadata("CTY-DEP-990"))
        def hangs(resource, cfg):
            while True:
                time.sleep(0.1)
            yield

        @rule("CTY-DEP-991", resource_types=("azure-native:operationalinsights:Workspace",), **metadata("CTY-DEP-991"))
        def crashes(resource, cfg):
            raise ZeroDivisionError("division by zero in the rule")
            yield

        from policies.adapter import build_policies
        PolicyPack(name="continuity", enforcement_level=EnforcementLevel.MANDATORY, policies=build_policies())
        """)
    )
    return folder


def test_a_rule_that_never_returns_fails_the_gate_naming_it(faulty_pack, stacks):
    started = time.monotonic()
    with PolicyPackProcess(faulty_pack, rule_timeout=1.0) as pack, pytest.raises(PackFailed) as caught:
        rules = {p.name: rule_info(p) for p in pack.info()}
        analyze([stacks["prod"]], {"prod": load_pack_config("prod")}, pack, rules)
    assert time.monotonic() - started < 30
    assert "rule CTY-DEP-990 did not finish within 1 s" in str(
        caught.value
    ) or "rule CTY-DEP-991 failed: ZeroDivisionError" in str(caught.value)
    assert caught.value.code is Exit.INTERNAL


def test_a_stuck_check_is_abandoned_and_the_next_check_runs_on_a_new_thread():
    rule = REGISTRY["CTY-DEP-001"]
    release = threading.Event()
    with pytest.raises(RuleFailed, match=r"rule CTY-DEP-001 did not finish within 0\.2 s"):
        guarded(rule, lambda: [("urn:late", str(release.wait(30)))], 0.2)
    # The stuck check still holds its thread: the next one must not queue behind it.
    started = time.monotonic()
    assert guarded(rule, lambda: [("urn:x", "found")], 5) == [("urn:x", "found")]
    assert time.monotonic() - started < 5
    with pytest.raises(RuleFailed, match="rule CTY-DEP-001 failed: KeyError: 'missing'"):
        guarded(rule, lambda: {}["missing"], 5)
    assert guarded(rule, list, 5) == []
    release.set()


def test_a_crashing_rule_fails_the_gate_as_an_internal_failure(faulty_pack, stacks):
    workspace_only = type(stacks["prod"])(
        stacks["prod"].stack,
        stacks["prod"].settings,
        stacks["prod"].subscription_id,
        [r for r in stacks["prod"].resources if r.type.endswith(":Workspace")],
    )
    with PolicyPackProcess(faulty_pack, rule_timeout=5.0) as pack, pytest.raises(PackFailed) as caught:
        rules = {p.name: rule_info(p) for p in pack.info()}
        analyze([workspace_only], {"prod": load_pack_config("prod")}, pack, rules)
    assert "rule CTY-DEP-991 failed: ZeroDivisionError: division by zero in the rule" in str(caught.value)


def test_a_looping_cause_chain_ends():
    first, second = ValueError("outer"), KeyError("inner")
    first.__cause__, second.__cause__ = second, first
    assert root_cause(first) is second


# --- processes: nothing outlives the tool ----------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"  # a zombie is dead, waiting to be reaped
    except FileNotFoundError:
        return False


def _children_matching(parent: int, pattern: str) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(parent), "-f", pattern], capture_output=True, text=True
    ).stdout.split()
    return [int(pid) for pid in found if _alive(int(pid))]


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_killing_the_gate_while_the_pack_serves_leaves_no_pack_behind(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "gate", "--today", TODAY.isoformat(), "--no-checkov"],
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pack_marker = str(PROJECT_DIR / "policies" / "__main__.py")
    try:
        assert _wait_for(lambda: _children_matching(process.pid, pack_marker)), "the pack never started"
        pack_pids = _children_matching(process.pid, pack_marker)
        process.kill()
        process.wait()
        assert _wait_for(lambda: not any(_alive(pid) for pid in pack_pids), timeout=10)
    finally:
        process.kill()


def test_killing_a_rehearsal_stops_its_servers_and_the_next_run_removes_its_folder(tmp_path):
    from drill.localpg import FOLDER_PREFIX, sweep_stale_folders
    from pg_fixtures import require_postgres

    require_postgres()
    process = subprocess.Popen(
        [sys.executable, "-m", "drill", "rehearse"],
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The cluster's folder, and initdb's template it was copied from (drill.localpg._template).
    folder_glob = f"{FOLDER_PREFIX}{process.pid}-*"
    try:
        assert _wait_for(lambda: any(TEMP.glob(f"{folder_glob}/standby/postmaster.pid")), timeout=60)
        folders = set(TEMP.glob(folder_glob))
        (folder,) = (f for f in folders if (f / "standby").exists())
        assert len(folders) == 2
        postmasters = [
            int((folder / name / "postmaster.pid").read_text().split()[0]) for name in ("primary", "standby")
        ]
        assert not list(folder.rglob("*pass*")), "no password file on disk"
        process.kill()
        process.wait()
        assert _wait_for(lambda: not any(_alive(pid) for pid in postmasters), timeout=15), (
            "servers outlived the drill"
        )
        assert folders <= set(sweep_stale_folders())
        assert not any(f.exists() for f in folders)
    finally:
        process.kill()


def test_sigterm_stops_a_rehearsal_cleanly_with_exit_130():
    from pg_fixtures import require_postgres

    require_postgres()
    process = subprocess.Popen(
        [sys.executable, "-m", "drill", "rehearse"],
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(lambda: any(TEMP.glob(f"continuity-drill-{process.pid}-*/standby/postmaster.pid")))
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode == Exit.INTERRUPTED
        assert "drill: interrupted" in err and "Traceback" not in err
        assert not list(TEMP.glob(f"continuity-drill-{process.pid}-*")), "template or cluster left behind"
    finally:
        process.kill()


# --- hostile files: alias bombs, binary, oversized, duplicates -------------------------------------------

ALIAS_BOMB = textwrap.dedent("""\
    a: &a ["x","x","x","x","x","x","x","x","x"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    config: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """)


@pytest.mark.parametrize(
    "target, content, fragment",
    [
        ("Pulumi.prod.yaml", ALIAS_BOMB.encode(), "aliases expand to more than"),
        (
            "Pulumi.prod.yaml",
            b"config:\n  continuity:role: primary\n  continuity:role: standby\n",
            "duplicate key 'continuity:role'",
        ),
        ("Pulumi.prod.yaml", b"config:\n  continuity:region: \xff\xfe\n", "is not UTF-8 text"),
        ("Pulumi.prod.yaml", b"\x00\x01\x02binary", "is binary"),
        ("Pulumi.prod.yaml", b"- a\n- b\n", "must be a mapping with a 'config' key"),
        ("Pulumi.prod.yaml", b"config: [1, 2]\n", "'config' must be a mapping"),
        ("Pulumi.prod.yaml", b"x" * (MAX_INPUT_BYTES + 1), "is more than a stack file can be"),
        ("Pulumi.yaml", b"name: other\nruntime: python\n", "name is 'other'"),
        ("Pulumi.yaml", b"name: continuity\nruntime: nodejs\n", "runtime is 'nodejs'"),
        ("Pulumi.yaml", b"[broken", "not valid YAML"),
    ],
)
def test_hostile_or_broken_stack_and_project_files_are_one_line_usage_errors(
    project, capsys, target, content, fragment
):
    (project / target).write_bytes(content)
    started = time.monotonic()
    assert gate_cli("--project-dir", str(project), "--no-checkov") == Exit.USAGE
    assert time.monotonic() - started < 20
    error = one_line_error(capsys)
    assert error.startswith("gate: ") and str(project / target) in error and fragment in error


def test_a_waiver_alias_bomb_is_refused_quickly(tmp_path):
    from policies.rules import REGISTRY
    from policies.waivers import WaiverError, load_waivers

    path = tmp_path / "waivers.yaml"
    path.write_text(ALIAS_BOMB.replace("config:", "waivers:"))
    started = time.monotonic()
    with pytest.raises(WaiverError, match=r"waivers\.yaml: its aliases expand to more than"):
        load_waivers(path, known_rules=REGISTRY, today=TODAY)
    assert time.monotonic() - started < 5


def test_a_self_referencing_alias_is_refused(tmp_path):

    path = tmp_path / "x.yaml"
    path.write_text("a: &a [*a]\n")
    with pytest.raises(UsageError):
        load_yaml(path, "file")


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"expires": "9999-12-31"}, "is more than a year ahead"),
        ({"expires": "2026-02-30"}, "a value cannot be read"),
        ({"stack": "'*'"}, "stack '*' is not one of the stacks ['dr', 'prod']"),
        ({"resource": None, "enforcement": "mandatory"}, "enforcement 'mandatory' is not one of"),
        ({"enforcement": "advisory"}, "give only one of ['resource', 'enforcement'], not both"),
        ({"resource": None}, "missing one of ['resource', 'enforcement']"),
    ],
)
def test_waivers_reach_at_most_a_year_ahead_and_name_one_stack(tmp_path, changes, fragment):
    from policies.rules import REGISTRY
    from policies.waivers import WaiverError, load_waivers

    entry = {
        "rule": "CTY-RES-001",
        "stack": "prod",
        "resource": "knowledge-g1",
        "reason": "rebuild pending (OPS-1)",
        "owner": "platform-engineering",
        "expires": "2027-01-31",
        **changes,
    }
    text = "- " + "\n  ".join(f"{k}: {v}" for k, v in entry.items() if v is not None) + "\n"
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    with pytest.raises(WaiverError) as caught:
        load_waivers(path, known_rules=REGISTRY, today=TODAY, known_stacks=["prod", "dr"])
    assert any(fragment in problem for problem in caught.value.problems), caught.value.problems


# --- output destinations are checked before any work -------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, fragment",
    [
        ("--sarif", "{tmp}", "is a directory"),
        ("--junit", "{tmp}/locked/report.xml", "is not writable"),
        ("--markdown", "", "an empty path"),
    ],
)
def test_unusable_report_destinations_are_refused_before_the_run(tmp_path, capsys, option, value, fragment):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() == 0 and "locked" in value:
        pytest.skip("root can write into any folder")
    started = time.monotonic()
    assert gate_cli("--no-checkov", option, value.format(tmp=tmp_path)) == Exit.USAGE
    assert time.monotonic() - started < 2, "checked before rendering anything"
    assert fragment in one_line_error(capsys)


def test_help_documents_the_exit_codes(capsys):
    for tool in (gate_cli, drill_cli):
        assert tool("--help") == Exit.OK
        out = capsys.readouterr().out
        assert "exit codes:" in out and "130  interrupted" in out and "4    internal failure" in out


# --- settings: wrong results accepted silently no more ------------------------------------------------------


def test_a_replica_with_other_targets_than_its_source_is_refused(prod):
    from conftest import render_variant

    from gate.render import RenderError
    from gate.stack_files import read_stack_config

    databases = json.loads(read_stack_config(PROJECT_DIR, "dr").values["continuity:databases"])
    databases["knowledge"]["rpo"] = "1h"
    with pytest.raises(RenderError) as caught:
        render_variant("dr", {"continuity:databases": databases}, peer=prod)
    assert (
        "continuity:databases.knowledge.rpo is '1h' here but '15min' in organization/continuity/prod"
        in str(caught.value)
    )


@pytest.mark.parametrize(
    "tags, fragment",
    [
        ({"owner": "x" * 257}, "exceed Azure's limits (128 characters for a name, 256 for a value)"),
        ({"y" * 129: "v"}, "exceed Azure's limits"),
        ({"team/name": "v"}, "contain characters Azure refuses"),
    ],
)
def test_tags_azure_would_refuse_are_refused(tags, fragment):
    from components.settings import SettingsError, load_settings
    from gate.stack_files import read_stack_config

    config = read_stack_config(PROJECT_DIR, "prod")
    merged = {**json.loads(config.values["continuity:tags"]), **tags}
    with pytest.raises(SettingsError) as caught:
        load_settings({**config.values, "continuity:tags": json.dumps(merged)}, config.secret_keys)
    assert any(p.startswith("continuity:tags: ") and fragment in p for p in caught.value.problems)


def test_validation_errors_never_repeat_a_secret_value():
    from components.settings import SettingsError, load_settings
    from gate.stack_files import read_stack_config

    config = read_stack_config(PROJECT_DIR, "prod")
    secret = json.dumps(
        {**json.loads(config.values["continuity:network"]), "allowedCidrs": ["not-an-address-s3cr3t-token"]}
    )
    with pytest.raises(SettingsError) as caught:
        load_settings({**config.values, "continuity:network": secret}, frozenset({"continuity:network"}))
    text = str(caught.value)
    assert "continuity:network.allowedCidrs[0]" in text and "[secret]" in text
    assert "s3cr3t" not in text


# --- reports: hostile strings stay inert in every format ------------------------------------------------------

HOSTILE = (
    "fix \x1b[31mRED\x1b[0m\r\nFAKE: PASS | <script>alert(1)</script> `code` \x00\x07 [x](http://e.example)"
)


def test_hostile_waiver_text_is_escaped_in_every_report(stacks):
    from gate.findings import Finding, RuleInfo
    from gate.pipeline import GateResult
    from gate.reports import console, to_junit, to_markdown
    from policies.waivers import Waiver

    waiver = Waiver("CTY-RES-002", "prod", "knowledge-g1", HOSTILE, HOSTILE, dt.date(2027, 1, 1), 1)
    finding = Finding(
        "CTY-RES-002",
        "policy",
        "prod",
        "urn:pulumi:prod::continuity::x::knowledge-g1",
        "azure-native:dbforpostgresql:Server",
        "knowledge-g1",
        HOSTILE,
        "high",
        "mandatory",
        waiver,
    )
    rules = {
        "CTY-RES-002": RuleInfo(
            "CTY-RES-002", "policy", "High availability", "d.", "r.", "high", "mandatory", "resilience"
        )
    }
    result = GateResult([stacks["prod"]], rules, [finding])
    text = console(result)
    assert "\x1b" not in text and "\r" not in text and "\x00" not in text
    assert not any(line.startswith("FAKE") for line in text.splitlines())
    ET.fromstring(to_junit(result).split("\n", 1)[1])  # parses: no character XML cannot carry
    markdown = to_markdown(result)
    row = next(line for line in markdown.splitlines() if "CTY-RES-002 | prod" in line)
    assert row.count(" | ") == 5 and "<script>" not in markdown and "](http" not in markdown


def test_drill_notes_are_escaped_in_the_markdown_report():
    from drill.record import DrillRecord
    from drill.report import markdown

    record = DrillRecord(
        "20261127T101500Z-planned-knowledge",
        "planned",
        "knowledge",
        {"stack": "prod", "region": "a"},
        {"stack": "dr", "region": "b"},
        "abc",
        {},
        "pulumi",
        notes=[HOSTILE],
    )
    notes = markdown(record).split("## Notes", 1)[1]
    assert "<script>" not in notes and "\x1b" not in notes and "\r" not in notes and "](http" not in notes


# --- the drill: arguments, records and ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (("resume", "../../etc"), "is not a drill id"),
        (
            ("resume", "20991231T000000Z-planned-knowledge"),
            "no drill 20991231T000000Z-planned-knowledge under drills/",
        ),
        (
            ("plan", "--database", "nope"),
            "--database nope: stack dr has no such database (it has: knowledge, operational)",
        ),
        (("rehearse", "--held-back", "-5"), "is not between 1 and 10000"),
        (
            ("failback", "plan", "--failed", "prod", "--survivor", "prod"),
            "--failed and --survivor are both 'prod'",
        ),
        (
            ("setup", "--stack", "prod", "--database", "nope"),
            "--database nope: stack prod has no such database",
        ),
        (("run", "--scenario", "planned", "--force", "--reason", "short"), "--force needs --reason"),
        (
            ("restore", "--kind", "geo", "--to", "2026-11-28T10:15:00Z"),
            "a geo-restore always restores the newest",
        ),
        (("restore", "--kind", "pitr", "--to", "2026-11-28T10:15:00"), "is not an ISO 8601 time in UTC"),
        (("restore", "--kind", "pitr", "--to", "yesterday"), "'yesterday' is not an ISO 8601 time in UTC"),
        (
            ("restore", "--kind", "pitr", "--database", "nope"),
            "--database nope: stack prod has no such database",
        ),
        (("restore", "--kind", "full"), "invalid choice: 'full'"),
    ],
)
def test_bad_drill_arguments_are_one_line_usage_errors(capsys, argv, fragment):
    assert drill_cli(*argv) == Exit.USAGE
    assert fragment in one_line_error(capsys)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "is not UTF-8 text"),
        (b'{"schema_version": 1}', "not a drill record"),
        (b'{"schema_version": 7, "drill_id": "x"}', "not a drill record"),
    ],
)
def test_corrupt_drill_records_are_one_line_usage_errors(tmp_path, capsys, content, fragment):
    path = tmp_path / "record.json"
    path.write_bytes(content)
    assert drill_cli("report", str(path)) == Exit.USAGE
    assert fragment in one_line_error(capsys)
    assert drill_cli("report", str(tmp_path / "missing.json")) == Exit.USAGE
    assert "no such drill record" in one_line_error(capsys)


def test_a_drill_against_azure_without_the_pulumi_cli_creates_nothing(capsys, monkeypatch, tmp_path):
    import drill.__main__ as cli

    monkeypatch.setattr(cli, "DRILLS_DIR", tmp_path / "drills")
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    assert drill_cli("run", "--scenario", "planned") == Exit.USAGE
    assert "the Pulumi CLI is not installed" in one_line_error(capsys)
    assert not (tmp_path / "drills").exists()


def test_a_drill_against_azure_without_a_writer_dsn_creates_nothing(capsys, monkeypatch, tmp_path):
    import drill.__main__ as cli

    monkeypatch.setattr(cli, "DRILLS_DIR", tmp_path / "drills")
    monkeypatch.setattr(cli, "require_pulumi_cli", lambda: None)
    monkeypatch.setenv("CONTINUITY_DRILL_PRIMARY_DSN", "host=p")
    monkeypatch.setenv("CONTINUITY_DRILL_STANDBY_DSN", "host=s")
    monkeypatch.delenv("CONTINUITY_DRILL_WRITER_DSN", raising=False)
    assert drill_cli("run", "--scenario", "planned") == Exit.USAGE
    assert one_line_error(capsys).startswith(
        "drill: set CONTINUITY_DRILL_WRITER_DSN (DSNs without a password"
    )
    assert not (tmp_path / "drills").exists()


def test_a_forced_drill_without_a_fence_says_so_and_records_it(capsys, monkeypatch, tmp_path):
    import drill.__main__ as cli
    from drill.preflight import Check, Preflight

    monkeypatch.setattr(cli, "DRILLS_DIR", tmp_path)
    monkeypatch.setattr(cli, "run_preflight", lambda args, standby: Preflight([Check("gate", True, "ok")]))
    assert drill_cli("run", "--scenario", "forced", "--dry-run") == Exit.OK
    assert "forced scenario without --fence-command" in capsys.readouterr().err
    (record,) = tmp_path.glob("*/record.json")
    assert any("without --fence-command" in note for note in json.loads(record.read_text())["notes"])


def test_missing_postgres_programs_are_a_usage_error(capsys, monkeypatch, tmp_path):
    import drill.localpg

    monkeypatch.setitem(drill.localpg.LocalCluster.__init__.__kwdefaults__, "bin_dir", tmp_path)
    assert drill_cli("rehearse") == Exit.USAGE
    assert "PostgreSQL server programs missing" in one_line_error(capsys)


def test_an_unexpected_failure_is_exit_4_in_one_line(capsys):
    def broken(argv):
        raise KeyError("surprise")

    assert run("gate", broken, []) == Exit.INTERNAL
    error = one_line_error(capsys)
    assert error.startswith("gate: internal failure: KeyError at test_robustness.py:")


def test_a_restore_check_reads_from_the_stack_holding_the_writer(monkeypatch):
    from drill import __main__ as drill_main

    assert drill_main.writer_stack() == "prod"
    promoted = drill_main.stack_settings("dr").model_copy(
        update={"role": drill_main.stack_settings("prod").role}
    )
    real = drill_main.stack_settings
    monkeypatch.setattr(
        drill_main, "stack_settings", lambda stack: promoted if stack == "dr" else real(stack)
    )
    with pytest.raises(UsageError, match="2 stacks have role primary \\(dr, prod\\); name the one"):
        drill_main.writer_stack()
