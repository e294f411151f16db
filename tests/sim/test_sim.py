#!/usr/bin/env python3
"""test_sim.py - self-check of the simulated Vinted (vinted_sim.py).

Starts the simulator as real processes on free ports and asserts what the
pipeline relies on: session cookies and 401s, both API generations' item
shapes and URL forms, the 96/960 caps, bumps, determinism, every fault
kind, bad items; for the tracking flow the item life cycle (evolve) as seen
by search, seller lists, profiles, item pages and the truth, and the user
rate limit; for the images flow the CDN bytes against the truth, signatures
and every CDN fault. Run: python3 tests/sim/test_sim.py  (stdlib only, < 30 s)
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "vinted_sim.py")
CDN = "https://images1.vinted.net"
UA = "Mozilla/5.0 (X11; Linux x86_64) test_sim"
V2 = "/api/v2/catalog/items"
SVC = "/svc-catalogue/items"


class Sim:
    """One simulator process."""

    def __init__(self, *args):
        self.dir = tempfile.TemporaryDirectory()
        port_file = os.path.join(self.dir.name, "port")
        self.proc = subprocess.Popen(
            [sys.executable, SIM, "--port", "0", "--port-file", port_file, "--quiet"] + list(args),
            stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("simulator did not start: %s" % self.proc.stderr.read())
            time.sleep(0.02)
        with open(port_file) as f:
            ports = [int(x) for x in f.read().split()]
        self.port, self.proxy_ports = ports[0], ports[1:]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=5)
        self.proc.stderr.close()
        self.dir.cleanup()
        return rc

    def request(self, method, path, headers=None, body=None):
        """(status, headers, body bytes, complete?)"""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            try:
                data, complete = resp.read(), True
            except http.client.IncompleteRead as e:
                data, complete = e.partial, False
            return resp.status, resp.headers, data, complete
        finally:
            conn.close()

    def admin(self, method, path, body=None):
        status, _, data, _ = self.request(method, path, body=body)
        return status, json.loads(data)

    def login(self):
        """GET / like a browser; returns the Cookie header for API calls."""
        status, headers, _, _ = self.request("GET", "/", {"User-Agent": UA})
        assert status == 200
        jar = {}
        for line in headers.get_all("Set-Cookie"):
            name, value = line.split(";", 1)[0].split("=", 1)
            jar[name] = value
        return jar

    def api(self, path, jar=None, ua=UA):
        headers = {"Accept": "application/json, text/plain, */*"}
        if ua:
            headers["User-Agent"] = ua
        if jar:
            headers["Cookie"] = "; ".join("%s=%s" % kv for kv in jar.items())
        return self.request("GET", path, headers)

    def page(self, path, jar):
        status, _, data, _ = self.api(path, jar)
        assert status == 200, (status, data[:200])
        return json.loads(data)

    def truth(self):
        return self.admin("GET", "/_sim/truth")[1]["items"]

    def states(self):
        return {s["item_id"]: s for s in self.admin("GET", "/_sim/truth/states")[1]["items"]}

    def faults(self, *specs):
        status, doc = self.admin("POST", "/_sim/faults", json.dumps({"faults": list(specs)}))
        assert status == 200, doc

    def cdn(self, url, method="GET", headers=None):
        """Fetch a realistic CDN URL from the sim, as the pipeline does once
        VINTED_CDN_URL rewrites the scheme and host."""
        assert url.startswith(CDN + "/"), url
        return self.request(method, url[len(CDN):], headers or {})


def cents(amount):
    """"20.5" -> 2050, without floats."""
    neg = amount.startswith("-")
    whole, _, frac = amount.lstrip("-").partition(".")
    v = int(whole) * 100 + int((frac + "00")[:2])
    return -v if neg else v


def served_money(item, key):
    """(amount string, currency) from either price form."""
    v = item[key]
    if isinstance(v, dict):
        return v["amount"], v["currency_code"]
    return v, item["currency"]


class V2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--seed", "42", "--catalogs", "221,1242", "--initial", "300",
                      "--generation", "v2", "--legacy-price-every", "7")
        cls.jar = cls.sim.login()

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

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


class SvcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--seed", "42", "--generation", "svc", "--initial", "300")
        cls.jar = cls.sim.login()

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

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


class FaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--initial", "100", "--token-ttl", "1")

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def setUp(self):
        self.sim.admin("DELETE", "/_sim/faults")
        self.jar = self.sim.login()
        self.url = V2 + "?catalog_ids=221&per_page=20"

    def faults(self, *specs):
        status, doc = self.sim.admin("POST", "/_sim/faults", json.dumps({"faults": list(specs)}))
        self.assertEqual(status, 200, doc)

    def get(self):
        return self.sim.api(self.url, self.jar)

    def test_429_500_and_403_styles(self):
        self.faults({"kind": "429", "count": 2, "retry_after": 1}, {"kind": "500"},
                    {"kind": "403", "style": "cloudflare"}, {"kind": "403", "style": "datadome"},
                    {"kind": "403", "style": "json"}, {"kind": "429"})
        for _ in range(2):
            status, headers, _, _ = self.get()
            self.assertEqual((status, headers["Retry-After"]), (429, "1"))
        self.assertEqual(self.get()[0], 500)
        status, headers, body, _ = self.get()
        self.assertEqual(status, 403)
        self.assertIn(b"Just a moment", body)
        self.assertEqual(headers["Server"], "cloudflare")
        status, _, body, _ = self.get()
        self.assertEqual(status, 403)
        self.assertIn(b"captcha-delivery.com", body)
        status, _, body, _ = self.get()
        self.assertEqual((status, json.loads(body)["code"]), (403, 106))
        status, headers, _, _ = self.get()
        self.assertEqual(status, 429)
        self.assertIsNone(headers["Retry-After"])
        self.assertEqual(self.get()[0], 200)
        _, stats = self.sim.admin("GET", "/_sim/stats")
        self.assertGreaterEqual(stats["faults_consumed"]["429"], 3)

    def test_truncate_and_malformed(self):
        self.faults({"kind": "truncate"}, {"kind": "truncate", "mode": "length"},
                    {"kind": "malformed"})
        status, headers, body, complete = self.get()
        self.assertEqual(status, 200)
        self.assertFalse(complete)
        self.assertLess(len(body), int(headers["Content-Length"]))
        status, headers, body, complete = self.get()
        self.assertTrue(complete)
        self.assertRaises(ValueError, json.loads, body)
        status, _, body, _ = self.get()
        self.assertEqual(status, 200)
        self.assertRaises(ValueError, json.loads, body)
        self.assertEqual(self.get()[0], 200)

    def test_session_faults_wait_for_a_session(self):
        self.faults({"kind": "malformed"})
        self.assertEqual(self.sim.api(self.url, None)[0], 401)  # does not consume it
        status, _, body, _ = self.get()
        self.assertRaises(ValueError, json.loads, body)

    def test_expire_session(self):
        self.faults({"kind": "expire_session"})
        status, _, body, _ = self.get()
        self.assertEqual((status, json.loads(body)["message_code"]),
                         (401, "invalid_authentication_token"))
        self.assertEqual(self.get()[0], 401)  # the token stays dead
        self.jar = self.sim.login()
        self.assertEqual(self.get()[0], 200)

    def test_token_ttl(self):
        self.assertEqual(self.get()[0], 200)
        time.sleep(1.1)
        self.assertEqual(self.get()[0], 401)

    def test_slow(self):
        self.faults({"kind": "slow", "seconds": 0.6})
        t0 = time.monotonic()
        self.assertEqual(self.get()[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)

    def test_clear_and_reject(self):
        self.faults({"kind": "500", "count": 5})
        _, q = self.sim.admin("GET", "/_sim/faults")
        self.assertEqual(q["queued"][0]["count"], 5)
        self.sim.admin("DELETE", "/_sim/faults")
        self.assertEqual(self.get()[0], 200)
        for bad in ({"faults": [{"kind": "teapot"}]}, {"faults": [{"kind": "429", "count": -1}]},
                    {"nope": 1}, "not json"):
            body = bad if isinstance(bad, str) else json.dumps(bad)
            status, doc = self.sim.admin("POST", "/_sim/faults", body)
            self.assertEqual(status, 400)
            self.assertTrue(doc["error"])


class BadItemsTest(unittest.TestCase):
    def test_bad_items_rotate_and_are_served_broken(self):
        for gen in ("v2", "svc"):
            s = Sim("--initial", "18", "--catalogs", "221", "--bad-every", "3",
                    "--legacy-price-every", "4", "--generation", gen)
            try:
                truth = s.truth()
                rules = [t["invalid"] for t in truth]
                self.assertEqual(rules[2::3], ["id_missing", "price_missing", "price_invalid",
                                               "price_not_positive", "currency_unknown",
                                               "title_missing"])
                self.assertEqual([r for i, r in enumerate(rules) if i % 3 != 2], [None] * 12)
                path = (V2 + "?catalog_ids=221") if gen == "v2" else (SVC + "?attribute_ids[catalog]=221")
                items = s.page(path, s.login())["items"]
                self.assertEqual(len(items), 18)
                by_id = {i["id"]: i for i in items if "id" in i}
                self.assertEqual(len(by_id), 17)
                for t in truth:
                    rule = t["invalid"]
                    if rule == "id_missing":
                        self.assertNotIn(t["item_id"], by_id)
                        continue
                    it = by_id[t["item_id"]]
                    if rule == "price_missing":
                        self.assertNotIn("price", it)
                        self.assertIsNone(t["price"])
                        continue
                    amount, cur = served_money(it, "price")
                    self.assertEqual(cur, t["currency"])
                    if rule == "price_invalid":
                        self.assertEqual((amount, t["price"]), ("abc", "abc"))
                    elif rule == "price_not_positive":
                        self.assertTrue(amount.startswith("-"))
                        self.assertLess(cents(t["price"]), 0)
                        self.assertEqual(cents(amount), cents(t["price"]))
                    elif rule == "currency_unknown":
                        self.assertEqual(cur, "XYZ")
                    elif rule == "title_missing":
                        self.assertNotIn("title", it)
                        self.assertIsNone(t["title"])
                    else:
                        self.assertEqual(cents(amount), cents(t["price"]))
                legacy = [i for i in items if isinstance(i.get("price"), str)]
                self.assertTrue(legacy)
                self.assertTrue(all(isinstance(i["currency"], str) for i in legacy))
            finally:
                self.assertEqual(s.stop(), 0)


class HostileTest(unittest.TestCase):
    """POST /_sim/hostile: listings whose bytes are served as the case says, and a
    truth that says what must be stored, or the rule that quarantines them."""

    def test_hostile_listings_served_and_in_truth(self):
        for gen in ("v2", "svc"):
            s = Sim("--initial", "3", "--catalogs", "221,1242", "--generation", gen)
            try:
                status, doc = s.admin("POST", "/_sim/hostile?catalog=221&cases=sql,nul_escape,invalid_utf8,"
                                              "lone_surrogate,huge_title,huge_counts,huge_id,huge_number_price")
                self.assertEqual(status, 200, doc)
                made = {c["case"]: c for c in doc["created"]}
                self.assertEqual(len(made), 8)
                self.assertEqual({c["catalog_id"] for c in doc["created"]}, {221})
                self.assertEqual(made["nul_escape"]["rule"], "text_invalid")
                self.assertIsNone(made["sql"]["rule"])
                status, doc = s.admin("POST", "/_sim/hostile?cases=nope")
                self.assertEqual(status, 400)
                self.assertIn("nope", doc["error"])
                status, _ = s.admin("POST", "/_sim/hostile?catalog=999")
                self.assertEqual(status, 400)

                path = (V2 + "?catalog_ids=221") if gen == "v2" else (SVC + "?attribute_ids[catalog]=221")
                status, _, body, _ = s.api(path + "&per_page=96", s.login())
                self.assertEqual(status, 200)
                self.assertRaises(UnicodeDecodeError, body.decode, "utf-8")  # raw invalid bytes, on purpose
                self.assertIn(b"caf\xe9 cr\xc3(", body)
                self.assertIn(b"broken \\ud800 pair \\udc00", body)
                self.assertIn(b"before\\u0000after", body)
                self.assertIn(b'"id":100000000000000000000', body)
                self.assertIn(b'"favourite_count":3000000000', body)
                self.assertIn(b"1" + b"0" * 400, body)  # 10**400 as a JSON number
                self.assertIn(b"'); DROP TABLE items; --", body)
                self.assertNotIn("\U0010fffe".encode("utf-8"), body)  # no mark left behind

                truth = {t["hostile"]: t for t in s.truth() if t.get("hostile")}
                self.assertEqual(set(truth), set(made))
                self.assertEqual(len(truth["huge_title"]["title"].encode("utf-8")), 1 << 20)
                self.assertIsNone(truth["huge_title"]["invalid"])
                self.assertEqual((truth["huge_counts"]["favourite_count"], truth["huge_counts"]["view_count"]),
                                 (None, None))
                self.assertEqual(truth["sql"]["user_login"], "Robert'); DROP TABLE users; --")
                self.assertEqual(truth["huge_id"]["invalid"], "id_missing")
                self.assertEqual(truth["huge_number_price"]["invalid"], "price_invalid")
                self.assertIn("\ufffd", truth["invalid_utf8"]["title"])  # printable in the truth
                self.assertEqual(truth["nul_escape"]["title"], "before\x00after")
            finally:
                self.assertEqual(s.stop(), 0)

    def test_hostile_is_deterministic(self):
        def world():
            s = Sim("--initial", "5", "--catalogs", "221", "--seed", "3")
            try:
                s.admin("POST", "/_sim/hostile")
                return s.truth()
            finally:
                s.stop()
        self.assertEqual(world(), world())


# --------------------------------------------------------------------------
# The tracking flow: seller lists, profiles, item pages, the life cycle

EVOLVE_KINDS = ("price_changes", "sold", "reserved", "removed", "hidden", "favourites")
STATE_KEYS = ("id", "title", "price", "price_numeric", "original_price_numeric", "currency",
              "is_reserved", "is_hidden", "is_closed", "item_closing_action", "favourite_count",
              "view_count", "photos", "user", "url", "status", "size_title")


def json_ld(html_text):
    """The JSON-LD blocks of a page, parsed (ValueError if one is broken)."""
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html_text, re.S)
    return [json.loads(b) for b in blocks]


def product(html_text):
    return next(b for b in json_ld(html_text) if b.get("@type") == "Product")


def user_items(sim, jar, uid, per_page=96):
    """Every item of the seller's list, following the pages."""
    out, page = [], 1
    while True:
        doc = sim.page("/api/v2/users/%d/items?page=%d&per_page=%d" % (uid, page, per_page), jar)
        out += doc["items"]
        if page >= doc["pagination"]["total_pages"]:
            return out, doc["pagination"]
        page += 1


