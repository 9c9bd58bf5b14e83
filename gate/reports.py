"""Reports of a gate result: console text, JSON, SARIF 2.1.0, JUnit XML and a Markdown PR summary.

Every function takes a `GateResult` and returns the report; only `write_reports` touches files.
No report shows resource inputs or outputs, and every value the renderings mark as secret is
replaced by "[secret]" wherever it would otherwise appear (a finding message that quotes one, say).
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cli import text as safe_text
from components.durations import format_seconds
from policies.rules.continuity import Assessment, RestorePath
from policies.rules.registry import FRAMEWORKS

from .changes import ACTIONS, PropertyChange, ResourceChange, as_text
from .changes import counts as change_counts
from .findings import Finding, RuleInfo
from .pipeline import GateResult
from .render import Rendering
from .scrub import scrubbed

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
# Source of a rule/finding -> the SARIF tool (one run each).
TOOLS = {"policy": "continuity-policy-pack", "change": "continuity-change-safety", "checkov": "checkov"}
TOOL_URIS = {"checkov": "https://www.checkov.io/"}
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# GitHub code scanning ranks alerts by a CVSS-like `security-severity`.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
SRCROOT = "%SRCROOT%"


# --- shared helpers ---------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """One line of plain text: runs of whitespace become one space, other control characters escapes."""
    return safe_text.console(" ".join(str(text).split()))


def _logical_name(finding: Finding) -> str:
    return finding.resource_name or (finding.urn.rsplit("::", 1)[-1] if finding.urn else "")


def _stack_names(result: GateResult) -> list[str]:
    names = [r.stack for r in result.renderings]
    for stack in list(result.continuity) + [f.stack for f in result.findings]:
        if stack not in names:
            names.append(stack)
    return names


def _rendering(result: GateResult, stack: str) -> Rendering | None:
    return next((r for r in result.renderings if r.stack == stack), None)


def _value(enum_or_str: Any) -> str | None:
    return None if enum_or_str is None else str(getattr(enum_or_str, "value", enum_or_str))


def _stack_facts(result: GateResult, stack: str) -> dict[str, Any]:
    rendering = _rendering(result, stack)
    settings = rendering.settings if rendering else None
    return {
        "name": stack,
        "region": getattr(settings, "region", None),
        "role": _value(getattr(settings, "role", None)),
        "origin": _value(getattr(settings, "origin", None)),
        # Provider resources, as in the plan; components are only grouping.
        "resourceCount": sum(1 for r in rendering.resources if r.custom) if rendering else 0,
    }


def _kind(finding: Finding) -> str:
    """blocking | waived | advisory."""
    if finding.waiver is not None:
        return "waived"
    return "blocking" if finding.blocks else "advisory"


def _counts(result: GateResult) -> dict[str, int]:
    kinds = [_kind(f) for f in result.findings]
    return {k: kinds.count(k) for k in ("blocking", "advisory", "waived")}


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.rule_id, f.urn, f.message))


def _restore_path_text(a: Assessment, path: RestorePath) -> str:
    """One restore path for a regional loss, and whether it alone keeps the RPO target."""
    if not path.available:
        return f"{path.path}: no ({path.note})"
    verdict = "backs the RPO" if path.backs(a.target_rpo) else "short of the RPO"
    return f"{path.path}: RPO {format_seconds(path.rpo)}, {verdict} ({path.note})"


def _status(a: Assessment) -> str:
    return "OK" if a.meets_rto and a.meets_rpo else "MISSED"


def _evaluated_rules(result: GateResult) -> list[str]:
    """Rule ids the gate evaluated (disabled ones were not), plus any a finding names."""
    ids = [rid for rid in result.rules if result.level(rid) != "disabled"]
    for finding in result.findings:
        if finding.rule_id not in ids:
            ids.append(finding.rule_id)
    return sorted(ids)


def _rule_info(result: GateResult, rule_id: str, finding: Finding | None = None) -> RuleInfo:
    if rule_id in result.rules:
        return result.rules[rule_id]
    # A finding whose rule the result does not describe: describe it from the finding.
    return RuleInfo(
        rule_id=rule_id,
        source=finding.source if finding else "policy",
        title=rule_id,
        description=finding.message if finding else rule_id,
        remediation="",
        severity=finding.severity if finding else "medium",
        enforcement=finding.enforcement if finding else "mandatory",
        concern="",
    )


def _control_key(control: str) -> list[Any]:
    """Natural order: A.5.9 before A.5.12, CC6.1 before CC6.6."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", control)]


