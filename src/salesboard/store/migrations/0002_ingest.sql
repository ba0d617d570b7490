-- Ingest: quarantined rows, FX rates, country -> region rules (issue 3, docs/imports.md).

-- Rows a run could not load, with the source row as it was and every reason in words.
CREATE SEQUENCE IF NOT EXISTS quarantine_seq START 1;
CREATE TABLE quarantine (
    id              BIGINT PRIMARY KEY DEFAULT nextval('quarantine_seq'),
    run_id          VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,
    mapping         VARCHAR NOT NULL,     -- built-in name or mapping file path used by the run
    row_number      BIGINT,               -- data row in the source file (1 = first row after the header)
    source_key      VARCHAR,
    raw             JSON NOT NULL,        -- the source row: {"column": "value", ...}
    reasons         VARCHAR[] NOT NULL,
    status          VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'discarded')),
    created_at      TIMESTAMP NOT NULL,
    resolved_at     TIMESTAMP,
    resolved_by     VARCHAR,
    resolved_run_id VARCHAR                -- the replay run that took the row
);

-- Units of `base` for one unit of `currency`, valid from `day` (the latest rate on or before a sale's day applies).
CREATE TABLE fx_rates (
    base      VARCHAR NOT NULL,
    currency  VARCHAR NOT NULL,
    day       DATE NOT NULL,
    rate      DECIMAL(20, 10) NOT NULL CHECK (rate > 0),
    source    VARCHAR,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (base, currency, day)
);

-- Region for rows that name a country (and optionally a state) but no region. state '' = any state.
CREATE TABLE region_rules (
    country VARCHAR NOT NULL,
    state   VARCHAR NOT NULL DEFAULT '',
    region  VARCHAR NOT NULL,
    PRIMARY KEY (country, state)
);
-- The demo's regions (store/demo.py REGIONS), so imported rows land in the same regions.
INSERT INTO region_rules VALUES ('Canada', '', 'North'), ('Mexico', '', 'South'), ('Germany', '', 'East'),
                                ('United States', '', 'West');