def search_all(sim, jar):
    """{id: item} of the whole v2 search (all catalogs, at most 960)."""
    out, page = {}, 1
    while True:
        doc = sim.page(V2 + "?per_page=96&page=%d" % page, jar)
        out.update((i["id"], i) for i in doc["items"])
        if page >= doc["pagination"]["total_pages"]:
            return out
        page += 1


class TrackingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--seed", "5", "--catalogs", "221,1242", "--initial", "150", "--user-rate", "0")
        cls.jar = cls.sim.login()

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_evolve_life_cycle_agrees_everywhere(self):
        before = {t["item_id"]: t for t in self.sim.truth()}
        status, ev = self.sim.admin("POST", "/_sim/evolve?price_changes=3&sold=2&reserved=2"
                                            "&removed=2&hidden=2&favourites=3")
        self.assertEqual(status, 200, ev)
        for kind, n in (("price_changes", 6), ("sold", 4), ("reserved", 4), ("removed", 4),
                        ("hidden", 4), ("favourites", 6)):
            self.assertLessEqual(len(ev[kind]), n, kind)
        for kind in ("sold", "reserved", "removed", "hidden"):  # distinct items get them
            self.assertEqual(len(ev[kind]), 4, kind)
        state_ids = ev["sold"] + ev["reserved"] + ev["removed"] + ev["hidden"]
        self.assertEqual(len(set(state_ids)), len(state_ids))
        self.assertTrue(ev["price_changes"] and ev["favourites"])
        times = [c["sim_time"] for c in ev["changes"]]
        self.assertEqual(times, sorted(times))
        self.assertGreaterEqual(ev["sim_time"], max(times))
        self.assertEqual(self.sim.admin("GET", "/_sim/truth/changes")[1]["changes"][-len(ev["changes"]):],
                         ev["changes"])

        states = self.sim.states()
        last_change = {c["item_id"]: c["sim_time"] for c in ev["changes"]}
        for iid, st in states.items():
            self.assertEqual(st["changed_at"], last_change.get(iid), iid)
        for iid in ev["sold"]:
            self.assertEqual((states[iid]["is_closed"], states[iid]["item_closing_action"]), (True, "sold"))
        for iid in ev["reserved"]:
            self.assertTrue(states[iid]["is_reserved"])
        for iid in ev["removed"]:
            self.assertTrue(states[iid]["removed"])
        for iid in ev["hidden"]:
            self.assertTrue(states[iid]["is_hidden"])
        for c in ev["changes"]:
            if c["kind"] == "price_changes":
                self.assertLess(cents(c["new_price"]), cents(c["old_price"]))
                self.assertGreater(cents(c["new_price"]), 0)
        for iid in ev["price_changes"]:
            st = states[iid]
            self.assertLess(cents(st["price"]), cents(st["original_price"]))
            self.assertEqual(st["original_price"], before[iid]["price"])
            self.assertRegex(st["price"], r"^\d+\.\d\d$")
        for iid in ev["favourites"]:
            self.assertGreater(states[iid]["favourite_count"], before[iid]["favourite_count"])
            self.assertGreater(states[iid]["view_count"], before[iid]["view_count"])
        untouched = [i for i in states if i not in last_change]
        for iid in untouched:
            st = states[iid]
            self.assertEqual((st["is_reserved"], st["is_hidden"], st["is_closed"], st["removed"]),
                             (False, False, False, False))
            self.assertEqual(st["price"], before[iid]["price"])

        # /_sim/truth keeps the listings as published; ?current=1 shows them now
        first = {t["item_id"]: t for t in self.sim.truth()}
        self.assertEqual(first, before)
        now = {t["item_id"]: t for t in self.sim.admin("GET", "/_sim/truth?current=1")[1]["items"]}
        for iid in ev["price_changes"]:
            self.assertEqual(now[iid]["price"], states[iid]["price"])
            self.assertEqual(cents(now[iid]["total_price"]),
                             cents(now[iid]["price"]) + cents(now[iid]["service_fee"]))

        # search: only live, not hidden, not sold; current prices and counts
        served = search_all(self.sim, self.jar)
        self.assertEqual(set(served), {i for i, st in states.items() if st["in_search"]})
        for iid in ev["removed"] + ev["hidden"] + ev["sold"]:
            self.assertNotIn(iid, served)
        for iid in ev["reserved"]:
            self.assertIn(iid, served)
        for iid, it in served.items():
            self.assertEqual(cents(served_money(it, "price")[0]), cents(states[iid]["price"]))
            self.assertEqual(it["favourite_count"], states[iid]["favourite_count"])

        # seller lists: everything but removed, flags as in the truth
        sellers = {states[i]["user_id"] for i in state_ids + ev["price_changes"]}
        for uid in sellers:
            items, pag = user_items(self.sim, self.jar, uid)
            mine = {i: st for i, st in states.items() if st["user_id"] == uid and not st["removed"]}
            self.assertEqual({i["id"] for i in items}, set(mine))
            self.assertEqual(pag["total_entries"], len(mine))
            ids = [i["id"] for i in items]
            self.assertEqual(ids, sorted(ids, reverse=True))  # newest first
            for it in items:
                st = mine[it["id"]]
                self.assertEqual(cents(it["price_numeric"]), cents(st["price"]))
                self.assertEqual(cents(it["price"]["amount"]), cents(st["price"]))
                self.assertEqual(cents(it["original_price_numeric"]), cents(st["original_price"]))
                self.assertEqual(it["currency"], st["currency"])
                for k in ("is_reserved", "is_hidden", "is_closed", "item_closing_action",
                          "favourite_count", "view_count"):
                    self.assertEqual(it[k], st[k], k)

        # item pages: removed 404, sold SoldOut, hidden still 200
        for iid in ev["removed"]:
            status, headers, body, _ = self.sim.api("/items/%d" % iid)
            self.assertEqual(status, 404)
            self.assertIn("text/html", headers["Content-Type"])
        for iid, avail in [(i, "SoldOut") for i in ev["sold"]] + \
                          [(i, "InStock") for i in ev["hidden"] + ev["reserved"] + ev["price_changes"]
                           if not states[i]["removed"] and not states[i]["is_closed"]]:
            status, _, body, _ = self.sim.api(first[iid]["url"][len("https://www.vinted.pt"):])
            self.assertEqual(status, 200, iid)
            p = product(body.decode("utf-8"))
            self.assertEqual(p["offers"]["availability"], "https://schema.org/" + avail)
            self.assertEqual(p["offers"]["price"], states[iid]["price"])

        # profiles: counters follow the listings
        users = {u["user_id"]: u for u in self.sim.admin("GET", "/_sim/truth/users")[1]["users"]}
        for uid in sellers:
            active = sum(1 for st in states.values()
                         if st["user_id"] == uid and not st["removed"] and not st["is_closed"])
            self.assertEqual(users[uid]["item_count"], active)
            doc = self.sim.page("/api/v2/users/%d" % uid, self.jar)
            self.assertEqual(doc["user"]["item_count"], active)
            self.assertEqual(doc["user"]["given_item_count"], users[uid]["given_item_count"])
        for iid in ev["sold"]:
            uid = states[iid]["user_id"]
            self.assertGreaterEqual(users[uid]["last_loged_on"], states[iid]["changed_at"])

        # bad arguments are rejected with a reason
        for q in ("sold=-1", "sold=x", "teapot=1"):
            status, err = self.sim.admin("POST", "/_sim/evolve?" + q)
            self.assertEqual(status, 400, q)
            self.assertTrue(err["error"])

    def test_seller_list_shape_paging_and_session(self):
        users = self.sim.admin("GET", "/_sim/truth/users")[1]["users"]
        states = self.sim.states()
        counts = {}
        for st in states.values():
            if not st["removed"]:
                counts[st["user_id"]] = counts.get(st["user_id"], 0) + 1
        uid = max(counts, key=lambda u: (counts[u], u))
        self.assertGreater(counts[uid], 5)
        self.assertLessEqual(set(counts), {u["user_id"] for u in users})
        paged, pag = user_items(self.sim, self.jar, uid, per_page=5)
        self.assertEqual(pag["per_page"], 5)
        self.assertEqual(pag["total_pages"], (counts[uid] + 4) // 5)
        self.assertEqual(len(paged), counts[uid])
        self.assertEqual(len({i["id"] for i in paged}), counts[uid])
        whole = self.sim.page("/api/v2/users/%d/items?per_page=500" % uid, self.jar)
        self.assertEqual(whole["pagination"]["per_page"], 96)
        self.assertEqual(set(whole["pagination"]), {"current_page", "total_pages", "total_entries", "per_page"})
        for it in paged:
            for k in STATE_KEYS:
                self.assertIn(k, it)
            self.assertEqual(set(it["price"]), {"amount", "currency_code"})
            self.assertRegex(it["price_numeric"], r"^\d+\.\d{1,2}$")
            self.assertEqual(it["user"]["id"], uid)
            self.assertTrue(it["url"].startswith("https://www.vinted.pt/items/%d" % it["id"]))
            self.assertTrue(1 <= len(it["photos"]) <= 5)
            self.assertEqual([p["is_main"] for p in it["photos"]].count(True), 1)
            for p in it["photos"]:
                self.assertIsInstance(p["high_resolution"]["timestamp"], int)
                self.assertTrue(p["url"].startswith(CDN + "/t/"))
            if not it["is_closed"]:
                self.assertIsNone(it["item_closing_action"])
        status, _, body, _ = self.sim.api("/api/v2/users/%d/items" % uid, None)
        self.assertEqual((status, json.loads(body)["code"]), (401, 100))
        status, _, body, _ = self.sim.api("/api/v2/users/1/items", self.jar)
        self.assertEqual(status, 404)
        status, _, _, _ = self.sim.api("/api/v2/users/1", self.jar)
        self.assertEqual(status, 404)
        self.assertEqual(self.sim.api("/api/v2/users/%d" % uid, None)[0], 401)

    def test_profiles_match_truth(self):
        users = self.sim.admin("GET", "/_sim/truth/users")[1]["users"]
        self.assertEqual(len(users), len({u["user_id"] for u in users}))
        cities = set()
        for t in users:
            doc = self.sim.page("/api/v2/users/%d" % t["user_id"], self.jar)
            u = doc["user"]
            self.assertEqual(u["id"], t["user_id"])
            for k in ("login", "item_count", "given_item_count", "taken_item_count", "followers_count",
                      "following_count", "feedback_count", "feedback_reputation", "positive_feedback_count",
                      "neutral_feedback_count", "negative_feedback_count", "city", "country_title",
                      "last_loged_on_ts"):
                self.assertEqual(u[k], t[k], k)
            self.assertIsInstance(u["feedback_reputation"], float)
            self.assertTrue(0.0 <= u["feedback_reputation"] <= 1.0)
            self.assertEqual(u["feedback_count"], u["positive_feedback_count"] + u["neutral_feedback_count"]
                             + u["negative_feedback_count"])
            self.assertRegex(u["last_loged_on_ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
            self.assertEqual(u["country_title"], "Portugal")
            cities.add(u["city"])
        self.assertGreater(len(cities), 3)

    def test_item_page_json_ld(self):
        truth = self.sim.truth()
        states = self.sim.states()
        awkward = [t for t in truth if t["title"] and re.search(r"[<>&\"\n\\\\]", t["title"])]
        self.assertTrue(awkward)
        for t in awkward[:8] + truth[:8]:
            st = states[t["item_id"]]
            status, headers, body, _ = self.sim.api("/items/%d" % t["item_id"])
            if st["removed"]:
                self.assertEqual(status, 404)
                continue
            self.assertEqual(status, 200)
            self.assertIn("text/html", headers["Content-Type"])
            text = body.decode("utf-8")
            self.assertEqual(text.count("</script>"), 2)  # titles cannot close the block
            blocks = json_ld(text)
            self.assertEqual([b["@type"] for b in blocks], ["BreadcrumbList", "Product"])
            p = blocks[1]
            self.assertEqual(p["name"], t["title"])
            self.assertEqual(p["offers"]["price"], st["price"])
            self.assertIsInstance(p["offers"]["price"], str)
            self.assertEqual(p["offers"]["priceCurrency"], "EUR")
            self.assertEqual(p["image"], t["photo_url"])
            self.assertEqual(p.get("brand", {}).get("name"), t["brand"])
        # the slug form and an unknown id
        t = truth[0]
        self.assertEqual(self.sim.api(t["url"][len("https://www.vinted.pt"):])[0],
                         404 if states[t["item_id"]]["removed"] else 200)
        self.assertEqual(self.sim.api("/items/1")[0], 404)
        self.assertEqual(self.sim.api("/items/%d" % t["item_id"], ua=None)[0], 403)


class EvolveDeterminismTest(unittest.TestCase):
    def test_same_seed_same_life(self):
        sims = [Sim("--seed", "11", "--initial", "60"), Sim("--seed", "11", "--initial", "60"),
                Sim("--seed", "12", "--initial", "60")]
        try:
            outs = []
            for s in sims:
                s.admin("POST", "/_sim/tick?new=5&bumps=2")
                a = s.admin("POST", "/_sim/evolve?price_changes=4&sold=2&removed=1&hidden=1"
                                    "&reserved=1&favourites=3")[1]
                s.admin("POST", "/_sim/tick?new=3&bumps=3")
                b = s.admin("POST", "/_sim/evolve?sold=3&price_changes=2")[1]
                outs.append((a, b, s.admin("GET", "/_sim/truth/states")[1],
                             s.admin("GET", "/_sim/truth/users")[1], s.truth(),
                             s.admin("GET", "/_sim/truth/changes")[1]))
            self.assertEqual(outs[0], outs[1])
            self.assertNotEqual(outs[0][2], outs[2][2])
            self.assertEqual(len(outs[0][5]["changes"]), len(outs[0][0]["changes"]) + len(outs[0][1]["changes"]))
        finally:
            for s in sims:
                self.assertEqual(s.stop(), 0)


class UserRateTest(unittest.TestCase):
    def test_profile_calls_are_rate_limited(self):
        s = Sim("--initial", "20", "--catalogs", "221", "--user-rate", "3")
        try:
            jar = s.login()
            uid = s.admin("GET", "/_sim/truth/users")[1]["users"][0]["user_id"]
            for _ in range(3):
                self.assertEqual(s.api("/api/v2/users/%d" % uid, jar)[0], 200)
            status, headers, body, _ = s.api("/api/v2/users/%d" % uid, jar)
            self.assertEqual(status, 429)
            self.assertTrue(1 <= int(headers["Retry-After"]) <= 10)
            self.assertEqual(json.loads(body)["code"], 429)
            # the seller list is not limited by it
            self.assertEqual(s.api("/api/v2/users/%d/items" % uid, jar)[0], 200)
            _, stats = s.admin("GET", "/_sim/stats")
            self.assertEqual(stats["by_class"]["user"]["by_status"], {"200": 3, "429": 1})
            self.assertEqual(s.admin("GET", "/_sim/config")[1]["user_rate"], 3)
            # changing the limit at run time clears the window
            self.assertEqual(s.admin("POST", "/_sim/user-rate?per_10s=0")[0], 200)
            for _ in range(5):
                self.assertEqual(s.api("/api/v2/users/%d" % uid, jar)[0], 200)
            self.assertEqual(s.admin("POST", "/_sim/user-rate?per_10s=x")[0], 400)
        finally:
            self.assertEqual(s.stop(), 0)
        out = subprocess.run([sys.executable, SIM, "--user-rate", "-1"], capture_output=True)
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"--user-rate", out.stderr)


class PathFaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--initial", "40", "--catalogs", "221", "--user-rate", "0")
        cls.jar = cls.sim.login()
        t = cls.sim.truth()[0]
        cls.item, cls.uid = t["item_id"], t["user_id"]

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def setUp(self):
        self.sim.admin("DELETE", "/_sim/faults")

    def catalog(self):
        return self.sim.api(V2 + "?catalog_ids=221&per_page=5", self.jar)[0]

    def users(self):
        return self.sim.api("/api/v2/users/%d/items" % self.uid, self.jar)

    def user(self):
        return self.sim.api("/api/v2/users/%d" % self.uid, self.jar)

    def page(self):
        return self.sim.api("/items/%d" % self.item)

    def test_faults_hit_their_path_class_only(self):
        consumed = self.sim.admin("GET", "/_sim/faults")[1]["consumed_by_path"]
        self.sim.faults({"kind": "500", "path": "users"}, {"kind": "429", "path": "user", "retry_after": 7},
                        {"kind": "403", "path": "item_page", "style": "datadome"}, {"kind": "503"})
        _, q = self.sim.admin("GET", "/_sim/faults")
        self.assertEqual([f["path"] for f in q["queued"]], ["users", "user", "item_page", "catalog"])
        self.assertEqual(self.page()[0], 403)
        status, headers, _, _ = self.user()
        self.assertEqual((status, headers["Retry-After"]), (429, "7"))
        self.assertEqual(self.users()[0], 500)
        self.assertEqual(self.catalog(), 503)
        for get in (self.page, self.user, self.users):
            self.assertEqual(get()[0], 200)
        self.assertEqual(self.catalog(), 200)
        _, q = self.sim.admin("GET", "/_sim/faults")
        self.assertEqual(q["queued"], [])
        for key in ("users:500", "user:429", "item_page:403", "catalog:503"):
            self.assertEqual(q["consumed_by_path"][key], consumed.get(key, 0) + 1, key)

    def test_body_faults_on_new_paths(self):
        self.sim.faults({"kind": "truncate", "path": "users"}, {"kind": "malformed", "path": "user"},
                        {"kind": "malformed", "path": "item_page"}, {"kind": "truncate", "path": "item_page"},
                        {"kind": "expire_session", "path": "users"}, {"kind": "reset", "path": "user"},
                        {"kind": "slow", "seconds": 0.3, "path": "item_page"}, {"kind": "404", "path": "users"})
        status, headers, body, complete = self.users()
        self.assertEqual(status, 200)
        self.assertFalse(complete)
        status, _, body, _ = self.user()
        self.assertEqual(status, 200)
        self.assertRaises(ValueError, json.loads, body)
        status, _, body, _ = self.page()
        self.assertEqual(status, 200)
        self.assertIn(b'"@type":"BreadcrumbList"', body)
        self.assertRaises(ValueError, product, body.decode("utf-8"))
        status, _, body, complete = self.page()
        self.assertFalse(complete)
        status, _, body, _ = self.users()  # expire_session
        self.assertEqual((status, json.loads(body)["message_code"]), (401, "invalid_authentication_token"))
        self.jar.update(self.sim.login())
        self.assertRaises((ConnectionError, http.client.HTTPException), self.user)  # reset
        t0 = time.monotonic()
        self.assertEqual(self.page()[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        status, _, body, _ = self.users()
        self.assertEqual((status, json.loads(body)["code"]), (404, 104))
        self.assertEqual(self.users()[0], 200)

    def test_bad_fault_paths_rejected(self):
        for bad in ({"kind": "500", "path": "nowhere"}, {"kind": "expire_session", "path": "cdn"},
                    {"kind": "expire_session", "path": "item_page"}):
            status, doc = self.sim.admin("POST", "/_sim/faults", json.dumps({"faults": [bad]}))
            self.assertEqual(status, 400, bad)
            self.assertIn("path", doc["error"])


class CatalogTreeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--initial", "5", "--catalogs", "221,1242,2320,77")
        cls.jar = cls.sim.login()

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_tree_matches_truth_and_needs_session(self):
        status, _, body, _ = self.sim.api("/api/v2/catalogs", None)
        self.assertEqual((status, json.loads(body)["code"]), (401, 100))
        status, _, body, _ = self.sim.api("/api/v2/catalogs", self.jar)
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual([c["title"] for c in doc["catalogs"]], ["Mulher", "Homem", "Criança"])
        walked = []

        def walk(nodes, parent, depth):
            for n in nodes:
                self.assertEqual(set(n) >= {"id", "title", "code", "url", "catalogs"}, True)
                walked.append({"catalog_id": n["id"], "parent_id": parent, "title": n["title"],
                               "code": n["code"], "url": n["url"], "depth": depth})
                walk(n["catalogs"], n["id"], depth + 1)
        walk(doc["catalogs"], None, 0)
        _, truth = self.sim.admin("GET", "/_sim/truth/catalogs")
        self.assertEqual(walked, truth["catalogs"])
        byid = {c["catalog_id"]: c for c in truth["catalogs"]}
        self.assertEqual((byid[221]["title"], byid[1242]["title"], byid[2320]["title"]),
                         ("T-shirts", "Sapatilhas", "Camisolas"))
        self.assertEqual(byid[221]["depth"], 2)
        self.assertEqual(byid[1242]["parent_id"], 1231)
        self.assertIn("77", byid[77]["title"])
        self.assertIsNone(byid[5]["parent_id"])
        # a catalogs fault hits the tree and not the search
        self.sim.faults({"kind": "malformed", "path": "catalogs"})
        self.assertEqual(self.sim.api(V2 + "?catalog_ids=221", self.jar)[0], 200)
        status, _, body, _ = self.sim.api("/api/v2/catalogs", self.jar)
        self.assertEqual(status, 200)
        self.assertRaises(ValueError, json.loads, body)
        self.assertEqual(json.loads(self.sim.api("/api/v2/catalogs", self.jar)[2])["catalogs"][0]["id"], 1904)


# --------------------------------------------------------------------------
# The images flow: the CDN


def webp_size(data):
    """(width, height) from a lossless WebP's VP8L header, checking the container."""
    assert data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8L", data[:16]
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    assert data[20] == 0x2F
    bits = int.from_bytes(data[21:25], "little")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


class CdnTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--seed", "9", "--initial", "30", "--catalogs", "221,1242", "--generation", "svc")
        cls.jar = cls.sim.login()
        cls.photos = cls.sim.admin("GET", "/_sim/truth/photos")[1]["photos"]

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def setUp(self):
        self.sim.admin("DELETE", "/_sim/faults")

    def test_photos_truth_and_bytes(self):
        truth = {t["item_id"]: t for t in self.sim.truth()}
        by_item = {}
        for p in self.photos:
            by_item.setdefault(p["item_id"], []).append(p)
        self.assertEqual(set(by_item), set(truth))
        self.assertEqual(len({p["photo_id"] for p in self.photos}), len(self.photos))
        self.assertEqual(len({p["url"] for p in self.photos}), len(self.photos))
        self.assertTrue(any(len(v) > 1 for v in by_item.values()))
        for iid, ps in by_item.items():
            self.assertTrue(1 <= len(ps) <= 5)
            main = [p for p in ps if p["is_main"]]
            self.assertEqual(len(main), 1)
            self.assertEqual(main[0]["url"], truth[iid]["photo_url"])
        for p in self.photos:
            self.assertRegex(p["url"], r"^https://images1\.vinted\.net/t/[A-Za-z0-9_]+/f800/\d+\.webp\?s=[0-9a-f]+$")
            status, headers, body, complete = self.sim.cdn(p["url"])
            self.assertEqual((status, complete), (200, True))
            self.assertEqual(headers["Content-Type"], p["content_type"])
            self.assertEqual(int(headers["Content-Length"]), p["size_bytes"])
            self.assertEqual(len(body), p["size_bytes"])
            self.assertEqual(hashlib.sha256(body).hexdigest(), p["sha256"])
            self.assertTrue(headers["ETag"])
            self.assertEqual(webp_size(body), (p["width"], p["height"]))
        self.assertTrue(2000 < min(p["size_bytes"] for p in self.photos) < max(p["size_bytes"] for p in self.photos) < 200000)
        # the same photo always has the same bytes; another photo has others
        a = self.sim.cdn(self.photos[0]["url"])[2]
        self.assertEqual(a, self.sim.cdn(self.photos[0]["url"])[2])
        self.assertNotEqual(a, self.sim.cdn(self.photos[1]["url"])[2])
        # served items (svc photos[]) point at the same photos, thumbnails in the truth's other sizes
        doc = self.sim.page(SVC + "?per_page=10", self.jar)
        urls = {p["url"] for p in self.photos}
        for it in doc["items"]:
            self.assertEqual({p["url"] for p in it["photos"]}, {p["url"] for p in by_item[it["id"]]})
            self.assertTrue({p["url"] for p in it["photos"]} <= urls)
        thumb = doc["items"][0]["photos"][0]["thumbnails"][-1]
        self.assertIn("/310x430/", thumb["url"])
        small = self.sim.admin("GET", "/_sim/truth/photos?size=310x430&item_id=%d" % doc["items"][0]["id"])[1]["photos"]
        self.assertEqual(small[0]["url"], thumb["url"])
        status, _, body, _ = self.sim.cdn(thumb["url"])
        self.assertEqual(status, 200)
        self.assertEqual(hashlib.sha256(body).hexdigest(), small[0]["sha256"])
        self.assertEqual(webp_size(body), (310, 430))
        self.assertEqual(self.sim.admin("GET", "/_sim/truth/photos?size=9x9")[0], 400)
        mains = self.sim.admin("GET", "/_sim/truth/photos?main=1")[1]["photos"]
        self.assertEqual(len(mains), len(truth))
        # a decoder agrees, where one is installed (Debian package webp)
        if shutil.which("dwebp"):
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "p.webp")
                with open(path, "wb") as f:
                    f.write(a)
                out = subprocess.run(["dwebp", path, "-ppm", "-o", os.path.join(d, "p.ppm")],
                                     capture_output=True)
                self.assertEqual(out.returncode, 0, out.stderr)

    def test_signature_unknown_head_and_etag(self):
        url = self.photos[0]["url"]
        base, _, s = url.partition("?s=")
        self.assertEqual(self.sim.cdn(base)[0], 403)
        self.assertEqual(self.sim.cdn(base + "?s=" + "0" * len(s))[0], 403)
        self.assertEqual(self.sim.cdn(url + "x")[0], 403)
        m = re.match(r"^(.*)/t/([^/]+)/([^/]+)/(\d+)\.webp$", base)
        host, h, size, ts = m.group(1), m.group(2), m.group(3), int(m.group(4))

        def signed(h, size, ts, ext="webp"):
            sig = hashlib.sha1(("%s/%s/%d" % (h, size, ts)).encode()).hexdigest()
            return "%s/t/%s/%s/%d.%s?s=%s" % (host, h, size, ts, ext, sig)
        self.assertEqual(signed(h, size, ts), url)  # the test knows the sim's signing
        self.assertEqual(self.sim.cdn(signed(h + "x", size, ts))[0], 404)   # unknown photo
        self.assertEqual(self.sim.cdn(signed(h, size, ts + 1))[0], 404)     # wrong timestamp
        self.assertEqual(self.sim.cdn(signed(h, "999x999", ts))[0], 404)    # unknown size
        self.assertEqual(self.sim.cdn(signed(h, size, ts, "jpg"))[0], 404)  # every photo is .webp
        self.assertEqual(self.sim.cdn(CDN + "/t/nothing")[0], 404)
        status, headers, body, _ = self.sim.cdn(url, "HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(int(headers["Content-Length"]), self.photos[0]["size_bytes"])
        status, _, body, _ = self.sim.cdn(url, headers={"If-None-Match": headers["ETag"]})
        self.assertEqual((status, body), (304, b""))
        # the full-size URL and sellers' avatars are served too
        item = self.sim.page(SVC + "?per_page=1", self.jar)["items"][0]
        self.assertEqual(self.sim.cdn(item["photos"][0]["full_size_url"])[0], 200)
        uid = item["user"]["id"]
        avatar = self.sim.page("/api/v2/users/%d" % uid, self.jar)["user"]["photo"]
        if avatar:
            status, headers, body, _ = self.sim.cdn(avatar["url"])
            self.assertEqual((status, headers["Content-Type"]), (200, "image/webp"))

    def test_cdn_faults(self):
        p = self.photos[2]
        self.sim.admin("POST", "/_sim/reset-stats")
        self.sim.faults({"kind": "500", "path": "cdn"}, {"kind": "503", "path": "cdn", "retry_after": 4},
                        {"kind": "truncate", "path": "cdn"}, {"kind": "slow", "seconds": 0.4, "path": "cdn"},
                        {"kind": "404", "path": "cdn"}, {"kind": "reset", "path": "cdn"},
                        {"kind": "malformed", "path": "cdn"})
        self.assertEqual(self.sim.api(SVC + "?per_page=2", self.jar)[0], 200)  # catalog untouched
        self.assertEqual(self.sim.cdn(p["url"])[0], 500)
        status, headers, _, _ = self.sim.cdn(p["url"])
        self.assertEqual((status, headers["Retry-After"]), (503, "4"))
        status, headers, body, complete = self.sim.cdn(p["url"])
        self.assertEqual((status, complete), (200, False))
        self.assertEqual(int(headers["Content-Length"]), p["size_bytes"])
        self.assertLess(len(body), p["size_bytes"])
        t0 = time.monotonic()
        status, _, body, _ = self.sim.cdn(p["url"])
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        self.assertEqual(hashlib.sha256(body).hexdigest(), p["sha256"])
        self.assertEqual(self.sim.cdn(p["url"])[0], 404)
        self.assertRaises((ConnectionError, http.client.HTTPException), self.sim.cdn, p["url"])
        status, _, body, _ = self.sim.cdn(p["url"])
        self.assertEqual((status, len(body)), (200, p["size_bytes"]))
        self.assertNotEqual(hashlib.sha256(body).hexdigest(), p["sha256"])
        status, _, body, _ = self.sim.cdn(p["url"])
        self.assertEqual(hashlib.sha256(body).hexdigest(), p["sha256"])
        _, stats = self.sim.admin("GET", "/_sim/stats")
        self.assertEqual(stats["cdn"], 8)
        self.assertEqual(stats["cdn_by_status"], {"200": 4, "500": 1, "503": 1, "404": 1, "reset": 1})
        self.assertEqual((stats["requests"], stats["api"]), (1, 1))  # the CDN is counted apart
        self.assertEqual(stats["by_status"], {"200": 1})
        self.assertEqual(stats["by_class"]["cdn"]["requests"], 8)
        self.assertGreater(stats["cdn_bytes"], p["size_bytes"] * 2)


class DurationAndReformatTest(unittest.TestCase):
    """Faults that last a while (a 403 block, a 429 storm) and listings served in a
    changed format (the "reformat" fault)."""

    @classmethod
    def setUpClass(cls):
        cls.sims = {g: Sim("--initial", "30", "--catalogs", "221", "--generation", g, "--bad-every", "4",
                           "--legacy-price-every", "5") for g in ("v2", "svc")}
        cls.jars = {g: s.login() for g, s in cls.sims.items()}
        cls.paths = {"v2": V2 + "?catalog_ids=221&per_page=30",
                     "svc": SVC + "?attribute_ids[catalog]=221&per_page=30"}

    @classmethod
    def tearDownClass(cls):
        for s in cls.sims.values():
            assert s.stop() == 0

    def setUp(self):
        for s in self.sims.values():
            s.admin("DELETE", "/_sim/faults")

    def get(self, gen="v2"):
        return self.sims[gen].api(self.paths[gen], self.jars[gen])

    def test_duration_fault_lasts_then_clears(self):
        sim = self.sims["v2"]
        sim.faults({"kind": "403", "style": "json", "duration": 0.6}, {"kind": "500"})
        t0 = time.monotonic()
        blocked = 0
        while time.monotonic() - t0 < 0.45:
            status, _, body, _ = self.get()
            self.assertEqual((status, json.loads(body)["code"]), (403, 106))
            blocked += 1
            time.sleep(0.05)
        self.assertGreater(blocked, 2, "a duration fault must hit more than its count")
        time.sleep(0.3)
        self.assertEqual(self.get()[0], 500)  # the block is over: the next fault in the queue
        self.assertEqual(self.get()[0], 200)
        _, q = sim.admin("GET", "/_sim/faults")
        self.assertEqual(q["queued"], [])
        # a storm with Retry-After; the clock starts at its first request, not when queued
        sim.faults({"kind": "429", "retry_after": 2, "duration": 0.3})
        time.sleep(0.4)
        status, headers, _, _ = self.get()
        self.assertEqual((status, headers["Retry-After"]), (429, "2"))
        _, q = sim.admin("GET", "/_sim/faults")
        self.assertEqual(len(q["queued"]), 1)
        self.assertNotIn("_until", q["queued"][0])
        time.sleep(0.35)
        self.assertEqual(self.get()[0], 200)

    def test_reformat_forms(self):
        for gen in ("v2", "svc"):
            sim = self.sims[gen]
            normal = json.loads(self.get(gen)[2])["items"]
            by_id = {it["id"]: it for it in normal if "id" in it}
            for form in ("price_string", "price_number", "id_string", "price_cents", "title_renamed", "photo_ts_ms"):
                if form == "photo_ts_ms" and gen == "svc":
                    continue  # svc photos carry no timestamp
                sim.faults({"kind": "reformat", "form": form})
                status, _, body, _ = self.get(gen)
                self.assertEqual(status, 200)
                served = json.loads(body)["items"]
                self.assertEqual(len(served), len(normal))
                changed = sim.admin("GET", "/_sim/faults")[1]["reformatted"][form][-len(served):]
                changed = set(changed) & set(by_id)
                self.assertTrue(changed, (gen, form))
                for it in served:
                    iid = int(it["id"]) if "id" in it else None
                    if iid not in changed:
                        continue
                    was = by_id[iid]
                    where = "%s %s item %s" % (gen, form, iid)
                    if form == "price_string":
                        self.assertEqual(it["price"], was["price"]["amount"], where)
                        self.assertEqual(it["currency"], was["price"]["currency_code"], where)
                        self.assertEqual(it["total_item_price"], was["total_item_price"]["amount"], where)
                    elif form == "price_number":
                        self.assertIsInstance(it["price"]["amount"], (int, float), where)
                        self.assertEqual(cents(repr(it["price"]["amount"])), cents(was["price"]["amount"]), where)
                    elif form == "id_string":
                        self.assertEqual(it["id"], str(was["id"]), where)
                    elif form == "photo_ts_ms":
                        self.assertEqual(it["photo"]["high_resolution"]["timestamp"],
                                         was["photo"]["high_resolution"]["timestamp"] * 1000, where)
                    elif form == "price_cents":
                        self.assertNotIn("amount", it["price"], where)
                        self.assertEqual(it["price"]["amount_cents"], cents(was["price"]["amount"]), where)
                    else:
                        self.assertNotIn("title", it, where)
                        self.assertEqual(it["name"], was["title"], where)
                self.assertEqual(json.loads(self.get(gen)[2])["items"], normal, "one answer only")

    def test_reformat_rejected_where_meaningless(self):
        sim = self.sims["v2"]
        for bad in ({"kind": "reformat"}, {"kind": "reformat", "form": "nope"},
                    {"kind": "reformat", "form": "id_string", "path": "cdn"},
                    {"kind": "slow", "duration": 2}):
            status, doc = sim.admin("POST", "/_sim/faults", json.dumps({"faults": [bad]}))
            self.assertEqual(status, 400, bad)
            self.assertTrue(doc["error"])
        sim.faults({"kind": "reformat", "form": "id_string"})
        self.assertEqual(sim.api(self.paths["v2"], None)[0], 401)  # needs a session: not consumed
        status, _, body, _ = self.get()
        self.assertTrue(all(isinstance(it["id"], str) for it in json.loads(body)["items"] if "id" in it))


if __name__ == "__main__":
    unittest.main(verbosity=2)
