-- 002: the tracking and images flows. Price histories of a deterministic
-- sample of items, seller counters, and the photos of listings with where
-- they are stored.

-- The sample: an item is sampled when its bucket is below fraction * 2^32.
-- bucket = ((item_id mod 2^32) * 2654435761) mod 2^32, a multiplicative hash:
-- the same item is chosen on every run and every replay (common/sample.h).
ALTER TABLE items ADD COLUMN IF NOT EXISTS sample_bucket bigint
    GENERATED ALWAYS AS (((((item_id % 4294967296) + 4294967296) % 4294967296)::numeric * 2654435761
                          % 4294967296)::bigint) STORED;
CREATE INDEX IF NOT EXISTS items_sample ON items (sample_bucket);
-- when the tracking flow first saw the item closed (sold) or gone (404): time-to-sale
ALTER TABLE items ADD COLUMN IF NOT EXISTS closed_seen_at timestamptz;
ALTER TABLE items ADD COLUMN IF NOT EXISTS closing_action text;
ALTER TABLE items ADD COLUMN IF NOT EXISTS removed_seen_at timestamptz;

-- One observation of an item per tracking run.
CREATE TABLE IF NOT EXISTS item_snapshots (
    item_id          bigint NOT NULL,
    run_id           bigint NOT NULL,      -- the tracking run (windows.window_id, kind 'tracking')
    observed_at      timestamptz NOT NULL, -- fetch time of the page that showed it
    user_id          bigint,
    price            numeric(12,2),
    currency         char(3),
    favourite_count  int,
    view_count       int,
    is_reserved      boolean NOT NULL,
    is_hidden        boolean NOT NULL,
    is_closed        boolean NOT NULL,
    closing_action   text,
    removed          boolean NOT NULL,     -- the item page answered 404
    PRIMARY KEY (item_id, run_id)
);
CREATE INDEX IF NOT EXISTS item_snapshots_observed ON item_snapshots (observed_at);

-- One observation of a seller's public counters per tracking run.
CREATE TABLE IF NOT EXISTS user_snapshots (
    user_id                  bigint NOT NULL,
    run_id                   bigint NOT NULL,
    observed_at              timestamptz NOT NULL,
    login                    text,
    item_count               int,
    feedback_count           int,
    feedback_reputation      numeric(4,3),
    positive_feedback_count  int,
    neutral_feedback_count   int,
    negative_feedback_count  int,
    followers_count          int,
    city                     text,
    country                  text,
    PRIMARY KEY (user_id, run_id)
);

-- Photos of listings, and where the images flow stored them.
CREATE TABLE IF NOT EXISTS photos (
    item_id        bigint NOT NULL,      -- items.item_id
    photo_id       bigint NOT NULL,
    url            text NOT NULL,        -- CDN URL as last served
    is_main        boolean NOT NULL,
    position       int NOT NULL,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    object_key     text,                 -- images/<item_id>/<photo_id>.<ext>, once stored
    bytes          bigint,
    content_type   text,
    sha256         text,                 -- hex digest of the stored bytes
    stored_at      timestamptz,
    PRIMARY KEY (item_id, photo_id)
);
CREATE INDEX IF NOT EXISTS photos_unstored ON photos (item_id) WHERE stored_at IS NULL;

-- An images window remembers the catalog window whose commit asked for it,
-- so that a restarted broker can pick it up again.
ALTER TABLE windows ADD COLUMN IF NOT EXISTS parent_window_id bigint;

-- Tracking pages of one run share window and page numbers (every seller's list
-- starts at page 1): the page's target (seller or item id) tells them apart.
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS target_id bigint NOT NULL DEFAULT 0;
ALTER TABLE quarantine DROP CONSTRAINT IF EXISTS quarantine_pkey;
ALTER TABLE quarantine ADD PRIMARY KEY (window_id, target_id, page, pos, rule);
