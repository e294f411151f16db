"""test_replay.py - the raw landing area and replay: every raw page the live run
fetched is in the object store, and replaying the raw area into an empty
database reproduces the live run's tables exactly (twice: replays are
idempotent).

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -v
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import E2ETestCase, figure  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

# Tables a replay must reproduce, each with the columns to compare and its order.
TABLES = {
    "items": ("item_id, catalog_id, title, price, currency, service_fee, total_price, brand, size_title,"
              " size_kind, size_value, condition, user_id, url, photo_url, favourite_count, view_count,"
              " promoted, created_at, first_seen_at, last_seen_at, first_window_id, last_window_id", "item_id"),
    "users": ("user_id, login, first_seen_at, last_seen_at", "user_id"),
    "sightings": ("window_id, page, pos, item_id, price, currency, null_mask, seen_at", "window_id, page, pos"),
    "quarantine": ("window_id, page, pos, rule, detail, raw, seen_at", "window_id, page, pos, rule"),
    "dq_reports": ("window_id, catalog_id, rows, distinct_items, duplicates, new_items, nulls, quarantined,"
                   " prices", "window_id"),
}


def dump(pg, db):
    return {t: pg.query(db, "SELECT %s FROM %s ORDER BY %s" % (cols, t, order)) for t, (cols, order) in TABLES.items()}


class ReplayTest(E2ETestCase):

    def live_run(self, catalogs, rounds):
        for r in range(rounds):
            self.assert_windows_ok(self.pipe.run_windows(catalogs))
            if r < rounds - 1:
                self.sim.tick(new=120, bumps=8)
        self.assert_matches_truth()

    def replay(self, start, end):
        rc, out, err = self.pipe.ctl("replay", "--flow", "catalog", "--from", str(int(start)), "--to",
                                     str(int(end)), "--wait", "--timeout", "120s", timeout=150)
        self.assertEqual(rc, 0, "replay failed: %s %s" % (out, err))
        return out

    def assert_same(self, a, b, what):
        for t in TABLES:
            self.assertTrue(a[t], "%s: table %s is empty" % (what, t))
            if a[t] != b[t]:
                sa, sb = set(a[t]), set(b[t])
                self.fail("%s: table %s differs: %d rows vs %d; only live: %s; only replay: %s"
                          % (what, t, len(a[t]), len(b[t]), sorted(sa - sb)[:3], sorted(sb - sa)[:3]))

    def test_replay_into_empty_database_reproduces_tables(self):
        catalogs = [221, 1242]
        start = time.time() - 5
        self.start_sim(seed=11, catalogs=catalogs, initial=250, generation="v2", bad_every=29,
                       legacy_price_every=4)
        self.start_pipeline(api="v2")
        self.live_run(catalogs, 3)
        # a malformed page goes through the raw area and the quarantine like any other
        self.sim.faults([{"kind": "malformed", "count": 5}])
        self.assert_windows_ok(self.pipe.run_windows([221]))
        self.sim.clear_faults()
        self.assertGreater(int(self.pipe.scalar("SELECT count(*) FROM quarantine WHERE rule = 'malformed_page'")), 0)
        live = dump(self.pg, self.db)
        pages = int(self.pipe.scalar("SELECT sum(pages_done) FROM windows"))
        store = os.path.join(self.workdir, "store")
        objects = [os.path.join(d, f) for d, _, fs in os.walk(store) for f in fs]
        self.assertEqual(len(objects), pages, "raw objects in the store vs pages committed")
        self.assertTrue(all(o.endswith(".json.gz") and "/raw/catalog/" in o for o in objects), objects[:3])
        figure("replay_raw_objects", len(objects))
        figure("replay_raw_bytes", sum(os.path.getsize(o) for o in objects))
        end = time.time() + 5
        first = self.pipe
        first.stop()
        problems = ["sanitizer: " + h for h in first.sanitizer_errors()] + first.unexpected_exits()
        self.assertFalse(problems, problems)

        # replay the raw area into an empty database: no simulator, no fetcher
        self.sim.stop()
        empty = self.pg.create_db("replay")
        self.start_pipeline(api="v2", db=empty, fetchers=0)
        self.db = empty
        t0 = time.monotonic()
        out = self.replay(start, end)
        elapsed = time.monotonic() - t0
        self.assertIn("committed", out)
        self.assert_same(live, dump(self.pg, empty), "replay into an empty database")
        items = len(live["sightings"])
        figure("replay_sightings_per_s", "%.0f" % (items / elapsed))

        # again: nothing changes
        self.replay(start, end)
        self.assert_same(live, dump(self.pg, empty), "second replay")
        # a range with nothing in it is an empty replay, not an error
        out = self.replay(start - 7200, start - 3600)
        self.assertIn("0 pages", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