def _controls_list(info: RuleInfo) -> list[str]:
    return [f"{framework}:{control}" for framework, ids in info.controls.items() for control in ids]


def _verdict(result: GateResult) -> str:
    counts = _counts(result)
    if counts["blocking"]:
        return (
            f"FAIL: {counts['blocking']} blocking finding{'s' if counts['blocking'] != 1 else ''} "
            f"({counts['advisory']} advisory, {counts['waived']} waived); exit code {result.exit_code}"
        )
    return (
        f"PASS: 0 blocking findings ({counts['advisory']} advisory, {counts['waived']} waived); "
        f"exit code {result.exit_code}"
    )


def _waiver_text(finding: Finding) -> str:
    w = finding.waiver
    return f"waived by {_one_line(w.owner)} until {w.expires}: {_one_line(w.reason)}" if w else ""


# Changes a report lists, most dangerous first; unchanged resources are only counted.
LISTED_ACTIONS = ("replace", "delete", "update", "create")
# Longest value a console line or a table cell shows of a changed property.
VALUE_WIDTH = 60
BASE_NOTE = "rendered with the current environment (this checkout's gate, mocks and installed packages)"


def _listed(result: GateResult, stack: str) -> list[ResourceChange]:
    """The stack's changes of provider resources worth listing, by action then URN."""
    rank = {action: i for i, action in enumerate(LISTED_ACTIONS)}
    return sorted(
        (c for c in result.changes.get(stack, []) if c.action in rank and (c.head or c.old).custom),
        key=lambda c: (rank[c.action], c.urn),
    )


def _short(value: Any) -> str:
    text = as_text(value)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _property_text(p: PropertyChange) -> str:
    if p.secret:
        return f"{p.path}: [secret] changes"
    marker = " (forces replacement)" if p.create_only else ""
    return f"{p.path}: {_short(p.before)} -> {_short(p.after)}{marker}"


def _base_line(result: GateResult) -> str:
    assert result.base is not None
    return f"against {result.base.ref} ({result.base.commit[:12]}), {BASE_NOTE}"


def _counts_text(tally: dict[str, int]) -> str:
    return ", ".join(f"{tally[a]} {a}" for a in ACTIONS)


# --- 1. console ---------------------------------------------------------------------------------


def console(result: GateResult) -> str:
    """A readable report: per stack its findings by enforcement and its continuity, then the verdict.

    Each finding is one line starting with its rule id, so `grep CTY-RES-001` finds it whole.
    """
    result, scrub = scrubbed(result)
    lines: list[str] = []

    def finding_line(f: Finding) -> str:
        line = (
            f"{f.rule_id} [{f.severity}] {f.stack}/{_logical_name(f)} ({f.resource_type or 'unknown type'}): "
            f"{_one_line(f.message)}"
        )
        if f.waiver:
            line += f" -- {_waiver_text(f)}"
        return "    " + line

    for stack in _stack_names(result):
        facts = _stack_facts(result, stack)
        lines.append(
            f"== stack {stack}: region {facts['region'] or '?'}, role {facts['role'] or '?'}, "
            f"origin {facts['origin'] or '?'}, {facts['resourceCount']} resources"
        )
        findings = [f for f in result.findings if f.stack == stack]
        groups = [
            ("Blocking (mandatory)", [f for f in findings if _kind(f) == "blocking"]),
            ("Waived", [f for f in findings if _kind(f) == "waived"]),
            ("Advisory", [f for f in findings if _kind(f) == "advisory"]),
        ]
        if not findings:
            lines.append("  Findings: none")
        for title, group in groups:
            if group:
                lines.append(f"  {title}: {len(group)}")
                lines.extend(finding_line(f) for f in _sorted(group))
        if result.base is not None:
            lines.append(
                f"  Changes {_base_line(result)}: {_counts_text(change_counts(result.changes.get(stack, [])))}"
            )
            for change in _listed(result, stack):
                properties = "; ".join(_property_text(p) for p in change.properties)
                lines.append(
                    "    "
                    + _one_line(
                        f"{change.action} {change.name} ({change.type})"
                        + (f": {properties}" if properties else "")
                    )
                )
        assessments = result.continuity.get(stack, [])
        if assessments:
            lines.append("  Continuity (regional loss):")
            width = max(len(a.database) for a in assessments)
            for a in assessments:
                lines.append(
                    f"    {a.database:<{width}}  RTO target {format_seconds(a.target_rto)} vs {format_seconds(a.achievable_rto)}"
                    f"  RPO target {format_seconds(a.target_rpo)} vs {format_seconds(a.achievable_rpo)}"
                    f"  via {a.mechanism}  {_status(a)}"
                )
                lines.append(
                    f"    {'':<{width}}  restore paths: "
                    + "; ".join(_restore_path_text(a, p) for p in a.restore_paths)
                )
        lines.append("")
    lines.append(_verdict(result))
    return scrub("\n".join(lines)) + "\n"


