"""Backups and disaster recovery: consistent online backups with a manifest, verification by
restoring into scratch, offsite copies on S3-compatible storage, retention, restore and drills.

A backup counts only once verified; its manifest is written last (docs/backups.md).
"""

from ..errors import SalesboardError


class BackupError(SalesboardError):
    """A backup, verification, upload or restore could not be done; the message says what to do."""

    exit_code = 5
