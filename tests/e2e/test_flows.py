"""test_flows.py - all three flows of the design together, end to end: catalog
windows bring in listings, their commit triggers the images flow (photos of the
sampled items downloaded from the simulated CDN into the object store), and
tracking runs take snapshots of the sampled items while the simulator changes
prices, sells, reserves, hides and removes them. The raw area then replays into
an empty database and reproduces every table.

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -v
"""

import decimal
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import E2ETestCase, figure  # noqa: E402
import test_objstore  # noqa: E402  (s3rver as a process)

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

FRAC = 0.25
THRESHOLD = int(FRAC * 2 ** 32)

# Tables the replay must reproduce (columns that depend on when a row was written left out).
TABLES = {
    "items": ("item_id, catalog_id, title, price, currency, brand, size_title, condition, user_id, url, photo_url,"
              " favourite_count, view_count, first_seen_at, last_seen_at, closed_seen_at, closing_action,"
              " removed_seen_at", "item_id"),
    "sightings": ("window_id, page, pos, item_id, price, currency, null_mask, seen_at", "window_id, page, pos"),
    "item_snapshots": ("item_id, run_id, observed_at, user_id, price, currency, favourite_count, view_count,"
                       " is_reserved, is_hidden, is_closed, closing_action, removed", "item_id, run_id"),
    "user_snapshots": ("user_id, run_id, observed_at, login", "user_id, run_id"),
    "photos": ("item_id, photo_id, url, is_main, position, first_seen_at, object_key, bytes, content_type, sha256",
               "item_id, photo_id"),
}


def money(text):
    return None if text is None else str(decimal.Decimal(text).quantize(decimal.Decimal("0.01")))


