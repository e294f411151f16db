"""test_identities.py - several egress identities (VINTED_PROXIES): the simulator
listens on two proxy ports, each an egress IP of its own; the broker grants each
identity its own VINTED_RATE and pauses a blocked one alone:

    test_blocked_identity_pauses_alone
        windows go out through both identities (each with its own session: a home
        page visit through each); the simulator then bans the second one (403,
        DataDome): the broker pauses that identity only, the first carries every
        later request, windows keep committing, status shows which identity is
        blocked, and the database is the exact truth. The second proxy's
        password appears in no log and not in status.

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_identities.py -v
"""

import glob
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import E2ETestCase, figure  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

CATALOGS = [701, 702, 703]
SECRET = "sekrit-proxy-pass"


class IdentitiesTest(E2ETestCase):
    def test_blocked_identity_pauses_alone(self):
        self.start_sim(seed=71, catalogs=CATALOGS, initial=150, generation="v2",
                       extra_args=["--quiet", "--proxies", "2"])
        self.assertEqual(len(self.sim.proxies), 2)
        second = self.sim.proxies[1].replace("http://", "http://scraper:%s@" % SECRET)
        env = {"VINTED_CATALOGS": ",".join(map(str, CATALOGS)), "VINTED_WINDOW": "1h", "VINTED_RATE": "300",
               "VINTED_IMAGES": "off", "VINTED_PROXIES": "%s,%s" % (self.sim.proxies[0], second),
               "VINTED_BLOCK_BACKOFF": "1h"}
        self.start_pipeline(env=env)
        self.assert_windows_ok(self.pipe.run_windows(CATALOGS))
        stats = self.sim.stats()
        by_proxy = stats["by_proxy"]
        figure("identities_requests_before_block", by_proxy)
        self.assertEqual(by_proxy.get("direct", 0), 0, "requests that went around the proxies: %s" % by_proxy)
        self.assertGreater(by_proxy.get("0", 0), 0, by_proxy)
        self.assertGreater(by_proxy.get("1", 0), 0, by_proxy)
        status = self.pipe.status_json()
        idents = status["identities"]
        self.assertEqual([i["proxy"] for i in idents], [self.sim.proxies[0], self.sim.proxies[1]])
        self.assertTrue(all(i["blocked_ms"] == 0 for i in idents), idents)

        # the second egress IP is banned
        self.sim.block(1)
        for _ in range(3):
            self.sim.tick(new=40, bumps=2)
            self.assert_windows_ok(self.pipe.run_windows(CATALOGS))
        status = self.pipe.status_json()
        idents = status["identities"]
        figure("identities_after_block", [(i["requests"], i["blocked_ms"] // 1000) for i in idents])
        self.assertEqual(idents[0]["blocked_ms"], 0, idents)
        self.assertGreater(idents[1]["blocked_ms"], 3000 * 1000, "the blocked identity is not paused: %s" % idents)
        self.assertIn("identity 1", status["last_error"] or "")
        # after its block, the banned identity sends nothing more
        before = self.sim.stats()["by_proxy"]
        self.sim.tick(new=30, bumps=1)
        self.assert_windows_ok(self.pipe.run_windows(CATALOGS))
        after = self.sim.stats()["by_proxy"]
        self.assertEqual(after.get("1", 0), before.get("1", 0), "requests through the paused identity")
        self.assertGreater(after.get("0", 0), before.get("0", 0))
        self.assert_matches_truth()
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM windows WHERE state = 'failed'"), "0")

        # the password is a secret: in no log line, not in status
        rc, out, err = self.pipe.ctl("status", "--json")
        self.assertEqual(rc, 0)
        self.assertNotIn(SECRET, out + err)
        rc, out, err = self.pipe.ctl("status")
        self.assertIn("BLOCKED", out)
        self.assertNotIn(SECRET, out + err)
        logs = glob.glob(os.path.join(self.workdir, "*.log"))
        self.assertTrue(any("fetcher" in os.path.basename(p) for p in logs) and
                        any("broker" in os.path.basename(p) for p in logs), logs)
        for path in logs:
            with open(path, errors="replace") as f:
                self.assertNotIn(SECRET, f.read(), "%s logs the proxy password" % path)


if __name__ == "__main__":
    unittest.main()
