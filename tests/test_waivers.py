"""Waivers: reviewed exceptions that expire, name real rules and must match something."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from conftest import TODAY

from cli import clock
from cli.files import load_yaml
from gate.analyzer import PolicyPackProcess, load_pack_config
from gate.pipeline import GateConfigError, GateResult, analyze, apply_waivers, rule_info
from policies.rules import REGISTRY
from policies.waivers import MAX_DAYS_AHEAD, WAIVERS_FILE, WAIVERS_FILE_ENV, WaiverError, load_waivers
from policy_cases import CASES, mutated

GEO_BACKUP_OFF = next(c for c in CASES if c.rule_id == "CTY-RES-001")


def write(tmp_path, text: str):
    path = tmp_path / "waivers.yaml"
    path.write_text(textwrap.dedent(text))
    return path


VALID = """\
    - rule: CTY-RES-001
      stack: prod
      resource: knowledge-g1
      reason: geo-backup cannot be enabled on this server until it is rebuilt (ticket OPS-123)
      owner: platform-engineering
      expires: 2027-01-31
    """


def test_committed_waiver_file_is_valid():
    """Well-formed as of the day its first waiver expires: the content is checked, not the calendar
    (the gate's own run over the committed stacks is what fails once a waiver lapses)."""
    first_expiry = min(entry["expires"] for entry in load_yaml(WAIVERS_FILE, "waiver file"))
    assert load_waivers(known_rules=REGISTRY, today=first_expiry)


@pytest.mark.parametrize(
    "expires, problem",
    [
        (TODAY - dt.timedelta(days=1), "expired on 2026-11-26"),
        (TODAY, None),  # valid through its last day
        (TODAY + dt.timedelta(days=MAX_DAYS_AHEAD), None),
        (TODAY + dt.timedelta(days=MAX_DAYS_AHEAD + 1), "expires 2027-11-29 is more than a year ahead"),
    ],
)
def test_waiver_expiry_boundaries(tmp_path, expires, problem):
    text = VALID.replace("2027-01-31", expires.isoformat())
    if problem is None:
        assert load_waivers(write(tmp_path, text), known_rules=REGISTRY, today=TODAY)
        return
    with pytest.raises(WaiverError) as caught:
        load_waivers(write(tmp_path, text), known_rules=REGISTRY, today=TODAY)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_waiver_expiry_follows_the_injected_clock_in_utc(tmp_path, monkeypatch):
    """Without `today`, the UTC date of the clock: 23:30 in New York on 1 January is 2 January in UTC."""
    late_evening = dt.datetime(2026, 1, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    monkeypatch.setattr(clock, "system", clock.fixed(late_evening))
    with pytest.raises(WaiverError, match="expired on 2026-01-01"):
        load_waivers(write(tmp_path, VALID.replace("2027-01-31", "2026-01-01")), known_rules=REGISTRY)
    # Valid on the clock's day, although that day is long past on the machine's own clock.
    assert load_waivers(write(tmp_path, VALID.replace("2027-01-31", "2026-01-02")), known_rules=REGISTRY)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.fixed(dt.datetime(2026, 11, 27))


@pytest.mark.parametrize(
    "rule, stack, urn, matches",
    [
        ("CTY-RES-001", "prod", "urn:pulumi:prod::continuity::x$t::knowledge-g1", True),
        ("CTY-RES-002", "prod", "urn:pulumi:prod::continuity::x$t::knowledge-g1", False),
        ("CTY-RES-001", "dr", "urn:pulumi:prod::continuity::x$t::knowledge-g1", False),
        # Exact name: neither a prefix, nor a suffix, nor a name inside the type path matches.
        ("CTY-RES-001", "prod", "urn:pulumi:prod::continuity::x$t::knowledge-g10", False),
        ("CTY-RES-001", "prod", "urn:pulumi:prod::continuity::x$t::old-knowledge-g1", False),
        ("CTY-RES-001", "prod", "urn:pulumi:prod::continuity::knowledge-g1$t::other", False),
    ],
)
def test_waiver_matches_exactly_one_rule_stack_and_resource(tmp_path, rule, stack, urn, matches):
    (waiver,) = load_waivers(write(tmp_path, VALID), known_rules=REGISTRY, today=TODAY)
    assert waiver.matches(rule, stack, urn) is matches


def test_valid_waiver_loads(tmp_path):
    (waiver,) = load_waivers(write(tmp_path, VALID), known_rules=REGISTRY, today=TODAY)
    assert waiver.matches(
        "CTY-RES-001",
        "prod",
        "urn:pulumi:prod::continuity::x$azure-native:dbforpostgresql:Server::knowledge-g1",
    )
    assert not waiver.matches("CTY-RES-001", "dr", "urn:pulumi:dr::continuity::x::knowledge-g1")


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            VALID.replace("2027-01-31", "2026-11-26"),
            "waivers.yaml:1: waiver of CTY-RES-001 on knowledge-g1 expired on 2026-11-26",
        ),
        (VALID.replace("CTY-RES-001", "CTY-RES-999"), "waivers.yaml:1: unknown rule 'CTY-RES-999'"),
        (VALID.replace("      owner: platform-engineering\n", ""), "waivers.yaml:1: missing ['owner']"),
        (VALID.replace("2027-01-31", "next year"), "waivers.yaml:1: expires 'next year' is not a date"),
        (VALID.rstrip(" ") + "      ticket: OPS-1\n", "waivers.yaml:1: unknown field(s) ['ticket']"),
        (VALID.rstrip(" ") + "     bad: [indent\n", "waivers.yaml:7: not valid YAML"),
        ("rule: CTY-RES-001\n", "waivers.yaml: expected a list of waivers"),
    ],
)
def test_bad_waivers_are_errors_naming_file_and_line(tmp_path, text, expected):
    with pytest.raises(WaiverError) as caught:
        load_waivers(write(tmp_path, text), known_rules=REGISTRY, today=TODAY)
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


