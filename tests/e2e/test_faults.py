"""test_faults.py - the Vinted fault matrix, beyond test_catalog.py's (which covers
single 429/500/truncated/malformed/expired-session/403 faults): faults that last
(429 storms with and without Retry-After, 5xx bursts), connection resets, answers
slower than the fetcher's timeout, both ways of truncating a body, pages that stay
broken (quarantined with their reason), a 403 block during which the fetchers must
stop asking, and listings whose fields change format. Each test ends with the
database compared with the simulator's truth.

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_faults.py -v
"""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import E2ETestCase, figure  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

FETCH_TIMEOUT_S = 1   # VINTED_FETCH_TIMEOUT in these tests: a "slow" fault of 2.5 s is past it
BAD_BODY_ATTEMPTS = 4  # the fetcher reads a broken 200 this often before it gives the page up


class FaultsTest(E2ETestCase):

    def windows(self, catalogs, timeout="90s"):
        self.assert_windows_ok(self.pipe.run_windows(catalogs, timeout))

    def consumed(self):
        return self.sim._call("GET", "/_sim/faults")

    def test_transient_faults_lose_nothing(self):
        catalogs = [221, 1242]
        self.start_sim(seed=41, catalogs=catalogs, initial=400, generation="v2", bad_every=37,
                       extra_args=["--quiet"])
        self.start_pipeline(api="v2", fetchers=2, env={"VINTED_FETCH_TIMEOUT": "%ds" % FETCH_TIMEOUT_S})
        self.sim.reset_stats()
        plan = [
            {"kind": "429", "duration": 2, "retry_after": 1},  # a storm that says when to come back
            {"kind": "429", "duration": 2},                    # one that does not
            {"kind": "500", "count": 3},                       # a burst of server errors
            {"kind": "503", "count": 3, "retry_after": 1},
            {"kind": "reset", "count": 3},                     # connections dropped without an answer
            {"kind": "slow", "seconds": FETCH_TIMEOUT_S + 1.5, "count": 2},  # past the timeout
            {"kind": "truncate", "count": 1},                  # cut under the full Content-Length
            {"kind": "truncate", "mode": "length", "count": 1},  # cut with a matching length
            {"kind": "malformed", "count": 2},
            {"kind": "expire_session", "count": 1},
        ]
        self.sim.faults(plan)
        t0 = time.monotonic()
        for r in range(3):
            self.windows(catalogs)
            self.sim.tick(new=150, bumps=5)
        self.windows(catalogs)
        figure("faults_transient_rounds_s", time.monotonic() - t0)
        self.assert_matches_truth()
        state = self.consumed()
        self.assertEqual(state["queued"], [], "faults left unconsumed: the pipeline asked less than planned")
        got = state["consumed_by_path"]
        for kind, n in (("500", 3), ("503", 3), ("reset", 3), ("slow", 2), ("truncate", 2), ("malformed", 2),
                        ("expire_session", 1)):
            self.assertEqual(got.get("catalog:" + kind), n, "catalog:%s consumed: %s" % (kind, got))
        self.assertGreaterEqual(got.get("catalog:429", 0), 2)
        for kind, n in sorted(got.items()):
            figure("faults_consumed_" + kind.replace(":", "_"), n)
        stats = self.sim.stats()
        figure("faults_api_requests", stats["api"])
        figure("faults_sessions_issued", stats["sessions_issued"])
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM quarantine WHERE rule = 'malformed_page'"), "0",
                         "a page that a retry could read was quarantined")
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM windows WHERE state <> 'done'"), "0")

        # pages that stay broken past the fetcher's attempts: quarantined whole, with the
        # reason, and their listings are fetched again by the next window
        broken = {}
        for catalog, fault in ((221, {"kind": "malformed", "count": BAD_BODY_ATTEMPTS}),
                               (1242, {"kind": "truncate", "mode": "length", "count": BAD_BODY_ATTEMPTS})):
            self.sim.tick(new=120, bumps=3)
            self.sim.faults([fault])
            rc, out, err = self.pipe.run_window(catalog, timeout="90s")
            self.assertEqual(rc, 0, "a window with a broken page must still end: %s %s" % (out, err))
            window = int(self.pipe.scalar("SELECT max(window_id) FROM windows WHERE catalog_id = %d" % catalog))
            rows = self.pipe.query("SELECT page, detail, length(raw) FROM quarantine WHERE window_id = %d"
                                   " AND rule = 'malformed_page' AND pos = -1" % window)
            self.assertEqual(len(rows), 1, "window %d: quarantined pages %s" % (window, rows))
            self.assertIn("after %d attempts" % BAD_BODY_ATTEMPTS, rows[0][1])
            self.assertGreater(int(rows[0][2] or 0), 0, "the broken body is kept")
            self.assertIn("mark kept", self.pipe.scalar("SELECT error FROM windows WHERE window_id = %d" % window))
            broken[catalog] = rows[0][1]
        print("quarantined pages: %s" % broken)
        self.assertEqual(self.consumed()["queued"], [])
        self.sim.tick(new=50, bumps=3)
        self.windows(catalogs)
        self.assert_matches_truth()

    def test_403_block_stops_hammering(self):
        catalogs = [221, 1242]
        block_s, backoff_s = 6, 2
        self.start_sim(seed=42, catalogs=catalogs, initial=500, generation="svc", bad_every=37,
                       extra_args=["--quiet"])
        self.start_pipeline(api="svc", fetchers=2, env={"VINTED_BLOCK_BACKOFF": "%ds" % backoff_s})
        self.sim.reset_stats()
        self.sim.faults([{"kind": "403", "duration": block_s, "style": "datadome"}])
        seen = []
        stop = threading.Event()

        def watch():  # what vinted-ctl status says meanwhile
            while not stop.is_set():
                st = self.pipe.status_json() or {}
                if st.get("backoff_ms"):
                    seen.append((st["backoff_ms"], st.get("last_error")))
                stop.wait(0.3)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        t0 = time.monotonic()
        try:
            self.windows(catalogs)
        finally:
            stop.set()
            watcher.join(10)
        elapsed = time.monotonic() - t0
        by_class = self.sim.stats()["by_class"]
        blocked = by_class["catalog"]["by_status"].get("403", 0)
        figure("block_s", block_s)
        figure("block_backoff_s", backoff_s)
        figure("block_requests_answered_403", blocked)
        figure("block_requests_allowed_by_budget", block_s * 6000 // 60)
        figure("block_windows_s", elapsed)
        figure("block_home_requests", by_class.get("home", {}).get("requests", 0))
        self.assertGreaterEqual(blocked, 1, "the block was never met")
        # one request per fetcher per back-off, and the one in flight when the block starts
        self.assertLessEqual(blocked, 2 * (block_s // backoff_s + 2), "the fetchers kept hammering a 403")
        self.assertTrue(seen, "vinted-ctl status never showed the pause")
        self.assertTrue(any("blocked" in (e or "") for _, e in seen), "status did not name the block: %s" % seen)
        logs = b""
        for p in self.pipe.workers("fetcher"):
            with open(p.log, "rb") as f:
                logs += f.read()
        self.assertIn(b"vinted is blocking this client", logs)
        with open(self.pipe.broker().log, "rb") as f:
            self.assertRegex(f.read(), rb'msg="worker report" .*event="blocked"')
        self.assert_matches_truth()

    def test_changed_field_format(self):
        catalogs = [221, 1242]
        self.start_sim(seed=43, catalogs=catalogs, initial=250, generation="v2", extra_args=["--quiet"])
        self.start_pipeline(api="v2")
        # the first answers each come in another format; the parser knows the first three
        # (the legacy price, amounts as numbers, a string id) and must quarantine the others
        parsed = ("price_string", "price_number", "id_string")
        refused = {"price_cents": "price_missing", "title_renamed": "title_missing"}
        self.sim.faults([{"kind": "reformat", "form": f} for f in parsed + tuple(refused)])
        self.windows(catalogs)
        served = self.consumed()["reformatted"]
        self.assertEqual(sorted(served), sorted(parsed + tuple(refused)), "not every form was served")
        items = {int(r[0]) for r in self.pipe.query("SELECT item_id FROM items")}
        rules = {}
        for rule, raw in self.pipe.query("SELECT rule, convert_from(raw, 'UTF8') FROM quarantine WHERE pos >= 0"):
            rules.setdefault(int(json.loads(raw)["id"]), set()).add(rule)
        for form in parsed:
            ids = set(served[form])
            figure("format_%s_items" % form, len(ids))
            self.assertEqual(sorted(ids - items)[:10], [], "%s: listings not stored" % form)
        hidden = set()
        for form, rule in refused.items():
            ids = set(served[form]) - items  # seen only in the changed format
            figure("format_%s_quarantined" % form, len(ids))
            self.assertTrue(ids, "%s: every listing was also seen in the usual format" % form)
            wrong = {i: rules.get(i) for i in ids if rule not in rules.get(i, set())}
            self.assertEqual(wrong, {}, "%s: listings not quarantined under %s" % (form, rule))
            hidden |= ids
        # everything else is stored with exactly the truth's values (the parsed forms too)
        self.assert_matches_truth([t for t in self.sim.truth() if int(t["item_id"]) not in hidden])

    def test_changed_timestamp_unit(self):
        """Vinted sends photo.high_resolution.timestamp in milliseconds: the listings
        must be stored with the right creation time or quarantined, never stall a window."""
        self.start_sim(seed=44, catalogs=[221], initial=150, generation="v2", extra_args=["--quiet"])
        self.start_pipeline(api="v2", env={"VINTED_MAX_ATTEMPTS": "3"})
        self.sim.faults([{"kind": "reformat", "form": "photo_ts_ms"}])
        rc, out, err = self.pipe.run_window(221, timeout="60s")
        self.assertEqual(rc, 0, "the window failed: %s %s" % (out, err))
        items = {int(r[0]) for r in self.pipe.query("SELECT item_id FROM items")}
        changed = set(self.consumed()["reformatted"]["photo_ts_ms"])
        quarantined = {int(json.loads(raw)["id"]) for (raw,) in self.pipe.query(
            "SELECT convert_from(raw, 'UTF8') FROM quarantine WHERE pos >= 0")}
        self.assertEqual(sorted(changed - items - quarantined)[:10], [], "listings neither stored nor quarantined")
        self.assert_matches_truth([t for t in self.sim.truth() if int(t["item_id"]) not in changed - items])


if __name__ == "__main__":
    unittest.main(verbosity=2)
