#!/usr/bin/env python3
"""chaos.py - the chaos run: a long catalog run under process kills, checked
against the simulator's truth at the end (nothing lost, nothing duplicated).

    python3 tests/chaos.py [--items 100000] [--minutes 0] [--catalogs N] [--seed 11]
        [--kill-every 1-3] [--restart-after 0.5-3] [--broker-kills 2] [--window S] [--keep]

What runs: a private PostgreSQL cluster, the simulated Vinted with many catalogs,
and the whole pipeline (2 fetchers, 2 transformers, 2 sinks, 2 uploaders landing
every raw page in a file:// store) with scheduled windows for every catalog every
catalogs/4 seconds, at least 5 s (--window), and no request budget to speak of.
The simulator starts with up to 800 items per catalog and a feeder thread adds
new listings (and a few bumps) until --items listings exist, paced so that no
catalog ever has more new listings than one window can reach under the API's
960-result cap (so every listing stays reachable and the truth stays exact),
and, with --minutes, spread over that long.

Meanwhile a chaos thread SIGKILLs a random worker of a random stage every
--kill-every seconds and starts it again --restart-after seconds later, and the
broker is SIGKILLed and restarted --broker-kills times (at even fractions of the
listings). At the end every worker runs again, the run waits until every catalog
has a committed window that started after the last listing appeared, and the
database is compared with the truth: every listing in `items` with the right
values, no duplicate, every bad listing quarantined, no window failed.

Figures (FIGURE name=value lines): items processed, faults injected by kind,
items lost, duplicates, windows, elapsed seconds, items per second.

Importable: tests/e2e/test_chaos.py runs ChaosRun with a CI setting.
"""

import argparse
import datetime
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
import shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

STAGES = ("fetcher", "transformer", "pg-sink", "s3-uploader")
INITIAL_MAX = 800       # listings per catalog at start: one first window reaches them all
REACH = 800             # most new listings a catalog may have beyond its mark (cap 960, less margin)


def _range(text):
    lo, _, hi = text.partition("-")
    lo, hi = float(lo), float(hi or lo)
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError("expected SECONDS or LOW-HIGH, got %r" % text)
    return lo, hi


