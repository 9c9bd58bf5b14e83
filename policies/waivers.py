"""Reviewed exceptions to rules: who accepted which finding on which resource, why, and until when.

`policies/waivers.yaml` is the one list, used by the policy pack under `pulumi preview` and by the
offline gate (which also waives checkov findings with it). A waiver that is expired, names an
unknown rule, or matches nothing is an error: stale exceptions do not accumulate silently.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import yaml

WAIVERS_FILE = Path(__file__).resolve().parent / "waivers.yaml"
# Another list can be named for a run (tests, a fork's own reviewed list); gate and pack both read it.
WAIVERS_FILE_ENV = "CONTINUITY_WAIVERS_FILE"
FIELDS = ("rule", "stack", "resource", "reason", "owner", "expires")
# Waivers of checkov checks share the file; a run without checkov cannot validate them.
CHECKOV_RULE = re.compile(r"^CKV2?_[A-Z0-9_]+$")


class WaiverError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid waivers:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Waiver:
    rule: str
    stack: str
    resource: str  # the resource's logical name (the last part of its URN)
    reason: str
    owner: str
    expires: dt.date
    line: int

    def matches(self, rule_id: str, stack: str, urn: str) -> bool:
        return self.rule == rule_id and self.stack == stack and urn.rsplit("::", 1)[-1] == self.resource


def _lines(text: str) -> list[int]:
    """Line number of each top-level list item, for error messages."""
    return [n for n, line in enumerate(text.splitlines(), 1) if line.startswith("- ")]


def waivers_path() -> Path:
    return Path(os.environ.get(WAIVERS_FILE_ENV) or WAIVERS_FILE)


def load_waivers(path: Optional[Path] = None, *, known_rules: Iterable[str], today: Optional[dt.date] = None,
                 checkov_ran: bool = False) -> list[Waiver]:
    """Parse and check the waiver file; raises WaiverError naming file, line and field.

    Without a checkov run, waivers of checkov ids are kept but their ids cannot be checked.
    """
    path = path or waivers_path()
    today = today or dt.date.today()
    known = set(known_rules)
    if not path.exists():
        return []
    text = path.read_text()
    try:
        entries = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise WaiverError([f"{path.name}:{mark.line + 1 if mark else '?'}: not valid YAML: "
                           f"{getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(entries, list):
        raise WaiverError([f"{path.name}: expected a list of waivers"])
    lines = _lines(text) + [0] * len(entries)
    waivers, problems = [], []
    for index, entry in enumerate(entries):
        where = f"{path.name}:{lines[index]}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: a waiver is a mapping with {list(FIELDS)}")
            continue
        missing = [f for f in FIELDS if not str(entry.get(f, "")).strip()]
        unknown = sorted(set(entry) - set(FIELDS))
        if missing or unknown:
            problems.append(f"{where}: " + "; ".join(
                ([f"missing {missing}"] if missing else []) + ([f"unknown field(s) {unknown}"] if unknown else [])))
            continue
        try:
            expires = entry["expires"] if isinstance(entry["expires"], dt.date) else dt.date.fromisoformat(str(entry["expires"]))
        except ValueError:
            problems.append(f"{where}: expires {entry['expires']!r} is not a date (YYYY-MM-DD)")
            continue
        unverifiable = not checkov_ran and CHECKOV_RULE.match(str(entry["rule"]))
        if entry["rule"] not in known and not unverifiable:
            problems.append(f"{where}: unknown rule {entry['rule']!r}")
            continue
        if expires < today:
            problems.append(f"{where}: waiver of {entry['rule']} on {entry['resource']} expired on {expires} "
                            f"(owner {entry['owner']}): renew it after review or fix the finding")
            continue
        waivers.append(Waiver(entry["rule"], entry["stack"], entry["resource"], entry["reason"], entry["owner"],
                              expires, lines[index]))
    if problems:
        raise WaiverError(problems)
    return waivers


def waiver_for(waivers: Iterable[Waiver], rule_id: str, stack: str, urn: str) -> Optional[Waiver]:
    return next((w for w in waivers if w.matches(rule_id, stack, urn)), None)


def unmatched(waivers: Iterable[Waiver], used: set[Waiver], stacks: Iterable[str], rules_run: Iterable[str]) -> list[str]:
    """Waivers of rules that ran on the analysed stacks but matched no finding: errors, so they get removed."""
    analysed, ran = set(stacks), set(rules_run)
    return [f"{waivers_path().name}:{w.line}: waiver of {w.rule} on {w.stack}/{w.resource} matches no finding; remove it"
            for w in waivers if w.stack in analysed and w.rule in ran and w not in used]
