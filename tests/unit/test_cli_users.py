"""`salesboard users add`: the name is checked before the password prompt; weak passwords are refused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = str(Path(sys.executable).with_name("salesboard"))
TOO_COMMON = "Password too common: it is one of the most-used passwords or words; use several unrelated words instead."


@pytest.fixture
def run(tmp_path):
    env = dict(os.environ, SALESBOARD_DB=str(tmp_path / "cli.duckdb"), SALESBOARD_ENV="test")

    def _run(*args, input=None):
        return subprocess.run([BIN, *args], env=env, capture_output=True, text=True, input=input, timeout=120)

    assert _run("init").returncode == 0
    assert _run("users", "add", "admin", "--password", "a-strong-pass-77", "--role", "admin").returncode == 0
    return _run


def usernames(run):
    return [u["username"] for u in json.loads(run("users", "list", "--json").stdout)]


@pytest.mark.parametrize("name,error", [
    ("b@d", "Error: Username must be 3-32 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."),
    ("ADMIN", "Error: Username 'ADMIN' is already taken; choose another."),
])
def test_bad_name_is_reported_before_the_password_prompt(run, name, error):
    # No stdin: had it prompted first, it would end in "Aborted." with exit 130.
    result = run("users", "add", name)
    assert (result.returncode, result.stderr.strip()) == (2, error)
    assert "Password" not in result.stdout + result.stderr
    assert usernames(run) == ["admin"]


def test_prompted_password_is_checked_and_confirmed(run):
    weak = run("users", "add", "erin", input="password1234\npassword1234\n")
    assert weak.returncode == 2 and weak.stderr.strip().splitlines()[-1] == f"Error: {TOO_COMMON}"
    added = run("users", "add", "erin", "--json", input="blue-cat-sky-9\nblue-cat-sky-9\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout[added.stdout.index("{"):])["username"] == "erin"
    assert usernames(run) == ["admin", "erin"]


def test_weak_password_option_is_one_line(run):
    result = run("users", "add", "dave", "--password", "password1234")
    assert (result.returncode, result.stderr.strip()) == (2, f"Error: {TOO_COMMON}")
    assert usernames(run) == ["admin"]
