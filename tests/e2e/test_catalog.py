"""test_catalog.py - the catalog flow end to end: the real programs (VINTED_BIN),
a private PostgreSQL cluster and the simulated Vinted. Each test builds its own
simulator, pipeline and database, and ends by comparing the database with the
simulator's truth. Measured figures are printed as `FIGURE name=value` lines.

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -v
"""

import math
import os
import re
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import E2ETestCase, figure, run_program  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

PER_PAGE = 96


def pages_floor(new_items):
    """The fewest API requests that can bring in new_items listings."""
    return max(1, math.ceil(new_items / PER_PAGE))


class CatalogTest(E2ETestCase):

    # -- helpers shared by the tests below

    def rounds(self, catalogs, rounds, new=150, bumps=10, timeout="60s"):
        """Push a window per catalog (in parallel, --wait) per round, ticking the
        simulator between rounds. Returns the seconds spent waiting for windows."""
        spent = 0.0
        for r in range(rounds):
            t0 = time.monotonic()
            results = self.pipe.run_windows(catalogs, timeout)
            spent += time.monotonic() - t0
            self.assert_windows_ok(results)
            if r < rounds - 1:
                self.sim.tick(new=new, bumps=bumps)
        return spent

    def window_in_thread(self, catalog, timeout="60s"):
        """Start `vinted-ctl window --wait` in a thread; join() it, then read .result."""
        t = threading.Thread(target=lambda: setattr(t, "result", self.pipe.run_window(catalog, True, timeout)))
        t.result = None
        t.start()
        return t

    def assert_thread_window_ok(self, t, catalog):
        t.join(120)
        self.assertFalse(t.is_alive(), "vinted-ctl window for %s did not return" % catalog)
        self.assert_windows_ok({catalog: t.result})

    def last_window_id(self):
        return int(self.pipe.scalar("SELECT coalesce(max(window_id), 0) FROM windows"))

    def wait_window_running(self, catalog, after, timeout=10):
        """Wait until the window of catalog newer than window id after is running
        (pages in flight); fail if it is already done: the test would no longer
        test what it says."""
        def started():
            rows = self.pipe.query("SELECT state FROM windows WHERE catalog_id = %d AND window_id > %d "
                                   "ORDER BY window_id DESC LIMIT 1" % (catalog, after))
            return rows[0][0] if rows and rows[0][0] != "pending" else None
        state = harness.wait_until(started, timeout, 0.02, "a new window of %d to start" % catalog)
        self.assertEqual(state, "running", "the window finished before the fault was injected; "
                                           "slow the pipeline down (VINTED_RATE) or grow the catalog")

    def assert_all_windows_done(self):
        rows = self.pipe.windows()
        self.assertTrue(rows, "no windows")
        bad = [w for w in rows if w["state"] != "done"]
        self.assertFalse(bad, "windows not done: %s" % bad)

    def assert_watermarks_and_reports(self):
        """first_seen_at is the earliest sighting's fetch time and never moves forward;
        re-sighted (bumped) items moved last_seen_at; each window's quality report
        agrees with its sightings and quarantine rows."""
        self.assertEqual(self.pipe.scalar(
            "SELECT count(*) FROM items i JOIN (SELECT item_id, min(seen_at) AS f, max(seen_at) AS l"
            " FROM sightings GROUP BY item_id) s USING (item_id)"
            " WHERE i.first_seen_at <> s.f OR i.last_seen_at <> s.l"), "0",
            "items whose first/last_seen_at differ from their earliest/latest sighting")
        resighted = int(self.pipe.scalar(
            "SELECT count(*) FROM items WHERE last_window_id <> first_window_id AND last_seen_at > first_seen_at"))
        self.assertGreater(resighted, 0, "no item was seen in two windows (bumps should cause that)")
        self.assertEqual(self.pipe.scalar(
            "SELECT count(*) FROM dq_reports d WHERE d.rows <> (SELECT count(*) FROM sightings s WHERE s.window_id = d.window_id)"
            " OR d.distinct_items <> (SELECT count(DISTINCT item_id) FROM sightings s WHERE s.window_id = d.window_id)"
            " OR d.duplicates <> d.rows - d.distinct_items"
            " OR coalesce((SELECT sum(value::int) FROM jsonb_each_text(d.quarantined)), 0)"
            "    <> (SELECT count(*) FROM quarantine q WHERE q.window_id = d.window_id)"), "0",
            "data-quality reports that disagree with the sightings and quarantine")
        self.assertEqual(self.pipe.scalar(
            "SELECT count(*) FROM dq_reports WHERE NOT prices ? 'EUR' AND rows > 0"), "0",
            "reports without EUR price statistics")

    def record_figures(self, prefix, catalogs, initial, new, rounds, spent):
        windows = self.pipe.windows()
        items = int(self.pipe.scalar("SELECT count(*) FROM items"))
        api = self.sim.stats()["api"]
        floor = len(catalogs) * (pages_floor(initial) + (rounds - 1) * pages_floor(new))
        figure(prefix + "_items", items)
        figure(prefix + "_items_per_s", items / spent if spent else 0.0)
        figure(prefix + "_windows", len(windows))
        figure(prefix + "_api_requests", api)
        figure(prefix + "_api_requests_per_window", api / len(windows))
        figure(prefix + "_api_requests_floor", floor)
        figure(prefix + "_api_requests_over_floor", api / floor)

    # -- the tests

    def test_help_and_bad_arguments(self):
        main_env = {
            "broker": ["VINTED_BROKER", "VINTED_CONTROL", "VINTED_PG", "VINTED_CATALOGS",
                       "VINTED_WINDOW", "VINTED_RATE"],
            "fetcher": ["VINTED_BROKER", "VINTED_SITE", "VINTED_API"],
            "transformer": ["VINTED_BROKER"],
            "pg-sink": ["VINTED_BROKER", "VINTED_PG"],
            "ctl": ["VINTED_CONTROL"],
        }
        for kind, names in main_env.items():
            rc, out, err = run_program(kind, ["--help"])
            self.assertEqual(rc, 0, "%s --help exited %s: %s" % (kind, rc, err))
            for name in names:
                self.assertIn(name, out + err, "%s --help does not mention %s" % (kind, name))
            rc, out, err = run_program(kind, ["--no-such-flag"])
            self.assertEqual(rc, 2, "%s --no-such-flag exited %s" % (kind, rc))
            self.assertIn("no-such-flag", out + err, "%s does not name the unknown flag" % kind)
            self.assertFalse(harness.sanitizer_lines(err), err)
        rc, out, err = run_program("selftest", ["--help"])
        self.assertEqual(rc, 0, "vinted-selftest --help exited %s: %s" % (rc, err))

        nowhere = "tcp://127.0.0.1:%d" % harness.free_port()
        rc, out, err = run_program("broker", [], {"VINTED_WINDOW": "abc", "VINTED_BROKER": nowhere,
                                                  "VINTED_CONTROL": nowhere, "VINTED_PG": "host=127.0.0.1 port=1"})
        self.assertEqual(rc, 2, "VINTED_WINDOW=abc vinted-broker exited %s: %s" % (rc, err))
        self.assertRegex(out + err, r"(?i)window", "the broker's complaint does not name the window setting")

        rc, out, err = run_program("fetcher", ["--api", "v3"])
        self.assertEqual(rc, 2, "vinted-fetcher --api v3 exited %s" % rc)
        self.assertIn("v2", out + err, "the fetcher does not name the valid values: " + err)
        self.assertIn("svc", out + err, "the fetcher does not name the valid values: " + err)

        rc, out, err = run_program("ctl", ["window"], {"VINTED_CONTROL": nowhere})
        self.assertEqual(rc, 2, "vinted-ctl window without --catalog exited %s" % rc)
        self.assertIn("catalog", out + err)

        t0 = time.monotonic()
        rc, out, err = run_program("ctl", ["status", "--timeout", "2s"], {"VINTED_CONTROL": nowhere}, timeout=20)
        elapsed = time.monotonic() - t0
        self.assertNotEqual(rc, 124, "vinted-ctl status hung against a broker that is not running")
        self.assertNotEqual(rc, 0, "vinted-ctl status succeeded without a broker")
        self.assertRegex(out + err, r"(?i)(could not|cannot|can't|unable to|failed to) (reach|connect|contact)"
                                    r"|unreachable|not reachable|no reply|no answer",
                         "vinted-ctl status does not say it could not reach the broker")
        figure("ctl_status_unreachable_s", elapsed)

    def test_v2_catalogs_exact(self):
        catalogs, initial, new, rounds = [221, 1242, 2320], 300, 150, 4
        self.start_sim(seed=2, catalogs=catalogs, initial=initial, generation="v2",
                       bad_every=37, legacy_price_every=5)
        self.start_pipeline(api="v2")
        self.sim.reset_stats()
        spent = self.rounds(catalogs, rounds, new=new, bumps=10)
        self.assert_matches_truth()
        self.assert_all_windows_done()
        self.assertEqual(self.pipe.scalar(
            "SELECT count(*) FROM windows w WHERE NOT EXISTS "
            "(SELECT 1 FROM dq_reports d WHERE d.window_id = w.window_id)"), "0", "windows without a dq_report")
        self.assertEqual(int(self.pipe.scalar("SELECT count(*) FROM windows")), len(catalogs) * rounds)
        self.assert_watermarks_and_reports()
        self.record_figures("v2", catalogs, initial, new, rounds, spent)

    def test_svc_two_transformers_two_sinks(self):
        catalogs, initial, new, rounds = [221, 1242, 2320], 300, 150, 4
        self.start_sim(seed=3, catalogs=catalogs, initial=initial, generation="svc",
                       bad_every=37, legacy_price_every=5)
        self.start_pipeline(api="svc", transformers=0, sinks=2)
        # debug level so that each transformer logs the pages it handled
        for _ in range(2):
            self.pipe.start_worker("transformer", env={"VINTED_LOG_LEVEL": "debug"})
        self.sim.reset_stats()
        spent = self.rounds(catalogs, rounds, new=new, bumps=10)
        self.assert_matches_truth()
        self.assert_all_windows_done()
        self.record_figures("svc", catalogs, initial, new, rounds, spent)

        # Both transformers must have worked: the broker's status counts the tasks each
        # worker finished; their debug logs (one page= line per page) are the fallback.
        status = self.pipe.status_json() or {}
        done = [w.get("done", 0) for w in status.get("workers", []) if w.get("stage") == "transform"]
        figure("svc_transformer_tasks_done", "/".join(str(d) for d in done))
        log_pages = []
        for t in self.pipe.workers("transformer"):
            with open(t.log, "rb") as f:
                log_pages.append(len(re.findall(rb"\bpage=\d+", f.read())))
        self.assertTrue(sum(1 for d in done if d > 0) >= 2 or all(n > 0 for n in log_pages),
                        "not every transformer did work: tasks done per transformer %s, page lines in "
                        "their logs %s" % (done, log_pages))

        # The text status has one line per process and stage: the s3-uploader's connections
        # (one per thread) are summed on it, capacities added, and counted.
        rc, out, err = self.pipe.ctl("status", "--timeout", "5s", timeout=15)
        self.assertEqual(rc, 0, err)
        conns = {}
        for w in status.get("workers", []):
            key = (w["stage"], w["name"])
            n, cap = conns.get(key, (0, 0))
            conns[key] = (n + 1, cap + w["capacity"])
        uploader = [k for k in conns if k[1].startswith("s3-uploader@")]
        self.assertTrue(uploader, "no s3-uploader in the status: %s" % status.get("workers"))
        for (stage, name), (n, cap) in conns.items():
            lines = [l for l in out.splitlines() if l.split()[:2] == [stage, name]]
            self.assertEqual(len(lines), 1, "%s %s: %s" % (stage, name, out))
            self.assertRegex(lines[0], r"inflight \d+/%d " % cap)
            if n > 1:
                self.assertTrue(lines[0].endswith("(%d connections)" % n), lines[0])
            else:
                self.assertNotIn("connections", lines[0])
        self.assertTrue(any(conns[k][0] > 1 for k in uploader), "the s3-uploader has one connection: %s" % conns)
        order = list(status["stages"])
        shown = [l.split()[0] for l in out.split("workers:")[1].split("windows:")[0].splitlines() if l.strip()]
        self.assertEqual(shown, sorted(shown, key=order.index), "worker lines not in stage order: %s" % out)

    def test_faults_lose_nothing(self):
        self.faults_lose_nothing("v2")

    def test_faults_lose_nothing_svc(self):
        self.faults_lose_nothing("svc")

    def faults_lose_nothing(self, generation):
        catalogs = [221, 1242]
        self.start_sim(seed=4, catalogs=catalogs, initial=300, generation=generation, bad_every=37)
        self.start_pipeline(api=generation)
        self.sim.reset_stats()
        self.sim.faults([
            {"kind": "429", "count": 2, "retry_after": 1},
            {"kind": "500", "count": 2},
            {"kind": "truncate", "count": 1},
            {"kind": "malformed", "count": 1},
            {"kind": "expire_session", "count": 1},
            {"kind": "403", "count": 1, "style": "json" if generation == "v2" else "datadome"},
        ])
        t0 = time.monotonic()
        self.rounds(catalogs, 3, new=150, bumps=10)
        figure("faults_rounds_s", time.monotonic() - t0)
        self.assert_matches_truth()
        by_status = self.sim.stats()["by_status"]
        print("sim by_status: %s" % by_status)
        for status, n in (("429", 2), ("500", 2), ("401", 1), ("403", 1)):
            self.assertGreaterEqual(by_status.get(status, 0), n, "the sim answered %s fewer than %d times: %s"
                                    % (status, n, by_status))

        # A page that stays malformed beyond the fetcher's retries is quarantined...
        self.sim.tick(new=150, bumps=10)
        self.sim.faults([{"kind": "malformed", "count": 5}])
        rc, out, err = self.pipe.run_window(221)
        print("window with a persistently malformed page: exit %s %s %s" % (rc, out.strip(), err.strip()[-300:]))
        window = int(self.pipe.scalar("SELECT max(window_id) FROM windows WHERE catalog_id = 221"))
        harness.wait_until(lambda: self.pipe.scalar("SELECT state FROM windows WHERE window_id = %d" % window)
                           in ("done", "failed"), 60, 0.2, "window %d to end" % window)
        n = int(self.pipe.scalar("SELECT count(*) FROM quarantine WHERE window_id = %d AND rule = 'malformed_page'"
                                 % window))
        self.assertGreaterEqual(n, 1, "no malformed_page quarantine row for window %d" % window)
        # ... and the next windows recover every item it hid.
        self.sim.clear_faults()
        self.sim.tick(new=150, bumps=10)
        self.assert_windows_ok(self.pipe.run_windows(catalogs))
        self.assert_matches_truth()

    def test_worker_killed_mid_window(self):
        catalog = 221
        self.start_sim(seed=5, catalogs=[catalog], initial=900, generation="v2", bad_every=37)
        self.start_pipeline(api="v2", env={"VINTED_RATE": "600"})
        for victim in ("transformer", "fetcher", "pg-sink"):
            t0 = time.monotonic()
            before = self.last_window_id()
            t = self.window_in_thread(catalog)
            self.wait_window_running(catalog, before)
            time.sleep(0.3)
            old = self.pipe.workers(victim)[-1]
            self.pipe.kill(old, signal.SIGKILL)
            self.pipe.start_worker(victim)
            self.assert_thread_window_ok(t, catalog)
            figure("kill_%s_window_s" % victim.replace("-", "_"), time.monotonic() - t0)
            self.sim.tick(new=700, bumps=10)
        self.assert_windows_ok(self.pipe.run_windows([catalog]))  # the last tick, undisturbed
        self.assert_all_windows_done()
        self.assert_matches_truth()

    def test_broker_restart_resumes(self):
        catalog = 221
        self.start_sim(seed=6, catalogs=[catalog], initial=900, generation="v2", bad_every=37)
        self.start_pipeline(api="v2", env={"VINTED_RATE": "600"})
        # vinted-ctl --wait rides out the broker's restart: it polls the window's state
        waited = {}
        waiter = threading.Thread(target=lambda: waited.update(r=self.pipe.run_window(catalog, wait=True, timeout="90s")))
        waiter.start()
        self.wait_window_running(catalog, 0)
        time.sleep(0.3)
        broker = self.pipe.broker()
        self.pipe.kill(broker, signal.SIGKILL)
        t0 = time.monotonic()
        self.pipe.restart(broker)
        self.pipe.wait_windows_done(1, timeout=90)
        figure("broker_restart_window_resume_s", time.monotonic() - t0)
        waiter.join(120)
        rc, out, err = waited["r"]
        self.assertEqual(rc, 0, "vinted-ctl window --wait across a broker restart exited %s: %s %s" % (rc, out, err))
        self.assertIn("committed", out)
        self.sim.tick(new=200, bumps=10)
        self.assert_windows_ok(self.pipe.run_windows([catalog]))
        self.assert_all_windows_done()
        self.assert_matches_truth()

    def test_scheduled_windows(self):
        catalogs = [221, 1242]
        self.start_sim(seed=7, catalogs=catalogs, initial=300, generation="v2", bad_every=37)
        self.start_pipeline(api="v2", env={"VINTED_CATALOGS": "221,1242", "VINTED_WINDOW": "2s"})
        t0 = time.monotonic()
        for i in range(4):
            # every catalog gets a window that started after the data last changed
            mark = self.pipe.scalar("SELECT now()")
            for c in catalogs:
                self.pipe.wait_windows_done(1, timeout=60, where="catalog_id = %d AND coalesce(started_at, "
                                            "created_at) >= '%s'" % (c, mark))
            if i < 3:
                self.sim.tick(new=100, bumps=5)
        figure("scheduled_4_rounds_s", time.monotonic() - t0)
        for c in catalogs:
            done = int(self.pipe.scalar("SELECT count(*) FROM windows WHERE catalog_id = %d AND state = 'done'" % c))
            self.assertGreaterEqual(done, 3, "catalog %d has %d done windows" % (c, done))
        failed = self.pipe.query("SELECT window_id, error FROM windows WHERE state = 'failed'")
        self.assertFalse(failed, "failed windows: %s" % failed)
        self.assert_matches_truth()

    def test_result_cap_960(self):
        catalog = 221
        self.start_sim(seed=8, catalogs=[catalog], initial=1200, generation="v2")
        self.start_pipeline(api="v2")
        self.sim.reset_stats()
        self.assert_windows_ok(self.pipe.run_windows([catalog]))
        w = self.pipe.windows()
        self.assertEqual(len(w), 1)
        self.assertEqual(w[0]["truncated"], "t", "the window was not marked truncated: %s" % w[0])
        stats = self.sim.stats()
        self.assertEqual(stats["max_page_requested"], 10, "pages requested: %s" % stats)
        figure("cap_api_requests", stats["api"])
        truth = self.sim.truth()
        newest = sorted(truth, key=lambda t: int(t["item_id"]), reverse=True)[:960]
        self.assertEqual(int(self.pipe.scalar("SELECT count(*) FROM items")), 960)
        self.assert_matches_truth(newest)

    def test_wrong_api_generation_fails_with_reason(self):
        # The site moved to svc-catalogue; a pipeline still set to v2 gets 404 code 104.
        # The window must fail at once (no retry storm) and say how to fix it.
        self.start_sim(seed=9, catalogs=[221], initial=50, generation="svc")
        self.start_pipeline(api="v2")
        rc, out, err = self.pipe.run_window(221, wait=True, timeout="30s")
        self.assertEqual(rc, 1, "vinted-ctl window --wait should fail: rc=%s out=%s err=%s" % (rc, out, err))
        self.assertIn("VINTED_API=svc", err)
        w = self.pipe.windows()
        self.assertEqual([x["state"] for x in w], ["failed"])
        self.assertLessEqual(self.sim.stats()["api"], 1, "a permanent error must not be retried")
        self.assertEqual(int(self.pipe.scalar("SELECT count(*) FROM items")), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
