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
    """A failover drill passes only if RTO and RPO met their targets, every baseline table survived
    unchanged and no write through the writer name was acknowledged by a server other than the
    promoted one; a restore check only if every row and checksum matched within the RTO and project
    isolation held on the restored server."""
    if record.restore is not None:
        restore = record.restore
        record.rto.met = bool(restore["met"])
        held = (
            restore["checksums_match"]
            and restore["rows_before_target_found"] == restore["rows_before_target"]
            and restore["rows_after_target_found"] == 0
            and not restore.get("isolation_problems")
        )
        # A geo-restore's data loss, against what Microsoft states for it.
        if record.rpo.target_seconds is not None and record.rpo.measured_seconds is not None:
            record.rpo.met = record.rpo.measured_seconds <= record.rpo.target_seconds
        # A disposable server left behind fails the check: it costs money and nobody watches it.
        removed = not record.update_summary.get("left_behind")
        return "pass" if record.rto.met and held and record.rpo.met is not False and removed else "fail"
    for measurement in (record.rto, record.rpo):
        if measurement.target_seconds is not None and measurement.measured_seconds is not None:
            measurement.met = measurement.measured_seconds <= measurement.target_seconds
    intact = not record.integrity.get("differences") and not record.integrity.get("writes_elsewhere")
    return "pass" if record.rto.met and record.rpo.met and intact else "fail"


def restore_markdown(record: DrillRecord) -> list[str]:
    """The restore check's section: the point, rows on each side of it, checksums, time."""
    r = record.restore or {}
    lines = [
        "## Restore check",
        "",
        f"Restored `{r.get('kind')}` to {r.get('target_time')}, from {md(record.primary.get('endpoint', ''))} "
        f"into {md(record.standby.get('endpoint', ''))}.",
        "",
        "| check | expected | found | ok |",
        "|---|---|---|---|",
        f"| rows committed at or before the point | {r.get('rows_before_target')} | "
        f"{r.get('rows_before_target_found')} | {r.get('rows_before_target') == r.get('rows_before_target_found')} |",
        f"| rows committed after the point | 0 of {r.get('rows_after_target')} | "
        f"{r.get('rows_after_target_found')} | {r.get('rows_after_target_found') == 0} |",
        f"| table checksums equal the source's at the point | all | "
        f"{'all' if r.get('checksums_match') else 'not all'} | {r.get('checksums_match')} |",
        f"| restored within the RTO | {_seconds(r.get('target_seconds'))} | {_seconds(r.get('measured_seconds'))} "
        f"| {r.get('met')} |",
    ]
    for name, rows in (("missing", r.get("missing_rows")), ("unexpected", r.get("unexpected_rows"))):
        if rows:
            lines += ["", f"{name.capitalize()} rows: {rows}."]
    lines += [f"- {md(d)}" for d in r.get("checksum_differences") or []]
    return lines


def markdown(record: DrillRecord) -> str:
    if record.restore is not None:
        return _restore_report(record)
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


def _restore_report(record: DrillRecord) -> str:
    lines = [
        f"# Restore check {record.drill_id}",
        "",
        f"**Verdict: {(record.verdict or 'in progress').upper()}** — `{record.scenario}`, database "
        f"`{record.database}`, stack `{record.primary.get('stack')}` ({record.primary.get('region')}), "
        f"control plane `{record.control_plane}`",
        "",
        *restore_markdown(record),
        "",
        "## Timeline (UTC)",
        "",
        "| event | time |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in sorted(record.timestamps.items(), key=lambda kv: kv[1])],
        "",
        "## Provenance",
        "",
        f"- git commit `{record.git_commit}`",
        *[f"- {name} {version}" for name, version in sorted(record.versions.items())],
    ]
    if record.notes:
        lines += ["", "## Notes", ""] + [f"- {md(note)}" for note in record.notes]
    return "\n".join(lines) + "\n"


def finish(record: DrillRecord, folder: Path) -> None:
    record.verdict = judge(record)
    record.stamp("finished_at")
    folder.mkdir(parents=True, exist_ok=True)
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
