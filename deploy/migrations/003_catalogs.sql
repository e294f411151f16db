-- 003: the site's catalog tree, refreshed by the broker (daily, and at start when
-- empty), so that every report shows catalog names, not bare ids.
CREATE TABLE IF NOT EXISTS catalogs (
    catalog_id   int PRIMARY KEY,
    parent_id    int,              -- NULL for a root
    title        text NOT NULL,
    code         text,
    url          text,             -- path on the site, e.g. /women/clothes
    depth        int NOT NULL,     -- 0 for a root
    seen_at      timestamptz NOT NULL  -- fetch time of the tree that last showed it
);
CREATE INDEX IF NOT EXISTS catalogs_parent ON catalogs (parent_id);