class FlowsTest(E2ETestCase):

    def wait_quiet(self, timeout=90):
        """Every window (catalog, images, tracking) is over."""
        harness.wait_until(lambda: self.pipe.scalar(
            "SELECT count(*) FROM windows WHERE state IN ('pending', 'running')") == "0", timeout, 0.2,
            "all windows to finish")
        failed = self.pipe.query("SELECT window_id, kind, error FROM windows WHERE state = 'failed'")
        self.assertFalse(failed, "failed windows: %s" % failed)

    def track(self):
        rc, out, err = self.pipe.ctl("track", "--wait", "--timeout", "90s", timeout=120)
        self.assertEqual(rc, 0, "vinted-ctl track --wait: %s %s" % (out, err))
        return int(self.pipe.scalar("SELECT max(window_id) FROM windows WHERE kind = 'tracking'"))

    def sampled_live(self):
        return {int(r[0]) for r in self.pipe.query(
            "SELECT item_id FROM items WHERE sample_bucket < %d AND closed_seen_at IS NULL"
            " AND removed_seen_at IS NULL" % THRESHOLD)}

    def assert_photos_stored(self, read_object):
        truth = self.sim.truth_photos()
        sampled = {int(r[0]) for r in self.pipe.query("SELECT item_id FROM items WHERE sample_bucket < %d" % THRESHOLD)}
        self.assertTrue(sampled, "no sampled items")
        want = {k: v for k, v in truth.items() if k[0] in sampled}
        rows = self.pipe.query("SELECT item_id, photo_id, object_key, bytes, content_type, sha256 FROM photos"
                               " WHERE stored_at IS NOT NULL")
        got = {(int(r[0]), int(r[1])): r for r in rows}
        self.assertEqual(sorted(set(want) - set(got))[:10], [], "sampled photos not stored")
        self.assertEqual(sorted(set(got) - set(want))[:10], [], "photos stored that are not the sample's")
        for key, r in got.items():
            t = want[key]
            self.assertEqual(r[2], "images/%d/%d.webp" % key)
            self.assertEqual(r[5], t["sha256"], "sha256 of photo %s" % (key,))
            self.assertEqual(int(r[3]), int(t["size_bytes"]))
            self.assertEqual(r[4], t["content_type"])
            self.assertEqual(hashlib.sha256(read_object(r[2])).hexdigest(), t["sha256"], "stored bytes of %s" % (key,))
        return len(got)

    def assert_snapshots(self, run, expected_items, states):
        rows = self.pipe.query("SELECT item_id, price, currency, favourite_count, view_count, is_reserved, is_hidden,"
                               " is_closed, closing_action, removed FROM item_snapshots WHERE run_id = %d" % run)
        snaps = {int(r[0]): r for r in rows}
        missing = sorted(expected_items - set(snaps))
        self.assertEqual(missing[:10], [], "run %d: sampled items without a snapshot" % run)
        for item in expected_items:
            r, t = snaps[item], states[item]
            if t["removed"]:
                self.assertEqual(r[9], "t", "run %d item %d: removed not observed" % (run, item))
                continue
            where = "run %d item %d" % (run, item)
            self.assertEqual(money(r[1]), money(t["price"]), where + " price")
            self.assertEqual(r[2], t["currency"], where)
            self.assertEqual(int(r[3]), int(t["favourite_count"]), where + " favourites")
            self.assertEqual(int(r[4]), int(t["view_count"]), where + " views")
            self.assertEqual(r[5] == "t", bool(t["is_reserved"]), where + " reserved")
            self.assertEqual(r[6] == "t", bool(t["is_hidden"]), where + " hidden")
            self.assertEqual(r[7] == "t", bool(t["is_closed"]), where + " closed")
            self.assertEqual(r[8], t["item_closing_action"], where + " closing action")
            self.assertEqual(r[9], "f", where + " removed")

    def test_all_three_flows_and_replay(self):
        """file:// store, no faults."""
        store = os.path.join(self.workdir, "store")

        def read(key):
            with open(os.path.join(store, key), "rb") as f:
                return f.read()
        self.flows({}, read)

    def test_gone_photos_are_not_asked_for_again(self):
        """The CDN answers 404 for three photos: they are marked gone with the reason, and
        the hourly retry (here every 2 s) of unstored photos does not ask for them again;
        a listing serving one under another URL clears its mark and it is stored."""
        catalog = 221
        self.start_sim(seed=23, catalogs=[catalog], initial=40, generation="svc", extra_args=["--user-rate", "0"])
        self.start_pipeline(api="svc", env={"VINTED_IMAGES": "sampled", "VINTED_SAMPLE_FRAC": "1",
                                            "VINTED_PHOTO_RETRY": "2s"})
        self.sim.faults([{"kind": "404", "count": 3, "path": "cdn"}])
        self.assert_windows_ok(self.pipe.run_windows([catalog]))
        self.wait_quiet()
        gone = self.pipe.query("SELECT item_id, photo_id, gone_reason FROM photos WHERE gone_at IS NOT NULL")
        self.assertEqual(len(gone), 3, "photos marked gone: %s" % gone)
        for item_id, photo_id, reason in gone:
            self.assertIn("404", reason, "photo %s/%s: %s" % (item_id, photo_id, reason))
        total = int(self.pipe.scalar("SELECT count(*) FROM photos"))
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM photos WHERE stored_at IS NOT NULL"), str(total - 3))
        cdn = self.sim.stats()["cdn"]
        # the retry comes round every 2 s once the items are 2 s old; give it three turns
        # (a 404 consumed, the fault list is empty: a photo asked for again would be stored)
        time.sleep(7)
        self.wait_quiet()
        self.assertEqual(self.sim.stats()["cdn"], cdn, "photos marked gone were asked for again")
        self.assertEqual(len(self.pipe.query("SELECT 1 FROM photos WHERE gone_at IS NOT NULL")), 3)
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM photos WHERE stored_at IS NOT NULL"), str(total - 3))
        figure("gone_photos", len(gone))
        # vinted-ctl quality counts them, by cause
        rc, out, err = self.pipe.ctl("quality", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["photos"], {"seen": total, "stored": total - 3, "gone": 3, "not_stored": 0,
                                                     "gone_by_cause": "HTTP 404: 3"})
        rc, out, err = self.pipe.ctl("quality")
        self.assertEqual(rc, 0, err)
        self.assertIn("photos: %d seen, %d stored, 3 gone (HTTP 404: 3), 0 not stored" % (total, total - 3), out)

        # one of them was refused at an older URL: a tracking run that sees the listing
        # serve the photo at its current URL clears the mark, and the photo is stored
        item_id, photo_id, _ = gone[0]
        self.assertEqual(len(self.pipe.query("UPDATE photos SET url = url || '&was=1' WHERE item_id = %s"
                                             " AND photo_id = %s RETURNING 1" % (item_id, photo_id))), 1)
        self.track()
        self.wait_quiet()
        row = self.pipe.query("SELECT gone_at IS NULL, stored_at IS NOT NULL FROM photos"
                              " WHERE item_id = %s AND photo_id = %s" % (item_id, photo_id))
        self.assertEqual(row, [("t", "t")], "photo %s/%s at a new URL: gone cleared, stored" % (item_id, photo_id))
        self.assertEqual(len(self.pipe.query("SELECT 1 FROM photos WHERE gone_at IS NOT NULL")), 2)

    def test_all_three_flows_on_s3_with_cdn_and_s3_faults(self):
        """s3:// store (s3rver behind a proxy that fails some requests), CDN faults."""
        if not os.path.exists(test_objstore.S3RVER):
            self.skipTest("s3rver is not installed: run sh tests/install-deps.sh")
        server = test_objstore.S3rver().start()
        self.addCleanup(server.stop)
        proxy = harness.FaultyProxy(server.port, every=7)
        self.addCleanup(proxy.stop)
        env = {"VINTED_STORE": "s3://%s/flows" % test_objstore.BUCKET, "VINTED_S3_ENDPOINT": proxy.endpoint(),
               "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1"}
        direct = dict(env, VINTED_S3_ENDPOINT=server.endpoint())

        def read(key):
            rc, out = probe_get(direct, key)
            self.assertEqual(rc, 0, "probe get %s" % key)
            return out

        def faults():
            self.sim.faults([{"kind": k, "count": 2, "path": "cdn"} for k in ("500", "truncate", "reset", "503")])
        self.flows(env, read, before_catalog=faults)
        figure("flows_s3_requests_failed_by_proxy", proxy.failed)
        self.assertGreater(proxy.failed, 0, "the proxy failed no S3 request")
        self.assertGreater(self.sim_cdn_faults, 0, "no CDN fault was consumed")

    def flows(self, store_env, read_object, before_catalog=None):
        catalogs = [221, 1242]
        start = time.time() - 5
        self.start_sim(seed=21, catalogs=catalogs, initial=150, generation="svc", extra_args=["--user-rate", "0"])
        env = dict(store_env, VINTED_IMAGES="sampled", VINTED_SAMPLE_FRAC=str(FRAC))
        self.start_pipeline(api="svc", env=env)
        if before_catalog:
            before_catalog()

        # catalog flow, and the images flow its commits trigger
        for r in range(2):
            self.assert_windows_ok(self.pipe.run_windows(catalogs))
            if r == 0:
                self.sim.tick(new=60, bumps=5)
        self.wait_quiet()
        self.assert_matches_truth()
        stored = self.assert_photos_stored(read_object)
        figure("flows_photos_stored", stored)
        consumed = self.sim.stats().get("faults_consumed_by_path", {})
        self.sim_cdn_faults = sum(n for k, n in consumed.items() if k.startswith("cdn:"))

        # tracking runs while the simulator changes the items
        sold = set()
        runs = []
        for r in range(3):
            if r > 0:
                out = self.sim.evolve(price_changes=8, sold=4, reserved=4, removed=3, hidden=3, favourites=8)
                sold |= set(out["sold"])
            expected = self.sampled_live()
            states = self.sim.truth_states()
            run = self.track()
            runs.append(run)
            self.assert_snapshots(run, expected, states)
            users = self.sim.truth_users()
            for uid, login, feedback, reputation, followers, items, country in self.pipe.query(
                    "SELECT user_id, login, feedback_count, feedback_reputation, followers_count, item_count, country"
                    " FROM user_snapshots WHERE run_id = %d" % run):
                t = users[int(uid)]
                where = "run %d seller %s" % (run, uid)
                self.assertEqual(login, t["login"], where)
                self.assertEqual(int(feedback), int(t["feedback_count"]), where + " feedback_count")
                self.assertEqual(decimal.Decimal(reputation), decimal.Decimal(str(t["feedback_reputation"])).quantize(
                    decimal.Decimal("0.001"), rounding=decimal.ROUND_HALF_UP), where + " reputation")
                self.assertEqual(int(followers), int(t["followers_count"]), where + " followers")
                self.assertEqual(country, t["country_title"], where + " country")
            self.assertGreater(int(self.pipe.scalar("SELECT count(*) FROM user_snapshots WHERE run_id = %d" % run)), 0)
        self.wait_quiet()
        # prices changed and items sold in the simulator show up as such
        changed = int(self.pipe.scalar(
            "SELECT count(*) FROM (SELECT item_id FROM item_snapshots WHERE price IS NOT NULL"
            " GROUP BY item_id HAVING count(DISTINCT price) > 1) c"))
        self.assertGreater(changed, 0, "no price history shows a change")
        sold_seen = {int(r[0]) for r in self.pipe.query(
            "SELECT item_id FROM items WHERE closed_seen_at IS NOT NULL AND closing_action = 'sold'")}
        sampled_sold = {i for i in sold if harness_sampled(i)} & {int(r[0]) for r in self.pipe.query("SELECT item_id FROM items")}
        self.assertTrue(sampled_sold <= sold_seen, "sold sampled items not marked: %s" % sorted(sampled_sold - sold_seen)[:5])
        removed_seen = int(self.pipe.scalar("SELECT count(*) FROM items WHERE removed_seen_at IS NOT NULL"))
        figure("flows_tracking_runs", len(runs))
        figure("flows_snapshots", self.pipe.scalar("SELECT count(*) FROM item_snapshots"))
        figure("flows_sold_marked", len(sold_seen))
        figure("flows_removed_marked", removed_seen)
        # every photo the tracking runs brought in is stored too
        self.assertEqual(self.pipe.scalar(
            "SELECT count(*) FROM photos p JOIN items i USING (item_id)"
            " WHERE i.sample_bucket < %d AND p.stored_at IS NULL" % THRESHOLD), "0")

        live = {t: self.pg.query(self.db, "SELECT %s FROM %s ORDER BY %s" % (c, t, o)) for t, (c, o) in TABLES.items()}
        cdn_before = self.sim.stats()["cdn"]
        end = time.time() + 5
        self.pipe.stop()
        problems = ["sanitizer: " + h for h in self.pipe.sanitizer_errors()] + self.pipe.unexpected_exits()
        self.assertFalse(problems, problems)

        # replay both flows into an empty database: same tables, photos found already stored
        empty = self.pg.create_db("flows_replay")
        self.start_pipeline(api="svc", db=empty, fetchers=0, env=env)
        self.db = empty
        for flow in ("catalog", "tracking"):
            rc, out, err = self.pipe.ctl("replay", "--flow", flow, "--from", str(int(start)), "--to", str(int(end)),
                                         "--wait", "--timeout", "120s", timeout=150)
            self.assertEqual(rc, 0, "replay %s: %s %s" % (flow, out, err))
        self.wait_quiet()
        for t, (c, o) in TABLES.items():
            got = self.pg.query(empty, "SELECT %s FROM %s ORDER BY %s" % (c, t, o))
            self.assertTrue(live[t], "table %s empty in the live run" % t)
            if got != live[t]:
                a, b = set(live[t]), set(got)
                self.fail("replay: table %s differs (%d vs %d rows); only live %s; only replay %s"
                          % (t, len(live[t]), len(got), sorted(a - b)[:2], sorted(b - a)[:2]))
        self.assertEqual(self.sim.stats()["cdn"], cdn_before, "the replay downloaded photos again")


def probe_get(env, key):
    p = subprocess.run([harness.program_path("vinted-objstore-probe"), "get", key], env=harness.clean_env(env),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return p.returncode, p.stdout


def harness_sampled(item_id):
    return ((item_id % 2 ** 32) * 2654435761) % 2 ** 32 < THRESHOLD


if __name__ == "__main__":
    unittest.main(verbosity=2)
