#!/usr/bin/env python3
"""test_sim_catalog.py - the simulator's catalog search: sessions and
cookies, both API generations' shapes against the truth, URL forms, the 96/960 caps,
bumps, price bands, time pins, proxies, determinism and sites.

Run with the others: python3 tests/sim/test_sim.py"""

import http.client
import json
import subprocess
import sys
import unittest

from simcheck import SimCase, SIM, SVC, Sim, UA, V2, cents, served_money


class V2Test(SimCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--seed", "42", "--catalogs", "221,1242", "--initial", "300",
                      "--generation", "v2", "--legacy-price-every", "7")
        cls.jar = cls.sim.login()

    def test_user_agent_required(self):
        status, headers, body, _ = self.sim.api(V2 + "?catalog_ids=221", self.jar, ua=None)
        self.assertEqual(status, 403)
        self.assertIn("text/html", headers["Content-Type"])
        status, _, _, _ = self.sim.request("GET", "/")
        self.assertEqual(status, 403)

    def test_home_sets_session_cookies(self):
        status, headers, body, _ = self.sim.request("GET", "/", {"User-Agent": UA})
        self.assertEqual(status, 200)
        self.assertIn(b"<html", body)
        names = {c.split("=", 1)[0] for c in headers.get_all("Set-Cookie")}
        self.assertEqual(names, {"access_token_web", "refresh_token_web", "anon_id", "datadome"})
        for c in headers.get_all("Set-Cookie"):  # curl must accept them on 127.0.0.1
            self.assertNotIn("Domain=", c)
            self.assertNotIn("Secure", c)

    def test_api_needs_valid_token(self):
        for jar in (None, {"access_token_web": "forged"}, {"anon_id": "x"}):
            status, _, body, _ = self.sim.api(V2 + "?catalog_ids=221", jar)
            self.assertEqual(status, 401)
            doc = json.loads(body)
            self.assertEqual(doc["code"], 100)
            self.assertEqual(doc["message_code"], "invalid_authentication_token")
        status, _, _, _ = self.sim.api(V2 + "?catalog_ids=221", self.jar)
        self.assertEqual(status, 200)

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=5)
        cookie = "access_token_web=" + self.jar["access_token_web"]
        for page in (1, 2, 3):
            conn.request("GET", V2 + "?catalog_ids=221&per_page=10&page=%d" % page,
                         headers={"User-Agent": UA, "Cookie": cookie})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.read())["pagination"]["current_page"], page)
        conn.close()

    def test_v2_shape_matches_truth(self):
        doc = self.sim.page(V2 + "?catalog_ids=221&order=newest_first&per_page=96&page=1", self.jar)
        self.assertEqual(doc["code"], 0)
        self.assertIn("search_tracking_params", doc)
        self.assertEqual(set(doc["pagination"]),
                         {"current_page", "total_pages", "total_entries", "per_page", "time"})
        self.assertEqual(doc["pagination"]["total_entries"], 300)
        self.assertEqual(doc["pagination"]["total_pages"], 4)
        self.assertEqual(len(doc["items"]), 96)
        truth = {t["item_id"]: t for t in self.sim.truth()}
        legacy = 0
        for it in doc["items"]:
            for key in ("id", "title", "price", "service_fee", "total_item_price", "is_visible",
                        "size_title", "status", "path", "url", "user", "photo",
                        "favourite_count", "view_count", "promoted", "content_source", "item_box"):
                self.assertIn(key, it)
            t = truth[it["id"]]
            self.assertEqual(t["catalog_id"], 221)
            self.assertEqual(it["title"], t["title"])
            self.assertTrue(it["url"].startswith("https://www.vinted.pt/items/%d" % it["id"]))
            self.assertEqual(it["url"], t["url"])
            self.assertEqual(it["url"], "https://www.vinted.pt" + it["path"])
            amount, cur = served_money(it, "price")
            if isinstance(it["price"], str):
                legacy += 1
            self.assertRegex(amount, r"^\d+\.\d{1,2}$")
            self.assertEqual(cents(amount), cents(t["price"]))
            self.assertEqual(cur, "EUR")
            self.assertEqual(t["currency"], "EUR")
            fee = cents(served_money(it, "service_fee")[0])
            total = cents(served_money(it, "total_item_price")[0])
            self.assertEqual(fee, cents(t["service_fee"]))
            self.assertEqual(total, cents(t["price"]) + fee)
            self.assertEqual(total, cents(t["total_price"]))
            self.assertEqual(it.get("brand_title") or None, t["brand"])
            self.assertEqual(it["size_title"] or None, t["size_title"])
            self.assertEqual(it["status"], t["condition"])
            self.assertIn(it["status"], ["Novo com etiquetas", "Novo sem etiquetas",
                                         "Muito bom", "Bom", "Satisfatório"])
            self.assertEqual(set(it["user"]), {"id", "login", "profile_url", "photo", "business"})
            self.assertEqual((it["user"]["id"], it["user"]["login"]), (t["user_id"], t["user_login"]))
            ph = it["photo"]
            self.assertTrue(ph["is_main"])
            self.assertEqual(ph["url"], t["photo_url"])
            self.assertEqual(ph["high_resolution"]["timestamp"], t["created_at"])
            self.assertIn("/%d.webp" % t["created_at"], ph["url"])
            self.assertEqual((it["favourite_count"], it["view_count"]),
                             (t["favourite_count"], t["view_count"]))
            self.assertEqual(it["item_box"]["item_id"], it["id"])
        self.assertGreater(legacy, 0)
        self.assertLess(legacy, 96)

    def test_truth_values_are_awkward(self):
        truth = self.sim.truth()
        self.assertEqual(len(truth), 600)
        ids = [t["item_id"] for t in truth]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), len(ids))
        titles = [t["title"] for t in truth]
        self.assertTrue(any("\t" in x for x in titles))
        self.assertTrue(any("\\" in x for x in titles))
        self.assertTrue(any(any(ord(c) > 0xFFFF for c in x) for x in titles))  # emoji
        self.assertTrue(any(len(x) > 200 for x in titles))
        self.assertTrue(any(t["brand"] is None for t in truth))
        self.assertTrue(any(t["size_title"] is None for t in truth))
        sizes = {t["size_title"] for t in truth}
        self.assertTrue({"M", "W32 | L34", "3-6 meses"} & sizes)
        for t in truth:
            self.assertRegex(t["price"], r"^\d+\.\d\d$")
            self.assertIsNone(t["invalid"])
            self.assertIsInstance(t["created_at"], int)

    def test_wrong_generation_path_is_404(self):
        status, _, _, _ = self.sim.api(SVC + "?attribute_ids[catalog]=221", self.jar)
        self.assertEqual(status, 404)

    def test_catalog_filter_and_comma_join(self):
        truth = {t["item_id"]: t["catalog_id"] for t in self.sim.truth()}
        one = self.sim.page(V2 + "?catalog_ids=1242&per_page=96", self.jar)
        self.assertEqual({truth[i["id"]] for i in one["items"]}, {1242})
        both = self.sim.page(V2 + "?catalog_ids=221,1242&per_page=96", self.jar)
        self.assertEqual({truth[i["id"]] for i in both["items"]}, {221, 1242})
        self.assertEqual(both["pagination"]["total_entries"], 600)
        none = self.sim.page(V2 + "?catalog_ids=999&per_page=96", self.jar)
        self.assertEqual(none["items"], [])
        self.assertEqual(none["pagination"]["total_pages"], 0)


