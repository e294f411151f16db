-- 006: a catalog window split past the 960-result cap (broker/window.h): the price
-- bands of its queries, "from-to,..." in minor units (0: open), NULL when unsplit.
-- A broker that restarts during a split window pages every band again from page 1.
ALTER TABLE windows ADD COLUMN IF NOT EXISTS bands text;
