-- Operations: scheduler job runs, the backup catalog and disaster-recovery drills.
-- The backup files and their manifests on disk / in S3 are the truth; `backups` mirrors
-- them with their verification history (a restore rolls this table back with the rest).
CREATE SEQUENCE IF NOT EXISTS job_runs_seq START 1;
CREATE TABLE job_runs (
    id          BIGINT PRIMARY KEY DEFAULT nextval('job_runs_seq'),
    job         VARCHAR NOT NULL,
    trigger     VARCHAR NOT NULL,      -- schedule | catch-up | manual
    started_at  TIMESTAMP NOT NULL,    -- UTC
    finished_at TIMESTAMP,
    status      VARCHAR NOT NULL,      -- running | success | failed | skipped | interrupted
    attempts    INTEGER NOT NULL DEFAULT 1,
    error       VARCHAR,
    output      JSON,                  -- short summary returned by the job
    actor       VARCHAR
);

CREATE TABLE backups (
    name            VARCHAR PRIMARY KEY,   -- dashboard_backup_YYYYMMDD_HHMMSS
    created_at      TIMESTAMP NOT NULL,
    file_name       VARCHAR NOT NULL,
    size_bytes      BIGINT NOT NULL,
    sha256          VARCHAR NOT NULL,
    method          VARCHAR,
    schema_version  VARCHAR,
    verified_at     TIMESTAMP,
    verify_ok       BOOLEAN,
    verify_error    VARCHAR,
    s3_key          VARCHAR,
    uploaded_at     TIMESTAMP,
    deleted_at      TIMESTAMP,
    deleted_reason  VARCHAR
);

CREATE SEQUENCE IF NOT EXISTS dr_drills_seq START 1;
CREATE TABLE dr_drills (
    id            BIGINT PRIMARY KEY DEFAULT nextval('dr_drills_seq'),
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    source        VARCHAR NOT NULL,      -- s3 | local
    backup_name   VARCHAR,
    status        VARCHAR NOT NULL,      -- success | failed
    rto_seconds   DOUBLE,
    objective_seconds DOUBLE,
    error         VARCHAR,
    detail        JSON
);
