"""simcheck.py - what the simulator's self-checks (test_sim_*.py) share: one simulator
process on a free port with its HTTP, admin and CDN calls, and readers of what it serves
(money, JSON-LD, seller lists, the whole search, WebP sizes)."""

import http.client
import json
import os
import re
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


class SimCase(unittest.TestCase):
    """Tests over one simulator process: setUpClass starts it as cls.sim; it is stopped,
    and must exit 0, after the last test; with clear_faults, each test starts with no
    injected fault."""
    clear_faults = False

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def setUp(self):
        if self.clear_faults:
            self.sim.admin("DELETE", "/_sim/faults")


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


def webp_size(data):
    """(width, height) from a lossless WebP's VP8L header, checking the container."""
    assert data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8L", data[:16]
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    assert data[20] == 0x2F
    bits = int.from_bytes(data[21:25], "little")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
