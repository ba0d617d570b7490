"""Offsite backups against a real S3 API (moto server on loopback, started here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from conftest import free_port, require_service

from salesboard.backup import BackupError, catalog
from salesboard.backup.drill import run_drill
from salesboard.backup.operations import list_backups, make_backup, prune
from salesboard.backup.restore import resolve, restore_into_store
from salesboard.backup.s3 import Offsite

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    exe = Path(sys.executable).with_name("moto_server")
    require_service(exe.exists(), "moto_server (pip package moto[server])", "install")
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            pytest.fail("moto_server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def s3_settings(settings, moto_endpoint, request):
    bucket = "sb-" + request.node.name.lower().replace("_", "-")[:40]
    s = replace(settings, s3_bucket=bucket, s3_endpoint=moto_endpoint, s3_access_key_id="testing",
                s3_secret_access_key="testing", s3_prefix="prod/", s3_multipart_mb=5)
    Offsite(s).client.create_bucket(Bucket=bucket)
    return s


@pytest.fixture
def s3_store(s3_settings, demo_store):
    demo_store.settings = s3_settings
    return demo_store


def test_upload_download_verify_round_trip(s3_store, s3_settings, tmp_path):
    with s3_store.write() as cur:  # make the file larger than one 5 MB part: multipart upload
        cur.execute("INSERT INTO sales SELECT * REPLACE ('bulk-' || source_key AS source_key) FROM sales")
        cur.execute("INSERT INTO sales SELECT * REPLACE ('more-' || source_key AS source_key) FROM sales")
    result = make_backup(s3_store, upload=True)
    assert result["uploaded"]["key"] == f"prod/{result['name']}.duckdb"
    off = Offsite(s3_settings)
    head = off.client.head_object(Bucket=s3_settings.s3_bucket, Key=result["uploaded"]["key"], ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == result["sha256"]
    assert head["ContentLength"] == result["size"] > 5 * 1024 * 1024
    assert "-" in head["ETag"]  # a multipart ETag ends in -<parts>
    assert [(b["name"], b["local"], b["s3"]) for b in list_backups(s3_store)] == [(result["name"], "good", "good")]
    # lose the local copy, then restore from S3
    shutil.rmtree(s3_settings.db.parent / "backups")
    with s3_store.write() as cur:
        cur.execute("DELETE FROM sales WHERE source_key LIKE 'more-%'")
    backup = resolve(s3_settings, "latest", "s3")
    assert backup.name == result["name"] and backup.data_path.is_file()
    restored = restore_into_store(s3_store, backup)
    assert restored["sales"] == 12000 == s3_store.query_one("SELECT count(*) FROM sales")[0]


def test_damaged_s3_object_is_refused(s3_store, s3_settings):
    result = make_backup(s3_store, upload=True)
    off = Offsite(s3_settings)
    key = result["uploaded"]["key"]
    body = bytearray(off.client.get_object(Bucket=s3_settings.s3_bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x10
    off.client.put_object(Bucket=s3_settings.s3_bucket, Key=key, Body=bytes(body))
    shutil.rmtree(s3_settings.db.parent / "backups")
    with pytest.raises(BackupError, match="does not match its manifest's sha256; the S3 copy is damaged"):
        resolve(s3_settings, "latest", "s3")
    assert not list((s3_settings.db.parent / "backups").glob("dashboard_backup_*"))


def test_upload_read_back_catches_a_store_that_changes_bytes(s3_store, s3_settings, monkeypatch):
    monkeypatch.setattr(Offsite, "read_back_sha256", lambda self, key: "0" * 64)
    with pytest.raises(BackupError, match="is verified and kept, but the upload failed: .*reads back with a "
                                          "different sha256; it was deleted"):
        make_backup(s3_store, upload=True)
    assert Offsite(s3_settings).list() == {}
    assert [b["local"] for b in list_backups(s3_store)] == ["good"]


def test_sse_and_object_lock_are_applied(settings, moto_endpoint, demo_store):
    s = replace(settings, s3_bucket="sb-locked", s3_endpoint=moto_endpoint, s3_access_key_id="testing",
                s3_secret_access_key="testing", s3_sse="AES256", s3_object_lock_mode="GOVERNANCE",
                s3_object_lock_days=7)
    Offsite(s).client.create_bucket(Bucket="sb-locked", ObjectLockEnabledForBucket=True)
    demo_store.settings = s
    result = make_backup(demo_store, upload=True)
    head = Offsite(s).client.head_object(Bucket="sb-locked", Key=result["uploaded"]["key"])
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_drill_from_s3_and_independent_retention(s3_store, s3_settings):
    names = []
    for _ in range(3):
        names.append(make_backup(s3_store, upload=True)["name"])
        time.sleep(1.01)
    drill = run_drill(s3_store, "s3")
    assert (drill["status"], drill["backup"], drill["sales"], drill["within_objective"]) == \
        ("success", names[-1], 3000, True)
    row = s3_store.query_dicts("SELECT source, backup_name, status FROM dr_drills")
    assert row == [{"source": "s3", "backup_name": names[-1], "status": "success"}]
    # local keeps 1, S3 keeps 2: each side is pruned on its own listing
    s3_store.settings = replace(s3_settings, backup_retention_days=0, backup_keep_last=1)
    for p in (s3_settings.db.parent / "backups").glob(names[1] + ".*"):
        p.unlink()  # local already lost the middle one
    result = prune(s3_store)
    assert sorted(result["local"]["delete"]) == [names[0]]
    assert sorted(result["s3"]["delete"]) == names[:2]
    assert list(Offsite(s3_settings).list()) == [names[2]]
    assert [b.name for b in catalog.list_local(s3_settings)] == [names[2]]


def test_drill_reports_a_failure(s3_store):
    drill = run_drill(s3_store, "s3")
    assert drill["status"] == "failed" and "no complete backup in s3://" in drill["error"]
    assert s3_store.query_one("SELECT status FROM dr_drills")[0] == "failed"


def test_cli_backup_and_restore_through_a_running_server(demo_db, moto_endpoint):
    from conftest import RunningServer

    env = {"SALESBOARD_S3_BUCKET": "sb-served", "SALESBOARD_S3_ENDPOINT": moto_endpoint,
           "SALESBOARD_S3_ACCESS_KEY_ID": "testing", "SALESBOARD_S3_SECRET_ACCESS_KEY": "testing",
           "SALESBOARD_SCHEDULER_ENABLED": "true",  # RunningServer turns it off by default
           "SALESBOARD_SCHEDULER_MISFIRE_GRACE_MINUTES": "1"}  # no catch-up runs at start in this test
    from salesboard.config import Settings

    Offsite(replace(Settings(), s3_bucket="sb-served", s3_endpoint=moto_endpoint, s3_access_key_id="testing",
                    s3_secret_access_key="testing")).client.create_bucket(Bucket="sb-served")
    server = RunningServer(demo_db, env)
    try:
        made = server.cli("backup", "--upload", "--json")
        assert made.returncode == 0, made.stderr
        name = json.loads(made.stdout)["name"]
        assert json.loads(made.stdout)["uploaded"]["key"] == f"salesboard/{name}.duckdb"
        listed = json.loads(server.cli("backups", "list", "--json").stdout)
        assert [(b["name"], b["local"], b["s3"]) for b in listed] == [(name, "good", "good")]
        # change data through the server, then restore while it keeps running
        added = server.cli("users", "add", "zed", "--password", "a-strong-pass-77")
        assert added.returncode == 0, added.stderr
        no_yes = server.cli("restore", "latest")
        assert no_yes.returncode == 1
        assert no_yes.stderr.strip() == ("Error: restore replaces the database; pass --yes to confirm when not "
                                         "at a terminal")
        restored = server.cli("restore", "latest", "--yes")
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout.startswith(f"Restored {name} (taken ")
        assert "The previous database is kept at " in restored.stdout
        users = [u["username"] for u in json.loads(server.cli("users", "list", "--json").stdout)]
        assert "zed" not in users
        # the server keeps working on the restored file: writes, readiness, jobs
        assert server.cli("users", "add", "zed", "--password", "a-strong-pass-77").returncode == 0
        assert httpx.get(server.url + "/readyz").json()["status"] == "ready"
        from_s3 = server.cli("restore", "latest", "--from", "s3", "--yes", "--json")
        assert from_s3.returncode == 0, from_s3.stderr
        assert json.loads(from_s3.stdout)["restored"] == name
        # undo it: its safety copy (which has 'zed') goes back in through the server, unverified
        safety = json.loads(from_s3.stdout)["safety_copy"]
        back = server.cli("restore", safety, "--yes", "--json")
        assert back.returncode == 0, back.stderr
        assert (json.loads(back.stdout)["restored"], json.loads(back.stdout)["verified"]) == (Path(safety).stem, False)
        assert "zed" in [u["username"] for u in json.loads(server.cli("users", "list", "--json").stdout)]
        jobs_list = json.loads(server.cli("jobs", "list", "--json").stdout)
        assert jobs_list["scheduler_running"] is True
        assert [j["name"] for j in jobs_list["jobs"]] == ["daily-sync", "health-check", "daily-backup",
                                                          "weekly-cleanup"]
        assert all(j["next_run"] for j in jobs_list["jobs"])
        ran = server.cli("jobs", "run", "health-check", "--json")
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout)["status"] == "success"
        history = json.loads(server.cli("jobs", "history", "--json").stdout)
        assert [(r["job"], r["trigger"], r["status"]) for r in history][:1] == [("health-check", "manual", "success")]
        bad = server.cli("backup", "verify", "dashboard_backup_20000101_000000")
        assert bad.returncode == 5 and bad.stderr.startswith("Error: backup 'dashboard_backup_20000101_000000' not found")
        drill = server.cli("dr-drill", "--json")
        assert drill.returncode == 0, drill.stderr
        assert json.loads(drill.stdout)["status"] == "success"
    finally:
        server.stop()
