-- 007: several sites in one deployment (VINTED_SITES). Every window and mark
-- belongs to a site ("pt", "fr", "co.uk" ...), and every listing records the site it
-- lives on (its prices are in that site's currency). Rows from before this step have
-- site '' in windows and catalog_state until the broker claims them for its default
-- site (VINTED_SITE) at start; items.site is NULL for them.
ALTER TABLE items ADD COLUMN IF NOT EXISTS site text;
ALTER TABLE windows ADD COLUMN IF NOT EXISTS site text NOT NULL DEFAULT '';
ALTER TABLE catalog_state ADD COLUMN IF NOT EXISTS site text NOT NULL DEFAULT '';
ALTER TABLE catalog_state DROP CONSTRAINT IF EXISTS catalog_state_pkey;
ALTER TABLE catalog_state ADD PRIMARY KEY (site, catalog_id);
CREATE INDEX IF NOT EXISTS items_site ON items (site, catalog_id);
-- one scheduled window per site, catalog and start
DROP INDEX IF EXISTS windows_scheduled;
CREATE UNIQUE INDEX IF NOT EXISTS windows_scheduled_site ON windows (site, catalog_id, start_at) WHERE kind = 'scheduled';
