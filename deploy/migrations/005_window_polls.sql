-- 005: what the adaptive schedule learns from (broker/schedule.c): when a catalog
-- window's first page was fetched, and how many listings it saw first. The broker
-- reads them back at start, so a restart keeps every catalog's rate estimate.
ALTER TABLE windows ADD COLUMN IF NOT EXISTS polled_at timestamptz;
ALTER TABLE windows ADD COLUMN IF NOT EXISTS new_items int;
CREATE INDEX IF NOT EXISTS windows_polls ON windows (catalog_id, polled_at) WHERE polled_at IS NOT NULL;