# --- 2. JSON ------------------------------------------------------------------------------------


def _rule_json(result: GateResult, info: RuleInfo) -> dict[str, Any]:
    return {
        "id": info.rule_id,
        "source": info.source,
        "title": info.title,
        "description": info.description,
        "remediation": info.remediation,
        "severity": info.severity,
        "enforcement": info.enforcement,
        # The level each stack's pack config gives it (a lowering is refused unless a waiver records it).
        "effectiveEnforcement": {
            stack: levels[info.rule_id]
            for stack, levels in sorted(result.levels.items())
            if info.rule_id in levels
        },
        "concern": info.concern,
        "controls": {k: list(v) for k, v in info.controls.items()},
        "helpUri": info.help_uri,
    }


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "ruleId": f.rule_id,
        "source": f.source,
        "stack": f.stack,
        "urn": f.urn,
        "resourceType": f.resource_type,
        "resourceName": f.resource_name,
        "message": f.message,
        "severity": f.severity,
        "enforcement": f.enforcement,
        "status": _kind(f),
        "blocks": f.blocks,
        "waiver": None
        if f.waiver is None
        else {
            "ruleId": f.waiver.rule,
            "stack": f.waiver.stack,
            "resource": f.waiver.resource,
            "enforcement": f.waiver.enforcement,
            "reason": f.waiver.reason,
            "owner": f.waiver.owner,
            "expires": f.waiver.expires.isoformat(),
        },
    }


def _continuity_rows(result: GateResult) -> list[dict[str, Any]]:
    return [
        {
            "stack": stack,
            "urn": a.urn,
            "database": a.database,
            "mechanism": a.mechanism,
            "targetRto": a.target_rto,
            "targetRpo": a.target_rpo,
            "achievableRto": a.achievable_rto,
            "achievableRpo": a.achievable_rpo,
            "meetsRto": a.meets_rto,
            "meetsRpo": a.meets_rpo,
            "status": _status(a),
            "restorePaths": [
                {
                    "path": p.path,
                    "available": p.available,
                    "rpo": p.rpo,
                    "backsRpo": p.backs(a.target_rpo),
                    "note": p.note,
                }
                for p in a.restore_paths
            ],
        }
        for stack in _stack_names(result)
        for a in result.continuity.get(stack, [])
    ]


def _change_json(c: ResourceChange) -> dict[str, Any]:
    return {
        "stack": c.stack,
        "urn": c.urn,
        "type": c.type,
        "name": c.name,
        "action": c.action,
        "properties": [
            {
                "path": p.path,
                "before": p.before,
                "after": p.after,
                "secret": p.secret,
                "createOnly": p.create_only,
            }
            for p in c.properties
        ],
    }


def _changes_json(result: GateResult) -> dict[str, Any] | None:
    if result.base is None:
        return None
    return {
        "ref": result.base.ref,
        "commit": result.base.commit,
        "renderedWith": BASE_NOTE,
        "stacks": {
            stack: {
                "newStack": result.base.declaration(stack) is None,
                "counts": change_counts(changes),
                "resources": [_change_json(c) for c in changes],
            }
            for stack, changes in result.changes.items()
        },
    }


def to_json(result: GateResult) -> dict[str, Any]:
    """Everything in the result, machine-readable and `json.dumps`-able (durations in seconds)."""
    result, scrub = scrubbed(result)
    counts = _counts(result)
    report: dict[str, Any] = {
        "stacks": [_stack_facts(result, stack) for stack in _stack_names(result)],
        "rules": [_rule_json(result, result.rules[rid]) for rid in sorted(result.rules)],
        "findings": [_finding_json(f) for f in result.findings],
        "continuity": _continuity_rows(result),
        "changes": _changes_json(result),
        "summary": {
            **counts,
            "total": len(result.findings),
            "exitCode": result.exit_code,
            "passed": result.exit_code == 0,
            "checkovRan": result.checkov_ran,
        },
    }
    clean: dict[str, Any] = scrub(report)
    return clean


