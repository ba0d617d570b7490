-- Core schema: users, sessions, products, sales, audit log, run ledger.
CREATE SEQUENCE IF NOT EXISTS users_id_seq START 1;
CREATE TABLE users (
    id            INTEGER PRIMARY KEY DEFAULT nextval('users_id_seq'),
    username      VARCHAR NOT NULL UNIQUE,
    display_name  VARCHAR,
    email         VARCHAR,
    role          VARCHAR NOT NULL CHECK (role IN ('admin', 'manager', 'user')),
    team          VARCHAR,          -- a rep's team; a manager sees the team's sales
    region        VARCHAR,          -- a manager scoped to a region sees that region
    password_hash VARCHAR,          -- NULL: cannot log in locally (e.g. a rep record)
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    is_demo       BOOLEAN NOT NULL DEFAULT FALSE,
    auth_source   VARCHAR NOT NULL DEFAULT 'local',
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMP,
    password_changed_at TIMESTAMP,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp::TIMESTAMP,
    last_login_at TIMESTAMP
);

CREATE TABLE sessions (
    token_hash   VARCHAR PRIMARY KEY,   -- sha256 of the cookie value; the raw token is never stored
    user_id      INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,     -- absolute timeout
    ip           VARCHAR,
    user_agent   VARCHAR
);

-- One-time tickets that let the browser exchange a fresh login for an HttpOnly cookie.
CREATE TABLE login_tickets (
    ticket_hash VARCHAR PRIMARY KEY,
    token       VARCHAR NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS products_id_seq START 1;
CREATE TABLE products (
    id         INTEGER PRIMARY KEY DEFAULT nextval('products_id_seq'),
    sku        VARCHAR NOT NULL UNIQUE,
    name       VARCHAR NOT NULL,
    category   VARCHAR NOT NULL DEFAULT 'Uncategorized',
    unit_price DECIMAL(18, 4),
    unit_cost  DECIMAL(18, 4),
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp::TIMESTAMP
);

-- One row per sale line. Natural key (source, source_key).
-- Amounts: net_amount in `currency`; net_amount_base in the base currency.
CREATE TABLE sales (
    source          VARCHAR NOT NULL,
    source_key      VARCHAR NOT NULL,
    order_id        VARCHAR NOT NULL,
    sold_at         TIMESTAMP NOT NULL,   -- UTC
    product_id      INTEGER,
    customer_id     VARCHAR,
    customer_name   VARCHAR,
    rep_id          INTEGER,
    region          VARCHAR,
    country         VARCHAR,
    channel         VARCHAR,
    quantity        INTEGER NOT NULL,
    unit_price      DECIMAL(18, 4) NOT NULL,
    discount        DECIMAL(9, 4) NOT NULL DEFAULT 0,   -- fraction 0..1
    net_amount      DECIMAL(18, 2) NOT NULL,
    currency        VARCHAR NOT NULL,
    net_amount_base DECIMAL(18, 2) NOT NULL,
    cost_base       DECIMAL(18, 2),                     -- NULL where cost is unknown
    status          VARCHAR NOT NULL CHECK (status IN ('completed', 'refunded', 'cancelled')),
    load_id         VARCHAR NOT NULL,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp::TIMESTAMP,
    PRIMARY KEY (source, source_key)
);

-- Order-line rollup kept in step with `sales` by every writer (analytics.rollup): one row per
-- day, order, product, region, channel, rep, customer and status, inserted in day order so
-- date windows skip whole row groups. Integer order/customer keys make the dashboard's exact
-- distinct counts hash integers instead of strings (bench/overview.py measures why).
CREATE TABLE sales_daily (
    day          DATE NOT NULL,
    product_id   INTEGER,
    region       VARCHAR,
    channel      VARCHAR,
    rep_id       INTEGER,
    status       VARCHAR NOT NULL,
    order_key    BIGINT NOT NULL,   -- one key per order_id across all days
    customer_key BIGINT,            -- one key per customer_id; NULL when the customer is unknown
    order_id     VARCHAR NOT NULL,  -- kept so a refresh finds the keys of known orders/customers
    customer_id  VARCHAR,
    customer_name VARCHAR,
    lines        BIGINT NOT NULL,
    units        BIGINT NOT NULL,
    revenue      DECIMAL(18, 2) NOT NULL, -- one order line group: 18 digits are plenty, sums widen
    cost         DECIMAL(18, 2),
    cost_revenue DECIMAL(18, 2)     -- revenue of the lines whose cost is known
);

CREATE SEQUENCE IF NOT EXISTS audit_seq START 1;
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
    logged_at TIMESTAMP NOT NULL,
    actor     VARCHAR,
    action    VARCHAR NOT NULL,
    target    VARCHAR,
    success   BOOLEAN NOT NULL DEFAULT TRUE,
    detail    JSON,
    ip        VARCHAR,
    prev_hash VARCHAR,
    hash      VARCHAR NOT NULL       -- sha256 chain: tampering breaks every later hash
);

CREATE TABLE sync_runs (
    run_id      VARCHAR PRIMARY KEY,
    source      VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,      -- demo | file | api | ...
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status      VARCHAR NOT NULL,      -- running | success | partial | failed
    rows_read   BIGINT DEFAULT 0,
    rows_inserted BIGINT DEFAULT 0,
    rows_updated  BIGINT DEFAULT 0,
    rows_unchanged BIGINT DEFAULT 0,
    rows_quarantined BIGINT DEFAULT 0,
    error       VARCHAR,
    detail      JSON
);

-- Bumped by every write that changes sales; caches key on it.
CREATE TABLE data_version (
    id         INTEGER PRIMARY KEY,
    version    BIGINT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
INSERT INTO data_version VALUES (1, 0, current_timestamp::TIMESTAMP);
