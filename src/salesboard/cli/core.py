"""`init`, `serve` and `status`: create the database, run the owner process, see what runs."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import click

from ..errors import DatabaseLockedError, SalesboardError
from ..remote import client
from ..store import demo, open_store
from .common import emit_json, json_option, run_op, settings


def register(cli: click.Group) -> None:
    cli.add_command(init)
    cli.add_command(serve)
    cli.add_command(status)


@click.command()
@click.option("--demo", "with_demo", is_flag=True, help="Seed demo users, products and sales into an empty database.")
@click.option("--sales", type=click.IntRange(0, 50_000_000), default=None,
              help="Number of demo sale lines (default SALESBOARD_DEMO_SALES=20000).")
@json_option
def init(with_demo: bool, sales: int | None, as_json: bool) -> None:
    """Create or migrate the database. Safe to run again.

    \b
    Example:
      salesboard init --demo
    """
    result = run_op("store.init", {"demo_data": with_demo, "sales": sales})
    if as_json:
        emit_json(result)
        return
    applied = result["migrations_applied"]
    click.echo(f"Database {result['database']}: schema {result['schema']}"
               + (f" ({len(applied)} migration(s) applied)" if applied else " (up to date)"))
    seeded = result.get("demo")
    if seeded and "skipped" not in seeded:
        click.echo(f"Demo data: {seeded['sales']:,} sales, {seeded['products']} products.")
        click.echo("Demo logins (demo only, refused when SALESBOARD_ENV=production):")
        for username, password, role, *_ in demo.DEMO_USERS:
            click.echo(f"  {username:<8} {password:<20} ({role})")
    elif seeded:
        click.echo(f"Demo seed skipped: {seeded['skipped']}.")


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default SALESBOARD_HOST=127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default SALESBOARD_PORT=8501).")
def serve(host: str | None, port: int | None) -> None:
    """Run the dashboard and its API: the one process that owns the database.

    \b
    Example:
      salesboard serve --host 0.0.0.0 --port 8501
    """
    from ..ops.scheduler import schedule

    s = settings()
    host = host or s.host
    port = port or s.port
    # Fail fast with one line, before anything starts: the lifespan would only print a traceback.
    if s.scheduler_enabled:
        schedule(s)  # a wrong cron string or time zone (ConfigError, exit 2)
    # ... and if another process owns the database.
    probe = open_store(s, migrate=False)
    probe.close()
    _check_port_free(host, port)
    env = dict(os.environ, SALESBOARD_HOST=host, SALESBOARD_PORT=str(port))
    os.environ.update(env)
    import uvicorn

    click.echo(f"Salesboard serving {s.db} at http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}",
               err=True)
    uvicorn.run("salesboard.server:app", host=host, port=port, log_level="warning", access_log=False,
                ws_ping_interval=20, lifespan="on")
    sys.exit(0)


def _check_port_free(host: str, port: int) -> None:
    """Say so in one line before starting anything, rather than after the lifespan ran."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise SalesboardError(f"cannot listen on {host}:{port} ({exc.strerror}); stop what uses it or pick "
                                  "another port with --port") from None


@click.command()
@json_option
def status(as_json: bool) -> None:
    """Show whether a server owns the database, and where.

    \b
    Example:
      salesboard status --json
    """
    s = settings()
    info = client.read_server_file(s)
    result = {"database": str(s.db), "exists": s.db.exists(), "server": None, "stale_server_file": None}
    if info:
        url = f"http://{info['host']}:{info['port']}"
        alive = _pid_alive(info["pid"])
        if alive and _answers(info):
            result["server"] = {"pid": info["pid"], "url": url}
        else:
            result["stale_server_file"] = _stale(s, info, url, alive)
    if as_json:
        emit_json(result)
    elif result["server"]:
        click.echo(f"{s.db}: served by pid {info['pid']} at {result['server']['url']}")
    elif result["stale_server_file"]:
        click.echo(f"{s.db}: {result['stale_server_file']['message']}")
    else:
        click.echo(f"{s.db}: {'no server running' if s.db.exists() else 'not created yet (run `salesboard init --demo`)'}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        pass
    try:  # a killed process whose parent has not reaped it yet still answers kill(0)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _answers(info: dict) -> bool:
    """Whether the recorded server answers GET /healthz."""
    import httpx

    host = info["host"] if info["host"] not in ("0.0.0.0", "::") else "127.0.0.1"
    try:
        return httpx.get(f"http://{host}:{info['port']}/healthz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _stale(s, info: dict, url: str, alive: bool) -> dict:
    """A server file whose server is gone (e.g. kill -9). Removed unless a process still holds the database."""
    why = f"pid {info['pid']} {'does not answer at ' + url if alive else 'is not running'}"
    try:
        open_store(s, migrate=False, read_only=True).close()
    except DatabaseLockedError as exc:
        return {"pid": info["pid"], "url": url, "removed": False,
                "message": f"the server recorded in {s.server_file} is not serving ({why}); {exc}"}
    except SalesboardError:
        pass  # missing or damaged: nobody holds it
    client.remove_server_file(s)
    return {"pid": info["pid"], "url": url, "removed": True,
            "message": f"no server running (removed the stale server file {s.server_file}: {why})"}
