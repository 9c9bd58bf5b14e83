"""`python -m drill`: rehearse regional failover, measure RTO/RPO, keep the evidence.

  plan                      what the drill will do, preflight results, targets and exact steps
  promote --stack S         promote a stack's replicas (Microsoft's PATCH), then reconcile it with Pulumi
  setup --stack S           the SQL each server needs after `pulumi up` (heartbeat, owners); --apply runs it
  run --scenario S          promote the standby stack as `promote` does, and measure
  resume DRILL_ID           continue an interrupted drill from its saved state
  report RECORD.json        a drill record as Markdown
  failback plan             the steps back after a failover, with the config each step needs
  rehearse                  the whole drill on two local PostgreSQL servers, then print the report
  restore --kind K          restore a database (pitr, geo or vault) into a disposable Azure server,
                            check it against its source, remove it

Database credentials come from the environment (CONTINUITY_DRILL_PASSWORD or PGPASSWORD) or from
Key Vault (--password-secret, read with the Azure CLI); they are never printed or recorded.
"""
# (the exit codes are shared by every tool of the project: cli/exits.py)

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from cli.exits import EXIT_CODES_HELP, Exit, UsageError, UsageParser, dispatch, run
from cli.stack_outputs import stack_outputs
from cli.stack_settings import stack_settings
from components.settings import Database, Settings

from .azure_restore import LEDGER_FILE, AzureRestorer, Ledger, Placement
from .control import ControlPlaneError, PulumiControlPlane
from .failback import failback_plan, render
from .preflight import Check, Preflight, gate_on_promoted, replica_checks
from .probes import address
from .promotion import PromotionError, servers_of
from .record import DRILL_ID, DrillRecord
from .report import markdown
from .restore_run import RestoreCheckRun, RestoreSetup
from .runner import DataPlane, DrillOptions, DrillRunner, PreflightFailed
from .vault_restore import VaultRestorer, VaultSource

PROJECT_DIR = Path(__file__).resolve().parent.parent
DRILLS_DIR = PROJECT_DIR / "drills"
OPTIONS = {"planned": "Planned", "forced": "Forced"}


def database(settings: Settings, key: str, stack: str) -> Database:
    """The stack's database `key`, or a usage error listing the ones it has."""
    if key not in settings.databases:
        raise UsageError(
            f"--database {key}: stack {stack} has no such database (it has: "
            f"{', '.join(sorted(settings.databases))})"
        )
    return settings.databases[key]


def drill_folder(drill_id: str) -> Path:
    """The folder of a drill id, which must name a drill under drills/ (no paths)."""
    if not DRILL_ID.match(drill_id):
        raise UsageError(
            f"{drill_id!r} is not a drill id (like 20261127T101500Z-planned-knowledge); "
            f"see {DRILLS_DIR.relative_to(PROJECT_DIR)}/index.md"
        )
    folder = DRILLS_DIR / drill_id
    if not (folder / "record.json").is_file():
        raise UsageError(f"no drill {drill_id} under {DRILLS_DIR.relative_to(PROJECT_DIR)}/")
    return folder


def require_pulumi_cli() -> None:
    if shutil.which("pulumi") is None:
        raise UsageError(
            "the Pulumi CLI is not installed (https://www.pulumi.com/docs/install/); a drill against "
            "Azure needs it and a login. `python -m drill rehearse` runs locally without it"
        )


