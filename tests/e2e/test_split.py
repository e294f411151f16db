"""test_split.py - a catalog window past the API's 960-result cap: the broker splits
its query into price bands (price_from/price_to, halves of a band that still meets
the cap) whose union is the catalog, and v2 pins each band's later pages to its
page 1 (time=), against the simulator:

    test_busy_catalog_is_split_and_captured_whole
        2,600 listings arrive in one catalog between two windows (the cap is 960):
        the window splits, commits untruncated, and the database holds the exact
        truth (no listing lost, none twice); the next window of the catalog starts
        from the bands it learnt

    test_svc_split_while_listings_arrive
        svc-catalogue has no time= to pin pages: listings arrive while a split
        window pages; the mark it leaves (its first page's newest id) keeps every
        one the bands missed for the next window: the exact truth

    test_split_window_survives_a_broker_kill
        the broker is killed outright while a split window pages, with listings
        still arriving (pinned pages): the restarted broker pages every band again
        down to the same mark, and the database is the exact truth

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_split.py -v
"""

import contextlib
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import E2ETestCase, figure  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

BUSY, QUIET = 601, 602
ENV = {"VINTED_CATALOGS": "%d,%d" % (BUSY, QUIET), "VINTED_WINDOW": "1h", "VINTED_RATE": "6000",
       "VINTED_IMAGES": "off"}


