"""`salesboard import`, `sync-sales`, `mappings`, `quarantine`, `fx`, `runs`: the data pipeline's commands.

Exit codes of an import (docs/imports.md): 0 every row loaded, 5 some rows
quarantined (the rest loaded), 6 the run failed and nothing was written.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..ingest import mapping as mappings
from ..ingest.pipeline import EXIT_FAILED, EXIT_OK, describe_replay, products_warning
from .common import emit_json, json_option, out, run_op


def register(cli: click.Group) -> None:
    for cmd in (import_, sync_sales, mappings_group, quarantine_group, fx_group, regions_group, runs_group):
        cli.add_command(cmd)


def _file_options(fn):
    for opt in reversed([
        click.option("--mapping", "-m", help="Built-in mapping name or a mapping .toml file (default: detected)."),
        click.option("--source", help="Source name stored with each row (default: the mapping's)."),
        click.option("--encoding", help="utf-8, utf-16, cp1252, latin-1 ... (default: detected)."),
        click.option("--delimiter", help="CSV delimiter, e.g. ';' or 'tab' (default: detected)."),
        click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json", "xlsx"]),
                     help="Force a format (default: detected from the content)."),
        click.option("--dry-run", is_flag=True, help="Validate and report; write nothing."),
        json_option,
    ]):
        fn = opt(fn)
    return fn


def _import_one(path: str, mapping, source, encoding, delimiter, fmt, dry_run) -> dict:
    params = {"path": str(Path(path).resolve()), "mapping": _mapping_param(mapping), "source": source,
              "encoding": encoding, "delimiter": delimiter, "format": fmt, "dry_run": dry_run}
    return run_op("ingest.import", params, label=f"Importing {Path(path).name}")


def _mapping_param(mapping: str | None) -> str | None:
    # A mapping file travels as an absolute path so a running server finds it too.
    if mapping and mapping not in mappings.builtin_names():
        return str(Path(mapping).resolve())
    return mapping


def _print_summary(s: dict) -> None:
    verb = "would load" if s["dry_run"] else "loaded"
    click.echo(f"{s['file']}: {s['status']} (run {s['run_id']}, mapping {s['mapping']}, {s['format']}"
               f"{', ' + s['encoding'] if s.get('encoding') else ''})")
    click.echo(f"  read {s['rows_read']:,}  {verb} {s['loaded']:,} (inserted {s['inserted']:,}, updated "
               f"{s['updated']:,}, unchanged {s['unchanged']:,})  quarantined {s['quarantined']:,}  "
               f"in {s['duration_s']:.2f}s")
    if warning := products_warning(s):
        click.echo(f"  warning: {warning}")
    if s["quarantined"] and not s["dry_run"]:
        click.echo(f"  see the reasons: salesboard quarantine list --run {s['run_id']}")


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_file_options
def import_(files, mapping, source, encoding, delimiter, fmt, dry_run, as_json) -> None:
    """Import sales files: CSV/TSV (also .gz/.zip), Excel .xlsx, Parquet, JSON/NDJSON.

    Each file is one run: every row is loaded or quarantined with its reasons.
    Exit code 0: all loaded; 5: some quarantined; 6: a run failed (it wrote nothing).

    \b
    Examples:
      salesboard import ../shared/data/real/superstore.csv --mapping superstore
      salesboard import sales-2024.xlsx orders.parquet --dry-run --json
    """
    results, code = [], EXIT_OK
    for f in files:
        try:
            s = _import_one(f, mapping, source, encoding, delimiter, fmt, dry_run)
        except Exception as exc:  # noqa: BLE001 - one failed file must not hide the others' results
            if len(files) == 1:
                raise
            code = max(code, getattr(exc, "exit_code", EXIT_FAILED))
            click.echo(f"Error: {f}: {exc}", err=True)
            results.append({"file": f, "status": "failed", "error": str(exc)})
            continue
        code = max(code, s["exit_code"])
        results.append(s)
        if not as_json:
            _print_summary(s)
    if as_json:
        emit_json(results[0] if len(results) == 1 else results)
    raise SystemExit(code)


@click.command("sync-sales")
@click.option("--csv", "csv_file", required=True, type=click.Path(dir_okay=False), help="The CSV file to load.")
@click.option("--mapping", "-m", help="Built-in mapping name or a mapping .toml file (default: detected).")
@click.option("--source", help="Source name stored with each row (default: the mapping's).")
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@json_option
def sync_sales(csv_file, mapping, source, dry_run, as_json) -> None:
    """Load a sales CSV (the original `data_sync.py sync-sales --csv` command).

    \b
    Example:
      salesboard sync-sales --csv ../shared/data/real/superstore.csv --mapping superstore --json
    """
    s = _import_one(csv_file, mapping, source, None, None, "csv", dry_run)
    emit_json(s) if as_json else _print_summary(s)
    raise SystemExit(s["exit_code"])


# -- mappings ------------------------------------------------------------------
@click.group("mappings")
def mappings_group() -> None:
    """List, show and try mappings (how a file's columns become sales fields).

    \b
    Examples:
      salesboard mappings list
      salesboard mappings show superstore > my-mapping.toml
      salesboard mappings check orders.csv --mapping my-mapping.toml
    """


@mappings_group.command("list")
@json_option
def mappings_list(as_json) -> None:
    """List the built-in mappings.

    \b
    Example:
      salesboard mappings list
    """
    items = [{"name": n, "description": mappings.load(n).description} for n in mappings.builtin_names()]
    if as_json:
        emit_json(items)
        return
    for item in items:
        click.echo(f"{item['name']:<12} {item['description']}")


@mappings_group.command("show")
@click.argument("name")
def mappings_show(name) -> None:
    """Print a mapping as TOML (a starting point for your own).

    \b
    Example:
      salesboard mappings show superstore > my-mapping.toml
    """
    if name in mappings.builtin_names():
        click.echo(mappings.builtin_text(name), nl=False)
    else:
        mappings.load(name)  # raises a one-line error when missing or invalid
        click.echo(Path(name).read_text(encoding="utf-8"), nl=False)


@mappings_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--mapping", "-m", help="Mapping name or .toml file (default: detected).")
@click.option("--encoding")
@click.option("--delimiter")
@click.option("--limit", default=10, show_default=True, help="Rows to preview.")
@json_option
def mappings_check(file, mapping, encoding, delimiter, limit, as_json) -> None:
    """Preview the first rows of FILE mapped, with every error marked; writes nothing.

    \b
    Example:
      salesboard mappings check ../shared/data/real/superstore.csv --limit 5
    """
    r = run_op("ingest.mappings.check", {"path": str(Path(file).resolve()), "mapping": _mapping_param(mapping),
                                         "encoding": encoding, "delimiter": delimiter, "limit": limit})
    if as_json:
        emit_json(r)
        return
    click.echo(f"mapping {r['mapping']}; {r['rows_in_file']:,} rows in the file; "
               f"{r['errors']} of the first {len(r['rows'])} have errors")
    table = Table("key", "sold_at", "sku", "qty", "unit_price", "net", "currency", "errors")
    for row in r["rows"]:
        errors = "; ".join(row["reasons"])
        table.add_row(str(row["source_key"]), str(row["sold_at"]), str(row["sku"] or ""), str(row["quantity"]),
                      str(row["unit_price"]), str(row["net_amount"]), str(row["currency"]),
                      f"[red]{errors}[/red]" if errors else "[green]ok[/green]")
    out.print(table)
    raise SystemExit(5 if r["errors"] else 0)


# -- quarantine ----------------------------------------------------------------
@click.group("quarantine")
def quarantine_group() -> None:
    """Rows a run could not load: list, show, replay (after a fix) or discard.

    \b
    Examples:
      salesboard quarantine list --run import-20240101120000-abc123
      salesboard quarantine replay --run import-20240101120000-abc123 --mapping fixed.toml
      salesboard quarantine discard 17 18
    """


@quarantine_group.command("list")
@click.option("--run", "run_id", help="Only rows of this run.")
@click.option("--status", default="open", show_default=True,
              type=click.Choice(["open", "replayed", "discarded", "all"]))
@click.option("--limit", default=50, show_default=True)
@json_option
def quarantine_list(run_id, status, limit, as_json) -> None:
    """List quarantined rows with their reasons.

    \b
    Example:
      salesboard quarantine list --status all --limit 20
    """
    r = run_op("ingest.quarantine.list", {"run_id": run_id, "status": status, "limit": limit})
    if as_json:
        emit_json(r)
        return
    table = Table("id", "run", "row", "key", "status", "reasons")
    for row in r["rows"]:
        table.add_row(str(row["id"]), row["run_id"], str(row["row_number"] or ""), str(row["source_key"] or ""),
                      row["status"], "; ".join(row["reasons"]))
    out.print(table)
    click.echo(f"{len(r['rows'])} of {r['total']} shown")


@quarantine_group.command("show")
@click.argument("qid", type=int)
def quarantine_show(qid) -> None:
    """Show one quarantined row: its reasons and the source row as it was (JSON).

    \b
    Example:
      salesboard quarantine show 17
    """
    emit_json(run_op("ingest.quarantine.show", {"id": qid}))


@quarantine_group.command("export")
@click.option("--run", "run_id", required=True, help="The run whose open rows to export.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write here (default: stdout).")
def quarantine_export(run_id, output) -> None:
    """Every open row of a run as CSV: the source columns as they were, then _quarantine_id and _reasons.

    \b
    Example:
      salesboard quarantine export --run import-20240101120000-abc123 -o fix-me.csv
    """
    r = run_op("ingest.quarantine.export", {"run_id": run_id})
    if not r["rows"]:
        raise click.ClickException(f"no open quarantined rows in run {run_id}; see `salesboard quarantine list`")
    if output:
        Path(output).write_text(r["csv"], encoding="utf-8")
        click.echo(f"{r['rows']:,} row(s) written to {output}", err=True)
    else:
        click.echo(r["csv"], nl=False)


def _selection(ids, run_id, every) -> dict:
    if not (ids or run_id or every):
        raise click.UsageError("say which rows: IDS, --run RUN_ID or --all")
    return {"ids": list(ids) or None, "run_id": run_id, "all": every}


@quarantine_group.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--run", "run_id", help="Replay the open rows of this run.")
@click.option("--all", "every", is_flag=True, help="Replay every open row.")
@click.option("--mapping", "-m", help="Use this mapping instead of the one the rows came with.")
@json_option
def quarantine_replay(ids, run_id, every, mapping, as_json) -> None:
    """Run quarantined rows again through the current mapping and rules.

    \b
    Example:
      salesboard quarantine replay --run import-20240101120000-abc123 --mapping fixed.toml
    """
    params = {**_selection(ids, run_id, every), "mapping": _mapping_param(mapping)}
    r = run_op("ingest.quarantine.replay", params, label="Replaying")
    if as_json:
        emit_json(r)
    else:
        click.echo(describe_replay(r))
    raise SystemExit(r["exit_code"])


@quarantine_group.command("discard")
@click.argument("ids", nargs=-1, type=int)
@click.option("--run", "run_id", help="Discard the open rows of this run.")
@click.option("--all", "every", is_flag=True, help="Discard every open row.")
@json_option
def quarantine_discard(ids, run_id, every, as_json) -> None:
    """Mark quarantined rows as discarded (kept for the record, never loaded).

    \b
    Example:
      salesboard quarantine discard 17 18
    """
    r = run_op("ingest.quarantine.discard", _selection(ids, run_id, every))
    emit_json(r) if as_json else click.echo(f"discarded {r['discarded']} row(s)")


# -- fx and runs -----------------------------------------------------------------
@click.group("fx")
def fx_group() -> None:
    """Exchange rates used to convert sales to the base currency (SALESBOARD_BASE_CURRENCY).

    \b
    Example:
      salesboard fx import rates.csv      # columns: date,currency,rate[,base]
    """


@fx_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--base", help="Base currency of the rates (default: SALESBOARD_BASE_CURRENCY).")
@json_option
def fx_import(file, base, as_json) -> None:
    """Import rates: one row per day and currency; rate = base units per 1 currency unit.

    \b
    Example:
      printf 'date,currency,rate\\n2024-01-02,EUR,1.0956\\n' > rates.csv && salesboard fx import rates.csv
    """
    r = run_op("ingest.fx.import", {"path": str(Path(file).resolve()), "base": base})
    emit_json(r) if as_json else click.echo(f"{r['rows']} rate(s): {r['inserted']} new, {r['updated']} changed")


@click.group("regions")
def regions_group() -> None:
    """Rules that give a region to imported rows that name a country (and state) but no region.

    \b
    Example:
      salesboard regions import regions.csv     # columns: country,region[,state]
    """


@regions_group.command("list")
@json_option
def regions_list(as_json) -> None:
    """Show the rules (state empty = the whole country).

    \b
    Example:
      salesboard regions list --json
    """
    r = run_op("ingest.regions.list", {})
    if as_json:
        emit_json(r["rules"])
        return
    table = Table("country", "state", "region")
    for rule in r["rules"]:
        table.add_row(rule["country"], rule["state"] or "(any)", rule["region"])
    out.print(table)


@regions_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
def regions_import(file, as_json) -> None:
    """Add or change rules; a later row for the same country and state wins. Loaded sales keep their region.

    \b
    Example:
      printf 'country,state,region\\nUnited States,California,West\\n' > regions.csv && salesboard regions import regions.csv
    """
    r = run_op("ingest.regions.import", {"path": str(Path(file).resolve())})
    emit_json(r) if as_json else click.echo(f"{r['rows']} rule(s): {r['inserted']} new, {r['updated']} changed")


@click.group("runs")
def runs_group() -> None:
    """The import run ledger (sync_runs).

    \b
    Example:
      salesboard runs list --limit 10
    """


@runs_group.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--source", help="Only runs of this source.")
@json_option
def runs_list(limit, source, as_json) -> None:
    """List recent runs with their counts and status.

    \b
    Example:
      salesboard runs list --source superstore --json
    """
    r = run_op("ingest.runs.list", {"limit": limit, "source": source})
    if as_json:
        emit_json(r["runs"])
        return
    table = Table("run", "source", "kind", "status", "started", "read", "ins", "upd", "same", "quar", "error")
    for x in r["runs"]:
        table.add_row(x["run_id"], x["source"], x["kind"], x["status"], str(x["started_at"])[:19],
                      f"{x['rows_read']:,}", f"{x['rows_inserted']:,}", f"{x['rows_updated']:,}",
                      f"{x['rows_unchanged']:,}", f"{x['rows_quarantined']:,}", (x["error"] or "")[:60])
    out.print(table)