def versions() -> dict[str, str]:
    found = {
        name: metadata.version(name) for name in ("pulumi", "pulumi-azure-native", "pulumi-policy", "psycopg")
    }
    try:
        cli = subprocess.run(["pulumi", "version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        cli = ""
    found["pulumi-cli"] = cli or "not installed"
    return found


def git_commit() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def password(args: argparse.Namespace) -> str | None:
    if getattr(args, "password_secret", None):
        if shutil.which("az") is None:
            raise UsageError(
                "--password-secret needs the Azure CLI (az) and a login; or set CONTINUITY_DRILL_PASSWORD"
            )
        run = subprocess.run(
            [
                "az",
                "keyvault",
                "secret",
                "show",
                "--id",
                args.password_secret,
                "--query",
                "value",
                "-o",
                "tsv",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if run.returncode != 0:
            raise UsageError(
                f"--password-secret: could not read {args.password_secret} from Key Vault "
                f"(az exit {run.returncode})"
            )
        return run.stdout.strip()
    return os.environ.get("CONTINUITY_DRILL_PASSWORD") or os.environ.get("PGPASSWORD")


def new_record(
    scenario: str,
    database: str,
    primary: Settings,
    standby: Settings,
    primary_stack: str,
    standby_stack: str,
    control_plane: str,
    suffix: str = "",
) -> DrillRecord:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = standby.databases[database]  # checked by the caller
    record = DrillRecord(
        drill_id=f"{stamp}-{scenario}-{database}{suffix}",
        scenario=scenario,
        database=database,
        primary={"stack": primary_stack, "region": primary.region},
        standby={"stack": standby_stack, "region": standby.region},
        git_commit=git_commit(),
        versions=versions(),
        control_plane=control_plane,
    )
    record.rto.target_seconds = float(target.rto.seconds)
    record.rpo.target_seconds = float(target.rpo.seconds)
    return record


def steps_text(scenario: str, primary_stack: str, standby_stack: str) -> str:
    option = OPTIONS[scenario]
    return "\n".join(
        [
            "  1. preflight: policy gate on the standby rendered as primary; replica connected, lag below the RPO; "
            "the writer name reaches the primary",
            "  2. baseline: heartbeats (sequence, commit time, client acknowledgement) on the primary; table checksums",
            "  3. fault: "
            + (
                "switchover starts: writes quiesced, old primary fenced (--fence-command)"
                if scenario == "planned"
                else "primary fenced (--fence-command); detection = first failed heartbeat"
            ),
            f"  4. promote: python -m drill promote --stack {standby_stack} --option {option} "
            "(PATCH Servers_Update per replica, pulumi refresh, role primary, a preview that must replace and delete "
            f"nothing that holds data, pulumi up -s {standby_stack} with the policy pack)",
            "  5. verify: first write through the writer name acknowledged by the promoted server (RTO, name resolution "
            "included; writes the old primary took instead are reported), heartbeats present (RPO, lost), checksums",
            "  6. report: drills/<id>/record.json and report.md, drills/index.md",
        ]
    )


def cmd_plan(args: argparse.Namespace) -> int:
    primary, standby = stack_settings(args.primary_stack), stack_settings(args.standby_stack)
    target = database(standby, args.database, args.standby_stack)
    print(
        f"Drill plan: {args.scenario} failover of {args.database} from {args.primary_stack} ({primary.region}) "
        f"to {args.standby_stack} ({standby.region})"
    )
    print(f"Targets: RTO {target.rto}, RPO {target.rpo}")
    print("Steps:\n" + steps_text(args.scenario, args.primary_stack, args.standby_stack))
    result = run_preflight(args, standby)
    print("Preflight:")
    for check in result.checks:
        print(f"  {'ok    ' if check.ok else 'FAILED'} {check.name}: {check.detail}")
    return Exit.OK if result.ok else Exit.FAILED


# The drill's connection strings, by environment variable; none of them may carry a password.
DSN_VARIABLES = {
    "primary": "CONTINUITY_DRILL_PRIMARY_DSN",
    "standby": "CONTINUITY_DRILL_STANDBY_DSN",
    "writer": "CONTINUITY_DRILL_WRITER_DSN",
}


def missing_dsns() -> list[str]:
    return [variable for variable in DSN_VARIABLES.values() if not os.environ.get(variable)]


def data_plane(args: argparse.Namespace) -> DataPlane:
    """The DSNs from the environment; a drill that changes something needs all three."""
    missing = missing_dsns()
    if missing:
        raise UsageError(
            f"set {', '.join(missing)} (DSNs without a password; the writer DSN names the writer "
            "name, e.g. host=knowledge.writer.continuity.internal)"
        )
    primary, standby, writer = (os.environ[DSN_VARIABLES[k]] for k in ("primary", "standby", "writer"))
    return DataPlane(primary, standby, writer, password(args), args.table or [])


def run_preflight(args: argparse.Namespace, standby: Settings) -> Preflight:
    result = Preflight()
    check, result.gate = gate_on_promoted(PROJECT_DIR, args.primary_stack, args.standby_stack)
    result.checks.append(check)
    missing = missing_dsns()
    if not missing:
        checks, result.lag = replica_checks(
            os.environ[DSN_VARIABLES["primary"]],
            os.environ[DSN_VARIABLES["standby"]],
            password(args),
            standby.databases[args.database].rpo.seconds,
            os.environ[DSN_VARIABLES["writer"]],
        )
        result.checks += checks
    else:
        result.checks.append(
            Check(
                "replica state, lag and writer name", False, f"set {', '.join(missing)} (no password in them)"
            )
        )
    return result


def cmd_run(args: argparse.Namespace) -> int:
    if args.force and not (args.reason and len(args.reason.strip()) >= 10):
        raise UsageError("--force needs --reason with at least 10 characters; it is recorded")
    primary, standby = stack_settings(args.primary_stack), stack_settings(args.standby_stack)
    database(standby, args.database, args.standby_stack)
    if not args.dry_run:
        # Before anything is created, so a missing CLI or DSN leaves no empty drill folder.
        require_pulumi_cli()
        data = data_plane(args)
    record = new_record(
        args.scenario, args.database, primary, standby, args.primary_stack, args.standby_stack, "pulumi"
    )
    if not args.fence_command:
        warning = (
            f"{args.scenario} scenario without --fence-command: the drill does not block writes to the old "
            "primary, so two servers may accept writes after the promotion (writes through the writer name "
            "that reach the old one are reported and fail the drill)"
        )
        print(f"drill: warning: {warning}", file=sys.stderr)
        record.notes.append(f"warning: {warning}")
    if args.force:
        record.forced = {"reason": args.reason, "by": os.environ.get("USER", "unknown")}
    folder = DRILLS_DIR / record.drill_id

    def preflight() -> Preflight:
        return run_preflight(args, standby)

    if args.dry_run:
        result = preflight()
        record.preflight, record.gate = result.to_json(), result.gate
        record.notes.append("dry run: stopped before changing anything")
        record.verdict = "aborted"
        print(f"dry run: preflight {'passed' if result.ok else 'FAILED'}; record {record.save(folder)}")
        return Exit.OK if result.ok else Exit.FAILED
    record.standby["writer"] = address(data.writer_dsn)
    folder.mkdir(parents=True, exist_ok=True)
    control = PulumiControlPlane(
        args.standby_stack, fence_command=args.fence_command, log=engine_log(folder / "pulumi.log")
    )
    return execute(
        DrillRunner(record, folder, data, control, DrillOptions(OPTIONS[args.scenario]), preflight)
    )


def engine_log(path: Path) -> Callable[[str], None]:
    """Append the engine's output to the drill folder (secrets are masked by `up` itself)."""

    def write(line: str) -> None:
        with path.open("a") as handle:
            handle.write(line.rstrip("\n") + "\n")

    return write


def execute(runner: DrillRunner, stop_after: str | None = None) -> int:
    try:
        record = runner.run(stop_after=stop_after)
    except PreflightFailed as error:
        print(f"drill: {error}", file=sys.stderr)
        return Exit.FAILED
    if record.next_step() is not None:
        print(
            f"drill {record.drill_id} stopped after {record.completed_steps[-1]}; "
            f"continue with: python -m drill resume {record.drill_id}"
        )
        return Exit.RESUMABLE
    print(markdown(record))
    return Exit.OK if record.verdict == "pass" else Exit.FAILED


def cmd_promote(args: argparse.Namespace) -> int:
    """The failover's control-plane step on its own: what `drill run` does at its promote step."""
    stack_settings(args.stack)
    require_pulumi_cli()
    control = PulumiControlPlane(args.stack, log=print)
    try:
        summary = control.promote(OPTIONS[args.option])
    except (PromotionError, ControlPlaneError) as error:
        print(f"drill: {error}", file=sys.stderr)
        return Exit.FAILED
    for promotion in summary["promotions"]:
        state = "already promoted" if promotion["skipped"] else "promoted"
        print(f"{promotion['server']}: {state} ({promotion['option']})")
    for move in summary["writer_names"]:
        print(f"{move['name']}: {'now points at' if move['moved'] else 'already pointed at'} {move['to']}")
    print(f"pulumi up: {summary['result']} {summary['resource_changes']}")
    return Exit.OK if summary["result"] == "succeeded" else Exit.FAILED


def cmd_setup(args: argparse.Namespace) -> int:
    from .setup_sql import SetupError, apply, setup_scripts

    settings = stack_settings(args.stack)
    keys = [args.database] if args.database else list(settings.databases)
    for key in keys:
        database(settings, key, args.stack)
    for key in keys:
        scripts = setup_scripts(settings.databases[key])
        if not args.apply:
            for script in scripts:
                print(f"-- server {key}, database {script.database}\n{script.sql}\n")
            continue
        dsn = os.environ.get(DSN_VARIABLES["writer"])
        if not dsn:
            raise UsageError(f"--apply needs {DSN_VARIABLES['writer']} (the writer name, without a password)")
        try:
            problems = apply(dsn, password(args), scripts)
        except SetupError as error:
            print(f"drill: {error}", file=sys.stderr)
            return Exit.FAILED
        for problem in problems:
            print(f"{key}: {problem}")
        if problems:
            return Exit.FAILED
        print(f"{key}: set up ({', '.join(s.database for s in scripts)})")
    return Exit.OK


def cmd_resume(args: argparse.Namespace) -> int:
    folder = drill_folder(args.drill_id)
    record = DrillRecord.load(folder)
    if record.control_plane != "pulumi":
        raise UsageError("only Pulumi drills resume from the CLI; a local rehearsal is simply run again")
    require_pulumi_cli()
    standby = stack_settings(record.standby["stack"])
    args.primary_stack, args.standby_stack, args.database = (
        record.primary["stack"],
        record.standby["stack"],
        record.database,
    )
    data = data_plane(args)
    control = PulumiControlPlane(
        record.standby["stack"], fence_command=args.fence_command, log=engine_log(folder / "pulumi.log")
    )
    runner = DrillRunner(
        record,
        folder,
        data,
        control,
        DrillOptions(OPTIONS[record.scenario]),
        lambda: run_preflight(args, standby),
    )
    return execute(runner)


def cmd_report(args: argparse.Namespace) -> int:
    print(markdown(DrillRecord.load_file(Path(args.record))))
    return Exit.OK


def cmd_failback(args: argparse.Namespace) -> int:
    if args.failed == args.survivor:
        raise UsageError(
            f"--failed and --survivor are both {args.failed!r}: the plan goes from the lost stack to "
            "the promoted one"
        )
    print(
        render(
            failback_plan(
                args.failed, stack_settings(args.failed), args.survivor, stack_settings(args.survivor)
            )
        )
    )
    return Exit.OK


def cmd_rehearse(args: argparse.Namespace) -> int:
    from .rehearsal import rehearse, rehearse_pitr

    # Rehearsals are practice, not evidence: they are kept out of drills/ (and out of git).
    rehearsals = PROJECT_DIR / "build" / "rehearsals"
    if args.scenario == "pitr":
        record, folder = rehearse_pitr(rehearsals, database=args.database, after_target=args.after_target)
        print(f"record: {folder / 'record.json'}", file=sys.stderr)
        print(markdown(record))
        return Exit.OK if record.verdict == "pass" else Exit.FAILED
    record, folder = rehearse(args.scenario, rehearsals, held_back=args.held_back)
    print(f"record: {folder / 'record.json'}", file=sys.stderr)
    print(markdown(record))
    return Exit.OK if record.verdict == "pass" or args.scenario == "forced" else Exit.FAILED


def writer_stack() -> str:
    """The stack whose config makes it the primary: the one holding the writer."""
    primaries = [
        path.stem.split(".", 1)[1]
        for path in sorted(PROJECT_DIR.glob("Pulumi.*.yaml"))
        if stack_settings(path.stem.split(".", 1)[1]).role.value == "primary"
    ]
    if len(primaries) != 1:
        raise UsageError(
            f"--stack: {len(primaries)} stacks have role primary ({', '.join(primaries) or 'none'}); name the one "
            "to restore from"
        )
    return primaries[0]


def _utc_time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() != dt.timedelta(0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time in UTC, e.g. 2026-11-28T10:15:00Z"
        )
    return moment


def placement_of(outputs: dict[str, Any], subscription_id: str) -> Placement:
    try:
        return Placement(
            subscription_id,
            str(outputs["resourceGroupName"]),
            str(outputs["region"]),
            str(outputs["network"]["virtualNetworkId"]),
        )
    except (KeyError, TypeError) as error:
        raise UsageError(f"the stack outputs lack {error}: has the stack been deployed?") from None


def vault_source(outputs: dict[str, Any], target: Database) -> VaultSource:
    try:
        return VaultSource(
            str(outputs["backupVaultId"]), str(outputs["restoreContainerUrl"]), tuple(target.databases)
        )
    except KeyError as error:
        raise UsageError(
            f"the stack outputs lack {error}: has the stack been deployed with this version?"
        ) from None


def sweep_leftovers(restorer: AzureRestorer, placement: Placement) -> list[str]:
    """Delete what interrupted restore checks left in Azure, from this machine's ledgers and, by
    their tag, from the resource group the next one goes to; returns what is still there."""
    left = []
    found = restorer.leftovers(placement, Ledger(PROJECT_DIR / "build" / "restore-leftovers.json"))
    for ledger in [*(Ledger(p) for p in sorted(DRILLS_DIR.glob(f"*/{LEDGER_FILE}"))), found]:
        if ledger.pending():
            print(f"removing what an interrupted restore check left ({ledger.path.name})", file=sys.stderr)
            left += restorer.remove(ledger)
    return left


def cmd_restore(args: argparse.Namespace) -> int:
    if args.kind == "geo" and args.to is not None:
        raise UsageError(
            "--to: a geo-restore always restores the newest geo-copy Azure holds; leave --to out"
        )
    stack = args.stack or writer_stack()
    settings = stack_settings(stack)
    target = database(settings, args.database, stack)
    require_pulumi_cli()
    source_dsn = os.environ.get(DSN_VARIABLES["writer"])
    if not source_dsn:
        raise UsageError(f"set {DSN_VARIABLES['writer']} (the writer name of --database, without a password)")
    outputs = stack_outputs(stack)
    try:
        (source,) = [s for s in servers_of(outputs) if s.key == args.database]
    except (PromotionError, ValueError):
        raise UsageError(f"stack {stack} exports no server {args.database}: has it been deployed?") from None
    peer_stack = settings.peer.stack.rsplit("/", 1)[-1]
    there = outputs if args.kind != "geo" else stack_outputs(peer_stack)
    placement = placement_of(there, source.subscription_id)
    restorer = VaultRestorer(vault_source(outputs, target) if args.kind == "vault" else None, dsn=source_dsn)
    left = sweep_leftovers(restorer, placement)
    if left:
        print("drill: earlier restore checks left servers that could not be deleted:", file=sys.stderr)
        for line in left:
            print(f"  {line}", file=sys.stderr)
        return Exit.FAILED
    record = new_record(
        args.kind,
        args.database,
        settings,
        settings if args.kind != "geo" else stack_settings(peer_stack),
        stack,
        stack if args.kind != "geo" else peer_stack,
        "azure",
    )
    record.primary["endpoint"] = f"{source.name} (through {address(source_dsn)})"
    setup = RestoreSetup(
        kind=args.kind,
        database=args.database,
        source=source,
        placement=placement,
        source_dsn=source_dsn,
        password=password(args),
        rto_seconds=float(target.rto.seconds),
        tables=args.table or [],
        to=args.to,
    )
    folder = DRILLS_DIR / record.drill_id
    RestoreCheckRun(record, folder, setup, restorer).run()
    print(f"record: {folder / 'record.json'}", file=sys.stderr)
    print(markdown(record))
    return Exit.OK if record.verdict == "pass" else Exit.FAILED


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 10000")
    return value


def parser() -> argparse.ArgumentParser:
    root = UsageParser(
        prog="python -m drill",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1] + "\n" + EXIT_CODES_HELP,
    )
    commands = root.add_subparsers(dest="command", required=True)

    def stacks(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--primary-stack", default="prod")
        sub.add_argument("--standby-stack", default="dr")
        sub.add_argument("--database", default="knowledge")
        sub.add_argument("--table", action="append", help="table to checksum before and after (repeatable)")
        sub.add_argument("--password-secret", help="Key Vault secret id of the database password")

    plan = commands.add_parser("plan", help="preflight and the exact steps")
    stacks(plan)
    plan.add_argument("--scenario", choices=OPTIONS, default="planned")
    plan.set_defaults(func=cmd_plan)

    promote = commands.add_parser("promote", help="promote a stack's replicas, then reconcile it with Pulumi")
    promote.add_argument("--stack", default="dr", help="the stack whose replicas become writable")
    promote.add_argument(
        "--option",
        choices=OPTIONS,
        default="planned",
        help="planned: wait for the replica to catch up; forced: now, when the primary is gone",
    )
    promote.set_defaults(func=cmd_promote)

    setup = commands.add_parser("setup", help="the SQL each server needs after `pulumi up`")
    setup.add_argument("--stack", default="prod")
    setup.add_argument("--database", help="one server's key (default: every server of the stack)")
    setup.add_argument(
        "--apply",
        action="store_true",
        help="run it through the writer name (CONTINUITY_DRILL_WRITER_DSN) and verify the result",
    )
    setup.add_argument("--password-secret", help="Key Vault secret id of the database password")
    setup.set_defaults(func=cmd_setup)

    run = commands.add_parser("run", help="run a drill through Pulumi")
    stacks(run)
    run.add_argument("--scenario", choices=OPTIONS, required=True)
    run.add_argument("--dry-run", action="store_true", help="preflight only; change nothing")
    run.add_argument("--force", action="store_true", help="start even if preflight fails (needs --reason)")
    run.add_argument("--reason", help="why preflight is overridden; recorded in the report")
    run.add_argument(
        "--fence-command",
        help="command that blocks writes to the old primary: run at the fault "
        "(forced) or at the quiesce before promotion (planned)",
    )
    run.set_defaults(func=cmd_run)

    resume = commands.add_parser("resume", help="continue an interrupted drill")
    resume.add_argument("drill_id")
    resume.add_argument("--table", action="append")
    resume.add_argument("--password-secret")
    resume.add_argument("--fence-command")
    resume.set_defaults(func=cmd_resume)

    report = commands.add_parser("report", help="a drill record as Markdown")
    report.add_argument("record")
    report.set_defaults(func=cmd_report)

    failback = commands.add_parser("failback", help="failback plan")
    failback.add_argument("action", choices=["plan"])
    failback.add_argument("--failed", default="prod", help="the stack whose region was lost")
    failback.add_argument("--survivor", default="dr", help="the promoted stack")
    failback.set_defaults(func=cmd_failback)

    rehearse = commands.add_parser(
        "rehearse", help="the drill (or, --scenario pitr, a point-in-time restore check) on local PostgreSQL"
    )
    rehearse.add_argument("--scenario", choices=[*OPTIONS, "pitr"], default="planned")
    rehearse.add_argument(
        "--after-target",
        type=_positive,
        default=7,
        help="pitr: rows written after the restore point, which the restored server must not have",
    )
    rehearse.add_argument(
        "--database", default="knowledge", help="pitr: the database whose RTO the restore is timed against"
    )
    rehearse.add_argument(
        "--held-back",
        type=_positive,
        default=7,
        help="forced: heartbeats written while the standby is held back",
    )
    rehearse.set_defaults(func=cmd_rehearse)

    restore = commands.add_parser(
        "restore",
        help="restore a database into a disposable Azure server, check it against its source, remove it",
    )
    restore.add_argument(
        "--kind",
        choices=["pitr", "geo", "vault"],
        required=True,
        help="pitr: point-in-time restore in the same region; geo: geo-restore into the paired region; "
        "vault: the newest long-term-retention backup, restored as files and loaded into a new server",
    )
    restore.add_argument("--database", default="knowledge")
    restore.add_argument("--stack", help="the stack to restore from (default: the one with role primary)")
    restore.add_argument(
        "--to",
        type=_utc_time,
        help="pitr: restore to this time (ISO 8601, UTC) instead of a point the check picks and brackets; "
        "vault: restore the newest recovery point at or before it",
    )
    restore.add_argument(
        "--table", action="append", help="a quiet table to checksum at the point (repeatable)"
    )
    restore.add_argument("--password-secret", help="Key Vault secret id of the database password")
    restore.set_defaults(func=cmd_restore)
    return root


def main(argv: Sequence[str]) -> int:
    return dispatch(parser(), argv)


if __name__ == "__main__":
    sys.exit(run("drill", main))
