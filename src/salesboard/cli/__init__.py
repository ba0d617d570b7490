"""Command line: thin commands that parse, call one service or operation, and print.

Every user-caused error becomes one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import sys

import click

from ..errors import SalesboardError
from . import backups, core, imports, users
from .common import SalesboardGroup

# Each feature adds its command module here.
_COMMAND_MODULES = [core, users, backups, imports]


@click.group(cls=SalesboardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="salesboard")
def cli() -> None:
    """Salesboard: sales analytics on DuckDB.

    \b
    Quick start:
      salesboard init --demo     # create data/dashboard.duckdb with demo data
      salesboard serve           # dashboard at http://localhost:8501

    Settings come from SALESBOARD_* environment variables (docs/configuration.md).
    """


for _mod in _COMMAND_MODULES:
    _mod.register(cli)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SalesboardError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