def test_gate_reports_a_waived_finding_and_passes(tmp_path, monkeypatch, prod, pack):
    monkeypatch.setenv(WAIVERS_FILE_ENV, str(write(tmp_path, VALID)))
    weakened, urn = mutated(prod, GEO_BACKUP_OFF)
    rules = {p.name: rule_info(p) for p in pack.info()}
    findings = apply_waivers(
        analyze([weakened], {"prod": load_pack_config("prod")}, pack, rules), rules, ["prod"], TODAY
    )
    (waived,) = [f for f in findings if f.rule_id == "CTY-RES-001"]
    assert waived.urn == urn and waived.waiver.owner == "platform-engineering"
    assert GateResult([weakened], rules, findings).exit_code == 0


def test_waiver_that_matches_nothing_fails_the_gate(tmp_path, monkeypatch, prod, pack):
    monkeypatch.setenv(WAIVERS_FILE_ENV, str(write(tmp_path, VALID)))
    rules = {p.name: rule_info(p) for p in pack.info()}
    findings = analyze([prod], {"prod": load_pack_config("prod")}, pack, rules)
    with pytest.raises(GateConfigError) as caught:
        apply_waivers(findings, rules, ["prod"], TODAY)
    assert "waivers.yaml:1: waiver of CTY-RES-001 on prod/knowledge-g1 matches no finding" in str(
        caught.value
    )


def test_pack_drops_waived_violations_under_pulumi_preview(tmp_path, monkeypatch, prod):
    """Without the gate's report-everything switch, as under `pulumi preview`, waived findings vanish."""
    monkeypatch.setenv(
        WAIVERS_FILE_ENV,
        str(
            write(
                tmp_path, VALID.replace("2027-01-31", (dt.date.today() + dt.timedelta(days=30)).isoformat())
            )
        ),
    )
    weakened, _ = mutated(prod, GEO_BACKUP_OFF)
    with PolicyPackProcess(report_waived=False) as preview_pack:
        preview_pack.configure(load_pack_config("prod"), "prod")
        policies = {d.policy for d in preview_pack.analyze(weakened)}
    assert "CTY-RES-001" not in policies
    assert "CTY-ENC-002" not in policies  # geo-backup off: no geo key is needed either


def test_pack_refuses_to_start_with_an_expired_waiver(tmp_path, monkeypatch):
    from gate.analyzer import PolicyPackError

    monkeypatch.setenv(WAIVERS_FILE_ENV, str(write(tmp_path, VALID.replace("2027-01-31", "2020-01-01"))))
    with pytest.raises(PolicyPackError) as caught:
        PolicyPackProcess(report_waived=False)
    assert "expired on 2020-01-01" in str(caught.value)


def test_checkov_waivers_are_verified_only_when_checkov_ran(tmp_path):
    text = VALID.replace("CTY-RES-001", "CKV_AZURE_999")
    (kept,) = load_waivers(write(tmp_path, text), known_rules=REGISTRY, today=TODAY)
    assert kept.rule == "CKV_AZURE_999"
    with pytest.raises(WaiverError) as caught:
        load_waivers(write(tmp_path, text), known_rules=REGISTRY, today=TODAY, checkov_ran=True)
    assert "unknown rule 'CKV_AZURE_999'" in str(caught.value)
