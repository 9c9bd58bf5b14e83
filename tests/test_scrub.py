"""What a finding blocks, and how secrets are kept out of every report (gate.findings, gate.scrub)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from cli.secrets import REDACTED, scrub
from gate.findings import Finding
from gate.pipeline import GateResult
from gate.render import SECRET_SIG, SECRET_SIG_KEY, RenderedResource, Rendering
from gate.scrub import Scrubber, scrubbed, secret_values
from policies.waivers import Waiver


def secret(value):
    return {SECRET_SIG_KEY: SECRET_SIG, "value": value}


def finding(**changes) -> Finding:
    base = Finding(
        "CTY-RES-001", "policy", "prod", "urn:x::knowledge-g1", "t", "knowledge-g1", "m", "high", "mandatory"
    )
    return dataclasses.replace(base, **changes)


WAIVER = Waiver("CTY-RES-001", "prod", "knowledge-g1", "reason", "owner", dt.date(2027, 1, 1), 3)


@pytest.mark.parametrize(
    "enforcement, waiver, blocks",
    [
        ("mandatory", None, True),
        ("remediate", None, True),  # the engine enforces a validation rule set to remediate
        ("mandatory", WAIVER, False),
        ("advisory", None, False),
        ("disabled", None, False),
    ],
)
def test_what_blocks(enforcement, waiver, blocks):
    assert finding(enforcement=enforcement, waiver=waiver).blocks is blocks


def result_with_secrets() -> GateResult:
    resource = RenderedResource(
        urn="urn:x::vault-secret",
        type="azure-native:keyvault:Secret",
        name="vault-secret",
        id="",
        custom=True,
        parent="",
        protect=False,
        dependencies=[],
        inputs={"properties": {"value": secret("hunter2-password")}, "plain": "visible-value", "n": 5},
        outputs={"nested": [{"deep": secret({"token": "token-abcdef", "short": "abc", "four": "wxyz"})}]},
    )
    rendering = Rendering("prod", None, "sub", [resource], outputs={"shared": secret(["conn-string-xyz"])})  # type: ignore[arg-type]
    return GateResult([rendering], {}, [])


def test_secret_values_are_every_secret_string_of_four_characters_or_more_at_any_depth():
    assert secret_values(result_with_secrets()) == [
        "conn-string-xyz",
        "hunter2-password",
        "token-abcdef",
        "wxyz",
    ]


def test_scrubber_replaces_secrets_in_strings_keys_and_lists_and_leaves_the_rest():
    scrubber = Scrubber(result_with_secrets())
    assert scrubber("pw=hunter2-password; t=token-abcdef") == f"pw={REDACTED}; t={REDACTED}"
    assert scrubber({"hunter2-password": ["conn-string-xyz", 3, None]}) == {REDACTED: [REDACTED, 3, None]}
    assert scrubber("visible-value abc") == "visible-value abc"
    assert scrubber(42) == 42


def test_scrubbed_cleans_every_field_of_findings_and_their_waivers():
    leaky = finding(
        message="password hunter2-password",
        resource_name="token-abcdef",
        waiver=dataclasses.replace(WAIVER, reason="rotated conn-string-xyz", owner="hunter2-password"),
    )
    result, scrubber = scrubbed(dataclasses.replace(result_with_secrets(), findings=[leaky, finding()]))
    cleaned, untouched = result.findings
    assert cleaned.message == f"password {REDACTED}" and cleaned.resource_name == REDACTED
    assert cleaned.waiver is not None and cleaned.waiver.reason == f"rotated {REDACTED}"
    assert cleaned.waiver.owner == REDACTED and cleaned.waiver.expires == WAIVER.expires
    assert untouched == finding()
    assert scrubber.secrets


def test_a_result_without_secrets_is_returned_as_it_is():
    plain = GateResult([Rendering("prod", None, "sub", [], {})], {}, [finding()])  # type: ignore[arg-type]
    result, scrubber = scrubbed(plain)
    assert result is plain and scrubber.secrets == []


def test_longest_secret_first_so_that_no_part_survives():
    assert scrub("abcdef", ["abc", "abcdef"]) == REDACTED
    assert scrub("x", [None, ""]) == "x"


def test_the_bases_secrets_are_scrubbed_too():
    """With `--base`, the base's declarations hold secrets the working tree may no longer have (an
    old password): they are kept out of the reports as well. A stack new at the base adds none."""
    from gate.base import Base
    from gate.render import Declaration
    from gate.stack_files import StackConfig

    old = dataclasses.replace(
        result_with_secrets().renderings[0].resources[0],
        inputs={"properties": {"value": secret("old-password-1")}},
        outputs={},
    )
    config = StackConfig("prod", Path("Pulumi.prod.yaml"), {}, frozenset())
    base = Base("HEAD", "0" * 40, {"prod": Declaration("prod", config, [old], {}), "dr": None})
    result = dataclasses.replace(result_with_secrets(), base=base)
    assert secret_values(result) == [
        "conn-string-xyz",
        "hunter2-password",
        "old-password-1",
        "token-abcdef",
        "wxyz",
    ]
