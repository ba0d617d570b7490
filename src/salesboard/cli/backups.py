"""`salesboard backup|backups|restore|dr-drill|jobs`: backups, recovery and scheduled jobs.

All of them work while the server runs: the work is sent to the server, which owns the database.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from ..errors import ConfigError, SalesboardError
from .common import emit_json, json_option, out, run_op, settings


def register(cli: click.Group) -> None:
    for cmd in (backup, backups, restore, dr_drill, jobs):
        cli.add_command(cmd)


def _when(value) -> str:
    """'2026-11-28 22:43:55' from an ISO string or datetime (to the second; zone shown in the header)."""
    return str(value or "").replace("T", " ")[:19]


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


@click.group(invoke_without_command=True)
@click.option("--upload", is_flag=True, help="Also copy it to S3 (SALESBOARD_S3_BUCKET) and check the copy.")
@json_option
@click.pass_context
def backup(ctx: click.Context, upload: bool, as_json: bool) -> None:
    """Back up the database now: snapshot, verify in scratch, then write the manifest.

    \b
    Examples:
      salesboard backup
      salesboard backup --upload
      salesboard backup verify latest
    """
    if ctx.invoked_subcommand:
        return
    r = run_op("backup.create", {"upload": upload}, label="Backing up")
    if as_json:
        emit_json(r)
        return
    click.echo(f"{r['name']}: {_size(r['size'])}, verified (snapshot {r['snapshot_seconds']} s, "
               f"verify {r['verify_seconds']} s) -> {r['file']}")
    if r["uploaded"]:
        click.echo(f"uploaded and read back: {r['uploaded']['key']} ({r['uploaded']['seconds']} s)")


@backup.command("verify")
@click.argument("name")
@json_option
def backup_verify(name: str, as_json: bool) -> None:
    """Restore a backup into scratch and compare it with its manifest.

    NAME is a backup name, a file path, or `latest`.

    \b
    Example:
      salesboard backup verify dashboard_backup_20250101_030000
    """
    r = run_op("backup.verify", {"name": name}, label="Verifying")
    if as_json:
        emit_json(r)
    elif r["ok"]:
        click.echo(f"{r['name']}: good (checksum, row counts and fingerprints match; {r['seconds']} s)")
    if not r["ok"]:
        err = SalesboardError(f"{r['name']} is BAD: {'; '.join(r['errors'])}. Do not restore it; use an older backup")
        err.exit_code = 5
        raise err


@click.group()
def backups() -> None:
    """List and prune backups.

    \b
    Examples:
      salesboard backups list
      salesboard backups prune --dry-run
    """


@backups.command("list")
@click.option("--local-only", is_flag=True, help="Do not list S3.")
@json_option
def backups_list(local_only: bool, as_json: bool) -> None:
    """Local and S3 backups with their verification state.

    \b
    Example:
      salesboard backups list --json
    """
    r = run_op("backup.list", {"include_s3": not local_only})
    if as_json:
        emit_json(r["backups"])
        return
    if not r["backups"]:
        click.echo(f"No backups in {r['dir']}. Create one with `salesboard backup`.")
        return
    table = Table("created (UTC)", "size", "local", "s3", "last verified", title=r["dir"])
    table.add_column("name", no_wrap=True)  # last, whole: it is what restore and verify take
    for b in r["backups"]:
        table.add_row(_when(b["created_at"]), _size(b["size"]), b["local"] or "-", b["s3"] or "-",
                      _when(b["verified_at"]) + (f" ERROR {b['verify_error']}" if b["verify_error"] else ""), b["name"])
    out.print(table)


@backups.command("prune")
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@json_option
def backups_prune(dry_run: bool, as_json: bool) -> None:
    """Apply retention (SALESBOARD_BACKUP_RETENTION_DAYS, KEEP_*) locally and in S3.

    \b
    Example:
      salesboard backups prune --dry-run
    """
    r = run_op("backup.prune", {"dry_run": dry_run})
    if as_json:
        emit_json(r)
        return
    for where in ("local", "s3"):
        if r[where] is None:
            continue
        for name, reason in r[where]["delete"].items():
            click.echo(f"{where}: {'would delete' if dry_run else 'deleted'} {name} ({reason})")
        click.echo(f"{where}: keeping {len(r[where]['keep'])} backup(s)")


@click.command()
@click.argument("name", default="latest")
@click.option("--from", "source", type=click.Choice(["local", "s3"]), default="local", show_default=True,
              help="Where the backup is; s3 downloads and checks it first.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def restore(name: str, source: str, yes: bool, as_json: bool) -> None:
    """Replace the database with a verified backup (a safety copy of the current one is kept).

    NAME is a backup name, a file path, `latest`, or a safety copy that an earlier restore kept
    (backups/safety/pre_restore_*.duckdb: no manifest, so unverified; needs --yes). With a running
    server the server pauses writes, swaps the file and carries on; nobody has to stop anything.
    Everyone signs in again afterwards.

    \b
    Examples:
      salesboard restore latest
      salesboard restore dashboard_backup_20250101_030000 --yes
      salesboard restore latest --from s3 --yes
      salesboard restore data/backups/safety/pre_restore_20250101_031500.duckdb --yes
    """
    from ..backup.catalog import find_safety_copy
    from ..backup.restore import probe, resolve, restore_offline

    s = settings()
    safety = find_safety_copy(s, name) if source == "local" else None
    if safety:
        if not yes:
            raise SalesboardError(f"{name} is a safety copy: it has no manifest, so it cannot be verified (only "
                                  "checked to be readable); pass --yes to restore it anyway")
        click.echo(f"{safety.data_path} is a safety copy with no manifest: restoring it UNVERIFIED.", err=True)
    if Path(name).is_file() or safety:  # the server may run in another folder
        name = str((safety.data_path if safety else Path(name)).resolve())
    state = probe(s)
    if state == "unreadable":
        click.echo(f"{s.db} cannot be opened (damaged); restoring without it.", err=True)
        _confirm(yes, f"Replace {s.db} with backup {name} (from {source})?")
        r = restore_offline(s, resolve(s, name, source))
    else:
        if not safety:
            d = run_op("backup.describe", {"name": name, "source": source})
            _confirm(yes, f"Replace {d['database']} ({d['current_sales']:,} sales) with {d['name']} "
                          f"(taken {d['created_at']} UTC, {d['sales']:,} sales)? A safety copy is kept.")
        r = run_op("backup.restore", {"name": name, "source": source}, label="Restoring")
    if as_json:
        emit_json(r)
        return
    checked = f"verification {r['verify_seconds']} s" if r["verified"] else \
        f"UNVERIFIED: no manifest, read in full in {r['verify_seconds']} s"
    click.echo(f"Restored {r['restored']} (taken {r['backup_created_at']} UTC, {r['sales']:,} sales) in "
               f"{r['seconds']} s ({checked}).")
    click.echo(f"The previous database is kept at {r['safety_copy']}.")
    click.echo(f"Everyone signs in again ({r['sessions_ended']} session(s) ended); "
               f"{r['job_runs_interrupted']} job run(s) left running in the backup were marked interrupted.")


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise SalesboardError("restore replaces the database; pass --yes to confirm when not at a terminal")
    if not click.confirm(question, default=False):
        raise click.exceptions.Abort()


@click.command("dr-drill")
@click.option("--from", "source", type=click.Choice(["s3", "local"]), default="s3", show_default=True)
@json_option
def dr_drill(source: str, as_json: bool) -> None:
    """Restore the latest offsite backup into scratch, verify it and time the recovery.

    \b
    Example:
      salesboard dr-drill
    """
    r = run_op("backup.drill", {"source": source}, label="Drill")
    if as_json:
        emit_json(r)
    elif r["status"] == "success":
        verdict = "within" if r["within_objective"] else "OVER"
        click.echo(f"Drill OK: {r['backup']} from {source} restored and verified in {r['rto_seconds']} s "
                   f"({verdict} the objective of {r['objective_seconds']:.0f} s); {r['sales']:,} sales.")
    if r["status"] != "success":
        raise SalesboardError(f"drill FAILED: {r['error']}")


@click.group()
def jobs() -> None:
    """Scheduled jobs: list them, run one now, see their history.

    \b
    Examples:
      salesboard jobs list
      salesboard jobs run daily-backup
      salesboard jobs history --limit 20
    """


@jobs.command("list")
@json_option
def jobs_list(as_json: bool) -> None:
    """Jobs with their schedule, next and last run.

    \b
    Example:
      salesboard jobs list --json
    """
    from ..ops.scheduler import schedule

    s = settings()
    r = run_op("jobs.list", {})
    try:  # the same check `serve` makes before it starts the scheduler
        schedule(s)
        r["schedule_error"] = None
    except ConfigError as exc:
        r["schedule_error"] = str(exc)
    if as_json:
        emit_json(r)
    else:
        title = f"schedule in {r['timezone']}" + ("" if r["scheduler_running"] else " (no server running: no next runs)")
        table = Table("job", "cron", "next run", "last run", "status", "description", title=title)
        for j in r["jobs"]:
            last = j["last_run"] or {}
            table.add_row(j["name"], j["cron"], _when(j["next_run"]) or "-", _when(last.get("started_at")) or "-",
                          last.get("status") or "-", j["description"])
        out.print(table)
    if r["schedule_error"]:
        consequence = "`salesboard serve` refuses to start" if s.scheduler_enabled else "the scheduler could not start"
        raise ConfigError(f"{r['schedule_error']}; {consequence} until this is fixed")


@jobs.command("run")
@click.argument("name")
@json_option
def jobs_run(name: str, as_json: bool) -> None:
    """Run a job now (in the server when it runs) and record it.

    \b
    Example:
      salesboard jobs run health-check
    """
    r = run_op("jobs.run", {"name": name}, label=f"Running {name}")
    if as_json:
        emit_json(r)
    else:
        click.echo(f"{name}: {r['status']} after {r['attempts']} attempt(s)"
                   + (f": {r['error']}" if r["error"] else f": {r['output']}"))
    if r["status"] == "failed":
        raise SalesboardError(f"job {name} failed: {r['error']}")


@jobs.command("history")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(1, 10000), default=30, show_default=True)
@json_option
def jobs_history(name: str | None, limit: int, as_json: bool) -> None:
    """Recent job runs, newest first.

    \b
    Example:
      salesboard jobs history daily-backup
    """
    r = run_op("jobs.history", {"name": name, "limit": limit})
    if as_json:
        emit_json(r["runs"])
        return
    table = Table("id", "job", "trigger", "started (UTC)", "finished", "status", "tries", "error / output")
    for run in r["runs"]:
        table.add_row(str(run["id"]), run["job"], run["trigger"], _when(run["started_at"]),
                      _when(run["finished_at"]), run["status"], str(run["attempts"]),
                      run["error"] or str(run["output"] or "")[:80])
    out.print(table)
