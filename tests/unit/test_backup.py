"""Backups: consistent snapshots under concurrent writes, verification that catches every
damage, refusal of bad backups, and restore that leaves a working database."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from salesboard.auth import audit, sessions
from salesboard.backup import BackupError, catalog
from salesboard.backup.create import create_backup
from salesboard.backup.manifest import load_manifest, sha256_file
from salesboard.backup.operations import list_backups, make_backup, prune, status, verify_named
from salesboard.backup.restore import probe, resolve, restore_into_store, restore_offline
from salesboard.backup.verify import verify_backup
from salesboard.clock import utcnow
from salesboard.errors import DatabaseLockedError, SalesboardError
from salesboard.store import Store, open_store

# DuckDB 1.5's file layout: three 4 KB headers, then 256 KB blocks, each checksummed as a whole.
HEADER, BLOCK = 3 * 4096, 256 * 1024
CORRUPT_BLOCK = r"IO Error: Corrupt database file: computed checksum \d+ does not match stored checksum \d+ " \
                r"in block at location {}"


def _insert_batch(cur, batch: int, n: int = 100) -> None:
    cur.execute(
        "INSERT INTO sales (source, source_key, order_id, sold_at, quantity, unit_price, net_amount, currency, "
        "net_amount_base, status, load_id) SELECT 'test', ? || '-' || i, 'o', TIMESTAMP '2025-01-01', 1, 1, 1, "
        "'USD', 1, 'completed', ? FROM range(?) t(i)", [str(batch), f"load-{batch}", n])
    Store.bump_data_version(cur)
    audit.record(cur, "test.batch", actor="writer", detail={"batch": batch})


def _flip(path, positions) -> None:
    with open(path, "r+b") as fh:
        for pos in positions:
            fh.seek(pos)
            byte = fh.read(1)[0]
            fh.seek(pos)
            fh.write(bytes([byte ^ 0xFF]))


def _every_block(path) -> range:
    """A position inside every block of a database file, past the block's own checksum."""
    return range(HEADER + 64, path.stat().st_size, BLOCK)


def _block_of(path, table: str, column: str) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT block_id FROM pragma_storage_info('{table}') WHERE column_name = ? "
                           "AND block_id >= 0 LIMIT 1", [column]).fetchone()[0]
    finally:
        con.close()


def _scratch_stats(path):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return (con.execute("SELECT count(*) FROM sales WHERE source = 'test'").fetchone()[0],
                con.execute("SELECT version FROM data_version").fetchone()[0],
                con.execute("SELECT count(*) FROM audit_log WHERE action = 'test.batch'").fetchone()[0])
    finally:
        con.close()


