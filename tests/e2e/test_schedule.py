"""test_schedule.py - VINTED_SCHEDULE=adaptive against the simulator, with three
catalogs whose listings arrive at very different rates:

    test_adaptive_polls_follow_each_catalogs_rate
        the busy catalog is polled far more often than the quiet ones, no poll meets
        the 960-result cap, status shows every catalog's estimated rate in the right
        order; a broker killed with SIGKILL comes back with the same estimates (rebuilt
        from the stored polls, before any new window commits); once the arrivals stop
        and every catalog was polled again, the database holds the exact truth

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_schedule.py -v
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import E2ETestCase, figure  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

BUSY, MID, QUIET = 501, 502, 503
RATES = {BUSY: 30, MID: 4, QUIET: 0}  # new listings per tick: 60/s (a poll every ~12 s), 8/s, none
TICK = 0.5


class ScheduleTest(E2ETestCase):
    def schedule(self):
        status = self.pipe.status_json()
        self.assertIsNotNone(status, "status")
        self.assertIn("schedule", status, "status without the adaptive schedule: %s" % sorted(status))
        return {c["catalog"]: c for c in status["schedule"]["catalogs"]}

    def polls(self, catalog):
        return int(self.pipe.scalar("SELECT count(*) FROM windows WHERE kind = 'scheduled' AND state = 'done'"
                                    " AND catalog_id = %d" % catalog))

    def test_adaptive_polls_follow_each_catalogs_rate(self):
        catalogs = [BUSY, MID, QUIET]
        self.start_sim(seed=81, catalogs=catalogs, initial=60, generation="v2", extra_args=["--quiet"])
        env = {"VINTED_CATALOGS": ",".join(map(str, catalogs)), "VINTED_SCHEDULE": "adaptive",
               "VINTED_WINDOW": "3s", "VINTED_MIN_INTERVAL": "1s", "VINTED_MAX_INTERVAL": "20s",
               "VINTED_RATE": "600", "VINTED_IMAGES": "off"}
        self.start_pipeline(env=env)
        stop = threading.Event()

        def arrivals():
            while not stop.is_set():
                self.sim.tick(new=0, bumps=1, rates=RATES)
                stop.wait(TICK)
        ticker = threading.Thread(target=arrivals, daemon=True)
        ticker.start()
        self.addCleanup(stop.set)
        try:
            # the estimates settle: each catalog polled a few times after its first window
            # (first polls at once and after the first interval, 3 s; then the busy one
            # every ~12 s and the others at the max interval, 20 s)
            harness.wait_until(lambda: self.polls(BUSY) >= 4 and self.polls(QUIET) >= 3, 90, 0.2,
                               "four polls of the busy catalog, three of the quiet one")
            before = self.schedule()
            counts = {c: self.polls(c) for c in catalogs}
            figure("schedule_polls", "/".join(str(counts[c]) for c in catalogs))
            figure("schedule_rate_per_h", "/".join("%.0f" % before[c]["rate_per_h"] for c in catalogs))
            figure("schedule_interval_s", "/".join("%.0f" % before[c]["interval_s"] for c in catalogs))
            self.assertGreater(counts[BUSY], counts[MID], "the busy catalog is not polled more often: %s" % counts)
            self.assertGreater(before[BUSY]["rate_per_h"], 3 * before[MID]["rate_per_h"], before)
            self.assertGreater(before[MID]["rate_per_h"], before[QUIET]["rate_per_h"], before)
            self.assertLess(before[BUSY]["interval_s"], before[MID]["interval_s"], before)
            self.assertEqual(before[MID]["interval_s"], 20, "the mid catalog (100 s to 800 listings) at --max-interval")
            self.assertEqual(before[QUIET]["interval_s"], 20, "the quiet catalog at --max-interval")
            truncated = self.pipe.query("SELECT window_id, catalog_id, items FROM windows WHERE truncated")
            self.assertEqual(truncated, [], "polls met the 960-result cap")

            # a broker killed outright rebuilds every estimate from the stored polls
            broker = self.pipe.broker()
            self.pipe.kill(broker)
            stop.set()
            ticker.join()
            self.pipe.restart(broker)
            harness.wait_until(lambda: self.pipe.status_json() is not None, 30, 0.2, "the broker to answer")
            after = self.schedule()
            for c in (BUSY, MID):
                self.assertGreater(after[c]["rate_per_h"], 0.5 * before[c]["rate_per_h"],
                                   "catalog %d: rate %s after the restart, %s before" % (
                                       c, after[c]["rate_per_h"], before[c]["rate_per_h"]))
                self.assertLess(after[c]["rate_per_h"], 2 * before[c]["rate_per_h"])
        finally:
            stop.set()
            ticker.join()

        # no more arrivals: once every catalog was polled again, the exact truth
        mark = self.pipe.scalar("SELECT now()")

        def all_polled():
            rows = self.pipe.query("SELECT catalog_id FROM windows WHERE kind = 'scheduled' AND state = 'done'"
                                   " AND started_at > '%s' GROUP BY catalog_id" % mark)
            return len(rows) == len(catalogs)
        harness.wait_until(all_polled, 60, 0.5, "a poll of every catalog after the arrivals stopped")
        harness.wait_until(lambda: self.pipe.scalar(
            "SELECT count(*) FROM windows WHERE state IN ('pending', 'running') AND kind = 'scheduled'"
            " AND started_at IS NOT NULL") == "0", 30, 0.2, "the last polls to commit")
        self.assert_matches_truth()
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM windows WHERE state = 'failed'"), "0")


if __name__ == "__main__":
    unittest.main()