class ChaosRun:
    """One chaos run against a database of a running PgCluster.

        run = ChaosRun(workdir, pg, db, items=100000)
        figures = run.run()        # returns {name: value}; raises AssertionError on a mismatch
    """

    def __init__(self, workdir, pg, db, items=100000, catalogs=None, minutes=0.0, seed=11,
                 kill_every=(1.0, 3.0), restart_after=(0.5, 3.0), broker_kills=2, api="v2",
                 window=None, timeout=600.0, log=None):
        self.workdir, self.pg, self.db = workdir, pg, db
        self.items = int(items)
        self.catalogs = catalogs or max(4, min(200, -(-self.items // 1600)))
        self.minutes, self.seed, self.api = minutes, seed, api
        # a window per catalog every `window`: at most 4 new windows a second in all, which
        # the pipeline keeps up with on 2 cores (scheduled windows that pile up faster than
        # they finish make the broker's scheduling crawl: see the report on broker.c)
        self.window = window or "%ds" % max(5, -(-self.catalogs // 4))
        self.kill_every, self.restart_after, self.broker_kills = kill_every, restart_after, broker_kills
        self.timeout = timeout
        self.log = log or (lambda text: print("[chaos] " + text, flush=True))
        self.rng = random.Random(seed)
        self.sim = self.pipe = None
        self.faults = {}
        self.created = 0            # listings the simulator holds (all catalogs)
        self.per_catalog = 0        # listings per catalog (every catalog gets the same)
        self._stop = threading.Event()
        self._chaos_error = None
        self.kills = []          # (wall time, pid) of every worker SIGKILL
        self.reconnect_s = []    # per broker restart: seconds until every live worker was registered again

    # -- the parts

    def start(self):
        t0 = time.monotonic()
        cats = [3000 + i for i in range(self.catalogs)]
        self.catalog_ids = cats
        initial = min(INITIAL_MAX, max(1, self.items // len(cats)))
        self.per_catalog = initial
        self.created = initial * len(cats)
        self.sim = harness.Sim(self.workdir, seed=self.seed, catalogs=cats, initial=initial,
                               generation=self.api, bad_every=97, legacy_price_every=11,
                               extra_args=["--quiet"]).start(timeout=120)
        env = {"VINTED_CATALOGS": ",".join(str(c) for c in cats), "VINTED_WINDOW": self.window,
               "VINTED_RATE": "1000000", "VINTED_TASK_TIMEOUT": "20s"}
        self.pipe = harness.Pipeline(self.workdir, self.pg, self.db, self.sim, api=self.api, env=env)
        self.pipe.start_all(fetchers=2, transformers=2, sinks=2, uploaders=2, ready_timeout=60)
        self.log("started in %.1f s: %d catalogs, %d listings" % (time.monotonic() - t0, len(cats), self.created))
        return self

    def stop(self):
        self._stop.set()
        if self.pipe:
            self.pipe.stop()
        if self.sim:
            self.sim.stop()

    def _count(self, kind):
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def _reach(self):
        """The most listings any catalog holds beyond what its mark covers: an upper
        bound on how deep its next window must page (invalid listings counted too)."""
        rows = self.pipe.query("SELECT i.catalog_id, count(*) FROM items i JOIN catalog_state s"
                               " USING (catalog_id) WHERE i.item_id <= s.hwm_item_id GROUP BY 1")
        covered = {int(c): int(n) for c, n in rows}
        return max(self.per_catalog - covered.get(c, 0) for c in self.catalog_ids)

    def _feed(self, deadline):
        """Add listings until there are self.items, never past REACH per catalog."""
        t0 = time.monotonic()
        self._next_report = t0 + 10
        start = self.created
        per_s = (self.items - start) / (self.minutes * 60) if self.minutes else None
        while self.created < self.items:
            if self._chaos_error:
                raise AssertionError("the chaos thread failed: %s" % self._chaos_error)
            if time.monotonic() > deadline:
                raise AssertionError("listings still being added after %.0f s (%d of %d): the pipeline "
                                     "does not keep up" % (self.timeout, self.created, self.items))
            if per_s and self.created - start > per_s * (time.monotonic() - t0):
                time.sleep(0.2)
                continue
            try:
                reach = self._reach()
            except RuntimeError as e:  # the database is busy or restarting: ask again
                self.log("feed: %s" % e)
                time.sleep(0.5)
                continue
            if time.monotonic() >= self._next_report:
                self._next_report = time.monotonic() + 10
                self.log("%.0f s: %d listings, deepest catalog %d beyond its mark" % (
                    time.monotonic() - t0, self.created, reach))
            left = -(-(self.items - self.created) // len(self.catalog_ids))
            new = min(40, left, REACH - 1 - reach)
            if new < 5 and new < left:
                time.sleep(0.25)
                continue
            self.sim.tick(new=new, bumps=1)
            self.per_catalog += new
            self.created += new * len(self.catalog_ids)
            time.sleep(0.25)

    def _chaos(self, progress):
        """Kill a random worker of a random stage every kill_every seconds and start it
        again restart_after seconds later; kill and restart the broker broker_kills
        times, at even fractions of the listings (progress() in 0..1)."""
        restarts = []  # (due, proc)
        next_kill = time.monotonic() + self.rng.uniform(*self.kill_every)
        broker_due = [(i + 1) / (self.broker_kills + 1) for i in range(self.broker_kills)]
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                for due, proc in [r for r in restarts if r[0] <= now]:
                    restarts.remove((due, proc))
                    self.pipe.restart(proc)
                if broker_due and progress() >= broker_due[0]:
                    broker_due.pop(0)
                    broker = self.pipe.broker()
                    self.pipe.kill(broker, signal.SIGKILL)
                    self._count("broker_sigkill")
                    self.log("broker killed at %.0f%% of the listings" % (100 * progress()))
                    time.sleep(self.rng.uniform(0.5, 1.5))
                    self.pipe.restart(broker)
                    self.reconnect_s.append(self._workers_back())
                    continue
                if now >= next_kill:
                    next_kill = now + self.rng.uniform(*self.kill_every)
                    stage = self.rng.choice(STAGES)
                    live = [p for p in self.pipe.workers(stage) if p.alive()]
                    if live:
                        victim = self.rng.choice(live)
                        self.kills.append((time.time(), victim.pid))
                        self.pipe.kill(victim, signal.SIGKILL)
                        self._count("%s_sigkill" % stage.replace("-", "_"))
                        restarts.append((now + self.rng.uniform(*self.restart_after), victim))
                self._stop.wait(0.05)
        except Exception as e:  # reported by the feeder
            self._chaos_error = repr(e)
        finally:
            for _, proc in restarts:
                self.pipe.restart(proc)

    def _workers_back(self):
        """Seconds from a broker's restart until it has registered every worker that
        runs (they find it on their own: heartbeats, then READY on a new socket)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            alive = sum(1 for p in self.pipe.procs if p.kind != "broker" and p.alive())
            st = self.pipe.status_json()
            if st and len(st.get("workers", [])) >= alive:
                return time.monotonic() - t0
            time.sleep(0.1)
        raise AssertionError("the workers did not come back to the restarted broker within 30 s")

    def detection_delays(self):
        """Seconds from each worker SIGKILL to the broker's 'worker gone' line for it
        (kills the broker never saw, during its own restart, are left out)."""
        gone = {}
        pat = re.compile(r'^ts=(\S+) .*msg="worker gone.*worker="[^"]*:(\d+)"')
        with open(self.pipe.broker().log, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = pat.match(line)
                if m:
                    ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
                    gone.setdefault(int(m.group(2)), []).append(ts.replace(tzinfo=datetime.timezone.utc).timestamp())
        delays = []
        for t, pid in self.kills:
            after = [g - t for g in gone.get(pid, []) if g >= t - 0.5]
            if after:
                delays.append(min(after))
        return delays

    def wait_caught_up(self, mark, deadline):
        """Every catalog has a committed window started at or after mark; none failed."""
        n = len(self.catalog_ids)

        def done():
            failed = self.pipe.query("SELECT window_id, catalog_id, error FROM windows WHERE state = 'failed'")
            if failed:
                raise AssertionError("windows failed: %s" % failed[:5])
            self.pipe.check_alive()
            return int(self.pipe.scalar(
                "SELECT count(DISTINCT catalog_id) FROM windows WHERE state = 'done' AND kind = 'scheduled'"
                " AND started_at >= '%s'" % mark)) >= n
        harness.wait_until(done, max(30.0, deadline - time.monotonic()), 0.5,
                           "every catalog's window after the last listing to commit")

    # -- the whole run

    def run(self):
        t0 = time.monotonic()
        deadline = t0 + self.timeout
        if not self.pipe:
            self.start()
        self.sim.reset_stats()
        initial_items = self.created
        chaos = threading.Thread(target=self._chaos, name="chaos",
                                 args=(lambda: (self.created - initial_items) / max(1, self.items - initial_items)
                                       if self.items > initial_items else 1.0,))
        started = time.monotonic()
        chaos.start()
        try:
            self._feed(deadline)
            # with no new listings to add, keep the chaos up a little longer (and at least
            # until every broker kill happened), then let every process run
            while self.minutes and time.monotonic() - started < self.minutes * 60:
                time.sleep(0.5)
            time.sleep(self.rng.uniform(*self.kill_every))
        finally:
            self._stop.set()
            chaos.join(60)
        if self._chaos_error:
            raise AssertionError("the chaos thread failed: %s" % self._chaos_error)
        self.log("chaos over after %.1f s: %d listings" % (time.monotonic() - started, self.created))
        for p in self.pipe.procs:
            if not p.alive():
                self.pipe.restart(p)
        mark = self.pipe.scalar("SELECT now()")
        self.wait_caught_up(mark, deadline)
        elapsed = time.monotonic() - started
        self.log("caught up after %.1f s" % elapsed)
        figures = self.verify(elapsed)
        self.log("verified in %.1f s" % (time.monotonic() - started - elapsed))
        return figures

    def verify(self, elapsed):
        """Figures, and an AssertionError if the database is not the truth."""
        t0 = time.monotonic()
        truth = self.sim.truth()
        self.log("truth read in %.1f s" % (time.monotonic() - t0))
        valid = {int(t["item_id"]) for t in truth if t.get("invalid") is None}
        total, distinct = (int(x) for x in self.pipe.query("SELECT count(*), count(DISTINCT item_id) FROM items")[0])
        have = {int(r[0]) for r in self.pipe.query("SELECT item_id FROM items")}
        quarantined = int(self.pipe.scalar("SELECT count(DISTINCT raw) FROM quarantine"))
        windows = int(self.pipe.scalar("SELECT count(*) FROM windows WHERE state = 'done'"))
        failed = int(self.pipe.scalar("SELECT count(*) FROM windows WHERE state = 'failed'"))
        invalid = sum(1 for t in truth if t.get("invalid") is not None)
        figures = {
            "chaos_listings": len(truth),
            "chaos_items_processed": len(have & valid) + invalid,
            "chaos_items_stored": len(have),
            "chaos_items_invalid": invalid,
            "chaos_quarantine_records": quarantined,
            "chaos_items_lost": len(valid - have),
            "chaos_items_unexpected": len(have - valid),
            "chaos_duplicates": total - distinct,
            "chaos_windows_done": windows,
            "chaos_windows_failed": failed,
            "chaos_catalogs": len(self.catalog_ids),
            "chaos_api_requests": self.sim.stats()["api"],
            "chaos_elapsed_s": round(elapsed, 1),
            "chaos_items_per_s": round(len(have) / elapsed, 1) if elapsed else 0.0,
            "chaos_faults_total": sum(self.faults.values()),
        }
        for kind, n in sorted(self.faults.items()):
            figures["chaos_faults_" + kind] = n
        delays = self.detection_delays()
        if delays:
            figures["chaos_dead_worker_detected_max_s"] = round(max(delays), 2)
            figures["chaos_dead_worker_detected_mean_s"] = round(sum(delays) / len(delays), 2)
            figures["chaos_dead_worker_detections"] = len(delays)
        if self.reconnect_s:
            figures["chaos_workers_back_after_broker_restart_max_s"] = round(max(self.reconnect_s), 2)
        for name, value in figures.items():
            harness.figure(name, value)

        class Check:
            def fail(self, message):
                raise AssertionError(message)
        t0 = time.monotonic()
        harness.assert_db_matches_truth(Check(), self.pg, self.db, truth)
        self.log("compared in %.1f s" % (time.monotonic() - t0))
        if failed:
            raise AssertionError("%d windows failed" % failed)
        return figures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--items", type=int, default=100000, help="listings in the simulated world (default 100000)")
    p.add_argument("--minutes", type=float, default=0, help="spread the listings and the chaos over this long "
                                                            "(default 0: as fast as the pipeline goes)")
    p.add_argument("--catalogs", type=int, default=0, help="catalogs (default: items / 1600, 4..200)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--kill-every", type=_range, default=(1.0, 3.0), metavar="S[-S]",
                   help="seconds between worker kills (default 1-3)")
    p.add_argument("--restart-after", type=_range, default=(0.5, 3.0), metavar="S[-S]",
                   help="seconds before a killed worker starts again (default 0.5-3)")
    p.add_argument("--broker-kills", type=int, default=2, help="broker SIGKILLs and restarts (default 2)")
    p.add_argument("--api", choices=("v2", "svc"), default="v2")
    p.add_argument("--window", default=None, help="VINTED_WINDOW: a window per catalog this often (default: "
                                                   "catalogs/4 seconds, at least 5 s)")
    p.add_argument("--timeout", type=float, default=0, help="give up after this many seconds "
                                                            "(default: 600 + the --minutes)")
    p.add_argument("--keep", action="store_true", help="keep the work dir and logs")
    a = p.parse_args()
    if a.items < 1 or a.catalogs < 0 or a.catalogs > 200 or a.broker_kills < 0 or a.minutes < 0:
        p.error("--items must be >= 1, --catalogs 0..200, --broker-kills and --minutes >= 0")
    # SIGTERM and SIGINT (even when started in the background) end the run through the
    # cleanup below: every program stopped, the cluster stopped and removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    work = tempfile.mkdtemp(prefix="vinted-chaos.")
    pg = harness.PgCluster().start()
    run = None
    ok = False
    try:
        db = pg.create_db("chaos")
        print("machine: %d cores; bin=%s items=%d minutes=%g" % (os.cpu_count(), harness.bin_dir(), a.items, a.minutes))
        run = ChaosRun(work, pg, db, items=a.items, catalogs=a.catalogs or None, minutes=a.minutes, seed=a.seed,
                       kill_every=a.kill_every, restart_after=a.restart_after, broker_kills=a.broker_kills,
                       api=a.api, window=a.window, timeout=a.timeout or 600 + a.minutes * 60)
        run.run()
        problems = ["sanitizer: " + h for h in run.pipe.sanitizer_errors()] + run.pipe.unexpected_exits()
        if problems:
            raise AssertionError("programs misbehaved:\n  " + "\n  ".join(problems[:20]))
        ok = True
        print("chaos run passed: the database equals the truth")
        return 0
    except AssertionError as e:
        print("chaos run FAILED: %s" % e, file=sys.stderr)
        if run and run.pipe:
            run.pipe.print_tails(20)
        return 1
    finally:
        if run:
            run.stop()
        pg.stop()
        if ok and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("work dir (logs): %s" % work, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
