"""Reports of a gate result: console, JSON, SARIF (schema-valid), JUnit, Markdown; none shows a secret."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gate.findings import Finding, RuleInfo
from gate.pipeline import GateResult
from gate.reports import console, to_json, to_junit, to_markdown, to_sarif, write_reports
from helpers import schema_validator
from policies.waivers import Waiver

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The OASIS SARIF 2.1.0 schema, vendored so the validation never depends on the network.
SARIF_SCHEMA_FILE = Path(__file__).resolve().parent / "fixtures" / "sarif-schema-2.1.0.json"
SERVER = "urn:pulumi:{stack}::continuity::continuity:database:PostgresServer$azure-native:dbforpostgresql:Server::{db}-g1"
SERVER_TYPE = "azure-native:dbforpostgresql:Server"


@pytest.fixture(scope="module")
def clean(gate_result) -> GateResult:
    """The shipped stacks through the real gate: no findings."""
    return gate_result


def finding(
    rule_id: str,
    stack: str,
    db: str,
    message: str,
    *,
    enforcement="mandatory",
    severity="high",
    waiver: Waiver | None = None,
) -> Finding:
    return Finding(
        rule_id=rule_id,
        source="policy",
        stack=stack,
        urn=SERVER.format(stack=stack, db=db),
        resource_type=SERVER_TYPE,
        resource_name=f"{db}-g1",
        message=message,
        severity=severity,
        enforcement=enforcement,
        waiver=waiver,
    )


BLOCKING = finding(
    "CTY-RES-001",
    "prod",
    "knowledge",
    "geo-redundant backup is off: losing the region loses every backup",
    severity="critical",
)
# Same rule and stack as the blocking one, but waived: the testcase still fails (failure wins).
WAIVED_SAME_RULE = finding(
    "CTY-RES-001",
    "prod",
    "operational",
    "geo-redundant backup is off",
    severity="critical",
    waiver=Waiver(
        "CTY-RES-001", "prod", "operational-g1", "rebuild planned in Q3", "dba-team", dt.date(2099, 9, 30), 1
    ),
)
WAIVED = finding(
    "CTY-RES-002",
    "dr",
    "knowledge",
    "high availability is Disabled; ZoneRedundant is expected",
    waiver=Waiver(
        "CTY-RES-002",
        "dr",
        "knowledge-g1",
        "standby runs without HA by design",
        "platform-engineering",
        dt.date(2099, 12, 31),
        7,
    ),
)
ADVISORY = finding(
    "CTY-RES-900",
    "dr",
    "knowledge",
    "promoted replica runs without geo-redundant backup",
    enforcement="advisory",
    severity="medium",
)


@pytest.fixture(scope="module")
def failing(clean) -> GateResult:
    return dataclasses.replace(clean, findings=[BLOCKING, WAIVED_SAME_RULE, WAIVED, ADVISORY])


@pytest.fixture(scope="module")
def passing_with_notes(clean) -> GateResult:
    """No blocking finding, but a waived and an advisory one."""
    return dataclasses.replace(clean, findings=[WAIVED, ADVISORY])


@pytest.fixture(scope="module")
def with_checkov(clean) -> GateResult:
    rule = RuleInfo(
        rule_id="CKV_AZURE_130",
        source="checkov",
        title="Ensure PostgreSQL enforces SSL",
        description="Ensure PostgreSQL enforces SSL",
        remediation="See https://docs.example.com/ckv-130",
        severity="medium",
        enforcement="mandatory",
        concern="checkov",
        help_uri="https://docs.example.com/ckv-130",
    )
    found = Finding(
        rule_id="CKV_AZURE_130",
        source="checkov",
        stack="dr",
        urn="",
        resource_type="Microsoft.DBforPostgreSQL/flexibleServers",
        resource_name="knowledge-g1",
        message="Ensure PostgreSQL enforces SSL",
        severity="medium",
        enforcement="mandatory",
    )
    return dataclasses.replace(
        clean, rules={**clean.rules, rule.rule_id: rule}, findings=[BLOCKING, found], checkov_ran=True
    )


@pytest.fixture(scope="module")
def sarif_validator():
    return schema_validator(SARIF_SCHEMA_FILE)


def all_reports(result: GateResult) -> dict[str, str]:
    return {
        "console": console(result),
        "json": json.dumps(to_json(result)),
        "sarif": json.dumps(to_sarif(result)),
        "junit": to_junit(result),
        "markdown": to_markdown(result),
    }


# --- console ------------------------------------------------------------------------------------


def test_console_passes_on_the_shipped_stacks(clean):
    text = console(clean)
    assert clean.findings == [] and clean.exit_code == 0
    assert text.rstrip().splitlines()[-1] == "PASS: 0 blocking findings (0 advisory, 0 waived); exit code 0"
    assert "== stack prod: region australiaeast, role primary, origin primary" in text
    assert "== stack dr: region australiasoutheast, role standby, origin replica" in text
    assert "knowledge" in text and "RTO target 1h vs 30min" in text and "RPO target 15min vs 5min" in text
    assert "FAIL" not in text and "MISSED" not in text


def test_console_fails_with_greppable_rule_lines(failing):
    text = console(failing)
    assert text.rstrip().splitlines()[-1] == "FAIL: 1 blocking finding (1 advisory, 2 waived); exit code 1"
    lines = [line.strip() for line in text.splitlines() if "CTY-RES-001" in line]
    assert len(lines) == 2
    blocking = next(line for line in lines if "knowledge-g1" in line)
    assert blocking.startswith(
        "CTY-RES-001 [critical] prod/knowledge-g1 (azure-native:dbforpostgresql:Server): "
        "geo-redundant backup is off"
    )
    waived = next(line for line in lines if "operational-g1" in line)
    assert "waived by dba-team until 2099-09-30: rebuild planned in Q3" in waived
    # Grouped: blocking before waived before advisory within a stack.
    prod = text.split("== stack dr")[0]
    assert prod.index("Blocking (mandatory)") < prod.index("Waived")
    dr = text.split("== stack dr")[1]
    assert dr.index("Waived") < dr.index("Advisory") and "CTY-RES-900 [medium] dr/knowledge-g1" in dr


def test_console_passes_with_waived_and_advisory(passing_with_notes):
    assert (
        console(passing_with_notes)
        .rstrip()
        .endswith("PASS: 0 blocking findings (1 advisory, 1 waived); exit code 0")
    )


# --- JSON -----------------------------------------------------------------------------------------


def test_json_summary_and_content(failing, clean):
    report = json.loads(json.dumps(to_json(failing)))
    assert report["summary"] == {
        "blocking": 1,
        "advisory": 1,
        "waived": 2,
        "total": 4,
        "exitCode": 1,
        "passed": False,
        "checkovRan": False,
    }
    assert [s["name"] for s in report["stacks"]] == ["prod", "dr"]
    prod = report["stacks"][0]
    assert prod["region"] == "australiaeast" and prod["role"] == "primary" and prod["origin"] == "primary"
    assert prod["resourceCount"] == sum(1 for r in clean.renderings[0].resources if r.custom) > 0
    rules = {r["id"]: r for r in report["rules"]}
    assert set(rules) == set(clean.rules)
    assert rules["CTY-RES-001"]["controls"]["ISO/IEC 27001:2022"][:1] == ["A.8.13"]
    assert rules["CTY-RES-900"]["enforcement"] == "advisory"
    waived = next(f for f in report["findings"] if f["ruleId"] == "CTY-RES-002")
    assert waived["waiver"] == {
        "ruleId": "CTY-RES-002",
        "stack": "dr",
        "resource": "knowledge-g1",
        "owner": "platform-engineering",
        "expires": "2099-12-31",
        "reason": "standby runs without HA by design",
        "enforcement": None,
    }
    assert waived["status"] == "waived" and waived["blocks"] is False
    rows = [r for r in report["continuity"] if r["stack"] == "prod" and r["database"] == "knowledge"]
    assert rows == [
        {
            "stack": "prod",
            "urn": SERVER.format(stack="prod", db="knowledge"),
            "database": "knowledge",
            "mechanism": "replicaPromotion",
            "targetRto": 3600,
            "targetRpo": 900,
            "achievableRto": 1800,
            "achievableRpo": 300,
            "meetsRto": True,
            "meetsRpo": True,
            "status": "OK",
            # What backs the 15 min RPO if the replica were gone: neither backup path alone.
            "restorePaths": [
                {
                    "path": "geoRestore",
                    "available": True,
                    "rpo": 3600,
                    "backsRpo": False,
                    "note": "from the geo-redundant backup copy",
                },
                {
                    "path": "backupVault",
                    "available": True,
                    "rpo": 7 * 24 * 3600,
                    "backsRpo": False,
                    "note": "a recovery point every 168h, restorable in the paired region",
                },
                {
                    "path": "pointInTimeRestore",
                    "available": False,
                    "rpo": None,
                    "backsRpo": False,
                    "note": "same region only",
                },
            ],
        }
    ]
    operational = [r for r in report["continuity"] if r["stack"] == "prod" and r["database"] == "operational"]
    assert [(p["path"], p["backsRpo"]) for p in operational[0]["restorePaths"]] == [
        ("geoRestore", True),  # a 1 h RPO is within geo-restore's
        ("backupVault", False),
        ("pointInTimeRestore", False),
    ]
    standby = next(r for r in report["continuity"] if r["stack"] == "dr")["restorePaths"]
    assert [(p["path"], p["available"], p["note"]) for p in standby] == [
        ("geoRestore", False, "no geo-redundant backup (set only at creation)"),
        ("backupVault", False, "no backup instance for this server"),
        ("pointInTimeRestore", False, "same region only"),
    ]
    assert to_json(clean)["summary"]["exitCode"] == 0


# --- SARIF ----------------------------------------------------------------------------------------


def test_sarif_of_clean_result_validates(clean, sarif_validator):
    sarif = to_sarif(clean)
    sarif_validator.validate(sarif)
    assert sarif["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json" and sarif["version"] == "2.1.0"
    assert [run["tool"]["driver"]["name"] for run in sarif["runs"]] == ["continuity-policy-pack"]
    assert sarif["runs"][0]["results"] == []
    assert len(sarif["runs"][0]["tool"]["driver"]["rules"]) == len(clean.rules)


def test_sarif_of_findings_validates_and_carries_levels(failing, sarif_validator):
    sarif = json.loads(json.dumps(to_sarif(failing)))
    sarif_validator.validate(sarif)
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    blocking = next(r for r in results if r["ruleId"] == "CTY-RES-001" and "suppressions" not in r)
    assert blocking["level"] == "error"
    assert BLOCKING.message in blocking["message"]["text"]
    (location,) = blocking["locations"]
    assert location["logicalLocations"] == [
        {"fullyQualifiedName": BLOCKING.urn, "name": "knowledge-g1", "kind": "resource"}
    ]
    assert location["physicalLocation"]["artifactLocation"] == {
        "uri": "Pulumi.prod.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    waived = next(r for r in results if r["ruleId"] == "CTY-RES-002")
    assert waived["level"] == "note"
    assert waived["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "standby runs without HA by design"}
    ]
    assert (
        waived["properties"]["owner"] == "platform-engineering"
        and waived["properties"]["expires"] == "2099-12-31"
    )
    advisory = next(r for r in results if r["ruleId"] == "CTY-RES-900")
    assert advisory["level"] == "warning" and "suppressions" not in advisory
    assert advisory["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "Pulumi.dr.yaml"

    rule = next(r for r in rules if r["id"] == "CTY-RES-001")
    assert rule["name"] == "GeoRedundantBackup"
    assert rule["shortDescription"]["text"] == "Geo-redundant backup"
    assert rule["fullDescription"]["text"] == failing.rules["CTY-RES-001"].description
    assert rule["help"]["text"] == failing.rules["CTY-RES-001"].remediation
    props = rule["properties"]
    assert (
        props["severity"] == "critical"
        and props["enforcement"] == "mandatory"
        and props["concern"] == "resilience"
    )
    assert "ISO/IEC 27001:2022:A.8.13" in props["controls"] and "SOC 2:A1.2" in props["controls"]
    assert "resilience" in props["tags"]
    advisory_rule = next(r for r in rules if r["id"] == "CTY-RES-900")
    assert advisory_rule["properties"]["enforcement"] == "advisory"


def test_sarif_has_one_run_per_tool(with_checkov, sarif_validator):
    sarif = to_sarif(with_checkov)
    sarif_validator.validate(sarif)
    runs = {run["tool"]["driver"]["name"]: run for run in sarif["runs"]}
    assert list(runs) == ["continuity-policy-pack", "checkov"]
    checkov = runs["checkov"]
    assert [r["id"] for r in checkov["tool"]["driver"]["rules"]] == ["CKV_AZURE_130"]
    assert checkov["tool"]["driver"]["rules"][0]["helpUri"] == "https://docs.example.com/ckv-130"
    (result,) = checkov["results"]
    assert result["ruleIndex"] == 0 and result["level"] == "error"
    assert result["locations"][0]["logicalLocations"][0]["name"] == "knowledge-g1"
    assert [r["ruleId"] for r in runs["continuity-policy-pack"]["results"]] == ["CTY-RES-001"]
    assert all(
        not r["id"].startswith("CKV") for r in runs["continuity-policy-pack"]["tool"]["driver"]["rules"]
    )


# --- JUnit ----------------------------------------------------------------------------------------


def suites(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    return {suite.get("name"): suite for suite in root.iter("testsuite")}


def counts(suite: ET.Element) -> tuple[int, int, int]:
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
    assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
    return int(suite.get("tests")), int(suite.get("failures")), int(suite.get("skipped"))


def test_junit_of_clean_result(clean):
    parsed = suites(to_junit(clean))
    assert list(parsed) == ["prod", "dr"]
    for suite in parsed.values():
        assert counts(suite) == (len(clean.rules), 0, 0)
    case = next(c for c in parsed["prod"].findall("testcase") if c.get("name").startswith("CTY-RES-001 "))
    assert (
        case.get("name") == "CTY-RES-001 Geo-redundant backup" and case.get("classname") == "prod.resilience"
    )


def test_junit_counts_failures_skips_and_advisories(failing):
    root = ET.fromstring(to_junit(failing))
    parsed = suites(to_junit(failing))
    n = len(failing.rules)
    assert counts(parsed["prod"]) == (n, 1, 0)  # the waived CTY-RES-001 does not hide the failure
    assert counts(parsed["dr"]) == (n, 0, 1)
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == (str(2 * n), "1", "1")

    prod = {c.get("name").split()[0]: c for c in parsed["prod"].findall("testcase")}
    failure = prod["CTY-RES-001"].find("failure")
    assert BLOCKING.message in failure.get("message") and BLOCKING.message in failure.text
    assert BLOCKING.urn in failure.text
    assert prod["CTY-RES-001"].find("skipped") is None
    assert "waived by dba-team until 2099-09-30" in prod["CTY-RES-001"].find("system-out").text

    dr = {c.get("name").split()[0]: c for c in parsed["dr"].findall("testcase")}
    assert dr["CTY-RES-002"].find("skipped").get("message") == (
        "waived by platform-engineering until 2099-12-31: standby runs without HA by design"
    )
    assert dr["CTY-RES-900"].find("failure") is None and dr["CTY-RES-900"].find("skipped") is None
    assert ADVISORY.message in dr["CTY-RES-900"].find("system-out").text
    assert dr["CTY-RES-900"].get("classname") == "dr.resilience"


# --- Markdown -------------------------------------------------------------------------------------


def test_markdown_of_clean_result(clean):
    text = to_markdown(clean)
    assert "**PASS**" in text and "**FAIL**" not in text
    assert (
        "| Stack | Database | RTO target | RTO achievable | RPO target | RPO achievable | Mechanism | Status |"
        in text
    )
    assert "| prod | knowledge | 1h | 30min | 15min | 5min | replicaPromotion | OK |" in text
    assert "| dr | operational | 2h | 30min | 1h | 5min | replicaPromotion | OK |" in text
    controls = text.split("### Controls coverage")[1]
    line = next(line for line in controls.splitlines() if "| A.8.13 |" in line)
    assert (
        line.startswith("| ISO/IEC 27001:2022 | A.8.13 |")
        and "CTY-RES-001" in line
        and line.endswith("| pass |")
    )
    for framework in ("CIS Microsoft Azure Foundations", "SOC 2", "ISO/IEC 27001:2022"):
        assert f"| {framework} |" in controls
    assert "| fail |" not in controls
    # Natural order of control ids: A.5.9 before A.5.12.
    assert controls.index("| A.5.9 |") < controls.index("| A.5.12 |")


def test_markdown_of_failing_result(failing):
    text = to_markdown(failing)
    assert "**FAIL**" in text and "**PASS**" not in text
    blocking = text.split("### Blocking findings")[1].split("\nWaived: ")[0]
    assert f"| CTY-RES-001 | prod | `knowledge-g1` ({SERVER_TYPE}) | {BLOCKING.message} |" in blocking
    assert "operational-g1" not in blocking and "CTY-RES-900" not in blocking
    details = text.split("<details>")[1].split("</details>")[0]
    assert (
        "2 waived, 1 advisory" in details
        and "CTY-RES-900" in details
        and "standby runs without HA" in details
    )
    controls = text.split("### Controls coverage")[1]
    line = next(line for line in controls.splitlines() if "| A.8.13 |" in line)
    assert line.endswith("| fail |")
    cis_rows = [line for line in controls.splitlines() if line.startswith("| CIS")]
    assert cis_rows and all(line.endswith("| pass |") for line in cis_rows if "CTY-RES-001" not in line)


# --- secrets and files ----------------------------------------------------------------------------


def admin_passwords(result: GateResult) -> list[str]:
    """Every generated secret of prod: the two admin passwords and the two project secrets."""
    prod = result.renderings[0]
    values = [r.plain_inputs["properties"]["value"] for r in prod.of_type("azure-native:keyvault:Secret")]
    assert len(values) == 4 and all(values)
    return values


def test_no_report_shows_a_secret(failing):
    passwords = admin_passwords(failing)
    for name, text in all_reports(failing).items():
        for password in passwords:
            assert password not in text, f"{name} report shows a secret"


def test_a_finding_quoting_a_secret_is_redacted(failing, sarif_validator):
    password = admin_passwords(failing)[0]
    leaky = dataclasses.replace(BLOCKING, message=f"admin password is '{password}' | <{password}>")
    leaky_waiver = dataclasses.replace(
        WAIVED, waiver=dataclasses.replace(WAIVED.waiver, reason=f"rotated {password}")
    )
    result = dataclasses.replace(failing, findings=[leaky, leaky_waiver])
    reports = all_reports(result)
    for name, text in reports.items():
        assert password not in text, f"{name} report shows a secret"
        assert "[secret]" in text, name
    sarif_validator.validate(to_sarif(result))


def test_write_reports(failing, tmp_path):
    paths = {
        "json_path": tmp_path / "out/gate.json",
        "sarif_path": tmp_path / "out/gate.sarif",
        "junit_path": tmp_path / "junit.xml",
        "markdown_path": tmp_path / "summary.md",
    }
    written = write_reports(failing, **paths)
    assert written == list(paths.values())
    assert json.loads(paths["json_path"].read_text())["summary"]["blocking"] == 1
    assert json.loads(paths["sarif_path"].read_text())["version"] == "2.1.0"
    ET.fromstring(paths["junit_path"].read_text())
    assert paths["markdown_path"].read_text() == to_markdown(failing)
    assert write_reports(failing) == []
    only = tmp_path / "only.md"
    assert write_reports(failing, markdown_path=only) == [only] and not (tmp_path / "junit2.xml").exists()