# --- 3. SARIF -----------------------------------------------------------------------------------


def _sarif_name(title: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "".join(w[:1].upper() + w[1:] for w in words) or "Rule"


def _sarif_rule(info: RuleInfo, effective: str) -> dict[str, Any]:
    level = {"mandatory": "error", "remediate": "error", "advisory": "warning"}.get(effective, "none")
    descriptor: dict[str, Any] = {
        "id": info.rule_id,
        "name": _sarif_name(info.title),
        "shortDescription": {"text": info.title or info.rule_id},
        "fullDescription": {"text": info.description or info.title or info.rule_id},
        "help": {
            "text": info.remediation or info.description or info.rule_id,
            "markdown": f"**Remediation:** {info.remediation or info.description or info.rule_id}",
        },
        "defaultConfiguration": {"level": level, "enabled": effective != "disabled"},
        "properties": {
            "severity": info.severity,
            "enforcement": info.enforcement,
            "concern": info.concern,
            "controls": _controls_list(info),
            "tags": [t for t in dict.fromkeys([info.source, info.concern, *info.controls]) if t],
            "security-severity": SECURITY_SEVERITY.get(info.severity, "5.5"),
        },
    }
    if info.help_uri:
        descriptor["helpUri"] = info.help_uri
    return descriptor


def _sarif_level(f: Finding) -> str:
    return {"blocking": "error", "advisory": "warning", "waived": "note"}[_kind(f)]


def _sarif_result(f: Finding, index: int) -> dict[str, Any]:
    name = _logical_name(f)
    fqn = f.urn or f"{f.stack}::{f.resource_type}::{name}"
    where = f"{name} ({f.resource_type})" if f.resource_type else name
    sarif: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": index,
        "level": _sarif_level(f),
        "message": {"text": f"{f.stack}/{where}: {f.message}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": f"Pulumi.{f.stack}.yaml", "uriBaseId": SRCROOT},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [{"fullyQualifiedName": fqn, "name": name or fqn, "kind": "resource"}],
            }
        ],
        "partialFingerprints": {
            "continuityFinding/v1": hashlib.sha256(
                "\0".join((f.rule_id, f.stack, fqn, f.message)).encode()
            ).hexdigest(),
        },
        "properties": {
            "stack": f.stack,
            "urn": f.urn,
            "resourceType": f.resource_type,
            "severity": f.severity,
            "enforcement": f.enforcement,
        },
    }
    if f.waiver is not None:
        sarif["suppressions"] = [{"kind": "external", "status": "accepted", "justification": f.waiver.reason}]
        sarif["properties"].update(owner=f.waiver.owner, expires=f.waiver.expires.isoformat())
    return sarif


