"""Settings from the environment (SALESBOARD_*) with an optional salesboard.toml.

Every setting has a documented default (docs/configuration.md). Environment
wins over the TOML file; the TOML file wins over defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _check_url(name: str, value: str) -> None:
    """An http(s) URL with a host (and a valid port), or a one-line ConfigError naming the setting."""
    try:
        parts = urlsplit(value)
        ok = parts.scheme in {"http", "https"} and bool(parts.hostname) and not any(c.isspace() for c in value)
        parts.port  # noqa: B018 - raises ValueError when out of range
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"SALESBOARD_{name.upper()} must be an http(s) URL such as https://s3.eu-central-1.amazonaws.com "
                          f"or http://127.0.0.1:9000, not {value!r}")


@dataclass(frozen=True)
class Settings:
    db: Path = Path("data/dashboard.duckdb")
    env: str = "development"  # development | production
    host: str = "127.0.0.1"
    port: int = 8501
    allow_registration: bool = True
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    lockout_threshold: int = 5
    lockout_minutes: int = 15
    demo_sales: int = 20000
    demo_days: int = 400
    base_currency: str = "USD"
    max_upload_mb: int = 200
    import_future_days: int = 1       # imports: sale dates later than today + N days are quarantined
    fx_max_age_days: int = 7          # imports: use the latest FX rate at most N days before the sale
    # imports: DuckDB memory_limit while an import runs (bigger files spill to disk); "" = leave DuckDB's own
    import_memory_limit: str = "1100MB"
    export_max_rows: int = 1_000_000
    log_format: str = "auto"  # auto (json in production, else text) | text | json
    cookie_secure: bool = False
    # Scheduler (docs/backups.md): cron strings in `scheduler_timezone`; a job missed while the
    # server was down runs once at start if its last due time is within the misfire grace.
    scheduler_enabled: bool = True
    scheduler_timezone: str = "UTC"
    scheduler_misfire_grace_minutes: int = 360
    job_retries: int = 2
    job_retry_backoff_seconds: int = 30
    job_sync_cron: str = "0 2 * * *"
    job_health_cron: str = "0 * * * *"
    job_backup_cron: str = "0 3 * * *"
    job_cleanup_cron: str = "0 4 * * sun"
    # Backups: empty backup_dir means <folder of db>/backups (data/backups by default).
    backup_dir: str = ""
    backup_method: str = "checkpoint"  # checkpoint | copy-database
    backup_compress: bool = False
    backup_signing_key: str = ""  # HMAC key for manifests; empty: unsigned (checksums still catch damage)
    backup_retention_days: int = 30
    backup_keep_last: int = 3
    backup_keep_daily: int = 0
    backup_keep_weekly: int = 0
    backup_keep_monthly: int = 0
    backup_max_age_hours: int = 26
    dr_rto_minutes: int = 15
    # Offsite copy (any S3-compatible store); off while s3_bucket is empty. Credentials may also
    # come from the standard AWS_* variables.
    s3_bucket: str = ""
    s3_prefix: str = "salesboard/"
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = field(default="", repr=False)
    s3_secret_access_key: str = field(default="", repr=False)
    s3_sse: str = ""  # "" | AES256 | aws:kms
    s3_kms_key_id: str = ""
    s3_object_lock_mode: str = ""  # "" | GOVERNANCE | COMPLIANCE
    s3_object_lock_days: int = 0
    s3_multipart_mb: int = 64
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def data_dir(self) -> Path:
        return self.db.parent

    @property
    def server_file(self) -> Path:
        """Where a running server records its address and admin token (mode 0600)."""
        return self.db.with_name(self.db.name + ".server.json")


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values: dict = {}
    toml_path = Path(env.get("SALESBOARD_CONFIG", "salesboard.toml"))
    if toml_path.exists():
        try:
            values.update(tomllib.loads(toml_path.read_text()).get("salesboard", {}))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: invalid TOML ({exc}); fix the file or unset SALESBOARD_CONFIG") from exc
    known = {f.name: f for f in fields(Settings) if f.name != "extra"}
    for name, f in known.items():
        raw = env.get(f"SALESBOARD_{name.upper()}")
        if raw is not None:
            values[name] = raw
    out: dict = {}
    for name, raw in values.items():
        if name not in known:
            continue
        typ = type(getattr(Settings, name, None)) if name != "db" else Path
        try:
            if typ is bool:
                out[name] = raw if isinstance(raw, bool) else _bool(str(raw))
            elif typ is int:
                out[name] = int(raw)
            elif typ is Path or name == "db":
                out[name] = Path(str(raw))
            else:
                out[name] = str(raw)
        except ValueError as exc:
            raise ConfigError(f"SALESBOARD_{name.upper()}: {exc}") from exc
    s = Settings(**out)
    if s.env not in {"development", "production", "test"}:
        raise ConfigError("SALESBOARD_ENV must be development, production or test")
    if len(s.base_currency) != 3:
        raise ConfigError("SALESBOARD_BASE_CURRENCY must be a 3-letter ISO code, e.g. USD")
    if s.s3_endpoint:
        _check_url("s3_endpoint", s.s3_endpoint)
    return s
