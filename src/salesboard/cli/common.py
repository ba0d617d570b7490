"""What every command shares: settings, JSON output, progress bars, operation calls."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from ..config import Settings, load_settings
from ..remote import client

console = Console(stderr=True)  # progress and messages
# Tables are results: stdout, so they pipe; rich would wrap them at 80 columns when it is not a terminal.
out = Console(width=None if sys.stdout.isatty() else 200)


class SalesboardGroup(click.Group):
    """Lists commands in the order they were added (a reading order, not alphabetical)."""

    def list_commands(self, ctx):
        return list(self.commands)


def settings() -> Settings:
    return load_settings()


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def run_op(name: str, params: dict, *, label: str | None = None) -> dict:
    """Run an operation locally or through the server, with a progress bar if it reports progress."""
    if label is None or not sys.stderr.isatty():
        return client.call(settings(), name, params)
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(label, total=None, rate="")

        def on_progress(event: dict) -> None:
            rate = f"{event['rate']:,.0f} rows/s" if event.get("rate") else ""
            bar.update(task, completed=event.get("done"), total=event.get("total"), rate=rate)

        return client.call(settings(), name, params, on_progress)


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
