"""test_metrics.py - the Prometheus metrics end to end: every program started with
its own VINTED_METRICS port against the simulator, windows run, then GET /metrics
from each process (urllib), the text format parsed strictly, and the counters
compared with what happened: the simulator's request counts, the database, the
broker's view of its workers (and of a killed one).

    VINTED_BIN=bin python3 -m unittest tests/e2e/test_metrics.py -v
"""

import json
import os
import re
import signal
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import E2ETestCase, free_port, run_program  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
VALUE = r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)"
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? %s$" % (NAME, LABEL, LABEL, VALUE))
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
LIVENESS_S = 5.0  # PROTO_LIVENESS_MS

# the fetcher's kind label -> the simulator's request class
SIM_CLASS = {"home": "home", "catalog": "catalog", "user_items": "users", "item_page": "item_page",
             "user": "user"}


def parse_metrics(testcase, text):
    """Strict parse of the text exposition format 0.0.4: every line is a HELP or
    TYPE comment or `name{labels} value`; each family has one TYPE, given before its
    samples; histograms have cumulative buckets ending in le="+Inf" equal to _count.
    Returns ({(name, frozenset(labels.items())): value}, {family: type})."""
    samples, types, helps = {}, {}, set()
    testcase.assertTrue(text.endswith("\n"), "the exposition does not end with a newline")
    for line in text.split("\n")[:-1]:
        if line.startswith("#"):
            m = HELP_RE.match(line) or TYPE_RE.match(line)
            testcase.assertIsNotNone(m, "bad comment line: %r" % line)
            if line.startswith("# TYPE"):
                testcase.assertNotIn(m.group(1), types, "two TYPE lines for %s" % m.group(1))
                types[m.group(1)] = m.group(2)
            else:
                testcase.assertNotIn(m.group(1), helps, "two HELP lines for %s" % m.group(1))
                helps.add(m.group(1))
            continue
        m = SAMPLE_RE.match(line)
        testcase.assertIsNotNone(m, "bad sample line: %r" % line)
        name, labels_text, value = m.group(1), m.group(2) or "", m.group(m.lastindex)
        labels = dict((k, v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\"))
                      for k, v in re.findall(LABEL, labels_text))
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        family = base if types.get(base) == "histogram" else name
        testcase.assertIn(family, types, "sample %r before its TYPE line" % line)
        key = (name, frozenset(labels.items()))
        testcase.assertNotIn(key, samples, "sample repeated: %r" % line)
        samples[key] = float(value.replace("Inf", "inf"))
    for family, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == family + "_bucket":
                rest = frozenset((k, x) for k, x in labels if k != "le")
                le = dict(labels)["le"]
                series.setdefault(rest, []).append((float(le.replace("Inf", "inf")), v))
        for rest, buckets in series.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            testcase.assertEqual(counts, sorted(counts), "%s buckets not cumulative" % family)
            testcase.assertEqual(buckets[-1][0], float("inf"), "%s has no +Inf bucket" % family)
            testcase.assertEqual(buckets[-1][1], samples[(family + "_count", rest)],
                                 "%s: +Inf bucket differs from _count" % family)
            testcase.assertIn((family + "_sum", rest), samples)
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **match):
    """Sum of a family's samples whose labels include match."""
    return sum(v for (n, labels), v in samples.items()
               if n == name and all((k, x) in labels for k, x in match.items()))