class CapsAndBumpsTest(unittest.TestCase):
    def setUp(self):
        self.sim = Sim("--seed", "3", "--catalogs", "221,1242", "--initial", "600")
        self.jar = self.sim.login()

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)

    def test_96_and_960_caps(self):
        doc = self.sim.page(V2 + "?catalog_ids=221,1242&per_page=500&page=1", self.jar)
        self.assertEqual(len(doc["items"]), 96)
        self.assertEqual(doc["pagination"]["per_page"], 96)
        self.assertEqual(doc["pagination"]["total_pages"], 10)
        self.assertEqual(doc["pagination"]["total_entries"], 960)
        seen = []
        for page in range(1, 11):
            doc = self.sim.page(V2 + "?catalog_ids=221,1242&per_page=96&page=%d" % page, self.jar)
            self.assertEqual(len(doc["items"]), 96)
            seen += [i["id"] for i in doc["items"]]
        self.assertEqual(len(set(seen)), 960)
        self.assertEqual(seen, sorted(seen, reverse=True))  # no bumps yet: strictly newest first
        doc = self.sim.page(V2 + "?catalog_ids=221,1242&per_page=96&page=11", self.jar)
        self.assertEqual(doc["items"], [])
        _, stats = self.sim.admin("GET", "/_sim/stats")
        self.assertEqual(stats["max_page_requested"], 11)
        self.assertEqual(stats["api"], 12)
        self.assertEqual(stats["home"], 1)
        self.assertEqual(stats["by_status"], {"200": 13})
        self.assertEqual(stats["by_path"][V2], 12)
        self.assertEqual(self.sim.admin("POST", "/_sim/reset-stats")[0], 200)
        _, stats = self.sim.admin("GET", "/_sim/stats")
        self.assertEqual((stats["requests"], stats["api"], stats["max_page_requested"]), (0, 0, 0))

    def test_bumps_move_old_items_to_top(self):
        before = self.sim.admin("GET", "/_sim/truth")[1]
        status, tick = self.sim.admin("POST", "/_sim/tick?new=3&bumps=2")
        self.assertEqual(status, 200)
        self.assertEqual(len(tick["created"]), 6)   # 3 per catalog
        self.assertEqual(len(tick["bumped"]), 4)    # 2 per catalog
        self.assertEqual(tick["max_id"], max(tick["created"]))
        self.assertTrue(all(i > before["max_id"] for i in tick["created"]))
        self.assertTrue(all(i <= before["max_id"] for i in tick["bumped"]))
        truth = {t["item_id"]: t for t in self.sim.truth()}
        self.assertEqual(len(truth), 1206)
        doc = self.sim.page(V2 + "?catalog_ids=221&per_page=96", self.jar)
        top = [i["id"] for i in doc["items"][:5]]
        expect = {i for i in tick["created"] + tick["bumped"] if truth[i]["catalog_id"] == 221}
        self.assertEqual(set(top), expect)
        self.assertNotEqual(top, sorted(top, reverse=True))  # old ids among new: not id order
        bumped = [i for i in doc["items"][:5] if i["id"] in tick["bumped"]]
        self.assertTrue(all(i["promoted"] for i in bumped))
        # a bumped item appears once only
        ids = [i["id"] for i in doc["items"]]
        self.assertEqual(len(ids), len(set(ids)))
        # bad tick arguments are rejected with a reason
        status, err = self.sim.admin("POST", "/_sim/tick?new=-1")
        self.assertEqual(status, 400)
        self.assertIn("new", err["error"])

    def test_price_bands_cover_the_catalog(self):
        """price_from/price_to (currency units, both inclusive) narrow a search; two
        bands meeting at a price cover the catalog, the meeting price in both."""
        truth = {t["item_id"]: cents(t["price"]) for t in self.sim.truth() if t["catalog_id"] == 221}

        def band(query):
            ids = []
            for page in range(1, 11):
                doc = self.sim.page(V2 + "?catalog_ids=221&per_page=96&page=%d%s" % (page, query), self.jar)
                ids += [i["id"] for i in doc["items"]]
                if len(doc["items"]) < 96:
                    return ids
            self.fail("a band of 600 listings met the 960 cap")
        low, high = band("&price_to=20.00"), band("&price_from=20")
        self.assertTrue(all(truth[i] <= 2000 for i in low) and all(truth[i] >= 2000 for i in high))
        self.assertEqual(set(low) | set(high), set(truth))
        self.assertEqual(set(low) & set(high), {i for i, c in truth.items() if c == 2000})
        self.assertEqual(band("&price_from=12.5&price_to=12.50"), [i for i in sorted(truth, reverse=True)
                                                                    if truth[i] == 1250])
        status, _, body, _ = self.sim.api(V2 + "?catalog_ids=221&price_from=abc", self.jar)
        self.assertEqual(status, 400)
        _, stats = self.sim.admin("GET", "/_sim/stats")
        self.assertGreater(stats["banded"], 2)

    def test_time_pins_the_result_set(self):
        """v2's time= (the pagination.time of page 1) serves the list as it was then:
        later listings left out, later bumps not applied, so page 2 does not shift."""
        first = self.sim.page(V2 + "?catalog_ids=221&per_page=96&page=1", self.jar)
        pinned = first["pagination"]["time"]
        want = [i["id"] for i in self.sim.page(V2 + "?catalog_ids=221&per_page=96&page=2", self.jar)["items"]]
        _, tick = self.sim.admin("POST", "/_sim/tick?new=10&bumps=3")
        moved = [i["id"] for i in self.sim.page(V2 + "?catalog_ids=221&per_page=96&page=2", self.jar)["items"]]
        self.assertNotEqual(moved, want)  # unpinned: 13 arrivals push page 2 down
        again = self.sim.page(V2 + "?catalog_ids=221&per_page=96&page=2&time=%d" % pinned, self.jar)
        self.assertEqual([i["id"] for i in again["items"]], want)
        self.assertEqual(again["pagination"]["time"], pinned)
        _, stats = self.sim.admin("GET", "/_sim/stats")
        self.assertEqual(stats["pinned"], 1)


