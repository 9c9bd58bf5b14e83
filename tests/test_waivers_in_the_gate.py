"""Waivers as the gate and the pack apply them: a waived finding passes, a waiver must match, and
under `pulumi preview` the pack drops waived findings and refuses an expired waiver."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import TODAY
from test_waivers import VALID, write

from gate.analyzer import PolicyPackProcess, load_pack_config
from gate.pipeline import GateConfigError, GateResult, analyze, apply_waivers, rule_info
from policies.waivers import WAIVERS_FILE_ENV
from policy_cases import CASES, mutated

GEO_BACKUP_OFF = next(c for c in CASES if c.rule_id == "CTY-RES-001")


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
    with pytest.raises(PolicyPackError) as caught, PolicyPackProcess(report_waived=False) as pack:
        pack.info()  # the pack is waited for on first use
    assert "expired on 2020-01-01" in str(caught.value)
