#!/usr/bin/env python3
"""test_sim_faults.py - the simulator's injected faults (every kind, per
path class, with durations, the reformats), its bad items and hostile listings.

Run with the others: python3 tests/sim/test_sim.py"""

import http.client
import json
import time
import unittest

from simcheck import SimCase, SVC, Sim, V2, cents, product, served_money


class FaultsTest(SimCase):
    clear_faults = True

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--initial", "100", "--token-ttl", "1")

    def setUp(self):
        super().setUp()
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


class PathFaultsTest(SimCase):
    clear_faults = True

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--initial", "40", "--catalogs", "221", "--user-rate", "0")
        cls.jar = cls.sim.login()
        t = cls.sim.truth()[0]
        cls.item, cls.uid = t["item_id"], t["user_id"]

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