class MetricsTest(E2ETestCase):

    def scrape(self, port, path="/metrics"):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
            return parse_metrics(self, r.read().decode("utf-8"))[0]

    def start_with_metrics(self):
        """Broker and one worker per stage, each with its own metrics port."""
        self.pipe = harness.Pipeline(self.workdir, self.pg, self.db, self.sim, api="v2")
        self.ports = {}
        for kind in ("broker", "fetcher", "transformer", "pg-sink", "s3-uploader"):
            self.ports[kind] = free_port()
            env = {"VINTED_METRICS": self.ports[kind]}
            if kind == "broker":
                self.pipe.start_broker(env)
            else:
                self.pipe.start_worker(kind, env)
        self.pipe.wait_ready(30)

    def wait_metric(self, kind, predicate, timeout, what):
        last = {}

        def check():
            last["s"] = self.scrape(self.ports[kind])
            return predicate(last["s"])
        try:
            harness.wait_until(check, timeout, 0.2, what)
        except AssertionError:
            raise AssertionError("%s; last %s scrape: %s" % (what, kind, sorted(
                (n, dict(l), v) for (n, l), v in last.get("s", {}).items() if n.startswith("vinted_"))))
        return last["s"]

    def test_counters_match_what_happened(self):
        catalogs = [221, 1242]
        self.start_sim(seed=11, catalogs=catalogs, initial=250, generation="v2", bad_every=29)
        self.start_with_metrics()
        # the broker sees one live worker per stage
        self.wait_metric("broker", lambda s: all(value(s, "vinted_broker_workers", stage=st) == 1
                                                 for st in ("fetch", "transform", "sink", "store")),
                         10, "one live worker per stage in the broker's gauge")
        self.sim.reset_stats()
        self.sim.faults([{"kind": "429", "count": 1, "retry_after": 1}, {"kind": "500", "count": 1}])

        # round 1: every item is seen once, so the sink's item rows are the items table
        self.assert_windows_ok(self.pipe.run_windows(catalogs))
        sink = self.scrape(self.ports["pg-sink"])
        items = int(self.pipe.scalar("SELECT count(*) FROM items"))
        self.assertGreater(items, 0)
        self.assertEqual(value(sink, "vinted_sink_rows_total", table="items"), items)

        # round 2: new and pushed-up items
        self.sim.tick(new=120, bumps=15)
        self.assert_windows_ok(self.pipe.run_windows(catalogs))
        self.assert_matches_truth()
        stats = self.sim.stats()
        m = {k: self.scrape(p) for k, p in self.ports.items()}
        fetch, xform, sink, store, broker = (m["fetcher"], m["transformer"], m["pg-sink"], m["s3-uploader"],
                                             m["broker"])

        # fetcher: every request the simulator answered, by status and kind, and nothing else
        seen = {}
        for (name, labels), v in fetch.items():
            if name == "vinted_fetch_requests_total":
                lab = dict(labels)
                seen[(SIM_CLASS[lab["kind"]], lab["status"])] = v
        expected = {(cls, status): n for cls, c in stats["by_class"].items() if cls != "cdn"
                    for status, n in c["by_status"].items()}
        self.assertEqual(seen, {k: float(v) for k, v in expected.items()},
                         "fetcher requests by (class, status) differ from the simulator's")
        self.assertEqual(value(fetch, "vinted_fetch_requests_total", status="200", kind="catalog"),
                         stats["by_class"]["catalog"]["by_status"]["200"])
        transient = stats["by_status"].get("429", 0) + stats["by_status"].get("500", 0)
        self.assertEqual(transient, 2, stats["by_status"])
        self.assertEqual(value(fetch, "vinted_fetch_retries_total", reason="transient"), transient)
        self.assertGreaterEqual(value(fetch, "vinted_fetch_backoff_seconds_total"), 1.0)  # Retry-After: 1
        pages = int(self.pipe.scalar("SELECT sum(pages_done) FROM windows"))
        self.assertEqual(value(fetch, "vinted_fetch_pages_total", kind="catalog"), pages)
        self.assertEqual(value(fetch, "vinted_fetch_tasks_total", outcome="page"), pages)
        self.assertEqual(value(fetch, "vinted_fetch_tasks_total", outcome="refused"), 0)
        self.assertGreater(value(fetch, "vinted_process_start_time_seconds"), 1e9)

        # transformer: pages in, records out, quarantine by rule
        self.assertEqual(value(xform, "vinted_transform_pages_total"), pages)
        self.assertEqual(value(xform, "vinted_transform_seconds_count"), pages)
        sightings = int(self.pipe.scalar("SELECT count(*) FROM sightings"))
        self.assertEqual(value(xform, "vinted_transform_items_out_total"), sightings)
        quarantined = int(self.pipe.scalar("SELECT count(*) FROM quarantine"))
        self.assertGreater(quarantined, 0, "bad_every should have quarantined records")
        self.assertEqual(total(xform, "vinted_transform_quarantined_total"), quarantined)
        for rule, n in self.pipe.query("SELECT rule, count(*) FROM quarantine GROUP BY rule"):
            self.assertEqual(value(xform, "vinted_transform_quarantined_total", rule=rule), int(n), rule)
        # records in: the listings kept plus the ones quarantined one by one
        by_record = int(self.pipe.scalar("SELECT count(*) FROM quarantine WHERE pos >= 0"))
        self.assertEqual(value(xform, "vinted_transform_items_in_total"), sightings + by_record)

        # sink: rows per table, one histogram observation per transaction
        self.assertEqual(value(sink, "vinted_sink_rows_total", table="items"), sightings)
        self.assertEqual(value(sink, "vinted_sink_rows_total", table="quarantine"), quarantined)
        txns = value(sink, "vinted_sink_transactions_total")
        self.assertGreaterEqual(txns, 1)
        self.assertLessEqual(txns, pages)
        self.assertEqual(value(sink, "vinted_sink_commit_seconds_count"), txns)
        self.assertGreater(value(sink, "vinted_sink_commit_seconds_sum"), 0)

        # store: every fetched page landed in the raw area
        self.assertEqual(value(store, "vinted_store_raw_pages_total"), pages)
        self.assertGreater(value(store, "vinted_store_bytes_total", what="raw"), 0)

        # broker: its view of the same work (mirrored into the registry every 200 ms)
        want = {("vinted_broker_tasks_completed_total", "fetch"): pages,
                ("vinted_broker_tasks_completed_total", "transform"): pages,
                ("vinted_broker_tasks_completed_total", "sink"): pages,
                ("vinted_broker_tasks_completed_total", "store"): pages,
                ("vinted_broker_tasks_dispatched_total", None): 4 * pages,
                ("vinted_broker_batch_commit_seconds_count", None): pages,
                ("vinted_broker_tokens_granted_total", None): stats["requests"]}

        def broker_agrees(s):
            return all(value(s, name, **({"stage": stage} if stage else {})) == n
                       for (name, stage), n in want.items())
        broker = self.wait_metric("broker", broker_agrees, 5, "the broker's counters to match: %s" % want)
        self.assertEqual(value(broker, "vinted_broker_tasks_nacked_total"), 0)
        self.assertEqual(total(broker, "vinted_broker_queued_tasks"), 0)
        self.assertEqual(value(broker, "vinted_broker_backoff_seconds"), 0)
        self.wait_metric("broker", lambda s: value(s, "vinted_broker_windows", kind="catalog", state="done") == 4,
                         8, "4 catalog windows done in the broker's windows gauge")

        # the Grafana dashboard asks only for metrics the programs expose, through datasource variables
        families = set()
        for port in self.ports.values():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
                families |= set(re.findall(r"^# TYPE (\S+) ", r.read().decode(), re.M))
        with open(os.path.join(harness.REPO, "deploy", "grafana-dashboard.json")) as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]
        used = {re.sub(r"_bucket$", "", n) for e in exprs for n in re.findall(r"vinted_[a-z_]+", e)}
        self.assertTrue(used and used <= families, "dashboard metrics not exposed: %s" % (used - families))
        uids = {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p}
        self.assertEqual(uids, {"${prometheus}", "${postgres}"})

        # and its SQL panels run on the schema (Grafana's macros expanded the way Grafana would)
        def expand(sql):
            sql = re.sub(r"\$__timeGroupAlias\((\w+), '1([hd])'\)", lambda m: "to_timestamp(floor(extract(epoch FROM %s)"
                         " / %d) * %d) AS time" % ((m.group(1),) + ((3600,) * 2 if m.group(2) == "h" else (86400,) * 2)), sql)
            return re.sub(r"\$__timeFilter\((\w+)\)", r"\1 > now() - interval '7 days'", sql)
        sqls = [t["rawSql"] for p in dashboard["panels"] for t in p.get("targets", []) if "rawSql" in t]
        self.assertGreaterEqual(len(sqls), 2)
        for sql in sqls:
            self.assertTrue(self.pipe.query(expand(sql)), "no rows from the dashboard's SQL: %s" % sql)

        # only /metrics is served
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen("http://127.0.0.1:%d/" % self.ports["broker"], timeout=5)
        self.assertEqual(cm.exception.code, 404)
        cm.exception.close()

        # a killed worker leaves the broker's gauge within the heartbeat liveness
        victim = self.pipe.workers("transformer")[0]
        self.pipe.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        self.wait_metric("broker", lambda s: value(s, "vinted_broker_workers", stage="transform") == 0,
                         LIVENESS_S + 3, "the killed transformer to leave vinted_broker_workers")
        took = time.monotonic() - t0
        print("FIGURE metrics_dead_worker_seen_s=%.1f" % took)
        after = self.scrape(self.ports["broker"])
        self.assertEqual(value(after, "vinted_broker_workers", stage="fetch"), 1)
        self.assertEqual(value(after, "vinted_broker_workers", stage="sink"), 1)

    def test_bad_settings_exit_2(self):
        for kind in ("broker", "fetcher", "transformer", "pg-sink", "s3-uploader"):
            rc, out, err = run_program(kind, ["--metrics", "http"], {"VINTED_PG": "host=/nonexistent"})
            self.assertEqual(rc, 2, "%s --metrics http: exit %s %s" % (kind, rc, err))
            self.assertIn("--metrics", err)
            rc, out, err = run_program(kind, ["--help"])
            self.assertEqual(rc, 0)
            self.assertIn("VINTED_METRICS", out + err)
            self.assertIn("VINTED_METRICS_BIND", out + err)
        rc, out, err = run_program("transformer", [], {"VINTED_METRICS": "9100", "VINTED_METRICS_BIND": "localhost"})
        self.assertEqual(rc, 2, err)
        self.assertIn("VINTED_METRICS_BIND", err)
        rc, out, err = run_program("fetcher", [], {"VINTED_METRICS": "70000"})
        self.assertEqual(rc, 2, err)
        self.assertIn("VINTED_METRICS", err)


if __name__ == "__main__":
    unittest.main()
