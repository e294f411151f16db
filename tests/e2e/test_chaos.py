"""test_chaos.py - faults of the pipeline's own parts, each ending with the database
compared with the simulator's truth (nothing lost, nothing duplicated, no window
failed):

    test_chaos_run                  random worker SIGKILLs and two broker SIGKILLs during a
                                    run of 100,000 listings (20,000 under the ASan build;
                                    VINTED_CHAOS_ITEMS overrides): tests/chaos.py's CI setting
    test_zero_workers_stage         no sink for a while, then no transformer: the work waits,
                                    the broker's memory stays bounded, then it drains
    test_slow_consumer              one sink stopped 1.5 s of every 2 s: memory bounded,
                                    nothing dropped or dispatched twice
    test_postgres_restart_and_outage  pg_ctl restart -m fast mid-run, then PostgreSQL down 10 s
    test_object_store_outage        S3 refusing every request for 10 s (503, then refused
                                    connections): raw pages and photos land afterwards

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_chaos.py -v
"""

import json
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402
import harness  # noqa: E402
from harness import E2ETestCase, figure  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

MB = 1 << 20
MAX_QUEUED = 1 * MB  # VINTED_MAX_QUEUED in the memory tests: small, so that flow control is what bounds


def memory_bound_kb(baseline_kb, max_queued=MAX_QUEUED):
    """The broker's resident memory may grow, over its idle size, by at most: three
    stages' queues (transform, sink, store) each held to max_queued plus what the
    tasks in flight upstream bring back, taken twice for the allocator's slack, plus
    16 MB for the tasks in flight at workers (a sink has 64) and ZeroMQ's buffers.
    Under ASan the allocator's redzones and quarantine (capped at 16 MB here) add more."""
    grow = 2 * 3 * 2 * max_queued + 16 * MB
    if harness.is_asan_build():
        grow = 3 * grow + 32 * MB
    return baseline_kb + grow // 1024


def asan_env():
    """ASan keeps freed memory in a quarantine (256 MB by default) that would hide what
    the broker really holds: cap it for the process whose memory is measured."""
    base = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (base + ":" if base else "") + "quarantine_size_mb=16"} if harness.is_asan_build() else {}


class Feeder(harness.BackgroundThread):
    """New listings in the simulator every `every` seconds (`new` per catalog and a
    bump), in a thread, until stop()."""

    def __init__(self, sim, new=20, every=0.5, rounds=None):
        self.sim, self.new, self.every, self.rounds = sim, new, every, rounds
        self.ticks = 0
        self.error = None
        super().__init__("feeder")

    def _run(self):
        try:
            while not self._stop.wait(self.every):
                if self.rounds is not None and self.ticks >= self.rounds:
                    return
                self.sim.tick(new=self.new, bumps=1)
                self.ticks += 1
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self, check=True):
        """Stop feeding (again is harmless); with check, fail if a tick failed."""
        self._stop.set()
        self._thread.join(30)
        if check and self.error:
            raise AssertionError("feeding the simulator failed: %r" % self.error)
        return self.ticks