class ProxiesTest(unittest.TestCase):
    """--proxies: forward-proxy ports, each an egress IP of its own that can be banned."""

    def setUp(self):
        self.sim = Sim("--seed", "4", "--catalogs", "221", "--initial", "20", "--proxies", "2")

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)

    def via(self, k, path, jar=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.proxy_ports[k], timeout=10)
        try:
            headers = {"User-Agent": UA}
            if jar:
                headers["Cookie"] = "; ".join("%s=%s" % kv for kv in jar.items())
            conn.request("GET", "http://127.0.0.1:%d%s" % (self.sim.port, path), headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def test_proxy_ports_and_bans(self):
        self.assertEqual(len(self.sim.proxy_ports), 2)
        jar = self.sim.login()
        status, body = self.via(0, V2 + "?catalog_ids=221", jar)
        self.assertEqual(status, 200)
        self.assertEqual(len(json.loads(body)["items"]), 20)
        self.assertEqual(self.sim.admin("POST", "/_sim/block?proxy=1")[0], 200)
        status, body = self.via(1, V2 + "?catalog_ids=221", jar)
        self.assertEqual(status, 403)
        self.assertIn(b"captcha-delivery.com", body)  # DataDome's answer
        self.assertEqual(self.via(0, V2 + "?catalog_ids=221", jar)[0], 200)  # the other egress is fine
        self.assertEqual(self.sim.api(V2 + "?catalog_ids=221", jar)[0], 200)  # and so is the direct one
        self.assertEqual(self.sim.admin("POST", "/_sim/block?proxy=1&on=0")[0], 200)
        self.assertEqual(self.via(1, V2 + "?catalog_ids=221", jar)[0], 200)
        _, stats = self.sim.admin("GET", "/_sim/stats")
        self.assertEqual(stats["by_proxy"], {"direct": 2, "0": 2, "1": 2})
        self.assertEqual(self.sim.admin("POST", "/_sim/block?proxy=2")[0], 400)
        # a proxy port wants absolute-form requests
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.proxy_ports[0], timeout=10)
        conn.request("GET", V2, headers={"User-Agent": UA})
        self.assertEqual(conn.getresponse().status, 400)
        conn.close()


