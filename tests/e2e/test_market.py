"""test_market.py - the pipeline against the simulator's market mode (tests/sim/market.py:
30 catalogs with heavy-tailed rates, a daily cycle, bursts, pushed-up listings, and busy
parents whose listings live in their children), time compressed 60x, with the adaptive
schedule and two egress identities:

    test_market_capture_is_exact
        listings arrive as the market makes them; the broker is killed outright for
        long enough that the busiest catalog's backlog passes the 960-result cap, and
        restarted: its windows split into price bands; the second identity is then
        banned (403) and pauses alone. Once the market stops and every catalog was
        polled again, the database equals the simulator's truth (every listing once,
        under the catalog whose search shows it), no window is truncated or failed.

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_market.py -v
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import E2ETestCase, figure  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown


class MarketTest(E2ETestCase):
    def market(self):
        return self.sim._call("GET", "/_sim/market")

    def test_market_capture_is_exact(self):
        self.start_sim(seed=91, catalogs=[1], initial=0, generation="v2",
                       extra_args=["--quiet", "--market", "30", "--market-seed", "5", "--market-speed", "60", "--market-scale", "4",
                                   "--proxies", "2"])
        m = self.market()
        catalogs = m["catalogs"]
        env = {"VINTED_CATALOGS": ",".join(map(str, catalogs)), "VINTED_SCHEDULE": "adaptive",
               "VINTED_WINDOW": "3s", "VINTED_MIN_INTERVAL": "1s", "VINTED_MAX_INTERVAL": "20s",
               "VINTED_RATE": "600", "VINTED_IMAGES": "off", "VINTED_PROXIES": ",".join(self.sim.proxies),
               "VINTED_BLOCK_BACKOFF": "1h", "VINTED_CATALOGS_EVERY": "0"}
        self.start_pipeline(env=env)

        def done_polls():
            return int(self.pipe.scalar("SELECT count(*) FROM windows WHERE state = 'done' AND kind = 'scheduled'"))
        harness.wait_until(lambda: done_polls() >= len(catalogs), 60, 0.2, "a first poll of every catalog")

        # the broker is down while the market goes on: the busiest catalog's backlog passes the cap
        counts = {}
        for t in self.sim.truth():
            counts[t["search_catalog_id"]] = counts.get(t["search_catalog_id"], 0) + 1
        busiest = max(counts, key=counts.get)
        figure("market_busiest", "%s (%s listings so far; parents: %s)" % (busiest, counts[busiest],
                                                                         sorted(m["children"])))
        broker = self.pipe.broker()
        self.pipe.kill(broker)
        hwm = int(self.pipe.scalar("SELECT coalesce(max(hwm_item_id), 0) FROM catalog_state WHERE catalog_id = %s"
                                   % busiest))

        def backlog():
            return sum(1 for t in self.sim.truth()
                       if t["search_catalog_id"] == busiest and t["item_id"] > hwm)
        harness.wait_until(lambda: backlog() > 1400, 90, 1.0, "1,400 listings of catalog %s past its mark" % busiest)
        figure("market_backlog_at_restart", backlog())
        self.pipe.restart(broker)
        harness.wait_until(lambda: self.pipe.scalar(
            "SELECT count(*) FROM windows WHERE bands IS NOT NULL AND state = 'done'") != "0", 90, 0.5,
            "a split window to commit")

        # the second identity is banned: it pauses alone, the first carries on
        self.sim.block(1)
        polls = done_polls()
        harness.wait_until(lambda: done_polls() >= polls + 20, 90, 0.5, "20 more polls after the ban")
        status = self.pipe.status_json()
        idents = status["identities"]
        figure("market_identities", [(i["requests"], i["blocked_ms"] // 1000) for i in idents])
        self.assertEqual(idents[0]["blocked_ms"], 0, idents)
        self.assertGreater(idents[1]["blocked_ms"], 0, idents)

        # the market stops; once every catalog was polled again, the exact truth
        self.sim._call("POST", "/_sim/market?run=0")
        stopped = self.pipe.scalar("SELECT now()")

        def all_polled():
            rows = self.pipe.query("SELECT count(DISTINCT catalog_id) FROM windows WHERE kind = 'scheduled'"
                                   " AND state = 'done' AND started_at > '%s'" % stopped)
            return int(rows[0][0]) == len(catalogs)
        harness.wait_until(all_polled, 90, 0.5, "a poll of every catalog after the market stopped")
        harness.wait_until(lambda: self.pipe.scalar(
            "SELECT count(*) FROM windows WHERE state IN ('pending', 'running') AND started_at IS NOT NULL"
            " AND kind = 'scheduled'") == "0", 60, 0.2, "the last polls to commit")
        truth = [dict(t, catalog_id=t["search_catalog_id"]) for t in self.sim.truth()]
        figure("market_listings", len(truth))
        figure("market_split_windows", self.pipe.scalar("SELECT count(*) FROM windows WHERE bands IS NOT NULL"))
        figure("market_requests", self.pipe.scalar("SELECT sum(requests) FROM windows"))
        by_proxy = self.sim.stats()["by_proxy"]
        figure("market_requests_by_proxy", by_proxy)
        self.assertEqual(by_proxy.get("direct", 0), 0)
        self.assert_matches_truth(truth)
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM windows WHERE truncated"), "0")
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM windows WHERE state = 'failed'"), "0")
        self.assertEqual(self.pipe.query("SELECT window_id, page, pos FROM sightings GROUP BY 1, 2, 3"
                                         " HAVING count(*) > 1"), [])


if __name__ == "__main__":
    unittest.main()
