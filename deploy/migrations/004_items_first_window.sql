-- 004: the data-quality report counts a window's new items (items whose first
-- sighting is in that window); without an index that is a scan of all items per
-- window, which made a replay of N windows quadratic (tests/bench/replay.py).
CREATE INDEX IF NOT EXISTS items_first_window ON items (first_window_id);
