"""test_ctl.py - vinted-ctl's reports and backfill end to end: the simulator, the
whole pipeline and a private PostgreSQL, then
  - prices: count/min/median/max per catalog equal to what the simulator's truth
    says (percentile_disc semantics), --by brand/condition agree with SQL, --json parses;
  - quality lists every catalog window's report and the quarantine by rule;
  - catalogs works before the catalog tree is loaded and shows names once it is;
  - backfill of 3 windows exits 0 and its windows are done;
  - bad arguments exit 2 naming the flag; an unreachable database exits 3;
  - report --html renders in headless Chromium: the screenshot is not blank and
    the DOM holds the expected charts (bars per histogram, inflow bars, lines).

    VINTED_BIN=bin python3 -m unittest tests/e2e/test_ctl.py -v
"""

import decimal
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import E2ETestCase, run_program  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

BUCKETS = 10  # REPORT_BUCKETS in ctl/report.h


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_installable():
    """Does apt know a chromium package to install?"""
    try:
        p = subprocess.run(["apt-cache", "policy", "chromium"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    m = re.search(r"Candidate:\s*(\S+)", p.stdout.decode(errors="replace"))
    return bool(m) and m.group(1) != "(none)"


def png_non_white(path):
    """(width, height, pixels that are not near-white) of an 8-bit RGB/RGBA PNG:
    a tiny reader (zlib + the five row filters), standard library only."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("%s is not a PNG" % path)
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise AssertionError("unexpected PNG format depth=%d type=%d interlace=%d" % (depth, ctype, interlace))
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    non_white = 0
    for y in range(height):
        base = y * (stride + 1)
        ftype = raw[base]
        row = bytearray(raw[base + 1:base + 1 + stride])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                row[i] = (row[i] + a) & 0xff
            elif ftype == 2:
                row[i] = (row[i] + b) & 0xff
            elif ftype == 3:
                row[i] = (row[i] + ((a + b) >> 1)) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[i] = (row[i] + pred) & 0xff
        for x in range(0, stride, bpp):
            if row[x] < 230 or row[x + 1] < 230 or row[x + 2] < 230:
                non_white += 1
        prev = row
    return width, height, non_white


def percentile_disc(sorted_values, fraction):
    """PostgreSQL's percentile_disc: the first value whose cumulative share reaches fraction."""
    n = len(sorted_values)
    k = max(1, -(-int(fraction * 1000) * n // 1000))  # ceil(fraction * n), exact for our fractions
    return sorted_values[k - 1]


class CtlTest(E2ETestCase):

    def ctl(self, *args, **kwargs):
        return self.pipe.ctl(*args, **kwargs)

    def ctl_json(self, *args):
        rc, out, err = self.ctl(*(list(args) + ["--json"]))
        self.assertEqual(rc, 0, "vinted-ctl %s --json exited %s: %s" % (" ".join(args), rc, err))
        try:
            return json.loads(out)
        except ValueError as e:
            self.fail("vinted-ctl %s --json printed no JSON (%s): %r" % (" ".join(args), e, out[:500]))

    def test_reports_backfill_and_html(self):
        catalogs = [221, 1242]
        self.start_sim(seed=11, catalogs=catalogs, initial=180, generation="v2", bad_every=29)
        self.start_pipeline(api="v2")
        self.assert_windows_ok(self.pipe.run_windows(catalogs))
        self.sim.tick(new=70, bumps=5)
        self.assert_windows_ok(self.pipe.run_windows(catalogs))
        self.assert_matches_truth()

        self.check_prices()
        self.check_quality()
        self.check_catalogs()
        self.check_backfill()
        self.check_bad_arguments()
        self.check_html()

    # -- prices

    def check_prices(self):
        truth = [t for t in self.sim.truth() if t.get("invalid") is None]
        want = {}
        for t in truth:
            want.setdefault((str(t["catalog_id"]), t["currency"]), []).append(
                decimal.Decimal(str(t["price"])).quantize(decimal.Decimal("0.01")))
        doc = self.ctl_json("prices")
        self.assertEqual(doc["by"], "catalog")
        got = {(g["group"], g["currency"]): g for g in doc["groups"]}
        self.assertEqual(set(got), set(want), "prices groups differ from the truth's catalogs")
        for key, prices in want.items():
            prices.sort()
            g = got[key]
            # numbers travel as exact JSON numbers: read them as Decimal
            exact = json.loads(json.dumps(g), parse_float=decimal.Decimal)
            self.assertEqual(int(g["count"]), len(prices), key)
            self.assertEqual(decimal.Decimal(str(exact["min"])), prices[0], key)
            self.assertEqual(decimal.Decimal(str(exact["max"])), prices[-1], key)
            self.assertEqual(decimal.Decimal(str(exact["median"])), percentile_disc(prices, 0.5), key)
            self.assertEqual(decimal.Decimal(str(exact["p25"])), percentile_disc(prices, 0.25), key)
            self.assertEqual(decimal.Decimal(str(exact["p75"])), percentile_disc(prices, 0.75), key)
            mean = (sum(prices) / len(prices)).quantize(decimal.Decimal("0.01"), decimal.ROUND_HALF_UP)
            self.assertEqual(decimal.Decimal(str(exact["mean"])), mean, key)
            hist = g["histogram"]["counts"]
            self.assertEqual(len(hist), BUCKETS)
            self.assertEqual(sum(hist), len(prices), "histogram of %s does not count every item" % (key,))
        # the money text is exact: no float artefacts in the raw output
        rc, out, err = self.ctl("prices", "--json")
        self.assertNotRegex(out, r"\d\.\d{3,}", "prices JSON carries more than two decimals")

        # human output: one block per group with a unicode histogram
        rc, out, err = self.ctl("prices", "--catalog", "221")
        self.assertEqual(rc, 0, err)
        self.assertIn("catalog 221", out)
        self.assertNotIn("catalog 1242", out)
        self.assertIn("median", out)
        self.assertIn("\u2588", out, "no histogram bars in:\n" + out)

        for by, column in (("brand", "brand"), ("condition", "condition"), ("size", "size_title")):
            doc = self.ctl_json("prices", "--by", by)
            got = {(g["group"], g["currency"]): int(g["count"]) for g in doc["groups"]}
            rows = self.pipe.query("SELECT coalesce(%s, ''), currency, count(*) FROM items WHERE price IS NOT NULL"
                                   " AND currency IS NOT NULL GROUP BY 1, 2" % column)
            self.assertEqual(got, {(r[0], r[1]): int(r[2]) for r in rows}, "prices --by %s" % by)

        # filters: a brand and a condition, counted by SQL
        brand, condition = self.pipe.query(
            "SELECT brand, condition FROM items WHERE brand <> '' GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1")[0]
        doc = self.ctl_json("prices", "--brand", brand, "--condition", condition, "--by", "catalog")
        n = int(self.pipe.scalar("SELECT count(*) FROM items WHERE brand = '%s' AND condition = '%s'" % (
            brand.replace("'", "''"), condition.replace("'", "''"))))
        self.assertEqual(sum(int(g["count"]) for g in doc["groups"]), n)
        # --since in the future: nothing
        doc = self.ctl_json("prices", "--since", "2999-01-01T00:00:00Z")
        self.assertEqual(doc["groups"], [])

    # -- quality

    def check_quality(self):
        doc = self.ctl_json("quality")
        ids = [int(w["window_id"]) for w in doc["windows"]]
        want = [int(r[0]) for r in self.pipe.query(
            "SELECT window_id FROM windows WHERE kind IN ('scheduled', 'adhoc') ORDER BY window_id")]
        self.assertEqual(ids, want, "quality does not list every catalog window")
        for w in doc["windows"]:
            self.assertEqual(w["duplicates"], w["rows"] - w["distinct"])
            self.assertIn("EUR", w["prices"])
        rules = {q["rule"]: int(q["count"]) for q in doc["quarantine"]}
        self.assertEqual(rules, {r: int(n) for r, n in self.pipe.query(
            "SELECT rule, count(*) FROM quarantine GROUP BY rule")})
        self.assertTrue(rules, "the simulator made bad records (bad_every) but nothing is quarantined")
        rc, out, err = self.ctl("quality")
        self.assertEqual(rc, 0, err)
        for i in want:
            self.assertRegex(out, r"(?m)^\s*%d\s" % i, "window %d missing from quality's output" % i)
        self.assertIn("quarantine by rule", out)
        for rule in rules:
            self.assertIn(rule, out)

    # -- catalogs

    def check_catalogs(self):
        rc, out, err = self.ctl("catalogs")
        self.assertEqual(rc, 0, err)
        self.assertIn("not loaded", out)
        doc = self.ctl_json("catalogs")
        self.assertFalse(doc["names_loaded"])
        self.assertEqual(sorted(int(c["catalog_id"]) for c in doc["catalogs"]), [221, 1242])
        # once the catalog tree is loaded, names appear in catalogs and prices
        self.pipe.pg.execute(self.pipe.db, "INSERT INTO catalogs (catalog_id, title, parent_id, depth, seen_at)"
                                           " VALUES (1904, 'Women', NULL, 0, now()),"
                                           " (221, 'Dresses <&>', 1904, 1, now()), (1242, 'Shoes', 1904, 1, now())")
        doc = self.ctl_json("catalogs", "--search", "dress")
        self.assertEqual([(int(c["catalog_id"]), c["title"], c["parent_title"]) for c in doc["catalogs"]],
                         [(221, "Dresses <&>", "Women")])
        rc, out, err = self.ctl("prices")
        self.assertEqual(rc, 0, err)
        self.assertIn("catalog 221 (Dresses <&>)", out)

    # -- backfill

    def check_backfill(self):
        before = int(self.pipe.scalar("SELECT coalesce(max(window_id), 0) FROM windows"))
        self.sim.tick(new=40, bumps=0)
        rc, out, err = self.ctl("backfill", "--catalog", "221", "--from", "2026-11-20T00:00:00Z",
                                "--to", "2026-11-20T03:00:00Z", "--window", "1h", "--timeout", "60s", timeout=90)
        self.assertEqual(rc, 0, "backfill exited %s:\n%s\n%s" % (rc, out, err))
        rows = self.pipe.query("SELECT state, " + "to_char(start_at AT TIME ZONE 'UTC', 'HH24')"
                               " FROM windows WHERE window_id > %d ORDER BY window_id" % before)
        catalog_rows = [r for r in rows if r[1] is not None]
        self.assertEqual([r[0] for r in catalog_rows[:3]], ["done"] * 3, rows)
        self.assertEqual([r[1] for r in catalog_rows[:3]], ["00", "01", "02"])
        self.assertEqual(len(re.findall(r"(?m)^window \d+ .* done: ", out)), 3, out)
        self.assertRegex(out, r"3 of 3 windows committed, 0 failed")

    # -- arguments and errors

    def check_bad_arguments(self):
        cases = [
            (["prices", "--by", "colour"], "by"),
            (["prices", "--catalog", "abc"], "catalog"),
            (["prices", "--since", "yesterdayish"], "since"),
            (["quality", "--since", "nope"], "since"),
            (["report"], "html"),
            (["backfill", "--catalog", "221", "--to", "2026-11-20T03:00:00Z"], "from"),
            (["backfill", "--catalog", "221", "--from", "2026-11-20T03:00:00Z", "--to", "2026-11-20T01:00:00Z"], "to"),
            (["backfill", "--from", "2026-11-20T00:00:00Z", "--to", "2026-11-20T03:00:00Z"], "catalog"),
            (["backfill", "--catalog", "221", "--from", "2026-11-20T00:00:00Z", "--to", "2026-11-20T03:00:00Z",
              "--window", "soon"], "window"),
            (["prices", "--colour", "red"], "colour"),
        ]
        for args, flag in cases:
            rc, out, err = self.ctl(*args)
            self.assertEqual(rc, 2, "vinted-ctl %s exited %s: %s" % (" ".join(args), rc, err))
            self.assertIn("--" + flag if flag != "colour" else flag, err, "vinted-ctl %s: %s" % (" ".join(args), err))
        rc, out, err = run_program("ctl", ["prices", "--pg", "host=127.0.0.1 port=%d user=postgres connect_timeout=3"
                                           % harness.free_port()], timeout=20)
        self.assertEqual(rc, 3, "prices against no database exited %s: %s" % (rc, err))
        self.assertIn("PostgreSQL", err)
        rc, out, err = run_program("ctl", ["backfill", "--catalog", "1", "--from", "2026-11-20", "--to", "2026-11-21",
                                           "--control", "tcp://127.0.0.1:%d" % harness.free_port()], timeout=30)
        self.assertEqual(rc, 3, "backfill against no broker exited %s: %s" % (rc, err))
        self.assertIn("could not reach the broker", err)

    # -- the HTML report in Chromium

    def check_html(self):
        page = os.path.join(self.workdir, "report.html")
        rc, out, err = self.ctl("report", "--html", page)
        self.assertEqual(rc, 0, err)
        with open(page, encoding="utf-8") as f:
            html = f.read()
        self.assertNotIn("<script", html)
        self.assertNotIn("http://", html.replace("http://www.w3.org/2000/svg", ""))
        self.assertIn("Dresses &lt;&amp;&gt;", html)
        groups = int(self.pipe.scalar("SELECT count(*) FROM (SELECT DISTINCT catalog_id, currency FROM items"
                                      " WHERE price IS NOT NULL AND currency IS NOT NULL) g"))
        windows = int(self.pipe.scalar("SELECT count(*) FROM windows WHERE kind IN ('scheduled', 'adhoc')"))
        series = int(self.pipe.scalar("SELECT count(DISTINCT (d.catalog_id, e.key)) FROM dq_reports d,"
                                      " jsonb_each(d.prices) e"))
        rules = int(self.pipe.scalar("SELECT count(DISTINCT rule) FROM quarantine"))
        self.check_charts(html, groups, windows, series, rules, "the HTML file")

        chromium = chromium_path()
        if not chromium:
            if chromium_installable():
                self.fail("chromium is not installed but Debian offers it: run tests/install-deps.sh (as root)")
            self.skipTest("chromium is neither installed nor installable here (apt-cache policy chromium: no candidate)")
        profile = tempfile.mkdtemp(prefix="vinted-chromium-", dir=self.workdir)
        shot = os.path.join(self.workdir, "report.png")
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--user-data-dir=" + profile]
        url = "file://" + page
        p = subprocess.run(base + ["--screenshot=" + shot, "--window-size=1280,2000", url],
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertTrue(os.path.exists(shot), "chromium made no screenshot (exit %s): %s" % (
            p.returncode, p.stderr.decode(errors="replace")[-2000:]))
        width, height, ink = png_non_white(shot)
        self.assertEqual((width, height), (1280, 2000))
        # text, tables and bars: far more than a blank page's nothing
        self.assertGreater(ink, 20000, "the screenshot looks blank (%d non-white pixels)" % ink)
        p = subprocess.run(base + ["--dump-dom", url], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        dom = p.stdout.decode("utf-8", "replace")
        self.assertIn("<svg", dom, "chromium's DOM has no SVG (exit %s): %s" % (
            p.returncode, p.stderr.decode(errors="replace")[-2000:]))
        self.check_charts(dom, groups, windows, series, rules, "chromium's DOM")

    def check_charts(self, html, groups, windows, series, rules, where):
        charts = re.findall(r'<svg class="chart (\w+)".*?</svg>', html, re.S)
        bodies = re.findall(r'(<svg class="chart (\w+)".*?</svg>)', html, re.S)
        by_kind = {}
        for body, kind in bodies:
            by_kind.setdefault(kind, []).append(body)
        self.assertEqual(len(by_kind.get("hist", [])), groups, "%s: histograms (%s)" % (where, charts))
        for body in by_kind["hist"]:
            self.assertEqual(body.count('<rect class="bar"'), BUCKETS, where)
        self.assertEqual(len(by_kind.get("inflow", [])), 1, where)
        self.assertEqual(by_kind["inflow"][0].count('<rect class="bar"'), windows, where)
        self.assertEqual(len(by_kind.get("median", [])), 1, where)
        self.assertEqual(by_kind["median"][0].count('<path class="line"'), series, where)
        self.assertEqual(by_kind["quarantine"][0].count('<rect class="bar"'), rules, where)



class CatalogTreeTest(E2ETestCase):
    """The broker loads the site's catalog tree at start (none loaded yet) and on request;
    reports then show names."""

    def test_catalog_tree_refresh(self):
        self.start_sim(seed=12, catalogs=[221, 1242, 2320], initial=60, generation="svc")
        self.start_pipeline(api="svc", env={"VINTED_CATALOGS_EVERY": "24h"})
        harness.wait_until(lambda: self.pipe.scalar(
            "SELECT count(*) FROM windows WHERE kind = 'catalogs' AND state = 'done'") == "1", 60, 0.2,
            "the catalog tree refresh at start")
        truth = {int(c["catalog_id"]): c for c in self.sim._call("GET", "/_sim/truth/catalogs")["catalogs"]}
        rows = self.pipe.query("SELECT catalog_id, parent_id, title, depth FROM catalogs")
        got = {int(r[0]): r for r in rows}
        self.assertEqual(sorted(got), sorted(truth), "catalog ids loaded vs the site's tree")
        for cid, r in got.items():
            t = truth[cid]
            self.assertEqual(r[2], t["title"], "title of %d" % cid)
            self.assertEqual(int(r[1]) if r[1] is not None else None, t["parent_id"], "parent of %d" % cid)
            self.assertEqual(int(r[3]), int(t["depth"]), "depth of %d" % cid)
        rc, out, err = self.pipe.ctl("refresh-catalogs", "--wait", "--timeout", "60s", timeout=90)
        self.assertEqual(rc, 0, "refresh-catalogs: %s %s" % (out, err))
        self.assert_windows_ok(self.pipe.run_windows([221]))
        env = {"VINTED_PG": self.pg.dsn(self.db)}
        rc, out, err = harness.run_program("ctl", ["catalogs", "--json"], env=env, timeout=30)
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertTrue(doc["names_loaded"])
        self.assertIn(truth[221]["title"], [c["title"] for c in doc["catalogs"]])
        rc, out, err = harness.run_program("ctl", ["prices"], env=env, timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertIn("catalog 221 (%s)" % truth[221]["title"], out)


if __name__ == "__main__":
    unittest.main()
