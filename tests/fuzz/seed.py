#!/usr/bin/env python3
"""seed.py - (re)build the fuzz seed corpus in tests/fuzz/corpus/<harness>/ from
what the project itself produces, never from outside samples:

  parse  pages served by the simulator (tests/sim/vinted_sim.py), both API
         generations: catalog pages (with bad, legacy-price and hostile
         listings), sellers' item lists, item pages (200 and 404), seller
         profiles (200 and 404), the catalog tree, a malformed body
  proto  frames encoded by proto_encode (fuzz-seed): every command and body
         kind, pages and the transformer's batches of the pages above
  raw    raw landing objects of those pages (raw_encode), plain and gzip'd
  text   prices, sizes, currencies, conditions and titles the simulator
         serves, and the JSON-LD item pages

Each set is merged with libFuzzer's -merge=1 into the committed corpus dir: a seed
is kept when it adds coverage, and the inputs already there (those a long fuzz run
found, and seeds of older message layouts, which still reach the decoder's error
paths) stay. --fresh empties the dirs first, keeping only what the seeds cover.

    python3 tests/fuzz/seed.py [--fresh] bin-fuzz   (make fuzz-corpus)
"""

import http.client
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "sim"))
import harness  # noqa: E402
import vinted_sim  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
UA = "Mozilla/5.0 (X11; Linux x86_64) vinted-fuzz-seed"
MAX_LEN = {"parse": 1 << 20, "proto": 1 << 20, "raw": 1 << 20, "text": 1 << 16}
KIND = {"catalog": 0, "user_items": 1, "item_page": 2, "user": 3, "catalogs": 4}


class Client:
    def __init__(self, sim):
        self.port = int(sim.url.rsplit(":", 1)[1])
        status, headers, _ = self.get("/", cookies=False)
        assert status == 200, status
        self.cookie = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie"))

    def get(self, path, cookies=True, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"User-Agent": UA}
        if cookies:
            headers["Cookie"] = self.cookie
        try:
            conn.request(method, path, headers=headers)
            r = conn.getresponse()
            try:
                body = r.read()
            except http.client.IncompleteRead as e:
                body = e.partial
            return r.status, r.headers, body
        finally:
            conn.close()


def write(dirpath, name, data):
    os.makedirs(dirpath, exist_ok=True)
    with open(os.path.join(dirpath, name), "wb") as f:
        f.write(data)


def page_seeds(sim, gen, out):
    """Fetch pages of every kind from a running simulator into out/ (page_input.h format)."""
    c = Client(sim)
    n = [0]

    def keep(kind, status, target, body, tag):
        n[0] += 1
        header = ("%d %d %d pt\n" % (KIND[kind], status, target)).encode()
        write(out, "%s-%s-%02d" % (gen, tag, n[0]), header + body)

    catalog = vinted_sim.V2_PATH + "?catalog_ids=221&per_page=4" if gen == "v2" else \
        vinted_sim.SVC_PATH + "?attribute_ids[catalog]=221&per_page=4"
    for page in (1, 2, 3):
        status, _, body = c.get("%s&page=%d" % (catalog, page))
        keep("catalog", status, 0, body, "catalog")
    truth = sim.truth()
    items = [t for t in truth if not t.get("invalid")][:3]
    for t in items:
        status, _, body = c.get("/api/v2/users/%d/items?per_page=3" % t["user_id"])
        keep("user_items", status, t["user_id"], body, "seller-items")
        status, _, body = c.get("/items/%d" % t["item_id"], cookies=False)
        keep("item_page", status, t["item_id"], body, "item-page")
        status, _, body = c.get("/api/v2/users/%d" % t["user_id"])
        keep("user", status, t["user_id"], body, "user")
    status, _, body = c.get("/items/1")
    keep("item_page", status, 1, body, "item-page-404")
    status, _, body = c.get("/api/v2/users/1")
    keep("user", status, 1, body, "user-404")
    status, _, body = c.get(vinted_sim.CATALOGS_PATH)
    keep("catalogs", status, 0, body, "catalogs")
    sim.faults([{"kind": "malformed", "path": "catalog"}])
    status, _, body = c.get(catalog + "&page=1")
    keep("catalog", status, 0, body, "malformed")
    # hostile listings, one page each (all but the 1 MiB title, too big for a seed)
    cases = [name for name, *_ in vinted_sim.HOSTILE_CASES if name != "huge_title"]
    sim._call("POST", "/_sim/hostile?catalog=221&cases=" + ",".join(cases))
    status, _, body = c.get(catalog.replace("per_page=4", "per_page=%d" % len(cases)) + "&page=1")
    keep("catalog", status, 0, body, "hostile")
    return [t["item_id"] for t in items]