class SplitTest(E2ETestCase):
    def window_row(self, wid):
        rows = self.pipe.query("SELECT state, truncated, coalesce(bands, ''), pages_done, requests"
                               " FROM windows WHERE window_id = %d" % wid)
        self.assertEqual(len(rows), 1, "window %d" % wid)
        state, truncated, bands, pages, requests = rows[0]
        return {"state": state, "truncated": truncated == "t", "bands": bands, "pages": int(pages),
                "requests": int(requests)}

    def last_window(self, catalog):
        return int(self.pipe.scalar("SELECT max(window_id) FROM windows WHERE catalog_id = %d" % catalog))

    def run_ok(self, catalog):
        rc, out, err = self.pipe.run_window(catalog, timeout="120s")
        self.assertEqual(rc, 0, "window of %d: %s %s" % (catalog, out, err[-800:]))
        return self.window_row(self.last_window(catalog))

    @contextlib.contextmanager
    def arrivals(self, new, bumps, every):
        """Listings keep arriving in the busy catalog (new and bumps every `every` s) while the block runs."""
        stop = threading.Event()

        def tick():
            while not stop.is_set():
                self.sim.tick(new=0, bumps=bumps, rates={BUSY: new, QUIET: 0})
                stop.wait(every)
        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        self.addCleanup(stop.set)
        try:
            yield
        finally:
            stop.set()
            ticker.join()

    def assert_no_duplicates(self):
        # items are keyed by id; what must hold is one sighting per listing per window page
        # slot and no listing of the busy catalog missing (assert_matches_truth)
        dup = self.pipe.query("SELECT window_id, page, pos, count(*) FROM sightings"
                              " GROUP BY 1, 2, 3 HAVING count(*) > 1")
        self.assertEqual(dup, [])

    def test_busy_catalog_is_split_and_captured_whole(self):
        self.start_sim(seed=61, catalogs=[BUSY, QUIET], initial=40, generation="v2", extra_args=["--quiet"])
        self.start_pipeline(env=ENV)
        for c in (BUSY, QUIET):
            self.run_ok(c)
        self.sim.tick(new=0, bumps=5, rates={BUSY: 2600, QUIET: 3})
        busy = self.run_ok(BUSY)
        figure("split_window_pages", busy["pages"])
        figure("split_window_requests", busy["requests"])
        figure("split_window_bands", busy["bands"])
        self.assertFalse(busy["truncated"], busy)
        self.assertNotEqual(busy["bands"], "", "2,600 new listings, and the window was not split: %s" % busy)
        bands = [tuple(int(x) for x in b.split("-")) for b in busy["bands"].split(",")]
        # the bands tile every price: from 0, each starting where one ends, the last open
        bands.sort()
        self.assertEqual(bands[0][0], 0)
        self.assertEqual(bands[-1][1], 0)
        for (a, b), (c, d) in zip(bands, bands[1:]):
            self.assertEqual(b, c, "a gap or an overlap between price bands: %s" % bands)
        # a poll needs at least 2,600 / 96 pages; the split costs the truncated query's pages too
        self.assertGreaterEqual(busy["pages"], 28)
        self.assertGreaterEqual(busy["requests"], busy["pages"], busy)
        stats = self.sim.stats()
        self.assertGreater(stats["banded"], 0)
        self.assertGreater(stats["pinned"], 0, "no page asked with time=")
        quiet = self.run_ok(QUIET)
        self.assertEqual(quiet["bands"], "")
        self.assert_matches_truth()
        self.assert_no_duplicates()

        # the next window starts from the learnt bands (merged where they paged little)
        self.sim.tick(new=0, bumps=2, rates={BUSY: 1500, QUIET: 0})
        before = self.sim.stats()["banded"]
        nxt = self.run_ok(BUSY)
        figure("split_next_window", "pages=%d bands=%s" % (nxt["pages"], nxt["bands"]))
        self.assertFalse(nxt["truncated"], nxt)
        self.assertNotEqual(nxt["bands"], "")
        first = self.sim.stats()["banded"] - before
        self.assertGreaterEqual(first, 2, "the window did not start in bands")
        self.assert_matches_truth()
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM windows WHERE truncated"), "0")

    def test_svc_split_while_listings_arrive(self):
        """svc-catalogue cannot pin pages: a split window's bands see listings that came
        after it began; the mark it leaves is still its first page's newest id, so the
        next window finds every listing the bands missed."""
        self.start_sim(seed=63, catalogs=[BUSY, QUIET], initial=40, generation="svc", extra_args=["--quiet"])
        self.start_pipeline(api="svc", env=dict(ENV, VINTED_RATE="600"))
        self.run_ok(BUSY)
        self.sim.tick(new=0, bumps=3, rates={BUSY: 2200, QUIET: 0})
        with self.arrivals(new=6, bumps=1, every=0.2):
            busy = self.run_ok(BUSY)
            again = self.run_ok(BUSY)  # from learnt bands, a probe first
        self.assertNotEqual(busy["bands"], "")
        self.assertFalse(busy["truncated"] or again["truncated"])
        self.assertEqual(self.sim.stats()["pinned"], 0)
        self.run_ok(BUSY)
        self.assert_matches_truth()
        self.assert_no_duplicates()

    def test_split_window_survives_a_broker_kill(self):
        self.start_sim(seed=62, catalogs=[BUSY, QUIET], initial=40, generation="v2", extra_args=["--quiet"])
        env = dict(ENV, VINTED_RATE="240")  # 4 pages a second: the kill lands mid-window
        self.start_pipeline(env=env)
        self.run_ok(BUSY)
        self.sim.tick(new=0, bumps=3, rates={BUSY: 2400, QUIET: 0})
        rc, out, err = self.pipe.run_window(BUSY, wait=False)
        self.assertEqual(rc, 0, err)
        with self.arrivals(new=4, bumps=0, every=0.3):  # later pages are pinned
            wid = self.last_window(BUSY)
            harness.wait_until(lambda: self.window_row(wid)["bands"] != "", 90, 0.1,
                               "the window to split (bands recorded)")
            broker = self.pipe.broker()
            self.pipe.kill(broker)
            figure("split_killed_at", "pages=%d bands=%s" % (self.window_row(wid)["pages"],
                                                             self.window_row(wid)["bands"]))
            self.pipe.restart(broker)
            harness.wait_until(lambda: self.window_row(wid)["state"] in ("done", "failed"), 180, 0.2,
                               "the split window to commit after the restart")
        row = self.window_row(wid)
        self.assertEqual(row["state"], "done", row)
        self.assertFalse(row["truncated"], row)
        # what arrived while it paged (and after the kill) is the next window's
        self.run_ok(BUSY)
        self.assertGreater(self.sim.stats()["pinned"], 0)
        self.assert_matches_truth()
        self.assert_no_duplicates()


if __name__ == "__main__":
    unittest.main()
