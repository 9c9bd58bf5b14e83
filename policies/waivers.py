"""Reviewed exceptions to rules: who accepted which finding on which resource, why, and until when.

`policies/waivers.yaml` is the one list, used by the policy pack under `pulumi preview` and by the
offline gate (which also waives checkov findings with it). A waiver that is expired, names an
unknown rule or stack, reaches more than a year ahead, or matches nothing is an error: exceptions
are reviewed at least yearly and stale ones do not accumulate silently.

An entry names either a `resource` (it waives that resource's finding) or an `enforcement` level
(it records that the stack's pack config lowers the rule to that level, which the gate otherwise
refuses).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cli import clock
from cli.exits import UsageError
from cli.files import load_yaml

if TYPE_CHECKING:
    from .rules.registry import Enforcement

WAIVERS_FILE = Path(__file__).resolve().parent / "waivers.yaml"
# Another list can be named for a run (tests, a fork's own reviewed list); gate and pack both read it.
WAIVERS_FILE_ENV = "CONTINUITY_WAIVERS_FILE"
REQUIRED = ("rule", "stack", "reason", "owner", "expires")
TARGETS = ("resource", "enforcement")
FIELDS = REQUIRED + TARGETS
LOWER_LEVELS: tuple[Enforcement, ...] = ("advisory", "disabled")
# A waiver is reviewed at least once a year.
MAX_DAYS_AHEAD = 366
# Waivers of checkov checks share the file; a run without checkov cannot validate them.
CHECKOV_RULE = re.compile(r"^CKV2?_[A-Z0-9_]+$")
# The gate's change rules judge a pull request against its base: the pack never sees them, and a
# change exists only until it lands, so their waivers (acknowledgements) are short-lived and not
# reported as unmatched.
CHANGE_RULE = re.compile(r"^CTY-CHG-[0-9]{3}$")
MAX_DAYS_AHEAD_CHANGE = 30


class WaiverError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid waivers:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Waiver:
    rule: str
    stack: str
    resource: str | None  # the resource's logical name (the last part of its URN)
    reason: str
    owner: str
    expires: dt.date
    line: int
    enforcement: Enforcement | None = None  # a recorded lowering of the rule's level in the pack config

    def matches(self, rule_id: str, stack: str, urn: str) -> bool:
        return (
            self.resource is not None
            and self.rule == rule_id
            and self.stack == stack
            and urn.rsplit("::", 1)[-1] == self.resource
        )


def _lines(text: str) -> list[int]:
    """Line number of each top-level list item, for error messages."""
    return [n for n, line in enumerate(text.splitlines(), 1) if line.startswith("- ")]


def waivers_path() -> Path:
    return Path(os.environ.get(WAIVERS_FILE_ENV) or WAIVERS_FILE)


def load_waivers(
    path: Path | None = None,
    *,
    known_rules: Iterable[str],
    today: dt.date | None = None,
    checkov_ran: bool = False,
    known_stacks: Iterable[str] | None = None,
) -> list[Waiver]:
    """Parse and check the waiver file; raises WaiverError naming file, line and field.

    Without a checkov run, waivers of checkov ids are kept but their ids cannot be checked.
    """
    path = path or waivers_path()
    today = today or clock.today()
    known = set(known_rules)
    stacks = set(known_stacks) if known_stacks is not None else None
    if not path.exists():
        return []
    try:
        entries = load_yaml(path, "waiver file") or []
    except UsageError as error:
        raise WaiverError([str(error).replace(str(path), path.name)]) from None
    if not isinstance(entries, list):
        raise WaiverError([f"{path.name}: expected a list of waivers"])
    lines = _lines(path.read_text(encoding="utf-8")) + [0] * len(entries)
    waivers, problems = [], []
    for index, entry in enumerate(entries):
        where = f"{path.name}:{lines[index]}"
        if not isinstance(entry, dict):
            problems.append(
                f"{where}: a waiver is a mapping with {list(REQUIRED)} and one of {list(TARGETS)}"
            )
            continue
        missing = [f for f in REQUIRED if not str(entry.get(f, "")).strip()]
        unknown = sorted(str(k) for k in set(entry) - set(FIELDS))
        targets = [f for f in TARGETS if entry.get(f) is not None and str(entry[f]).strip()]
        found = ([f"missing {missing}"] if missing else []) + (
            [f"unknown field(s) {unknown}"] if unknown else []
        )
        if not targets:
            found.append(f"missing one of {list(TARGETS)}")
        elif len(targets) > 1:
            found.append(f"give only one of {list(TARGETS)}, not both")
        if found:
            problems.append(f"{where}: " + "; ".join(found))
            continue
        try:
            expires = (
                entry["expires"]
                if isinstance(entry["expires"], dt.date)
                else dt.date.fromisoformat(str(entry["expires"]))
            )
        except ValueError:
            problems.append(f"{where}: expires {entry['expires']!r} is not a date (YYYY-MM-DD)")
            continue
        rule_id = str(entry["rule"])
        unverifiable = (not checkov_ran and CHECKOV_RULE.match(rule_id)) or (
            CHANGE_RULE.match(rule_id) and not any(CHANGE_RULE.match(k) for k in known)
        )
        if entry["rule"] not in known and not unverifiable:
            problems.append(f"{where}: unknown rule {entry['rule']!r}")
            continue
        if stacks is not None and entry["stack"] not in stacks:
            problems.append(
                f"{where}: stack {entry['stack']!r} is not one of the stacks {sorted(stacks)}; "
                "a waiver names one stack"
            )
            continue
        if "enforcement" in targets and entry["enforcement"] not in LOWER_LEVELS:
            problems.append(
                f"{where}: enforcement {entry['enforcement']!r} is not one of {list(LOWER_LEVELS)}"
            )
            continue
        if expires < today:
            problems.append(
                f"{where}: waiver of {entry['rule']} on {entry.get('resource') or entry['stack']} expired "
                f"on {expires} (owner {entry['owner']}): renew it after review or fix the finding"
            )
            continue
        if (expires - today).days > MAX_DAYS_AHEAD:
            problems.append(
                f"{where}: expires {expires} is more than a year ahead; waivers are reviewed at least "
                f"yearly (latest {today + dt.timedelta(days=MAX_DAYS_AHEAD)})"
            )
            continue
        if CHANGE_RULE.match(rule_id) and (expires - today).days > MAX_DAYS_AHEAD_CHANGE:
            problems.append(
                f"{where}: expires {expires} is more than {MAX_DAYS_AHEAD_CHANGE} days ahead; an "
                f"acknowledged change ({rule_id}) lands with its pull request, so its waiver is short-lived "
                f"(latest {today + dt.timedelta(days=MAX_DAYS_AHEAD_CHANGE)})"
            )
            continue
        waivers.append(
            Waiver(
                str(entry["rule"]),
                str(entry["stack"]),
                entry.get("resource"),
                str(entry["reason"]),
                str(entry["owner"]),
                expires,
                lines[index],
                entry.get("enforcement"),
            )
        )
    if problems:
        raise WaiverError(problems)
    return waivers


def level_waiver(waivers: Iterable[Waiver], rule_id: str, stack: str, level: str) -> Waiver | None:
    """The recorded lowering of `rule_id` to `level` in `stack`'s pack config, if there is one."""
    return next(
        (w for w in waivers if w.enforcement == level and w.rule == rule_id and w.stack == stack), None
    )


def waiver_for(waivers: Iterable[Waiver], rule_id: str, stack: str, urn: str) -> Waiver | None:
    return next((w for w in waivers if w.matches(rule_id, stack, urn)), None)


def unmatched(
    waivers: Iterable[Waiver], used: set[Waiver], stacks: Iterable[str], rules_run: Iterable[str]
) -> list[str]:
    """Waivers of rules that ran on the analysed stacks but matched no finding: errors, so they get removed."""
    analysed, ran = set(stacks), set(rules_run)
    return [
        f"{waivers_path().name}:{w.line}: waiver of {w.rule} on {w.stack}/{w.resource} matches no finding; remove it"
        if w.resource
        else f"{waivers_path().name}:{w.line}: {w.rule} is not lowered to {w.enforcement} in {w.stack}'s pack config; "
        "remove the waiver"
        for w in waivers
        if w.stack in analysed and w.rule in ran and w not in used and not CHANGE_RULE.match(w.rule)
    ]
