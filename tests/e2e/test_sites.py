"""test_sites.py - several sites in one deployment (VINTED_SITES): two simulators, a
Portuguese one (EUR) and a Polish one (PLN), behind one broker and one fetcher:

    test_two_sites_one_deployment
        catalog 221 is configured on both sites and 1242 on pl only: every window,
        mark and listing carries its site, the same catalog id keeps one mark per
        site, the database equals the union of both simulators' truths, prices stay
        in their own currency (vinted-ctl prices groups by site and currency), and a
        tracking run asks each seller's list on the site the listing lives on.

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_sites.py -v
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import E2ETestCase, figure  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown


class SitesTest(E2ETestCase):
    def test_two_sites_one_deployment(self):
        pt = self.start_sim(seed=31, catalogs=[221], initial=120, generation="v2", extra_args=["--quiet"])
        pl_dir = os.path.join(self.workdir, "pl")
        os.makedirs(pl_dir)
        pl = harness.Sim(pl_dir, seed=32, catalogs=[221, 1242], initial=90, generation="v2",
                         extra_args=["--quiet", "--site", "pl"]).start()
        self.addCleanup(pl.stop)
        ids_pt = {t["item_id"] for t in pt.truth()}
        ids_pl = {t["item_id"] for t in pl.truth()}
        self.assertFalse(ids_pt & ids_pl, "the two simulators' item ids overlap: pick other seeds")
        env = {"VINTED_SITES": "pt:221;pl:221,1242", "VINTED_SITE": "pt",
               "VINTED_WWW_URL": "pt=%s,pl=%s" % (pt.url, pl.url), "VINTED_API_URL": "pt=%s,pl=%s" % (pt.url, pl.url),
               "VINTED_SAMPLE_FRAC": "1"}
        self.start_pipeline(env=env)
        for site, catalog in (("pt", 221), ("pl", 221), ("pl", 1242)):
            rc, out, err = self.pipe.run_window(catalog, extra=["--site", site])
            self.assertEqual(rc, 0, "%s:%d: %s %s" % (site, catalog, out, err[-500:]))
        pt.tick(new=30, bumps=2)
        pl.tick(new=20, bumps=2)
        for site, catalog in (("pt", 221), ("pl", 221), ("pl", 1242)):
            rc, out, err = self.pipe.run_window(catalog, extra=["--site", site])
            self.assertEqual(rc, 0, "%s:%d: %s %s" % (site, catalog, out, err[-500:]))

        # windows and marks per site: catalog 221 has one mark on each
        marks = dict(((s, int(c)), int(h)) for s, c, h in
                     self.pipe.query("SELECT site, catalog_id, hwm_item_id FROM catalog_state"))
        figure("sites_marks", marks)
        self.assertEqual(set(marks), {("pt", 221), ("pl", 221), ("pl", 1242)})
        self.assertEqual(marks[("pt", 221)], max(t["item_id"] for t in pt.truth() if t["catalog_id"] == 221))
        self.assertEqual(marks[("pl", 221)], max(t["item_id"] for t in pl.truth() if t["catalog_id"] == 221))
        sites = self.pipe.query("SELECT site, count(*) FROM windows WHERE kind = 'adhoc' GROUP BY 1 ORDER BY 1")
        self.assertEqual([tuple(r) for r in sites], [("pl", "4"), ("pt", "2")])

        # every listing once, with its site and its own currency
        truth = pt.truth() + pl.truth()
        self.assert_matches_truth(truth)
        by_site = dict(((s, c), int(n)) for s, c, n in
                       self.pipe.query("SELECT site, currency, count(*) FROM items GROUP BY 1, 2"))
        figure("sites_items", by_site)
        self.assertEqual(set(by_site), {("pt", "EUR"), ("pl", "PLN")})
        self.assertEqual(by_site[("pt", "EUR")], len([t for t in pt.truth() if t.get("invalid") is None]))

        # prices: never a mix of currencies in one group
        rc, out, err = self.pipe.ctl("prices", "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        groups = {(g["group"], g["site"], g["currency"]) for g in doc["groups"]}
        self.assertIn(("221", "pt", "EUR"), groups)
        self.assertIn(("221", "pl", "PLN"), groups)
        self.assertIn(("1242", "pl", "PLN"), groups)

        # tracking: each seller's list asked on its own site
        before = (pt.stats()["by_path"].get("/api/v2/users/{id}/items", 0),
                  pl.stats()["by_path"].get("/api/v2/users/{id}/items", 0))
        rc, out, err = self.pipe.ctl("track", "--wait", "--timeout", "120s", timeout=150)
        self.assertEqual(rc, 0, "%s %s" % (out, err[-500:]))
        after = (pt.stats()["by_path"].get("/api/v2/users/{id}/items", 0),
                 pl.stats()["by_path"].get("/api/v2/users/{id}/items", 0))
        figure("sites_seller_lists", (after[0] - before[0], after[1] - before[1]))
        self.assertGreater(after[0], before[0])
        self.assertGreater(after[1], before[1])
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM windows WHERE state = 'failed'"), "0")


if __name__ == "__main__":
    unittest.main()
