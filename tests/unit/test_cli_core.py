"""`salesboard init`, `status` and `users` as a user runs them: exit codes, one-line errors, JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = str(Path(sys.executable).with_name("salesboard"))


@pytest.fixture
def run(tmp_path):
    env = dict(os.environ, SALESBOARD_DB=str(tmp_path / "cli.duckdb"), SALESBOARD_DEMO_SALES="500")

    def _run(*args, extra_env=None):
        return subprocess.run([BIN, *args], env={**env, **(extra_env or {})}, capture_output=True, text=True,
                              timeout=120)

    return _run


def test_init_demo_is_idempotent_and_never_touches_real_data(run):
    first = run("init", "--demo", "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["demo"]["sales"] == 500 and out["migrations_applied"]
    again = run("init", "--demo", "--json")
    second = json.loads(again.stdout)
    assert second["migrations_applied"] == []
    assert "never touches real data" in second["demo"]["skipped"]
    text = run("init", "--demo")
    assert "Demo seed skipped" in text.stdout


def test_init_prints_demo_logins_once(run):
    out = run("init", "--demo").stdout
    assert "admin    admin-demo-pass" in out
    assert "admin-demo-pass" not in run("init", "--demo").stdout


def test_demo_refused_in_production(run):
    r = run("init", "--demo", extra_env={"SALESBOARD_ENV": "production"})
    assert r.returncode != 0
    assert r.stderr.strip().startswith("Error: --demo is refused when SALESBOARD_ENV=production")
    assert "Traceback" not in r.stderr


def test_bad_setting_is_one_line(run):
    r = run("status", extra_env={"SALESBOARD_PORT": "eighty"})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "Error: SALESBOARD_PORT: invalid literal for int() with base 10: 'eighty'"]


def test_users_commands_offline(run):
    run("init")
    add = run("users", "add", "dana", "--password", "a-strong-pass-77", "--role", "admin", "--json")
    assert add.returncode == 0, add.stderr
    dup = run("users", "add", "dana", "--password", "a-strong-pass-77")
    assert dup.returncode == 2
    assert dup.stderr.strip() == "Error: Username 'dana' is already taken; choose another."
    bad_role = run("users", "set-role", "dana", "owner")
    assert bad_role.returncode == 2 and "'owner' is not one of 'admin', 'manager', 'user'" in bad_role.stderr
    last = run("users", "deactivate", "dana")
    assert last.returncode == 2 and "last active admin" in last.stderr
    status = json.loads(run("status", "--json").stdout)
    assert status["server"] is None and status["exists"] is True


def test_every_command_has_help_with_example(run):
    from salesboard.cli import cli

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            yield [*prefix, name], cmd
            if hasattr(cmd, "commands"):
                yield from walk(cmd, [*prefix, name])

    for path, cmd in walk(cli, []):
        assert "Example" in (cmd.help or ""), f"`salesboard {' '.join(path)}` --help lacks an example"


def test_serve_on_a_busy_port_is_one_line(run):
    import socket

    run("init")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run("serve", "--port", str(port))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port} (Address already in use); stop what uses it or pick another "
        "port with --port"]