class SvcTest(SimCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--seed", "42", "--generation", "svc", "--initial", "300")
        cls.jar = cls.sim.login()

    def test_svc_shape_matches_truth(self):
        status, _, body, _ = self.sim.api(SVC + "?attribute_ids[catalog]=221&order=newest_first"
                                          "&per_page=96&page=1", self.jar)
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual(len(doc["items"]), 96)
        truth = {t["item_id"]: t for t in self.sim.truth()}
        for it in doc["items"]:
            self.assertEqual(list(it), sorted(it))  # alphabetical keys
            for gone in ("brand_title", "size_title", "status", "path", "is_visible", "photo"):
                self.assertNotIn(gone, it)
            t = truth[it["id"]]
            self.assertEqual(t["catalog_id"], 221)
            self.assertTrue(it["url"].startswith("/items/%d" % it["id"]))
            self.assertEqual("https://www.vinted.pt" + it["url"], t["url"])
            self.assertEqual(set(it["user"]), {"business", "id", "login"})
            self.assertEqual(it["user"]["id"], t["user_id"])
            main = [p for p in it["photos"] if p["is_main"]]
            self.assertEqual(len(main), 1)
            self.assertEqual(main[0]["url"], t["photo_url"])
            for p in it["photos"]:
                self.assertNotIn("timestamp", p["high_resolution"])
            box = it["item_box"]
            self.assertEqual(box["first_line"] or None, t["brand"])
            parts = box["second_line"].split(" · ")
            if t["size_title"] is None:
                self.assertEqual(parts, [t["condition"]])
            else:
                self.assertEqual(parts, [t["size_title"], t["condition"]])
            self.assertEqual(cents(it["price"]["amount"]), cents(t["price"]))
            self.assertIsNone(t["created_at"])
        self.assertTrue(any(len(i["photos"]) > 1 for i in doc["items"]))

    def test_url_forms(self):
        truth = {t["item_id"]: t["catalog_id"] for t in self.sim.truth()}
        for q in ("attribute_ids[catalog]=1242", "attribute_ids%5Bcatalog%5D=1242",
                  "attribute_ids[catalog][]=1242"):
            doc = self.sim.page(SVC + "?" + q + "&per_page=96", self.jar)
            self.assertEqual({truth[i["id"]] for i in doc["items"]}, {1242}, q)
        doc = self.sim.page(SVC + "?catalog_ids=1242&per_page=96", self.jar)  # ignored
        self.assertEqual({truth[i["id"]] for i in doc["items"]}, {221, 1242})

    def test_old_path_404_code_104(self):
        status, _, body, _ = self.sim.api(V2 + "?catalog_ids=221", self.jar)
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["code"], 104)


