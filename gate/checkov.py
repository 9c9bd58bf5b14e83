"""Checkov over a stack's ARM template (gate/arm_export.py), offline, in checkov's own venv.

checkov pins packaging<24, so it lives in `.venv-checkov` (created by bin/setup from
requirements-checkov.txt) and runs as a subprocess. It runs with the built-in ARM checks plus the
project's own checks in `checkov_checks/`, and never reaches the network: no API key, no download
of platform policies or guideline mappings, no package scan.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli import children
from cli.exits import InternalError, UsageError

from .arm_export import URN_KEY
from .findings import SEVERITIES, Finding, RuleInfo

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHECKOV = PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"
CUSTOM_CHECKS = PROJECT_DIR / "checkov_checks"
WORKER = Path(__file__).resolve().parent / "checkov_worker.py"
SOURCE = "checkov"
DEFAULT_SEVERITY = "medium"
TIMEOUT_SECONDS = 600

# What keeps checkov offline (checked with strace: no network connect() at all; without these it
# resolves api0.prismacloud.io to fetch guidelines).
OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",  # no download of the BC id <-> CKV id mapping and guidelines
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    "LOG_LEVEL": "WARNING",
}
# Variables that would make checkov talk to the Bridgecrew / Prisma Cloud platform.
PLATFORM_ENV = ("BC_API_KEY", "PRISMA_API_URL", "BC_API_URL", "CKV_API_KEY")

_URN_LINE = re.compile(r'"' + URN_KEY + r'"\s*:\s*"([^"]+)"')


class CheckovError(InternalError):
    """checkov failed; the message has the command and checkov's stderr (exit 4)."""


class CheckovMissing(UsageError):
    """checkov is not installed where bin/setup puts it (exit 2: run bin/setup)."""


@dataclass(frozen=True)
class CheckOutcome:
    """One checkov check evaluated on one ARM resource."""

    check_id: str
    check_name: str
    result: str  # PASSED, FAILED or SKIPPED
    resource_type: str
    resource_name: str
    urn: str
    severity: str | None = None
    guideline: str | None = None


def checkov_command(
    templates: Iterable[Path], checkov: Path = CHECKOV, custom_checks: Path = CUSTOM_CHECKS
) -> list[str]:
    return [
        str(checkov),
        "--file",
        *(str(t) for t in templates),
        "--framework",
        "arm",
        "--output",
        "json",
        "--external-checks-dir",
        str(custom_checks),
        "--skip-download",
        "--skip-results-upload",
        "--soft-fail",
    ]


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PLATFORM_ENV}
    env.update(OFFLINE_ENV)
    return env