def to_sarif(result: GateResult) -> dict[str, Any]:
    """SARIF 2.1.0, one run per tool (the policy pack, checkov), ready for GitHub code scanning."""
    result, scrub = scrubbed(result)
    sources = list(
        dict.fromkeys(
            [info.source for info in result.rules.values()]
            + [f.source for f in result.findings]
            + (["checkov"] if result.checkov_ran else [])
        )
    )
    sources.sort(key=lambda s: (list(TOOLS).index(s) if s in TOOLS else len(TOOLS), s))
    runs = []
    for source in sources:
        infos = {rid: info for rid, info in sorted(result.rules.items()) if info.source == source}
        findings = [f for f in result.findings if f.source == source]
        for f in findings:
            if f.rule_id not in infos:
                infos[f.rule_id] = _rule_info(result, f.rule_id, f)
        index = {rid: i for i, rid in enumerate(infos)}
        driver: dict[str, Any] = {
            "name": TOOLS.get(source, source),
            "rules": [_sarif_rule(i, result.level(i.rule_id)) for i in infos.values()],
        }
        if source in TOOL_URIS:
            driver["informationUri"] = TOOL_URIS[source]
        runs.append(
            {
                "tool": {"driver": driver},
                "invocations": [{"executionSuccessful": True}],
                "columnKind": "unicodeCodePoints",
                "results": [_sarif_result(f, index[f.rule_id]) for f in findings],
            }
        )
    return scrub({"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs})


# --- 4. JUnit -----------------------------------------------------------------------------------


def to_junit(result: GateResult) -> str:
    """JUnit XML: a testsuite per stack, a testcase per evaluated rule in it.

    A testcase fails on blocking findings, is skipped when every finding is waived (failure wins
    over waivers), and carries advisory (and, when failing, waived) findings in <system-out>.
    """
    result, scrub = scrubbed(result)
    root = ET.Element("testsuites", name="continuity-gate")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    rule_ids = _evaluated_rules(result)

    def describe(f: Finding) -> str:
        return f"{_logical_name(f)} ({f.resource_type or 'unknown type'}) {f.urn}: {_one_line(f.message)}"

    for stack in _stack_names(result):
        facts = _stack_facts(result, stack)
        suite = ET.SubElement(root, "testsuite", name=stack)
        properties = ET.SubElement(suite, "properties")
        for key in ("region", "role", "origin", "resourceCount"):
            ET.SubElement(properties, "property", name=key, value=str(facts[key]))
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for rule_id in rule_ids:
            findings = [f for f in result.findings if f.stack == stack and f.rule_id == rule_id]
            info = _rule_info(result, rule_id, findings[0] if findings else None)
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{stack}.{info.concern or info.source}",
                name=f"{rule_id} {info.title}",
            )
            blocking = [f for f in findings if _kind(f) == "blocking"]
            waived = [f for f in findings if _kind(f) == "waived"]
            advisory = [f for f in findings if _kind(f) == "advisory"]
            counts["tests"] += 1
            out: list[str] = []
            if blocking:
                counts["failures"] += 1
                failure = ET.SubElement(
                    case,
                    "failure",
                    type=f"{info.severity}/mandatory",
                    message=scrub("; ".join(_one_line(f.message) for f in blocking)),
                )
                failure.text = scrub("\n".join(describe(f) for f in blocking))
                out += [f"waived: {describe(f)} -- {_waiver_text(f)}" for f in waived]
            elif waived:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=scrub("; ".join(_waiver_text(f) for f in waived)))
            out += [f"advisory: {describe(f)}" for f in advisory]
            if out:
                ET.SubElement(case, "system-out").text = scrub("\n".join(out))
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", "0")
        suite.set("skipped", str(counts["skipped"]))
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    for element in root.iter():  # XML 1.0 cannot carry some characters even escaped
        element.text = safe_text.xml(element.text) if element.text else element.text
        for key, text in element.attrib.items():
            element.set(key, safe_text.xml(text))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# --- 5. Markdown --------------------------------------------------------------------------------


def _cell(text: Any) -> str:
    """Literal text in a Markdown table cell."""
    return safe_text.markdown(_one_line(str(text)))


def _code(text: Any) -> str:
    """A name as inline code (a backtick inside would end the span)."""
    return "`" + _one_line(str(text)).replace("`", "'").replace("|", "\\|") + "`"


def controls_coverage(result: GateResult) -> list[tuple[str, str, list[str], str]]:
    """(framework, control, rule ids, pass|fail|not evaluated) for every control a rule maps to."""
    failing = {f.rule_id for f in result.blocking}
    mapped: dict[tuple[str, str], list[str]] = {}
    for rid in sorted(result.rules):
        for framework, ids in result.rules[rid].controls.items():
            for control in ids:
                mapped.setdefault((framework, control), []).append(rid)
    order = {framework: i for i, framework in enumerate(FRAMEWORKS)}
    rows = []
    for (framework, control), rids in sorted(
        mapped.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0][0], _control_key(kv[0][1]))
    ):
        active = [rid for rid in rids if result.level(rid) != "disabled"]
        status = "not evaluated" if not active else "fail" if failing & set(active) else "pass"
        rows.append((framework, control, rids, status))
    return rows


