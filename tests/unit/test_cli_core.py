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

    def _run(*args, extra_env=None, cwd=None):
        return subprocess.run([BIN, *args], env={**env, **(extra_env or {})}, capture_output=True, text=True,
                              timeout=120, cwd=cwd)

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


@pytest.mark.parametrize("env,message", [
    ({"SALESBOARD_JOB_BACKUP_CRON": "bad"},
     "SALESBOARD_JOB_BACKUP_CRON: cron 'bad' must have 5 fields (minute hour day month weekday), e.g. '0 3 * * *'"),
    ({"SALESBOARD_SCHEDULER_TIMEZONE": "Mars/Base"},
     "SALESBOARD_SCHEDULER_TIMEZONE='Mars/Base' is not a time zone (e.g. UTC, Europe/Berlin)"),
])
def test_a_wrong_schedule_stops_serve_before_it_starts_and_jobs_list_says_so(run, env, message):
    from conftest import free_port

    run("init")
    served = run("serve", "--port", str(free_port()), extra_env=env)
    assert served.returncode == 2
    assert served.stderr.strip().splitlines() == [f"Error: {message}"]
    listed = run("jobs", "list", extra_env=env)
    assert listed.returncode == 2
    assert listed.stderr.strip().splitlines() == [f"Error: {message}; `salesboard serve` refuses to start until this "
                                                  "is fixed"]
    assert "daily-backup" in listed.stdout
    as_json = run("jobs", "list", "--json", extra_env=env)
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["schedule_error"] == message


@pytest.mark.parametrize("args", [["dr-drill"], ["backups", "list"], ["backup", "--upload"]])
def test_a_bad_s3_endpoint_is_one_line(run, args):
    run("init")
    r = run(*args, extra_env={"SALESBOARD_S3_BUCKET": "b", "SALESBOARD_S3_ENDPOINT": "notaurl"})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "Error: SALESBOARD_S3_ENDPOINT must be an http(s) URL such as https://s3.eu-central-1.amazonaws.com or "
        "http://127.0.0.1:9000, not 'notaurl'"]


def _server_file(tmp_path, pid: int) -> Path:
    from conftest import free_port

    path = tmp_path / "cli.duckdb.server.json"
    path.write_text(json.dumps({"pid": pid, "host": "127.0.0.1", "port": free_port(), "token": "t"}))
    return path


def test_status_removes_the_file_of_a_server_that_is_gone(run, tmp_path):
    run("init")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(gone.stdout)  # exited and reaped: like a server killed with -9
    path = _server_file(tmp_path, pid)
    r = run("status", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["server"] is None and out["stale_server_file"]["removed"] is True
    assert out["stale_server_file"]["message"] == f"no server running (removed the stale server file {path}: pid {pid} " \
                                                  "is not running)"
    assert not path.exists()
    assert run("status").stdout == f"{tmp_path / 'cli.duckdb'}: no server running\n"


def test_status_keeps_the_file_while_the_database_is_held(run, tmp_path):
    run("init")
    db = tmp_path / "cli.duckdb"
    code = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        path = _server_file(tmp_path, holder.pid)  # alive, holds the database, but serves nothing
        r = run("status")
        port = json.loads(path.read_text())["port"]
        assert r.stdout.startswith(f"{db}: the server recorded in {path} is not serving (pid {holder.pid} does not "
                                   f"answer at http://127.0.0.1:{port}); {db} is in use by process {holder.pid} (")
        assert path.exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_a_damaged_database_says_damaged_and_restore_latest_repairs_it(run, tmp_path):
    assert run("init", "--demo").returncode == 0
    assert run("backup").returncode == 0
    db = tmp_path / "cli.duckdb"
    with open(db, "r+b") as fh:  # a byte in the payload of every 256 KB block (after the 12 KB of headers)
        for pos in range(3 * 4096 + 64, db.stat().st_size, 256 * 1024):
            fh.seek(pos)
            byte = fh.read(1)[0]
            fh.seek(pos)
            fh.write(bytes([byte ^ 0xFF]))
    users = run("users", "list")
    assert users.returncode == 1
    [line] = users.stderr.strip().splitlines()
    assert line.startswith(f"Error: {db} is damaged and cannot be opened (IO Error: Corrupt database file: ")
    assert line.endswith("restore it from a backup with `salesboard restore latest --yes` (docs/restore-runbook.md)")
    assert "in use by" not in line
    restored = run("restore", "latest", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert restored.stderr.strip() == f"{db} cannot be opened (damaged); restoring without it."
    assert restored.stdout.startswith("Restored dashboard_backup_")
    assert [u["username"] for u in json.loads(run("users", "list", "--json").stdout)] == \
        ["admin", "manager", "user", "alice", "bob", "carol"]


def test_restore_a_safety_copy_by_relative_path_needs_yes(run, tmp_path):
    run("init", "--demo")
    run("backup")
    run("users", "add", "zed", "--password", "a-strong-pass-77")
    first = json.loads(run("restore", "latest", "--yes", "--json").stdout)
    safety = Path(first["safety_copy"])
    rel = str(safety.relative_to(tmp_path))
    refused = run("restore", rel, cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (f"Error: {rel} is a safety copy: it has no manifest, so it cannot be verified "
                                      "(only checked to be readable); pass --yes to restore it anyway")
    r = run("restore", rel, "--yes", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == f"{rel} is a safety copy with no manifest: restoring it UNVERIFIED."
    assert f"Restored {safety.stem} (taken " in r.stdout and "UNVERIFIED: no manifest, read in full in" in r.stdout
    assert "zed" in [u["username"] for u in json.loads(run("users", "list", "--json").stdout)]



def test_a_mistyped_database_path_is_not_silently_created(run, tmp_path):
    typo = tmp_path / "typo" / "dashbaord.duckdb"
    for args in (["users", "list"], ["jobs", "history"], ["quarantine", "list"], ["backup"]):
        r = run(*args, extra_env={"SALESBOARD_DB": str(typo)})
        assert (r.returncode, r.stderr.strip()) == (
            2, f"Error: no database at {typo}: run `salesboard init` first, or check SALESBOARD_DB"), args
    assert not typo.parent.exists()
