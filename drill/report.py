"""Drill evidence: verdict, Markdown report, and the index of drills under drills/."""

from __future__ import annotations

import json
from pathlib import Path

from cli.text import markdown as md

from .record import DrillRecord


def _seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def judge(record: DrillRecord) -> str:
    """pass only if RTO and RPO met their targets, every baseline table survived unchanged and no
    write through the writer name was acknowledged by a server other than the promoted one."""
    for measurement in (record.rto, record.rpo):
        if measurement.target_seconds is not None and measurement.measured_seconds is not None:
            measurement.met = measurement.measured_seconds <= measurement.target_seconds
    intact = not record.integrity.get("differences") and not record.integrity.get("writes_elsewhere")
    return "pass" if record.rto.met and record.rpo.met and intact else "fail"


def markdown(record: DrillRecord) -> str:
    t = record.timestamps
    lines = [
        f"# DR drill {record.drill_id}",
        "",
        f"**Verdict: {(record.verdict or 'in progress').upper()}** — scenario `{record.scenario}`, database "
        f"`{record.database}`, control plane `{record.control_plane}`",
        "",
        "| | stack | region |",
        "|---|---|---|",
        f"| primary (before) | {record.primary.get('stack')} | {record.primary.get('region')} |",
        f"| standby (promoted) | {record.standby.get('stack')} | {record.standby.get('region')} |",
        "",
        f"Writer name measured: {md(record.standby.get('writer', 'not recorded'))}.",
        "",
        "## Objectives",
        "",
        "| objective | target | measured | met |",
        "|---|---|---|---|",
        f"| RTO | {_seconds(record.rto.target_seconds)} | {_seconds(record.rto.measured_seconds)} | {record.rto.met} |",
        f"| RPO | {_seconds(record.rpo.target_seconds)} | {_seconds(record.rpo.measured_seconds)} | {record.rpo.met} |",
        "",
        f"RTO split: detect {_seconds(record.rto_split.get('detect'))}, decide {_seconds(record.rto_split.get('decide'))}, "
        f"execute {_seconds(record.rto_split.get('execute'))}.",
        "",
        f"Heartbeats acknowledged: {len(record.heartbeats)}; lost after promotion: {len(record.lost_heartbeats)}"
        + (f" (sequence numbers {record.lost_heartbeats})" if record.lost_heartbeats else "")
        + ".",
        "",
        f"Replication lag before the failover: {record.pre_failover_lag}.",
        "",
        "## Timeline (UTC)",
        "",
        "| event | time |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value} |" for name, value in sorted(t.items(), key=lambda kv: kv[1])]
    differences = record.integrity.get("differences") or []
    lines += [
        "",
        "## Data integrity",
        "",
        "All baseline tables are identical after promotion."
        if not differences and record.integrity.get("after")
        else "\n".join(f"- {md(d)}" for d in differences) or "Not checked.",
    ]
    elsewhere = record.integrity.get("writes_elsewhere") or []
    if elsewhere:
        lines += [
            "",
            f"{len(elsewhere)} write(s) through the writer name were acknowledged by a server other than "
            f"the promoted one after promotion (the old primary was not fenced, or the name had not moved): "
            f"an application would have lost them. First at {elsewhere[0]['acked_at']}, last at "
            f"{elsewhere[-1]['acked_at']}.",
        ]
    lines += ["", "## Preflight", ""]
    for check in record.preflight.get("checks", []):
        lines.append(f"- {'ok' if check['ok'] else 'FAILED'}: {md(check['name'])} — {md(check['detail'])}")
    if record.forced:
        lines.append(f"- overridden by {md(record.forced['by'])}: {md(record.forced['reason'])}")
    gate = record.gate or {}
    if gate:
        lines += [
            "",
            f"Policy gate on `{gate.get('stack')}` rendered as {gate.get('renderedAs')}: "
            f"{len(gate.get('blocking', []))} blocking, {len(gate.get('advisory', []))} advisory.",
        ]
        lines += [f"- {md(item)}" for item in gate.get("advisory", []) + gate.get("blocking", [])]
    summary = record.update_summary
    lines += [
        "",
        "## Update",
        "",
        f"`{summary.get('operation')}`: {summary.get('result')}, changes {summary.get('resource_changes')}",
    ]
    lines += ["", "## Provenance", "", f"- git commit `{record.git_commit}`"]
    lines += [f"- {name} {version}" for name, version in sorted(record.versions.items())]
    if record.notes:
        lines += ["", "## Notes", ""] + [f"- {md(note)}" for note in record.notes]
    return "\n".join(lines) + "\n"


def finish(record: DrillRecord, folder: Path) -> None:
    record.verdict = judge(record)
    record.stamp("finished_at")
    (folder / "report.md").write_text(markdown(record))
    record.save(folder)
    write_index(folder.parent)


def write_index(drills_dir: Path) -> Path:
    """drills/index.md: one line per drill, newest first."""
    rows = []
    for path in sorted(drills_dir.glob("*/record.json"), reverse=True):
        data = json.loads(path.read_text())
        rows.append(
            f"| [{data['drill_id']}]({path.parent.name}/report.md) | {data['scenario']} | {data['database']} | "
            f"{data.get('verdict') or 'in progress'} | {_seconds(data['rto']['measured_seconds'])} | "
            f"{_seconds(data['rpo']['measured_seconds'])} | {len(data['lost_heartbeats'])} |"
        )
    index = drills_dir / "index.md"
    index.write_text(
        "# DR drills\n\n| drill | scenario | database | verdict | RTO | RPO | lost heartbeats |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    return index
