#!/usr/bin/env python3
"""test_sim_tracking.py - the simulator's tracking and images flows: the item
life cycle as search, seller lists, profiles, item pages and the truth show it, the user rate
limit, the catalog tree, and the CDN (bytes, signatures, faults).

Run with the others: python3 tests/sim/test_sim.py"""

import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from simcheck import (
    SimCase, CDN, SIM, STATE_KEYS, SVC, Sim, V2, cents, json_ld, product, search_all, served_money,
    user_items, webp_size)


class TrackingTest(SimCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--seed", "5", "--catalogs", "221,1242", "--initial", "150", "--user-rate", "0")
        cls.jar = cls.sim.login()

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


class CatalogTreeTest(SimCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--initial", "5", "--catalogs", "221,1242,2320,77")
        cls.jar = cls.sim.login()

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


class CdnTest(SimCase):
    clear_faults = True

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--seed", "9", "--initial", "30", "--catalogs", "221,1242", "--generation", "svc")
        cls.jar = cls.sim.login()
        cls.photos = cls.sim.admin("GET", "/_sim/truth/photos")[1]["photos"]

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