class CheckovProcess:
    """checkov started before its templates exist, so that its import (most of its run time)
    overlaps the rendering; `scan` then hands it the templates. Use as a context manager.

    It runs `gate/checkov_worker.py` with the Python of checkov's environment: the same `Checkov().run()`
    the `checkov` command runs, with the same arguments.
    """

    def __init__(self, checkov: Path = CHECKOV, custom_checks: Path = CUSTOM_CHECKS):
        if not Path(checkov).is_file():
            raise CheckovMissing(
                f"checkov is not installed ({checkov} is missing): run bin/setup, which creates "
                ".venv-checkov, or pass --no-checkov"
            )
        self.checkov, self.custom_checks = Path(checkov), custom_checks
        self.process = children.popen(
            # -P: the worker's folder (which holds this module, `checkov.py`) must not shadow checkov.
            [str(self.checkov.parent / "python"), "-P", str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_offline_env(),
        )

    def __enter__(self) -> CheckovProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        children.stop(self.process)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def submit(self, templates: Iterable[Path]) -> None:
        """Hand checkov the templates to scan, all in one run; `outcomes` waits for the answer."""
        assert self.process.stdin is not None  # a pipe
        self.paths = [Path(t).resolve() for t in templates]
        # Read first: a template that is not JSON fails here, before checkov spends seconds on it.
        self.expected = sum(len(_resource_keys(path)) for path in self.paths)
        self.command = checkov_command(self.paths, self.checkov, self.custom_checks)
        try:
            self.process.stdin.write(json.dumps(self.command[1:]) + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # checkov has already stopped: `outcomes` reports how

    def outcomes(self) -> dict[Path, list[CheckOutcome]]:
        """Each submitted template's check outcomes (passed, failed, skipped)."""
        shown = " ".join(self.command)
        try:
            stdout, stderr = self.process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as error:
            self.close()
            raise CheckovError(f"checkov took over {TIMEOUT_SECONDS} s\ncommand: {shown}") from error
        return _outcomes(
            self.paths, self.expected, self.process.returncode, stdout, stderr, shown, self.custom_checks
        )

    def scan(self, templates: Iterable[Path]) -> dict[Path, list[CheckOutcome]]:
        """`submit` then `outcomes`: a process scans once."""
        self.submit(templates)
        return self.outcomes()


def scan_templates(
    templates: Iterable[Path], checkov: Path = CHECKOV, custom_checks: Path = CUSTOM_CHECKS
) -> dict[Path, list[CheckOutcome]]:
    """Run checkov once over ARM templates: each template's check outcomes (passed, failed, skipped).

    One process for several templates saves checkov's start-up (most of its run time).
    """
    with CheckovProcess(checkov, custom_checks) as process:
        return process.scan(templates)


def _outcomes(
    paths: list[Path],
    expected: int,
    returncode: int,
    stdout: str,
    stderr_text: str,
    shown: str,
    custom_checks: Path,
) -> dict[Path, list[CheckOutcome]]:
    """checkov's JSON report read into outcomes per template (which hold `expected` resources), or
    the reason it cannot be trusted."""
    stderr = stderr_text.strip()[-4000:]
    try:
        report = json.loads(stdout) if returncode == 0 else None
    except json.JSONDecodeError:
        report = None
    if report is None:
        raise CheckovError(f"checkov failed (exit {returncode})\ncommand: {shown}\nstderr:\n{stderr}")
    if "Cannot load external check" in stderr_text:
        raise CheckovError(
            f"checkov could not load a check of {custom_checks}\ncommand: {shown}\nstderr:\n{stderr}"
        )
    reports = report if isinstance(report, list) else [report]
    # checkov silently skips a file it does not take for an ARM template: count what it scanned.
    summaries = [r.get("summary", r) for r in reports]
    scanned = sum(summary.get("resource_count", 0) for summary in summaries)
    if any(summary.get("parsing_errors") for summary in summaries) or scanned != expected:
        raise CheckovError(
            f"checkov could not parse the templates: it scanned {scanned} of their {expected} resources\n"
            f"command: {shown}\nstderr:\n{stderr}"
        )
    urns = {path: _urns_by_resource(path) for path in paths}
    outcomes: dict[Path, list[CheckOutcome]] = {path: [] for path in paths}
    for r in reports:
        for key in ("failed_checks", "passed_checks", "skipped_checks"):
            for record in r.get("results", {}).get(key, []):
                path = Path(record["file_abs_path"]).resolve()
                outcomes.setdefault(path, []).append(_outcome(record, urns.get(path, {})))
    return outcomes


def findings(outcomes: Iterable[CheckOutcome], stack: str) -> list[Finding]:
    """The failed checks as gate findings (mandatory; waivers are applied by the gate)."""
    return [
        Finding(
            rule_id=o.check_id,
            source=SOURCE,
            stack=stack,
            urn=o.urn,
            resource_type=o.resource_type,
            resource_name=o.resource_name,
            message=o.check_name,
            severity=o.severity or DEFAULT_SEVERITY,
            enforcement="mandatory",
        )
        for o in outcomes
        if o.result == "FAILED"
    ]


def checkov_rules(results: Iterable[CheckOutcome]) -> dict[str, RuleInfo]:
    """Metadata of every check that ran (passed or failed), by check id."""
    rules: dict[str, RuleInfo] = {}
    for o in results:
        if o.check_id in rules:
            continue
        rules[o.check_id] = RuleInfo(
            rule_id=o.check_id,
            source=SOURCE,
            title=o.check_name,
            description=o.check_name,
            remediation=f"See {o.guideline}"
            if o.guideline
            else f"See checkov's policy reference for {o.check_id}.",
            severity=o.severity or DEFAULT_SEVERITY,
            enforcement="mandatory",
            concern="checkov",
            help_uri=o.guideline,
        )
    return rules


def split_resource(resource: str) -> tuple[str, str]:
    """checkov's `<ARM type>.<name>` into type and name (type segments after the namespace hold no dot)."""
    namespace, _, rest = resource.partition("/")
    type_tail, _, name = rest.partition(".")
    return f"{namespace}/{type_tail}", name


def _severity(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    if not value:
        return None
    value = str(value).lower()
    if value == "info":
        return "low"
    return value if value in SEVERITIES else None


def _outcome(record: dict[str, Any], urns: dict[tuple[str, str], list[str]]) -> CheckOutcome:
    resource_type, resource_name = split_resource(record["resource"])
    code = "".join(line for _, line in record.get("code_block") or [])
    match = _URN_LINE.search(code)
    if match:
        urn = match.group(1)
    else:
        candidates = urns.get((resource_type, resource_name), [])
        urn = candidates[0] if len(candidates) == 1 else ""
    return CheckOutcome(
        check_id=record["check_id"],
        check_name=record["check_name"],
        result=record["check_result"]["result"],
        resource_type=resource_type,
        resource_name=resource_name,
        urn=urn,
        severity=_severity(record.get("severity")),
        guideline=record.get("guideline"),
    )


def _resources(template_path: Path) -> list[dict[str, Any]]:
    try:
        template = json.loads(Path(template_path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckovError(f"could not parse the ARM template {template_path}: {error}") from None
    resources = template.get("resources", []) if isinstance(template, dict) else []
    return [r for r in resources if isinstance(r, dict)]


def _resource_keys(template_path: Path) -> set[tuple[str, str]]:
    """The (type, name) pairs checkov counts as the template's resources."""
    return {(r["type"], str(r["name"])) for r in _resources(template_path) if "type" in r and "name" in r}


def _urns_by_resource(template_path: Path) -> dict[tuple[str, str], list[str]]:
    """(ARM type, name) -> the URNs the template's resources carry (several when names repeat)."""
    urns: dict[tuple[str, str], list[str]] = {}
    for resource in _resources(template_path):
        urn = (resource.get("metadata") or {}).get(URN_KEY)
        if urn:
            urns.setdefault((resource.get("type", ""), str(resource.get("name", ""))), []).append(urn)
    return urns
