"""`salesboard users ...`: account administration, locally or through the running server."""

from __future__ import annotations

import click
from rich.table import Table

from ..auth.accounts import USERNAME_TAKEN, check_username
from ..errors import ValidationError
from .common import emit_json, json_option, out, run_op


def register(cli: click.Group) -> None:
    cli.add_command(users)


@click.group()
def users() -> None:
    """Manage user accounts (works while the server runs).

    \b
    Examples:
      salesboard users list
      salesboard users add alice --role manager --team alpha
      salesboard users set-role alice admin
    """


def _show(user: dict, as_json: bool, extra: str = "") -> None:
    if as_json:
        emit_json(user)
    else:
        click.echo(f"{user['username']}: role={user['role']} active={user['is_active']}{extra}")


@users.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List accounts.

    \b
    Example:
      salesboard users list --json
    """
    result = run_op("users.list", {})
    if as_json:
        emit_json(result["users"])
        return
    table = Table("id", "username", "name", "role", "team", "region", "active", "last login")
    for u in result["users"]:
        table.add_row(str(u["id"]), u["username"], u["display_name"] or "", u["role"], u["team"] or "",
                      u["region"] or "", "yes" if u["is_active"] else "no", u["last_login_at"] or "")
    out.print(table)


@users.command()
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "manager", "user"]), default="user", show_default=True)
@click.option("--password", help="Prompted (twice, hidden) when omitted, once the name is known to be free; "
              "at least 10 characters, not a common password.")
@click.option("--name", "display_name", help="Display name.")
@click.option("--email")
@click.option("--team", help="Team: a manager sees the sales of reps in the same team.")
@click.option("--region", help="Region: a manager with a region sees that region's sales.")
@json_option
def add(username, role, password, display_name, email, team, region, as_json) -> None:
    """Create an account.

    \b
    Example:
      salesboard users add alice --role manager --team alpha --name "Alice Adams"
    """
    username = check_username(username)
    if password is None:
        _require_free(username)  # before the prompt: a bad or taken name should not cost typing a password
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    result = run_op("users.add", dict(username=username, password=password, role=role, display_name=display_name,
                                      email=email, team=team, region=region))
    _show(result["user"], as_json)


def _require_free(username: str) -> None:
    """Through the same path as the add itself (the server when one runs); `users.add` checks again."""
    taken = {u["username"].lower() for u in run_op("users.list", {})["users"]}
    if username.lower() in taken:
        raise ValidationError(USERNAME_TAKEN.format(username))


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["admin", "manager", "user"]))
@json_option
def set_role(username, role, as_json) -> None:
    """Change a user's role.

    \b
    Example:
      salesboard users set-role alice manager
    """
    _show(run_op("users.set-role", {"username": username, "role": role})["user"], as_json)


@users.command()
@click.argument("username")
@json_option
def deactivate(username, as_json) -> None:
    """Block a user from logging in and end their sessions.

    \b
    Example:
      salesboard users deactivate alice
    """
    _show(run_op("users.set-active", {"username": username, "active": False})["user"], as_json)


@users.command()
@click.argument("username")
@json_option
def reactivate(username, as_json) -> None:
    """Let a deactivated user log in again.

    \b
    Example:
      salesboard users reactivate alice
    """
    _show(run_op("users.set-active", {"username": username, "active": True})["user"], as_json)


@users.command("reset-password")
@click.argument("username")
@click.option("--password", default=None, help="New password; a strong one is generated and printed when omitted.")
@json_option
def reset_password(username, password, as_json) -> None:
    """Set a new password and end the user's sessions.

    \b
    Example:
      salesboard users reset-password alice
    """
    result = run_op("users.reset-password", {"username": username, "password": password})
    if as_json:
        emit_json(result)
    else:
        click.echo(f"{username}: password reset; new password: {result['password']}")