def to_markdown(result: GateResult) -> str:
    """A pull-request summary: verdict, blocking findings, continuity matrix, controls coverage."""
    result, scrub = scrubbed(result)
    counts = _counts(result)
    out: list[str] = ["## Continuity gate", ""]
    if counts["blocking"]:
        out.append(
            f"**FAIL**: {counts['blocking']} blocking finding{'s' if counts['blocking'] != 1 else ''}, "
            f"{counts['advisory']} advisory, {counts['waived']} waived (exit code {result.exit_code})"
        )
    else:
        out.append(
            f"**PASS**: 0 blocking findings, {counts['advisory']} advisory, {counts['waived']} waived "
            f"(exit code {result.exit_code})"
        )
    stacks = ", ".join(
        f"`{s['name']}` ({s['region']}, {s['role']})"
        for s in (_stack_facts(result, n) for n in _stack_names(result))
    )
    out += ["", f"Stacks: {stacks}", ""]

    if counts["blocking"]:
        out += [
            "### Blocking findings",
            "",
            "| Rule | Stack | Resource | Message |",
            "| --- | --- | --- | --- |",
        ]
        for f in _sorted(result.blocking):
            resource = (
                f"{_code(_logical_name(f))} ({_cell(f.resource_type)})"
                if f.resource_type
                else _code(_logical_name(f))
            )
            out.append(f"| {f.rule_id} | {f.stack} | {resource} | {_cell(f.message)} |")
        out.append("")

    waived = [f for f in result.findings if _kind(f) == "waived"]
    advisory = [f for f in result.findings if _kind(f) == "advisory"]
    out.append(f"Waived: {len(waived)}, advisory: {len(advisory)}.")
    if waived or advisory:
        out += [
            "",
            f"<details><summary>{len(waived)} waived, {len(advisory)} advisory</summary>",
            "",
            "| Status | Rule | Stack | Resource | Message | Waiver |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for f in _sorted(waived) + _sorted(advisory):
            out.append(
                f"| {_kind(f)} | {f.rule_id} | {f.stack} | {_code(_logical_name(f))} | {_cell(f.message)} "
                f"| {_cell(_waiver_text(f)) if f.waiver else ''} |"
            )
        out += ["", "</details>"]
    out.append("")

    if result.base is not None:
        out += _markdown_changes(result)

    out += [
        "### Continuity (regional loss)",
        "",
        "| Stack | Database | RTO target | RTO achievable | RPO target | RPO achievable | Mechanism | Status "
        "| Restore paths (regional loss) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for stack in _stack_names(result):
        for a in result.continuity.get(stack, []):
            paths = "<br>".join(_cell(_restore_path_text(a, p)) for p in a.restore_paths)
            out.append(
                f"| {stack} | {a.database} | {format_seconds(a.target_rto)} | {format_seconds(a.achievable_rto)} "
                f"| {format_seconds(a.target_rpo)} | {format_seconds(a.achievable_rpo)} | {a.mechanism} | {_status(a)} "
                f"| {paths} |"
            )
    out.append("")

    out += [
        "### Controls coverage",
        "",
        "| Framework | Control | Rules | Status |",
        "| --- | --- | --- | --- |",
    ]
    for framework, control, rids, status in controls_coverage(result):
        out.append(f"| {_cell(framework)} | {_cell(control)} | {', '.join(rids)} | {status} |")
    out.append("")
    return scrub("\n".join(out))


def _markdown_changes(result: GateResult) -> list[str]:
    """The "what this change does" table: every provider resource the change touches."""
    out = ["### What this change does", "", f"Compared {_base_line(result)}.", ""]
    for stack in _stack_names(result):
        out.append(f"- `{stack}`: {_counts_text(change_counts(result.changes.get(stack, [])))}")
    listed = [c for stack in _stack_names(result) for c in _listed(result, stack)]
    if listed:
        out += ["", "| Stack | Action | Resource | Changed properties |", "| --- | --- | --- | --- |"]
        for c in listed:
            properties = "<br>".join(_cell(_property_text(p)) for p in c.properties)
            out.append(f"| {c.stack} | **{c.action}** | {_code(c.name)} ({_cell(c.type)}) | {properties} |")
    out.append("")
    return out


# --- 6. files -----------------------------------------------------------------------------------


def write_reports(
    result: GateResult,
    *,
    json_path: Path | None = None,
    sarif_path: Path | None = None,
    junit_path: Path | None = None,
    markdown_path: Path | None = None,
) -> list[Path]:
    """Write the chosen reports (creating their folders); returns the paths written."""
    written = []
    renderers: tuple[tuple[Path | None, Callable[[], str]], ...] = (
        (json_path, lambda: json.dumps(to_json(result), indent=2) + "\n"),
        (sarif_path, lambda: json.dumps(to_sarif(result), indent=2) + "\n"),
        (junit_path, lambda: to_junit(result)),
        (markdown_path, lambda: to_markdown(result)),
    )
    for path, render in renderers:
        if path is None:
            continue
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), encoding="utf-8")
        written.append(path)
    return written
