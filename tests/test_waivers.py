"""The waiver file: reviewed exceptions that expire, name real rules and match exactly one resource.

How the gate and the pack apply waivers is in test_waivers_in_the_gate.py."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from conftest import TODAY

from cli import clock
from cli.files import load_yaml
from policies.rules import REGISTRY
from policies.waivers import (
    MAX_DAYS_AHEAD,
    WAIVERS_FILE,
    Waiver,
    WaiverError,
    level_waiver,
    load_waivers,
    unmatched,
    waiver_for,
)


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


def test_checkov_waivers_are_verified_only_when_checkov_ran(tmp_path):
    text = VALID.replace("CTY-RES-001", "CKV_AZURE_999")
    (kept,) = load_waivers(write(tmp_path, text), known_rules=REGISTRY, today=TODAY)
    assert kept.rule == "CKV_AZURE_999"
    with pytest.raises(WaiverError) as caught:
        load_waivers(write(tmp_path, text), known_rules=REGISTRY, today=TODAY, checkov_ran=True)
    assert "unknown rule 'CKV_AZURE_999'" in str(caught.value)


LOWERING = """\
    - rule: CTY-RES-005
      stack: dr
      enforcement: advisory
      reason: the replica's HA returns with the next update (ticket OPS-9)
      owner: platform-engineering
      expires: 2027-01-31
    """


def test_every_field_of_a_waiver_is_loaded(tmp_path):
    (resource_waiver,) = load_waivers(write(tmp_path, VALID), known_rules=REGISTRY, today=TODAY)
    assert resource_waiver == Waiver(
        "CTY-RES-001",
        "prod",
        "knowledge-g1",
        "geo-backup cannot be enabled on this server until it is rebuilt (ticket OPS-123)",
        "platform-engineering",
        dt.date(2027, 1, 31),
        1,
        None,
    )
    (lowering,) = load_waivers(write(tmp_path, LOWERING), known_rules=REGISTRY, today=TODAY)
    assert (lowering.resource, lowering.enforcement, lowering.stack) == (None, "advisory", "dr")


def test_every_bad_waiver_is_reported_not_just_the_first(tmp_path):
    text = textwrap.dedent(LOWERING).replace("advisory", "mandatory") + "".join(
        textwrap.dedent(VALID).replace(old, new)
        for old, new in [
            ("CTY-RES-001", "CTY-RES-999"),
            ("2027-01-31", "next year"),
            ("stack: prod", "stack: staging"),
            ("2027-01-31", "2026-01-01"),
            ("2027-01-31", "2028-12-01"),
            ("CTY-RES-001", "CTY-RES-998"),
        ]
    )
    (tmp_path / "waivers.yaml").write_text(text)
    with pytest.raises(WaiverError) as caught:
        load_waivers(
            tmp_path / "waivers.yaml", known_rules=REGISTRY, today=TODAY, known_stacks=["prod", "dr"]
        )
    assert caught.value.problems == [
        "waivers.yaml:1: enforcement 'mandatory' is not one of ['advisory', 'disabled']",
        "waivers.yaml:7: unknown rule 'CTY-RES-999'",
        "waivers.yaml:13: expires 'next year' is not a date (YYYY-MM-DD)",
        "waivers.yaml:19: stack 'staging' is not one of the stacks ['dr', 'prod']; a waiver names one stack",
        "waivers.yaml:25: waiver of CTY-RES-001 on knowledge-g1 expired on 2026-01-01 (owner "
        "platform-engineering): renew it after review or fix the finding",
        "waivers.yaml:31: expires 2028-12-01 is more than a year ahead; waivers are reviewed at least yearly "
        "(latest 2027-11-28)",
        "waivers.yaml:37: unknown rule 'CTY-RES-998'",
    ]
    assert str(caught.value) == "invalid waivers:\n" + "\n".join(f"  - {p}" for p in caught.value.problems)


def test_an_expired_lowering_names_its_stack(tmp_path):
    with pytest.raises(
        WaiverError, match=r"waivers\.yaml:1: waiver of CTY-RES-005 on dr expired on 2026-01-01"
    ):
        load_waivers(
            write(tmp_path, LOWERING.replace("2027-01-31", "2026-01-01")), known_rules=REGISTRY, today=TODAY
        )


def test_a_file_that_cannot_be_read_is_named_as_the_waiver_file(tmp_path):
    (tmp_path / "waivers.yaml").mkdir()
    with pytest.raises(WaiverError, match=r"waivers\.yaml: is a directory, not a waiver file"):
        load_waivers(tmp_path / "waivers.yaml", known_rules=REGISTRY, today=TODAY)


def _waiver(rule="CTY-RES-001", stack="prod", resource="knowledge-g1", enforcement=None, line=1) -> Waiver:
    return Waiver(rule, stack, resource, "r", "o", dt.date(2027, 1, 1), line, enforcement)


def test_level_waiver_matches_rule_stack_and_level_exactly():
    lowering = _waiver(rule="CTY-RES-005", stack="dr", resource=None, enforcement="advisory")
    others = [
        _waiver(rule="CTY-RES-005", stack="dr", resource=None, enforcement="disabled"),
        _waiver(rule="CTY-RES-006", stack="dr", resource=None, enforcement="advisory"),
        _waiver(rule="CTY-RES-005", stack="prod", resource=None, enforcement="advisory"),
    ]
    assert level_waiver([*others, lowering], "CTY-RES-005", "dr", "advisory") is lowering
    assert level_waiver(others, "CTY-RES-005", "dr", "advisory") is None


def test_waiver_for_finds_the_waiver_of_that_finding_only():
    urn = "urn:pulumi:prod::continuity::x$t::knowledge-g1"
    wanted = _waiver()
    assert waiver_for([_waiver(rule="CTY-RES-002"), wanted], "CTY-RES-001", "prod", urn) is wanted
    assert waiver_for([_waiver(rule="CTY-RES-002")], "CTY-RES-001", "prod", urn) is None


def test_unmatched_lists_waivers_of_rules_that_ran_on_analysed_stacks_and_matched_nothing():
    used = _waiver(line=1)
    unused = _waiver(resource="operational-g1", line=2)
    lowering = _waiver(rule="CTY-RES-005", stack="dr", resource=None, enforcement="advisory", line=3)
    other_stack = _waiver(stack="dr", resource="knowledge-g1", line=4)
    checkov_only = _waiver(rule="CKV_AZURE_41", resource="knowledge-g1", line=5)
    problems = unmatched(
        [used, unused, lowering, other_stack, checkov_only],
        {used},
        stacks=["prod", "dr"],
        rules_run=["CTY-RES-001", "CTY-RES-005"],
    )
    assert problems == [
        "waivers.yaml:2: waiver of CTY-RES-001 on prod/operational-g1 matches no finding; remove it",
        "waivers.yaml:3: CTY-RES-005 is not lowered to advisory in dr's pack config; remove the waiver",
        "waivers.yaml:4: waiver of CTY-RES-001 on dr/knowledge-g1 matches no finding; remove it",
    ]
    assert unmatched([other_stack], set(), stacks=["prod"], rules_run=["CTY-RES-001"]) == []


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            "- just a string\n",
            "waivers.yaml:1: a waiver is a mapping with ['rule', 'stack', 'reason', 'owner', "
            "'expires'] and one of ['resource', 'enforcement']",
        ),
        (
            VALID.replace("      resource: knowledge-g1\n", ""),
            "waivers.yaml:1: missing one of ['resource', 'enforcement']",
        ),
        (VALID.replace("knowledge-g1", '""'), "waivers.yaml:1: missing one of ['resource', 'enforcement']"),
        (
            VALID.rstrip(" ") + "      enforcement: advisory\n",
            "waivers.yaml:1: give only one of ['resource', 'enforcement'], not both",
        ),
        (
            VALID.replace("      owner: platform-engineering\n", "").rstrip(" ") + "      ticket: OPS-1\n",
            "waivers.yaml:1: missing ['owner']; unknown field(s) ['ticket']",
        ),
    ],
)
def test_malformed_waivers_are_reported_whole(tmp_path, text, problem):
    (tmp_path / "waivers.yaml").write_text(
        textwrap.dedent(text) + textwrap.dedent(VALID).replace("2027", "2020")
    )
    with pytest.raises(WaiverError) as caught:
        load_waivers(tmp_path / "waivers.yaml", known_rules=REGISTRY, today=TODAY)
    assert caught.value.problems[0] == problem
    # The check goes on after a bad entry: the expired one after it is reported as well.
    assert len(caught.value.problems) == 2 and "expired on 2020-01-31" in caught.value.problems[1]


def test_an_expiry_written_as_a_quoted_string_is_read_as_a_date(tmp_path):
    (waiver,) = load_waivers(
        write(tmp_path, VALID.replace("2027-01-31", '"2027-01-31"')), known_rules=REGISTRY, today=TODAY
    )
    assert waiver.expires == dt.date(2027, 1, 31)


def test_a_flow_style_file_has_no_item_lines_to_name_so_it_says_line_0(tmp_path):
    (tmp_path / "waivers.yaml").write_text('[{"rule": "CTY-RES-001"}]\n')
    with pytest.raises(WaiverError) as caught:
        load_waivers(tmp_path / "waivers.yaml", known_rules=REGISTRY, today=TODAY)
    assert caught.value.problems == [
        "waivers.yaml:0: missing ['stack', 'reason', 'owner', 'expires']; missing one of ['resource', 'enforcement']"
    ]


ACKNOWLEDGEMENT = (
    "- rule: CTY-CHG-006\n  stack: dr\n  resource: platform\n  reason: drill\n  owner: ops\n  expires: {}\n"
)


def test_an_acknowledged_change_is_short_lived_and_never_stale(tmp_path):
    """Waivers of the gate's change rules (CTY-CHG-*): at most 30 days ahead, never reported as
    unmatched (a change exists only until it lands), and left unjudged by the pack."""
    path = tmp_path / "waivers.yaml"
    known = ["CTY-CHG-006", "CTY-RES-001"]  # as the gate knows them, change rules included
    path.write_text(ACKNOWLEDGEMENT.format(TODAY + dt.timedelta(days=30)))
    (acknowledgement,) = load_waivers(path, known_rules=known, today=TODAY)
    assert acknowledgement.rule == "CTY-CHG-006"
    assert unmatched([acknowledgement], set(), ["dr"], rules_run=known) == []
    # The pack knows no change rule: it keeps the entry unverified rather than refusing it.
    assert [w.rule for w in load_waivers(path, known_rules=["CTY-RES-001"], today=TODAY)] == ["CTY-CHG-006"]
    # Each entry is judged: a refusal does not stop the next one being checked.
    path.write_text(
        ACKNOWLEDGEMENT.format(TODAY + dt.timedelta(days=31))
        + ACKNOWLEDGEMENT.replace("CTY-CHG-006", "CTY-CHG-007").format(TODAY - dt.timedelta(days=1))
    )
    with pytest.raises(WaiverError) as refused:
        load_waivers(path, known_rules=[*known, "CTY-CHG-007"], today=TODAY)
    assert refused.value.problems == [
        "waivers.yaml:1: expires 2026-12-28 is more than 30 days ahead; an acknowledged change "
        "(CTY-CHG-006) lands with its pull request, so its waiver is short-lived (latest 2026-12-27)",
        "waivers.yaml:7: waiver of CTY-CHG-007 on platform expired on 2026-11-26 (owner ops): renew it "
        "after review or fix the finding",
    ]
    # Any other rule still needs to be one the run knows, and a stale waiver of it is an error.
    path.write_text(ACKNOWLEDGEMENT.replace("CTY-CHG-006", "CTY-CHG-099").format(TODAY))
    with pytest.raises(WaiverError, match="unknown rule 'CTY-CHG-099'"):
        load_waivers(path, known_rules=known, today=TODAY)
    path.write_text(ACKNOWLEDGEMENT.replace("CTY-CHG-006", "CTY-RES-001").format(TODAY))
    (other,) = load_waivers(path, known_rules=known, today=TODAY)
    assert unmatched([other], set(), ["dr"], rules_run=known) == [
        "waivers.yaml:1: waiver of CTY-RES-001 on dr/platform matches no finding; remove it"
    ]
