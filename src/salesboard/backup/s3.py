"""Offsite copies on any S3-compatible store (AWS, MinIO, R2, ...), checked end to end.

Upload: multipart above SALESBOARD_S3_MULTIPART_MB, a SHA-256 checksum sent with the object,
then the object is read back and hashed on this side (moto, and some real stores, do not check
checksums); only then is the manifest uploaded, so an object without a manifest never counts.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..config import Settings
from . import BackupError
from .catalog import MANIFEST_SUFFIX, split_file_name
from .manifest import CHUNK, sha256_file


def configured(settings: Settings) -> bool:
    return bool(settings.s3_bucket)


class Offsite:
    def __init__(self, settings: Settings):
        if not configured(settings):
            raise BackupError("no offsite storage configured; set SALESBOARD_S3_BUCKET (and SALESBOARD_S3_ENDPOINT "
                              "for a non-AWS store), see docs/backups.md")
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.settings = settings
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        try:  # load_settings checks the endpoint; botocore may still refuse it (or the region)
            self.client = boto3.client(
                "s3", endpoint_url=settings.s3_endpoint or None, region_name=settings.s3_region or None,
                aws_access_key_id=settings.s3_access_key_id or None,
                aws_secret_access_key=settings.s3_secret_access_key or None,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=120),
            )
        except ValueError as exc:
            raise BackupError(f"S3 client cannot be set up ({exc}); check SALESBOARD_S3_ENDPOINT "
                              f"({settings.s3_endpoint!r}) and SALESBOARD_S3_REGION ({settings.s3_region!r})") from None
        part = max(5, settings.s3_multipart_mb) * 1024 * 1024
        self.transfer = TransferConfig(multipart_threshold=part, multipart_chunksize=part)

    def key(self, file_name: str) -> str:
        return self.prefix + file_name

    def _call(self, what: str, fn, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise BackupError(f"S3 {what} failed on bucket {self.bucket}: {err.get('Code')} {err.get('Message')}") \
                from None
        except BotoCoreError as exc:
            raise BackupError(f"S3 {what} failed: {exc}; check SALESBOARD_S3_ENDPOINT and credentials") from None

    def _extra(self) -> dict:
        s = self.settings
        extra: dict = {}
        if s.s3_sse:
            extra["ServerSideEncryption"] = s.s3_sse
            if s.s3_kms_key_id:
                extra["SSEKMSKeyId"] = s.s3_kms_key_id
        if s.s3_object_lock_mode and s.s3_object_lock_days > 0:
            extra["ObjectLockMode"] = s.s3_object_lock_mode
            extra["ObjectLockRetainUntilDate"] = datetime.now(timezone.utc) + timedelta(days=s.s3_object_lock_days)
        return extra

    def read_back_sha256(self, key: str) -> str:
        body = self._call("read-back", self.client.get_object, Bucket=self.bucket, Key=key)["Body"]
        h = hashlib.sha256()
        for chunk in body.iter_chunks(CHUNK):
            h.update(chunk)
        return h.hexdigest()

    def upload(self, data_path: Path, manifest: dict, manifest_path: Path, progress=None) -> dict:
        """Upload the data file, verify it by reading it back, then upload the manifest (last)."""
        start = time.perf_counter()
        key = self.key(data_path.name)
        on_bytes = _byte_progress("upload", manifest["size"], progress)

        extra = {"ChecksumAlgorithm": "SHA256", "Metadata": {"sha256": manifest["sha256"]}, **self._extra()}
        self._call("upload", self.client.upload_file, str(data_path), self.bucket, key, ExtraArgs=extra,
                   Config=self.transfer, Callback=on_bytes)
        remote = self.read_back_sha256(key)
        if remote != manifest["sha256"]:
            self._call("delete", self.client.delete_object, Bucket=self.bucket, Key=key)
            raise BackupError(f"S3 copy of {data_path.name} reads back with a different sha256; it was deleted. "
                              "Retry the upload; if it repeats, check the storage")
        mkey = self.key(manifest_path.name)
        body = manifest_path.read_bytes()
        self._call("upload", self.client.put_object, Bucket=self.bucket, Key=mkey, Body=body,
                   ChecksumAlgorithm="SHA256", ContentType="application/json", **self._extra())
        return {"key": key, "manifest_key": mkey, "bytes": manifest["size"],
                "seconds": round(time.perf_counter() - start, 3)}

    def list(self) -> dict[str, dict]:
        """name -> {'data_key', 'manifest_key', 'size', 'modified'} for every backup under the prefix."""
        out: dict[str, dict] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call("list", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix)))
        for page in pages:
            for obj in page.get("Contents", []):
                parts = split_file_name(obj["Key"][len(self.prefix):])
                if parts is None:
                    continue
                stem, suffix = parts
                item = out.setdefault(stem, {"name": stem, "data_key": None, "manifest_key": None, "size": None})
                if suffix == MANIFEST_SUFFIX:
                    item["manifest_key"] = obj["Key"]
                else:
                    item.update(data_key=obj["Key"], size=obj["Size"], modified=obj["LastModified"].isoformat())
        return dict(sorted(out.items()))

    def download(self, name: str, dest_dir: Path, progress=None) -> tuple[Path, Path]:
        """Fetch manifest and data into dest_dir; the data's sha256 must match the manifest."""
        from .manifest import load_manifest

        item = self.list().get(name)
        if not item or not item["data_key"] or not item["manifest_key"]:
            raise BackupError(f"backup {name} is not complete in s3://{self.bucket}/{self.prefix}; "
                              "see `salesboard backups list`")
        dest_dir.mkdir(parents=True, exist_ok=True)
        mpath = dest_dir / Path(item["manifest_key"]).name
        tmp_m = mpath.with_name(mpath.name + ".download")
        self._call("download", self.client.download_file, self.bucket, item["manifest_key"], str(tmp_m))
        tmp_m.replace(mpath)
        manifest = load_manifest(mpath, self.settings.backup_signing_key)
        dpath = dest_dir / Path(item["data_key"]).name
        tmp = dpath.with_name(dpath.name + ".download")
        on_bytes = _byte_progress("download", manifest["size"], progress)

        self._call("download", self.client.download_file, self.bucket, item["data_key"], str(tmp),
                   Config=self.transfer, Callback=on_bytes)
        if sha256_file(tmp) != manifest["sha256"]:
            tmp.unlink()
            mpath.unlink()
            raise BackupError(f"downloaded {dpath.name} does not match its manifest's sha256; the S3 copy is "
                              "damaged: restore an older backup")
        tmp.replace(dpath)
        return dpath, mpath

    def manifest(self, name: str) -> dict:
        body = self._call("read", self.client.get_object, Bucket=self.bucket,
                          Key=self.key(name + MANIFEST_SUFFIX))["Body"].read()
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            raise BackupError(f"manifest of {name} in S3 is not valid JSON; do not use this backup") from None

    def delete(self, name: str) -> None:
        item = self.list().get(name) or {}
        for key in (item.get("manifest_key"), item.get("data_key")):  # manifest first: never a "good" orphan
            if key:
                self._call("delete", self.client.delete_object, Bucket=self.bucket, Key=key)


def _byte_progress(stage: str, total: int, progress):
    """A boto3 transfer Callback (called with each chunk's size) that reports the running total."""
    done = 0

    def on_bytes(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress({"stage": stage, "done": done, "total": total})

    return on_bytes
