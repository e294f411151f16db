-- 001: the catalog flow. Items, their sellers, every sighting of an item in a
-- window, the quarantine, per-window data-quality reports, and the broker's
-- durable state (windows and each catalog's high-water mark).

CREATE TABLE IF NOT EXISTS users (
    user_id        bigint PRIMARY KEY,
    login          text,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS items (
    item_id          bigint PRIMARY KEY,
    catalog_id       int,
    title            text,
    price            numeric(12,2),
    currency         char(3),
    service_fee      numeric(12,2),
    total_price      numeric(12,2),
    brand            text,
    size_title       text,
    size_kind        text,
    size_value       text,
    condition        text,
    user_id          bigint,
    url              text,
    photo_url        text,
    favourite_count  int,
    view_count       int,
    promoted         boolean,
    created_at       timestamptz,
    first_seen_at    timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    first_window_id  bigint,
    last_window_id   bigint
);
CREATE INDEX IF NOT EXISTS items_catalog_seen ON items (catalog_id, first_seen_at);
CREATE INDEX IF NOT EXISTS items_user ON items (user_id);

-- The broker's unit of work: one catalog pulled once.
CREATE TABLE IF NOT EXISTS windows (
    window_id      bigserial PRIMARY KEY,
    catalog_id     int NOT NULL,
    start_at       timestamptz NOT NULL,
    end_at         timestamptz NOT NULL,
    kind           text NOT NULL DEFAULT 'scheduled',   -- scheduled | adhoc
    state          text NOT NULL DEFAULT 'pending',     -- pending | running | done | failed
    hwm_before     bigint,          -- the catalog's high-water mark when the window started
    max_item_id    bigint,          -- largest item id committed by this window
    pages_done     int NOT NULL DEFAULT 0,   -- pages 1..pages_done are committed
    last_page      int,             -- the last page to fetch, once known
    truncated      boolean NOT NULL DEFAULT false, -- stopped at the 960-result cap before the mark
    items          int NOT NULL DEFAULT 0,
    requests       int NOT NULL DEFAULT 0,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS windows_scheduled ON windows (catalog_id, start_at) WHERE kind = 'scheduled';
CREATE INDEX IF NOT EXISTS windows_open ON windows (state) WHERE state IN ('pending', 'running');

CREATE TABLE IF NOT EXISTS catalog_state (
    catalog_id     int PRIMARY KEY,
    hwm_item_id    bigint NOT NULL DEFAULT 0,  -- largest item id committed so far
    last_window_id bigint,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Every appearance of an item in a window's pages (duplicates included).
CREATE TABLE IF NOT EXISTS sightings (
    window_id   bigint NOT NULL,
    page        int NOT NULL,
    pos         int NOT NULL,
    item_id     bigint NOT NULL,
    price       numeric(12,2),
    currency    char(3),
    null_mask   int NOT NULL,   -- bit per optional field that was missing, see proto/PROTOCOL.md
    seen_at     timestamptz NOT NULL,
    PRIMARY KEY (window_id, page, pos)
);

CREATE TABLE IF NOT EXISTS quarantine (
    window_id   bigint NOT NULL,
    page        int NOT NULL,
    pos         int NOT NULL,   -- -1: the whole page
    rule        text NOT NULL,
    detail      text,
    raw         bytea,
    seen_at     timestamptz NOT NULL,
    PRIMARY KEY (window_id, page, pos, rule)
);

CREATE TABLE IF NOT EXISTS dq_reports (
    window_id       bigint PRIMARY KEY,
    catalog_id      int NOT NULL,
    rows            int NOT NULL,
    distinct_items  int NOT NULL,
    duplicates      int NOT NULL,
    new_items       int NOT NULL,
    nulls           jsonb NOT NULL,
    quarantined     jsonb NOT NULL,
    prices          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
