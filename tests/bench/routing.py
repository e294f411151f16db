"""routing.py - the broker alone: messages per second between stages with small
payloads, and the latency from a window's close to its commit.

The workers are stand-ins (vinted-bench-routing: the real protocol, tiny
payloads, no work), so the broker is what is measured.
  1. throughput: a replay of PAGES raw objects (empty files under the raw key
     layout; the stand-in store makes up a small PAGE for each key): per page the
     broker routes LOAD, PAGE, PAGE, BATCH, BATCH, COMMIT, six messages. messages/s
     = 6 x PAGES / (time from the replay request to the replay done), and the
     broker's CPU per message.
  2. latency: CATALOGS catalogs scheduled every second (VINTED_WINDOW=1s, no request
     budget to speak of) with stand-in fetcher, store, transformer and sink, for
     SECONDS; each window is one page. close -> commit = windows.finished_at -
     windows.end_at (end_at is the window's close: the broker creates the window at
     that boundary), p50 / p99 / max over every window done.

    python3 tests/bench/routing.py [--pages 50000] [--catalogs 20] [--seconds 15]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import benchlib  # noqa: E402

TOOL = "vinted-bench-routing"
HOUR_S = 1795600800  # 2026-11-25T10:00:00Z


def fake(pipe, stage, capacity=64, items=1):
    return pipe._start(TOOL, args=[stage, "--capacity", str(capacity), "--items", str(items)])


def wait_workers(pipe, want, timeout=30):
    benchlib.wait_workers(pipe, want, timeout, "stand-in workers %r" % want)


def throughput(pg, work, pages, windows=4):
    store = os.path.join(work, "store")
    for w in range(1, windows + 1):
        d = os.path.join(store, "raw", "catalog", "2026", "11", "25", "10", str(w))
        os.makedirs(d, exist_ok=True)
        for p in range(w, pages + 1, windows):
            open(os.path.join(d, "%02d-00-%d-0.json.gz" % (p, HOUR_S * 1000 + p)), "wb").close()
    db = pg.create_db("routing")
    pipe = harness.Pipeline(work, pg, db, None, env={"VINTED_STORE": "file://" + store, "VINTED_LOG_LEVEL": "warn",
                                                     "VINTED_IMAGES": "off"})
    poll = None
    try:
        pipe.start_broker()
        for stage in ("store", "transform", "sink"):
            fake(pipe, stage)
        pipe.wait_ready(30)
        wait_workers(pipe, {"store": 1, "transform": 1, "sink": 1})
        broker = pipe.broker().pid
        poll = benchlib.Psql(pg, db)
        rss = benchlib.RssSampler({"broker": broker}).start()
        cpu0 = benchlib.cpu_seconds(broker)
        load = benchlib.loadavg()
        t0 = time.monotonic()
        rc, out, err = pipe.ctl("replay", "--flow", "catalog", "--from", str(HOUR_S), "--to", str(HOUR_S + 3600),
                                "--json", timeout=120)
        if rc != 0:
            raise RuntimeError("replay refused: %s %s" % (out, err))
        wid = json.loads(out)["window_id"]
        listed = time.monotonic() - t0
        state, _ = benchlib.wait_window(poll, pipe, wid, 0.01)
        elapsed = time.monotonic() - t0
        cpu = benchlib.cpu_seconds(broker) - cpu0
        mem = rss.stop()["broker"]
        done = int(poll.scalar("SELECT pages_done FROM windows WHERE window_id = %d" % wid))
        if state != "done" or done != pages:
            raise RuntimeError("replay ended %s with %d of %d pages" % (state, done, pages))
    finally:
        if poll:
            poll.close()
        pipe.stop()
    msgs = 6 * pages
    return {"pages": pages, "seconds": elapsed, "listing_s": listed, "msgs_per_s": msgs / elapsed,
            "broker_cpu": cpu, "us_per_msg": 1e6 * cpu / msgs, "broker_hwm_kb": mem["hwm_kb"], "load": load}


def latency(pg, work, catalogs, seconds):
    db = pg.create_db("latency")
    cats = [101 + i for i in range(catalogs)]
    pipe = harness.Pipeline(work, pg, db, None, env={
        "VINTED_STORE": "file://" + os.path.join(work, "store-latency"), "VINTED_LOG_LEVEL": "warn",
        "VINTED_CATALOGS": ",".join(map(str, cats)), "VINTED_WINDOW": "1s", "VINTED_RATE": "1000000",
        "VINTED_IMAGES": "off"})
    try:
        pipe.start_broker()
        for stage in ("fetch", "store", "transform", "sink"):
            fake(pipe, stage, capacity=1 if stage == "fetch" else 64)
        pipe.wait_ready(30)
        load = benchlib.loadavg()
        cpu0 = benchlib.cpu_seconds(pipe.broker().pid)
        time.sleep(seconds)
        cpu = benchlib.cpu_seconds(pipe.broker().pid) - cpu0
        rows = pipe.query("SELECT extract(epoch FROM finished_at - end_at), extract(epoch FROM started_at - end_at)"
                          " FROM windows WHERE kind = 'scheduled' AND state = 'done'"
                          " AND end_at > now() - make_interval(secs => %d)" % (seconds - 2))
        failed = int(pipe.scalar("SELECT count(*) FROM windows WHERE state = 'failed'"))
    finally:
        pipe.stop()
    lat = sorted(float(r[0]) for r in rows)
    start = sorted(float(r[1]) for r in rows)
    return {"windows": len(lat), "failed": failed, "p50": pct(lat, 0.5), "p99": pct(lat, 0.99),
            "max": lat[-1] if lat else float("nan"), "start_p50": pct(start, 0.5), "catalogs": catalogs,
            "seconds": seconds, "broker_cpu": cpu, "load": load}


def pct(values, q):
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, int(round(q * len(values) + 0.5)) - 1))
    return values[k]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pages", type=int, default=50000, help="raw objects replayed (default 50000)")
    p.add_argument("--catalogs", type=int, default=20, help="catalogs scheduled every second (default 20)")
    p.add_argument("--seconds", type=int, default=15, help="how long the latency phase runs (default 15)")
    a = p.parse_args()
    if not os.access(harness.program_path(TOOL), os.X_OK):
        print("%s is missing: build it first (make)" % harness.program_path(TOOL), file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="vinted-bench-routing.")
    pg = harness.PgCluster()
    pg.start()
    try:
        t = throughput(pg, work, a.pages)
        print("throughput: %d pages in %.2fs (listing %.2fs): %.0f messages/s, broker %.1f us CPU per message, "
              "load %s" % (t["pages"], t["seconds"], t["listing_s"], t["msgs_per_s"], t["us_per_msg"], t["load"]),
              flush=True)
        lat = latency(pg, work, a.catalogs, a.seconds)
        print("latency: %d windows: close->commit p50 %.3fs p99 %.3fs max %.3fs, load %s"
              % (lat["windows"], lat["p50"], lat["p99"], lat["max"], lat["load"]), flush=True)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    benchlib.summary("broker routing benchmark (stand-in workers, small payloads)", [
        ("machine", benchlib.machine()),
        ("throughput", "%.0f messages/s routed (%d replayed pages x 6 messages in %.2f s, listing included)"
         % (t["msgs_per_s"], t["pages"], t["seconds"])),
        ("broker cpu", "%.1f us per message (%.2f s); VmHWM %s" % (t["us_per_msg"], t["broker_cpu"],
                                                                  benchlib.mb(t["broker_hwm_kb"]))),
        ("close->commit", "p50 %.3f s, p99 %.3f s, max %.3f s over %d one-page windows (%d catalogs every 1 s "
                          "for %d s; %d failed)" % (lat["p50"], lat["p99"], lat["max"], lat["windows"],
                                                    lat["catalogs"], lat["seconds"], lat["failed"])),
        ("window start", "p50 %.3f s after its close" % lat["start_p50"]),
        ("broker cpu (windows)", "%.2f s for %d windows: %.1f ms per window"
         % (lat["broker_cpu"], lat["windows"], 1e3 * lat["broker_cpu"] / max(1, lat["windows"]))),
        ("load average", "%s / %s" % (t["load"], lat["load"])),
    ])
    harness.figure("routing_msgs_per_s", "%.0f" % t["msgs_per_s"])
    harness.figure("routing_close_commit_p50_s", "%.3f" % lat["p50"])
    harness.figure("routing_close_commit_p99_s", "%.3f" % lat["p99"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
