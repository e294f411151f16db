-- 008: a photo the CDN refused for good (404, 410, 403, another 4xx, too large)
-- is marked gone with the reason, so that neither a later window of its item nor
-- the hourly retry (VINTED_PHOTO_RETRY) asks the CDN for it again. A listing that
-- serves the photo under a new URL clears the mark (the pg-sink's upsert), and
-- the new URL is tried.
ALTER TABLE photos ADD COLUMN IF NOT EXISTS gone_at timestamptz;
ALTER TABLE photos ADD COLUMN IF NOT EXISTS gone_reason text;