class DeterminismAndSitesTest(unittest.TestCase):
    def test_same_seed_same_truth(self):
        sims = [Sim("--seed", "7", "--initial", "50"), Sim("--seed", "7", "--initial", "50"),
                Sim("--seed", "8", "--initial", "50"),
                Sim("--seed", "7", "--initial", "50", "--generation", "svc")]
        try:
            for s in sims:
                s.admin("POST", "/_sim/tick?new=4&bumps=3")
                s.admin("POST", "/_sim/tick?new=0&bumps=5")
            a, b, c, d = [s.truth() for s in sims]
            self.assertEqual(a, b)
            self.assertNotEqual(a, c)
            for x, y in zip(a, d):  # svc: same world, only created_at unknown
                self.assertEqual(dict(x, created_at=None), y)
            # the served order is the same too
            p = [s.page(V2 + "?per_page=96", s.login()) for s in sims[:2]]
            self.assertEqual([i["id"] for i in p[0]["items"]], [i["id"] for i in p[1]["items"]])
        finally:
            for s in sims:
                self.assertEqual(s.stop(), 0)

    def test_site_currency(self):
        for site, cur in (("co.uk", "GBP"), ("pl", "PLN")):
            s = Sim("--site", site, "--initial", "10")
            try:
                jar = s.login()
                doc = s.page(V2 + "?catalog_ids=221", jar)
                it = doc["items"][0]
                self.assertEqual(it["price"]["currency_code"], cur)
                self.assertTrue(it["url"].startswith("https://www.vinted.%s/items/" % site))
                self.assertTrue(all(t["currency"] == cur for t in s.truth()))
            finally:
                self.assertEqual(s.stop(), 0)

    def test_command_line(self):
        out = subprocess.run([sys.executable, SIM, "--help"], capture_output=True)
        self.assertEqual(out.returncode, 0)
        self.assertIn(b"--generation", out.stdout)
        for bad in (["--generation", "v3"], ["--catalogs", "abc"], ["--site", "xx"],
                    ["--bad-every", "-1"]):
            out = subprocess.run([sys.executable, SIM] + bad, capture_output=True)
            self.assertEqual(out.returncode, 2, bad)
            self.assertIn(bad[0].encode(), out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