def text_seeds(out, parse_dir):
    n = [0]

    def keep(selector, data):
        n[0] += 1
        write(out, "%d-%03d" % (selector, n[0]), bytes([selector]) + data)

    for name in sorted(os.listdir(parse_dir)):
        if "item-page" in name:
            with open(os.path.join(parse_dir, name), "rb") as f:
                keep(0, f.read().split(b"\n", 1)[1])
    for cents in (2000, 750, 85, 123499, -390, 0, 999999999999):
        keep(1, vinted_sim.money_str(cents).encode())
        keep(2, struct.pack("<d", cents / 100.0))
    for text in ("1.2e1", " 20.500 ", "abc", "99999999999999999999.99"):
        keep(1, text.encode())
    for size in vinted_sim.SIZES + vinted_sim.SHOE_SIZES + ["W32 | L34", "152 cm / 12 lat", "Taille unique",
                                                            "S / 36", "EU 42,5", "3-6 meses"]:
        keep(3, size.encode())
    for cur in ("EUR", "gbp", "PLN", "XYZ", "€"):
        keep(4, cur.encode())
    for labels in vinted_sim.CONDITIONS.values():
        for label in labels:
            keep(5, label.encode())
    for title in vinted_sim.AWKWARD_TITLES:
        keep(5, title.encode())


def merge(binary, target, source, max_len, work, fresh):
    """Every seed must pass its harness; then keep those that add coverage."""
    files = sorted(os.path.join(source, f) for f in os.listdir(source))
    p = subprocess.run([binary, "-artifact_prefix=%s/" % work] + files, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("seed.py: a seed fails %s:\n%s" % (binary, p.stderr[-3000:]))
    if fresh:
        shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target, exist_ok=True)
    p = subprocess.run([binary, "-merge=1", "-max_len=%d" % max_len, "-artifact_prefix=%s/" % work,
                        target, source], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("seed.py: %s -merge=1 failed:\n%s" % (binary, p.stderr[-3000:]))


def main(argv):
    args = argv[1:]
    fresh = "--fresh" in args
    args = [a for a in args if a != "--fresh"]
    if len(args) != 1 or args[0].startswith("-"):
        sys.exit("usage: seed.py [--fresh] BIN_FUZZ_DIR")
    bindir = os.path.abspath(args[0])
    work = tempfile.mkdtemp(prefix="vinted-fuzz-seed-")
    try:
        raw = {h: os.path.join(work, h) for h in MAX_LEN}
        for gen in ("v2", "svc"):
            sim = harness.Sim(work, seed=7, catalogs=(221, 1242), initial=12, generation=gen,
                              bad_every=4, legacy_price_every=3).start()
            try:
                page_seeds(sim, gen, raw["parse"])
            finally:
                sim.stop()
        os.makedirs(raw["proto"])
        os.makedirs(raw["raw"])
        subprocess.run([os.path.join(bindir, "fuzz-seed"), raw["parse"], raw["proto"], raw["raw"]], check=True)
        text_seeds(raw["text"], raw["parse"])
        for h, max_len in MAX_LEN.items():
            before = len(os.listdir(os.path.join(CORPUS, h))) if os.path.isdir(os.path.join(CORPUS, h)) else 0
            merge(os.path.join(bindir, "fuzz_" + h), os.path.join(CORPUS, h), raw[h], max_len, work, fresh)
            files = os.listdir(os.path.join(CORPUS, h))
            size = sum(os.path.getsize(os.path.join(CORPUS, h, f)) for f in files)
            print("seed.py: %-6s %4d inputs (%d before, %d seeds from the simulator and encoder), %d bytes"
                  % (h, len(files), 0 if fresh else before, len(os.listdir(raw[h])), size))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv)