class ChaosTest(E2ETestCase):

    # -- helpers

    def status(self):
        return self.pipe.status_json() or {}

    def stage(self, name):
        return (self.status().get("stages") or {}).get(name) or {}

    def caught_up(self, catalogs, mark, timeout=90):
        """Every catalog has a committed scheduled window started at or after mark."""
        def done():
            failed = self.pipe.query("SELECT window_id, catalog_id, error FROM windows WHERE state = 'failed'")
            self.assertFalse(failed, "windows failed")
            self.pipe.check_alive()
            return int(self.pipe.scalar(
                "SELECT count(DISTINCT catalog_id) FROM windows WHERE state = 'done' AND kind = 'scheduled'"
                " AND started_at >= '%s'" % mark)) >= len(catalogs)
        harness.wait_until(done, timeout, 0.3, "a committed window after %s for each of %d catalogs"
                           % (mark, len(catalogs)))

    def finish_exact(self, catalogs, feeder=None, timeout=90):
        """Stop feeding, let every catalog commit a window started after the last
        listing, and compare with the truth."""
        if feeder:
            feeder.stop()
        mark = self.pipe.scalar("SELECT now()")
        t0 = time.monotonic()
        self.caught_up(catalogs, mark, timeout)
        self.assert_matches_truth()
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM windows WHERE state = 'failed'"), "0")
        return time.monotonic() - t0

    def scheduled(self, catalogs, window="2s", **env):
        out = {"VINTED_CATALOGS": ",".join(str(c) for c in catalogs), "VINTED_WINDOW": window}
        out.update(env)
        return out

    def wait_stage_full(self, stage, what, timeout=60):
        """Flow control engaged: stage holds more than MAX_QUEUED bytes and fetching stopped
        (the simulator sees no catalog request for a second and a half)."""
        def full():
            st = self.stage(stage)
            return st if st.get("queued_bytes", 0) > MAX_QUEUED else None
        harness.wait_until(full, timeout, 0.2, "%s to back up past %d bytes (%s)" % (stage, MAX_QUEUED, what))

        def still():
            a = self.sim.stats()["api"]
            time.sleep(1.5)
            return self.sim.stats()["api"] == a
        harness.wait_until(still, timeout, 0.1, "fetching to stop while %s" % what)
        return self.stage(stage)

    # -- the tests

    def test_chaos_run(self):
        items = 20000 if harness.is_asan_build() else 100000
        items = int(os.environ.get("VINTED_CHAOS_ITEMS") or items)
        run = chaos.ChaosRun(self.workdir, self.pg, self.db, items=items, timeout=400)
        run.start()
        self.sim, self.pipe = run.sim, run.pipe
        figures = run.run()
        self.assertGreaterEqual(figures["chaos_listings"], items)
        self.assertEqual(figures["chaos_items_lost"], 0)
        self.assertEqual(figures["chaos_duplicates"], 0)
        self.assertEqual(figures["chaos_windows_failed"], 0)
        self.assertEqual(figures.get("chaos_faults_broker_sigkill"), 2)
        killed = sum(n for k, n in figures.items() if k.startswith("chaos_faults_") and "broker" not in k
                     and k != "chaos_faults_total")
        self.assertGreaterEqual(killed, 4, "too few worker kills to call it chaos: %s" % figures)

    def test_zero_workers_stage(self):
        catalogs = list(range(401, 413))
        self.start_sim(seed=31, catalogs=catalogs, initial=600, generation="v2", bad_every=41,
                       extra_args=["--quiet"])
        env = self.scheduled(catalogs, VINTED_MAX_QUEUED=MAX_QUEUED)
        self.pipe = harness.Pipeline(self.workdir, self.pg, self.db, self.sim, env=env)
        self.pipe.start_broker(env=asan_env())
        for kind, n in (("fetcher", 2), ("transformer", 2), ("s3-uploader", 1)):
            for _ in range(n):
                self.pipe.start_worker(kind)
        self.pipe.wait_ready()
        harness.wait_until(lambda: self.stage("fetch").get("workers") == 2, 30, 0.2, "both fetchers to register")
        self.fetch_capacity = max(w["capacity"] for w in self.status()["workers"] if w["stage"] == "fetch")
        broker = self.pipe.broker()
        baseline = harness.proc_memory_kb(broker.pid)["VmRSS"]
        bound = memory_bound_kb(baseline)
        memory = harness.MemorySampler(lambda: broker.pid).start()
        # listings keep coming for a while, few enough that no catalog passes the
        # 960-result cap before its first window commits (600 + 20 x 4)
        feeder = Feeder(self.sim, new=4, every=0.5, rounds=20).start()
        api_needed = len(catalogs) * 7  # pages of the first windows (600 listings each)
        try:
            # no sink at all: batches wait; once MAX_QUEUED of them do, transforming stops,
            # then fetching: most of the first windows' pages are not even asked for
            self.wait_stage_full("sink", "no sink runs")
            time.sleep(1)  # and it stays so while windows are scheduled and listings come in
            sinkless = self.status()
            api_sinkless = self.sim.stats()["api"]
            peak_sinkless = memory.peak_kb
            self.assertEqual(self.pipe.scalar("SELECT count(*) FROM items"), "0")
            for _ in range(2):
                self.pipe.start_worker("pg-sink")
            self.caught_up(catalogs, self.pipe.scalar("SELECT now()"))
            # no transformer, and a burst of listings: pages wait, fetching stops again
            for t in self.pipe.workers("transformer"):
                self.pipe.kill(t, signal.SIGKILL)
            self.sim.tick(new=450, bumps=0)
            self.wait_stage_full("transform", "no transformer runs")
            time.sleep(1)
            xformless = self.status()
            for _ in range(2):
                self.pipe.start_worker("transformer")
            drain = self.finish_exact(catalogs, feeder)
        finally:
            feeder.stop(check=False)
            memory.stop()
        sink_peak = sinkless["stages"]["sink"]["queued_bytes_peak"]
        xform_peak = xformless["stages"]["transform"]["queued_bytes_peak"]
        figure("zero_sinks_api_requests", api_sinkless)
        figure("zero_sinks_api_requests_without_flow_control", api_needed)
        figure("zero_sinks_queued_tasks", sinkless["stages"]["sink"]["queued"])
        figure("zero_sinks_queued_bytes_peak", sink_peak)
        figure("zero_transformers_queued_tasks", xformless["stages"]["transform"]["queued"])
        figure("zero_transformers_queued_bytes_peak", xform_peak)
        figure("zero_workers_max_queued", MAX_QUEUED)
        figure("zero_workers_broker_rss_baseline_kb", baseline)
        figure("zero_workers_broker_rss_peak_without_sinks_kb", peak_sinkless)
        figure("zero_workers_broker_rss_peak_kb", memory.peak_kb)
        figure("zero_workers_broker_rss_bound_kb", bound)
        figure("zero_workers_broker_vmhwm_kb", harness.proc_memory_kb(broker.pid).get("VmHWM", 0))
        figure("zero_workers_drain_s", drain)
        figure("zero_workers_items", self.pipe.scalar("SELECT count(*) FROM items"))
        # what waits in the broker is held near MAX_QUEUED (PROTOCOL.md, flow control): a
        # stage's queue passes it by at most one task (the largest the broker ever queued
        # for it, task_bytes_max) per task in flight upstream when the limit was reached,
        # plus the tasks its own lost workers held, which come back to the queue. Upstream
        # of the sink: 2 transformers of capacity 4; of the transformer: 2 fetchers of
        # capacity fetch_credit, and the 2 killed transformers' 4 tasks each.
        fetch_credit = max(self.fetch_capacity, 1)
        sink_bound = MAX_QUEUED + sinkless["stages"]["sink"]["task_bytes_max"] * (2 * 4)
        xform_bound = MAX_QUEUED + xformless["stages"]["transform"]["task_bytes_max"] * (2 * fetch_credit + 2 * 4)
        figure("zero_sinks_queued_bytes_bound", sink_bound)
        figure("zero_transformers_queued_bytes_bound", xform_bound)
        self.assertLessEqual(sink_peak, sink_bound)
        self.assertLessEqual(xform_peak, xform_bound)
        self.assertLess(api_sinkless, api_needed, "fetching did not stop while no sink ran")
        self.assertLessEqual(memory.peak_kb, bound, "the broker's memory grew past its bound while a stage "
                                                    "had no worker")

    def test_slow_consumer(self):
        catalogs = [501, 502, 503, 504, 505, 506]
        self.start_sim(seed=32, catalogs=catalogs, initial=500, generation="v2", bad_every=43,
                       extra_args=["--quiet"])
        env = self.scheduled(catalogs, VINTED_MAX_QUEUED=MAX_QUEUED)
        self.pipe = harness.Pipeline(self.workdir, self.pg, self.db, self.sim, env=env)
        self.pipe.start_broker(env=asan_env())
        for kind, n in (("fetcher", 2), ("transformer", 2), ("pg-sink", 2), ("s3-uploader", 1)):
            for _ in range(n):
                self.pipe.start_worker(kind)
        self.pipe.wait_ready()
        broker = self.pipe.broker()
        slow = self.pipe.workers("pg-sink")[0]
        baseline = harness.proc_memory_kb(broker.pid)["VmRSS"]
        bound = memory_bound_kb(baseline)
        memory = harness.MemorySampler(lambda: broker.pid, 0.1).start()
        stop = threading.Event()
        stopped_s = [0.0]

        def duty_cycle():  # stopped 1.5 s of every 2 s: slow, yet alive within the 5 s liveness
            while not stop.is_set():
                slow.popen.send_signal(signal.SIGSTOP)
                stop.wait(1.5)
                stopped_s[0] += 1.5
                slow.popen.send_signal(signal.SIGCONT)
                stop.wait(0.5)
        cycler = threading.Thread(target=duty_cycle, daemon=True)
        feeder = Feeder(self.sim, new=20, every=0.5, rounds=12)  # 500 + 12 x 20 < 960: all reachable
        t0 = time.monotonic()
        cycler.start()
        feeder.start()
        try:
            harness.wait_until(lambda: feeder.ticks >= 12, 60, 0.2, "the listings to be added")
            drain = self.finish_exact(catalogs, feeder, timeout=120)
        finally:
            feeder.stop(check=False)
            stop.set()
            cycler.join(5)
            slow.popen.send_signal(signal.SIGCONT)
            memory.stop()
        status = self.status()
        done = {w["name"]: w["done"] for w in status.get("workers", []) if w.get("stage") == "sink"}
        figure("slow_consumer_broker_rss_baseline_kb", baseline)
        figure("slow_consumer_broker_rss_peak_kb", memory.peak_kb)
        figure("slow_consumer_broker_rss_bound_kb", bound)
        figure("slow_consumer_samples", memory.samples)
        figure("slow_consumer_sink_queued_bytes_peak", (status.get("stages") or {}).get("sink", {}).get(
            "queued_bytes_peak", 0))
        figure("slow_consumer_tasks_per_sink", "/".join(str(v) for v in done.values()))
        figure("slow_consumer_redelivered", status.get("redelivered"))
        figure("slow_consumer_stopped_s", stopped_s[0])
        figure("slow_consumer_run_s", time.monotonic() - t0)
        figure("slow_consumer_drain_s", drain)
        figure("slow_consumer_items", self.pipe.scalar("SELECT count(*) FROM items"))
        self.assertGreater(stopped_s[0], 3, "the slow sink was hardly slowed")
        self.assertGreater(memory.samples, 20)
        self.assertLessEqual(memory.peak_kb, bound, "the broker's memory grew past its bound behind a slow sink")
        # nothing was lost on the way and had to be sent again (a message dropped at a
        # high-water mark would come back only through the task timeout)
        self.assertEqual(status.get("redelivered"), 0, "tasks were dispatched again: %s" % status)
        with open(broker.log, "rb") as f:
            self.assertNotIn(b"task overdue", f.read())

    def test_postgres_restart_and_outage(self):
        catalogs = [601, 602, 603, 604]
        self.start_sim(seed=33, catalogs=catalogs, initial=400, generation="v2", bad_every=37,
                       extra_args=["--quiet"])
        self.start_pipeline(env=self.scheduled(catalogs), sinks=2)
        feeder = Feeder(self.sim, new=5, every=0.5, rounds=80).start()  # 400 + 80 x 5 < 960: all reachable
        try:
            harness.wait_until(lambda: int(self.pipe.scalar("SELECT count(*) FROM items")) > 0, 60, 0.2,
                               "the first items")
            t0 = time.monotonic()
            self.pg.restart()
            figure("pg_restart_s", time.monotonic() - t0)
            before = int(self.pipe.scalar("SELECT count(*) FROM items"))
            harness.wait_until(lambda: int(self.pipe.scalar("SELECT count(*) FROM items")) > before, 60, 0.2,
                               "items to be written again after the restart")
            # down for ten seconds: watch what the broker does meanwhile
            api0 = self.sim.stats()["api"]
            self.pg.pause()
            t0 = time.monotonic()
            samples = []
            while time.monotonic() - t0 < 10:
                rc, out, err = self.pipe.ctl("status", "--json", "--timeout", "3s", timeout=10)
                st = json.loads(out) if rc == 0 else {}
                samples.append((rc, (st.get("stages") or {}).get("sink", {}).get("queued", 0), st.get("last_error"),
                                st.get("windows"), err.strip()[-200:]))
                time.sleep(1)
            api_down = self.sim.stats()["api"] - api0
            self.pg.resume()
            down_s = time.monotonic() - t0
            drain = self.finish_exact(catalogs, feeder, timeout=120)
        finally:
            if not self.pg._ready():
                self.pg.resume()
            feeder.stop(check=False)
        print("broker during the outage (status exit code, sink queue, last error, windows, stderr): %s" % samples)
        self.assertEqual([x[0] for x in samples if x[0] != 0], [], "the broker stopped answering status")
        self.assertTrue([x for x in samples if x[2] and "database does not answer" in x[2]],
                        "status never said the database was down")
        figure("pg_down_s", down_s)
        figure("pg_down_api_requests", api_down)
        figure("pg_down_sink_queue_max", max(s[1] for s in samples))
        figure("pg_recovery_drain_s", drain)
        figure("pg_items", self.pipe.scalar("SELECT count(*) FROM items"))
        sinks = b""
        for p in self.pipe.workers("pg-sink"):
            with open(p.log, "rb") as f:
                sinks += f.read()
        self.assertIn(b"database reconnect", sinks, "the sinks never waited for the database")
        with open(self.pipe.broker().log, "rb") as f:
            broker = f.read()
        self.assertIn(b"database reachable again", broker, "the broker never noticed the database was back")
        self.assertLessEqual(broker.count(b"database not reachable"), 4, "one line per outage, not per attempt")

    def test_object_store_outage(self):
        import test_flows
        import test_objstore
        if not os.path.exists(test_objstore.S3RVER):
            self.skipTest("s3rver is not installed: run sh tests/install-deps.sh")
        server = test_objstore.S3rver().start()
        self.addCleanup(server.stop)
        proxy = harness.FaultyProxy(server.port)
        self.addCleanup(proxy.stop)
        store = {"VINTED_STORE": "s3://%s/outage" % test_objstore.BUCKET, "AWS_ACCESS_KEY_ID": "S3RVER",
                 "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1"}
        catalogs = [221, 1242, 2320]
        self.start_sim(seed=34, catalogs=catalogs, initial=40, generation="svc", extra_args=["--quiet"])
        env = dict(store, VINTED_S3_ENDPOINT=proxy.endpoint(), VINTED_IMAGES="sampled",
                   VINTED_SAMPLE_FRAC=str(test_flows.FRAC))
        self.start_pipeline(api="svc", env=self.scheduled(catalogs, **env), uploaders=2)
        feeder = Feeder(self.sim, new=2, every=0.5).start()
        try:
            harness.wait_until(lambda: int(self.pipe.scalar("SELECT count(*) FROM photos WHERE stored_at IS NOT NULL"))
                               > 0, 60, 0.2, "the first photos stored")
            failed_before = proxy.failed
            t0 = time.monotonic()
            proxy.down("503")
            time.sleep(5)
            proxy.down("refuse")
            time.sleep(5)
            proxy.up()
            down_s = time.monotonic() - t0
            drain = self.finish_exact(catalogs, feeder, timeout=120)
            harness.wait_until(lambda: self.pipe.scalar(
                "SELECT count(*) FROM windows WHERE kind = 'images' AND state IN ('pending', 'running')") == "0",
                90, 0.3, "the images windows to finish")
        finally:
            proxy.up()
            feeder.stop(check=False)
        direct = dict(store, VINTED_S3_ENDPOINT=server.endpoint())

        def read(key):
            rc, out = test_flows.probe_get(direct, key)
            self.assertEqual(rc, 0, "probe get %s" % key)
            return out
        # every page of every committed catalog window is in the raw area (windows first:
        # scheduled windows go on committing, each after its pages landed)
        pages = {(int(w), p) for w, n in self.pipe.query(
            "SELECT window_id, pages_done FROM windows WHERE kind = 'scheduled' AND state = 'done'")
            for p in range(1, int(n) + 1)}
        rc, out = probe_list(direct, "raw/catalog/")
        self.assertEqual(rc, 0)
        stored = set()
        for line in out.decode().splitlines():
            key = line.split("\t")[0]
            window, page = key.split("/")[-2], key.split("/")[-1].split("-")[0]
            stored.add((int(window), int(page)))
        self.assertTrue(pages)
        self.assertEqual(sorted(pages - stored)[:10], [], "committed pages missing from the raw area")
        photos = test_flows.FlowsTest.assert_photos_stored(self, read)
        figure("s3_outage_s", down_s)
        figure("s3_outage_requests_failed", proxy.failed - failed_before)
        figure("s3_outage_drain_s", drain)
        figure("s3_outage_raw_pages", len(stored))
        figure("s3_outage_photos_stored", photos)


def probe_list(env, prefix):
    import subprocess
    p = subprocess.run([harness.program_path("vinted-objstore-probe"), "list", prefix], env=harness.clean_env(env),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return p.returncode, p.stdout


if __name__ == "__main__":
    unittest.main(verbosity=2)