def test_backup_manifest_and_files(demo_store, settings):
    backup, manifest, report = create_backup(demo_store, now=datetime(2026, 1, 2, 3, 4, 5))
    assert backup.name == "dashboard_backup_20260102_030405"
    assert backup.data_path.name == "dashboard_backup_20260102_030405.duckdb"
    assert backup.manifest_path.name == "dashboard_backup_20260102_030405.manifest.json"
    assert backup.data_path.parent == settings.db.parent / "backups"
    on_disk = load_manifest(backup.manifest_path)
    assert on_disk["tables"]["sales"]["rows"] == 3000
    assert on_disk["tables"]["users"]["rows"] == demo_store.query_one("SELECT count(*) FROM users")[0]
    assert set(on_disk["tables"]["sales"]["fingerprint"]) >= {"source_key", "net_amount", "status", "updated_at"}
    assert on_disk["schema_version"] == demo_store.schema_version()
    assert on_disk["duckdb_version"] == duckdb.__version__
    assert on_disk["audit"] == dict(zip(("last_seq", "last_hash"), demo_store.query_one(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")))
    assert on_disk["size"] == backup.data_path.stat().st_size and report.ok
    assert not list((settings.db.parent / "backups").glob("*.partial"))
    assert not list((settings.db.parent / "backups" / ".scratch").glob("*"))


@pytest.mark.parametrize("method", ["checkpoint", "copy-database"])
def test_backup_while_writes_run_is_a_consistent_snapshot(store, method):
    with store.write() as cur:
        _insert_batch(cur, 0)
    stop, errors, batches = threading.Event(), [], [0]

    def writer():
        try:
            while not stop.is_set():
                batches[0] += 1
                with store.write() as cur:
                    _insert_batch(cur, batches[0])
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        while batches[0] < 5:
            time.sleep(0.01)
        backup, manifest, report = create_backup(store, method=method)
        after_backup = batches[0]
        while batches[0] < after_backup + 3:  # writes kept going after the snapshot
            time.sleep(0.01)
    finally:
        stop.set()
        t.join()
    assert errors == [] and report.ok
    scratch = backup.data_path.with_name("check.duckdb")
    report = verify_backup(backup.data_path, manifest, scratch, keep=True)
    assert report.ok, report.errors
    sales, version, audited = _scratch_stats(scratch)
    # every transaction inserts 100 rows, bumps the version once and writes one audit entry
    assert sales == 100 * audited and version == audited and sales == manifest["tables"]["sales"]["rows"]
    assert 5 <= audited < store.query_one("SELECT count(*) FROM audit_log WHERE action = 'test.batch'")[0]


def test_random_single_bit_flips_are_always_caught(demo_store, tmp_path):
    backup, manifest, _ = create_backup(demo_store)
    data = bytearray(backup.data_path.read_bytes())
    rng = random.Random(20260101)
    flipped = backup.data_path.with_name("flipped.duckdb")
    for _ in range(150):
        pos, bit = rng.randrange(len(data)), 1 << rng.randrange(8)
        data[pos] ^= bit
        flipped.write_bytes(data)
        data[pos] ^= bit
        report = verify_backup(flipped, manifest, tmp_path / "scratch.duckdb")
        assert not report.ok
        assert "does not match the manifest" in report.errors[0] and "corrupted" in report.errors[0]
    assert not (tmp_path / "scratch.duckdb").exists()
    assert verify_backup(backup.data_path, manifest, tmp_path / "scratch.duckdb").ok


def test_fingerprints_catch_damage_the_checksum_was_told_to_accept(demo_store, tmp_path):
    """A manifest whose checksum was recomputed over a changed file: the content check still fails."""
    backup, manifest, _ = create_backup(demo_store)
    changed = tmp_path / "changed.duckdb"
    shutil.copy(backup.data_path, changed)
    con = duckdb.connect(str(changed))
    con.execute("UPDATE sales SET net_amount = net_amount + 0.01 WHERE source_key = 'demo-7'")
    con.close()
    from salesboard.backup.manifest import sha256_file

    forged = dict(manifest, size=changed.stat().st_size, sha256=sha256_file(changed), raw_sha256=sha256_file(changed),
                  raw_size=changed.stat().st_size)
    report = verify_backup(changed, forged, tmp_path / "s.duckdb")
    assert report.errors == ["table sales: fingerprint differs in column(s) net_amount"]


def test_damaged_data_blocks_are_refused_though_the_checksum_was_recomputed(demo_store, tmp_path):
    """Bytes changed inside the sales data and a manifest forged to match the new file's sha256 and
    size: DuckDB's block checksum, read while every value is fingerprinted, still refuses it."""
    backup, manifest, _ = create_backup(demo_store)
    changed = tmp_path / "changed.duckdb"
    shutil.copy(backup.data_path, changed)
    block = _block_of(changed, "sales", "net_amount")
    _flip(changed, [HEADER + block * BLOCK + 4096 + i for i in range(8)])
    digest = sha256_file(changed)
    forged = dict(manifest, size=changed.stat().st_size, sha256=digest, raw_sha256=digest,
                  raw_size=changed.stat().st_size)
    report = verify_backup(changed, forged, tmp_path / "s.duckdb")
    assert not report.ok and len(report.errors) == 1
    assert re.fullmatch(r"restored copy is unreadable \(" + CORRUPT_BLOCK.format(HEADER + block * BLOCK) + r"\)",
                        report.errors[0]), report.errors
    assert not (tmp_path / "s.duckdb").exists()


def test_truncated_backup_is_refused(demo_store, tmp_path):
    backup, manifest, _ = create_backup(demo_store)
    size = backup.data_path.stat().st_size
    with open(backup.data_path, "r+b") as fh:
        fh.truncate(size - 4096)
    report = verify_backup(backup.data_path, manifest, tmp_path / "s.duckdb")
    assert report.errors == [f"{backup.data_path.name} is {size - 4096} bytes, the manifest says {size}: "
                             "the file is truncated or was changed"]
    with pytest.raises(BackupError, match="is refused: .* truncated .* The current database was not touched"):
        restore_into_store(demo_store, backup)


def test_wrong_manifests_are_refused(demo_store):
    backup, manifest, _ = create_backup(demo_store)
    good = backup.manifest_path.read_text()
    cases = {
        "{not json": "is not valid JSON",
        json.dumps({k: v for k, v in manifest.items() if k != "sha256"}): "lacks a valid 'sha256'",
        json.dumps(dict(manifest, name="dashboard_backup_20000101_000000")): "describes dashboard_backup_20000101_000000",
        json.dumps(dict(manifest, format=99)): "has format 99",
        json.dumps(dict(manifest, tables={"sales": {"rows": "many"}})): "entry for table sales is malformed",
    }
    for text, message in cases.items():
        backup.manifest_path.write_text(text)
        with pytest.raises(BackupError, match=message):
            load_manifest(backup.manifest_path)
    tampered = dict(manifest, tables=dict(manifest["tables"], sales=dict(manifest["tables"]["sales"], rows=2999)))
    backup.manifest_path.write_text(json.dumps(tampered))
    before = demo_store.query_one("SELECT count(*) FROM sales")[0]
    with pytest.raises(BackupError, match="table sales: 3000 rows, manifest says 2999"):
        restore_into_store(demo_store, catalog.find_local(demo_store.settings, backup.name))
    assert demo_store.query_one("SELECT count(*) FROM sales")[0] == before
    backup.manifest_path.write_text(good)
    assert verify_named(demo_store, backup.name)["ok"] is True


def test_restore_to_a_point_then_keep_working(demo_store, settings):
    point = make_backup(demo_store)
    with demo_store.write() as cur:
        _insert_batch(cur, 1, 500)
    assert demo_store.query_one("SELECT count(*) FROM sales")[0] == 3500
    version_before = demo_store.data_version()
    result = restore_into_store(demo_store, catalog.find_local(settings, "latest"), actor="tester")
    assert result["restored"] == point["name"] and result["sales"] == 3000
    assert demo_store.query_one("SELECT count(*) FROM sales")[0] == 3000
    assert demo_store.data_version() == version_before + 1  # never reuses a version that meant other data
    # keep working: sequences, primary keys and the audit chain carry on
    with demo_store.write() as cur:
        _insert_batch(cur, 2, 10)
        cur.execute("INSERT INTO users (username, role) VALUES ('after-restore', 'user')")
    assert demo_store.query_one("SELECT count(*) FROM sales")[0] == 3010
    ok, bad = audit.verify_chain(demo_store.cursor())
    assert ok, bad
    assert demo_store.query_one("SELECT action, target FROM audit_log ORDER BY seq DESC LIMIT 1 OFFSET 1") == \
        ("backup.restore", point["name"])
    # the safety copy holds what was there before
    safety = duckdb.connect(result["safety_copy"], read_only=True)
    assert safety.execute("SELECT count(*) FROM sales").fetchone()[0] == 3500
    safety.close()


def test_restore_while_readers_run(demo_store, settings):
    make_backup(demo_store)
    stop, seen, errors = threading.Event(), set(), []

    def reader():
        while not stop.is_set():
            try:
                seen.add(demo_store.query_one("SELECT count(*) FROM sales")[0])
            except duckdb.Error as exc:  # a query cut by the swap is retried by the page
                errors.append(type(exc).__name__)

    with demo_store.write() as cur:
        _insert_batch(cur, 1, 50)
    t = threading.Thread(target=reader)
    t.start()
    try:
        restore_into_store(demo_store, catalog.find_local(settings, "latest"))
        time.sleep(0.1)
    finally:
        stop.set()
        t.join()
    assert demo_store.query_one("SELECT count(*) FROM sales")[0] == 3000
    assert seen <= {3050, 3000}


def test_compressed_backup_round_trip(demo_store, settings):
    backup, manifest, report = create_backup(demo_store, compress=True)
    assert backup.data_path.name.endswith(".duckdb.gz") and manifest["compressed"] is True
    assert manifest["size"] < manifest["raw_size"] and report.ok
    with demo_store.write() as cur:
        _insert_batch(cur, 1, 5)
    restore_into_store(demo_store, catalog.find_local(settings, backup.name))
    assert demo_store.query_one("SELECT count(*) FROM sales")[0] == 3000


def test_offline_restore_of_a_damaged_database(demo_store, settings):
    backup, _, _ = create_backup(demo_store)
    demo_store.close()
    settings.db.write_bytes(b"this is not a duckdb file" * 100)
    assert probe(settings) == "unreadable"
    result = restore_offline(settings, resolve(settings, "latest", "local"))
    assert result["restored"] == backup.name
    s = open_store(settings)
    try:
        assert s.query_one("SELECT count(*) FROM sales")[0] == 3000
    finally:
        s.close()
    assert open(result["safety_copy"], "rb").read(10) == b"this is no"


def test_a_damaged_database_is_reported_damaged_not_locked_and_restored(demo_store, settings):
    """DuckDB's checksum error names the "block at location N": that must not read as a lock."""
    token = sessions.create_session(demo_store, 1)
    backup, _, _ = create_backup(demo_store)
    demo_store.close()
    _flip(settings.db, _every_block(settings.db))
    with pytest.raises(SalesboardError) as exc:
        open_store(settings)
    assert type(exc.value) is SalesboardError  # not DatabaseLockedError
    assert re.fullmatch(re.escape(f"{settings.db} is damaged and cannot be opened (") + CORRUPT_BLOCK.format(r"\d+")
                        + re.escape("); restore it from a backup with `salesboard restore latest --yes` "
                                    "(docs/restore-runbook.md)"), str(exc.value)), str(exc.value)
    assert probe(settings) == "unreadable"
    result = restore_offline(settings, resolve(settings, "latest", "local"))
    assert (result["restored"], result["sales"], result["verified"]) == (backup.name, 3000, True)
    assert (result["sessions_ended"], result["job_runs_interrupted"]) == (1, 0)
    s = open_store(settings)
    try:
        assert s.query_one("SELECT count(*) FROM sales")[0] == 3000
        assert sessions.resolve_session(s, token) is None
    finally:
        s.close()


def test_a_database_held_by_another_process_is_locked_not_damaged(demo_store, settings):
    demo_store.close()
    code = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", code, str(settings.db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        assert probe(settings) == "locked"
        with pytest.raises(DatabaseLockedError, match=rf"^{re.escape(str(settings.db))} is in use by process "
                                                      rf"{holder.pid} \("):
            open_store(settings)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_restore_ends_sessions_and_job_runs_the_backup_left_open(demo_store, settings):
    """The backup was taken mid-job and before a logout: after the restore the run is interrupted
    (it never finishes in this process) and the ended session does not come back."""
    token = sessions.create_session(demo_store, 1)
    ticket = sessions.issue_ticket(demo_store, token)
    with demo_store.write() as cur:
        cur.execute("INSERT INTO job_runs (job, trigger, started_at, status) "
                    "VALUES ('daily-backup', 'schedule', ?, 'running')", [utcnow()])
    make_backup(demo_store)
    sessions.end_session(demo_store, token, actor="admin")
    result = restore_into_store(demo_store, catalog.find_local(settings, "latest"), actor="tester")
    assert (result["sessions_ended"], result["job_runs_interrupted"]) == (1, 1)
    assert sessions.resolve_session(demo_store, token) is None
    assert sessions.redeem_ticket(demo_store, ticket) is None
    assert demo_store.query_one("SELECT count(*) FROM sessions")[0] == 0
    runs = demo_store.query("SELECT job, status, finished_at IS NOT NULL FROM job_runs")
    assert runs == [("daily-backup", "interrupted", True)]
    detail = json.loads(demo_store.query_one("SELECT detail FROM audit_log WHERE action = 'backup.restore'")[0])
    assert (detail["sessions_ended"], detail["job_runs_interrupted"], detail["verified"]) == (1, 1, True)


def test_restore_a_safety_copy_with_its_wal(demo_store, settings):
    """A safety copy has no manifest: restorable as unverified, with its WAL, and left as it was."""
    make_backup(demo_store)
    with demo_store.write() as cur:
        _insert_batch(cur, 1, 500)
    safety = Path(restore_into_store(demo_store, catalog.find_local(settings, "latest"))["safety_copy"])
    con = duckdb.connect(str(safety))  # a change that lives only in the copy's WAL
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("DELETE FROM sales WHERE source_key = 'demo-7'")
    con.close()
    wal = safety.with_name(safety.name + ".wal")
    before = (safety.read_bytes(), wal.read_bytes())
    assert len(before[1]) > 0
    with pytest.raises(BackupError, match=re.escape(f"{safety} is a safety copy: it has no manifest and cannot be "
                                                    f"verified; restore it with `salesboard restore {safety} --yes`")):
        verify_named(demo_store, str(safety))
    result = restore_into_store(demo_store, catalog.find_local(settings, str(safety)))
    assert (result["restored"], result["verified"], result["sales"]) == (safety.stem, False, 3499)
    assert demo_store.query_one("SELECT count(*) FROM sales WHERE source_key IN ('demo-7', 'demo-8')")[0] == 1
    assert (safety.read_bytes(), wal.read_bytes()) == before  # untouched: the restore can be repeated
    assert sorted(p.name for p in settings.db.parent.iterdir() if p.name.startswith(".restore-")) == []
    # by bare name it is found in backups/safety/; a damaged one is refused before anything changes
    damaged = safety.with_name("pre_restore_20200101_000000.duckdb")
    shutil.copy(safety, damaged)
    _flip(damaged, [HEADER + _block_of(damaged, "sales", "net_amount") * BLOCK + 4096])
    with pytest.raises(BackupError, match=re.escape(f"safety copy {damaged} is refused: it is damaged (IO Error: "
                                                    "Corrupt database file: computed checksum")):
        restore_into_store(demo_store, catalog.find_local(settings, damaged.stem))
    assert demo_store.query_one("SELECT count(*) FROM sales")[0] == 3499
    with pytest.raises(BackupError, match="safety copy 'pre_restore_20990101_000000' not found; they are kept in "):
        catalog.find_local(settings, "pre_restore_20990101_000000")


def test_safety_copies_made_in_one_second_never_overwrite_each_other(settings, monkeypatch):
    from salesboard.backup import restore

    monkeypatch.setattr(restore, "utcnow", lambda: datetime(2026, 1, 2, 3, 4, 5))
    names = []
    for _ in range(3):
        path = restore.safety_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        names.append(path.name)
    assert names == ["pre_restore_20260102_030405.duckdb", "pre_restore_20260102_030405_2.duckdb",
                     "pre_restore_20260102_030405_3.duckdb"]
    found = catalog.find_local(settings, "pre_restore_20260102_030405_2")
    assert (found.name, found.safety_copy, found.created_at) == (names[1][:-7], True, datetime(2026, 1, 2, 3, 4, 5))


def test_offsite_with_an_endpoint_botocore_refuses_is_one_line(settings):
    from salesboard.backup.s3 import Offsite

    with pytest.raises(BackupError) as exc:
        Offsite(replace(settings, s3_bucket="b", s3_endpoint="notaurl"))
    assert str(exc.value) == ("S3 client cannot be set up (Invalid endpoint: notaurl); check SALESBOARD_S3_ENDPOINT "
                              "('notaurl') and SALESBOARD_S3_REGION ('us-east-1')")


def test_list_status_and_prune(demo_store, settings):
    names = [make_backup(demo_store)["name"]]
    time.sleep(1.01)
    names.append(make_backup(demo_store)["name"])
    listed = list_backups(demo_store)
    assert [(b["name"], b["local"], b["s3"]) for b in listed] == [(n, "good", None) for n in names]
    st = status(demo_store)
    assert st["newest_verified"] == names[1] and st["fresh"] is True
    (settings.db.parent / "backups" / "dashboard_backup_20200101_000000.duckdb").write_bytes(b"x")
    assert list_backups(demo_store)[0]["local"] == "incomplete"
    demo_store.settings = replace(settings, backup_retention_days=1, backup_keep_last=1)
    result = prune(demo_store)
    assert result["local"]["delete"] == {"dashboard_backup_20200101_000000": "unverified and outside the window"}
    assert [b.name for b in catalog.list_local(settings)] == names


@pytest.mark.parametrize("action", ["backup", "restore"])
def test_owner_keeps_its_file_lock(demo_store, settings, action):
    """POSIX locks vanish when a process closes any descriptor of the file: a backup or restore
    inside the owner must never let a second process open the database."""
    import subprocess
    import sys

    make_backup(demo_store)
    if action == "restore":
        restore_into_store(demo_store, catalog.find_local(settings, "latest"))
    code = f"import duckdb; duckdb.connect({str(settings.db)!r})"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert other.returncode == 1 and "Could not set lock on file" in other.stderr


def test_a_copy_that_is_not_the_snapshot_is_discarded(demo_store, settings, monkeypatch):
    """Fingerprints come from the copy; the facts read while writers were paused must match it."""
    from salesboard.backup import create

    demo_store.cursor().execute("CHECKPOINT")
    stale = settings.db.with_name("stale.duckdb")
    create._copy_file(demo_store.path, stale)
    with demo_store.write() as cur:
        _insert_batch(cur, 1)
    sales, version, audited = demo_store.query_one(
        "SELECT (SELECT count(*) FROM sales), (SELECT version FROM data_version), (SELECT count(*) FROM audit_log)")
    monkeypatch.setattr(create, "_copy_file", lambda src, dest: shutil.copyfile(stale, dest))
    with pytest.raises(BackupError) as exc:
        create_backup(demo_store, now=datetime(2026, 1, 2, 3, 4, 5))
    head = demo_store.query_one("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    con = duckdb.connect(str(stale), read_only=True)
    old_head = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    con.close()
    assert str(exc.value) == (
        "backup dashboard_backup_20260102_030405 is not the snapshot it was copied from ("
        f"table audit_log: copy has {audited - 1} rows, snapshot had {audited}; "
        f"table sales: copy has {sales - 100} rows, snapshot had {sales}; "
        f"audit: copy has {{'last_seq': {old_head[0]}, 'last_hash': '{old_head[1]}'}}, "
        f"snapshot had {{'last_seq': {head[0]}, 'last_hash': '{head[1]}'}}; "
        f"data_version: copy has {version - 1}, snapshot had {version}); it was discarded, retry")
    assert sorted(p.name for p in (settings.db.parent / "backups").iterdir() if p.is_file()) == []


def test_signed_manifests_refuse_a_backup_rewritten_to_match(demo_store, settings, tmp_path):
    """Checksums catch damage; a signature catches a backup whose data AND manifest were rewritten together."""
    from salesboard.backup.manifest import database_stats

    demo_store.settings = replace(settings, backup_signing_key="k" * 32)
    backup, manifest, _ = create_backup(demo_store)
    assert len(manifest["signature"]) == 64
    assert verify_named(demo_store, "latest")["ok"] is True
    # An attacker changes a sale in the backup and rewrites every checksum, count and fingerprint to match.
    con = duckdb.connect(str(backup.data_path))
    con.execute("UPDATE sales SET net_amount = net_amount * 10 WHERE source_key = 'demo-7'")
    con.execute("CHECKPOINT")
    forged = {**manifest, **database_stats(con), "size": backup.data_path.stat().st_size}
    con.close()
    forged |= {"sha256": sha256_file(backup.data_path), "raw_sha256": sha256_file(backup.data_path),
               "raw_size": forged["size"]}
    backup.manifest_path.write_text(json.dumps(forged, default=str))
    expected = (f"manifest {backup.manifest_path} has a wrong signature: the backup or its manifest was altered, or it "
                "was signed with another SALESBOARD_BACKUP_SIGNING_KEY; the backup cannot be trusted")
    with pytest.raises(BackupError) as err:
        verify_named(demo_store, "latest")
    assert str(err.value) == expected
    with pytest.raises(BackupError) as err:
        restore_into_store(demo_store, catalog.find_local(demo_store.settings, "latest"))
    assert str(err.value) == expected
    assert demo_store.query_one("SELECT count(*) FROM sales")[0] == 3000  # the live data is as it was
    # Without the key the forged backup passes every checksum: that is what the key is for.
    assert verify_backup(backup.data_path, load_manifest(backup.manifest_path), tmp_path / "s.duckdb").ok


def test_an_unsigned_manifest_is_refused_once_a_key_is_set(demo_store, settings):
    backup, manifest, _ = create_backup(demo_store)  # made before the key
    assert "signature" not in manifest
    with pytest.raises(BackupError, match="is not signed, and SALESBOARD_BACKUP_SIGNING_KEY is set"):
        load_manifest(backup.manifest_path, "a-new-key")
    assert load_manifest(backup.manifest_path)["name"] == backup.name  # unsigned installations still read it
