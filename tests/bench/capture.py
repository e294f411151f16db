"""capture.py - capture efficiency: how much of the market a request budget buys.

The simulator publishes new listings in every catalog at a steady rate (its
--auto-tick: TICK_NEW new listings and TICK_BUMPS pushed-up old ones per catalog
every TICK seconds); the broker schedules a window per catalog every WINDOW
seconds under a request budget of RATE requests a minute (VINTED_RATE), with the
real fetcher, transformer, sink and store. For each scheduled window after each
catalog's first (which only finds the listings made before the start):
  new       listings of the catalog published after the previous window's mark,
            up to the largest id this window committed (the simulator's truth);
  captured  how many of them are in the items table;
  requests  requests the window spent (the broker's count: catalog pages, and a
            session's home page when one was needed);
  floor     ceil(new / 96), one request per 96 new listings.
Reported per scenario: captured / new (per window: the lowest and the total),
requests / floor, requests per captured listing against 1/96, the session home
page requests apart, and the latency from a window's end (its close) to its
commit, p50 and p99.

Scenarios (default: ample, tight, overload):
  ample     the budget is 10x what the floor needs
  tight     1.3x the floor
  overload  new listings arrive faster than 96 per request the budget allows,
            so windows reach the API's 960-result cap: what is lost is reported
  market    no pipeline: the broker's scheduling (fixed and adaptive) in simulated
            time against the market world (tests/sim/market.py), budgets of 1, 4
            and 16 identities at 1 request a minute, 50/200/1000 catalogs, seeds
            1-5 (tests/bench/marketbench.py; --market-catalogs, --market-seeds)

    python3 tests/bench/capture.py [--scenario ample,tight,overload,market] [--windows 6] [--window 6]
"""

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import benchlib  # noqa: E402
import marketbench  # noqa: E402

PER_PAGE = 96
INITIAL = 50

# name: catalogs, new listings per catalog per second, bumps per catalog per second,
#       budget as a multiple of the floor's requests per minute (None: a fixed rate), api
SCENARIOS = {
    "ample": dict(catalogs=3, new_per_s=26, bumps_per_s=2, budget=10.0, api="v2"),
    "tight": dict(catalogs=3, new_per_s=26, bumps_per_s=2, budget=1.3, api="svc"),
    # 60 requests a minute fetch at most 96 listings a second; 150 arrive: windows hit the cap
    "overload": dict(catalogs=1, new_per_s=150, bumps_per_s=0, budget=None, rate=60, api="v2", windows=3),
}
TICK = 0.5


def pct(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, int(math.ceil(q * len(values))) - 1))
    return values[k]


def run_scenario(pg, name, spec, window_s, n_windows, seed):
    n_windows = min(n_windows, spec.get("windows", n_windows))
    catalogs = [3000 + i for i in range(spec["catalogs"])]
    per_window = spec["new_per_s"] * window_s
    floor_rate = len(catalogs) * math.ceil(per_window / PER_PAGE) * 60.0 / window_s
    rate = spec["rate"] if spec.get("rate") else max(1, int(round(spec["budget"] * floor_rate)))
    tick_new = max(1, int(round(spec["new_per_s"] * TICK)))
    tick_bumps = int(round(spec["bumps_per_s"] * TICK))
    work = tempfile.mkdtemp(prefix="vinted-bench-capture.")
    db = pg.create_db("capture_" + name)
    sim = harness.Sim(work, seed=seed, catalogs=catalogs, initial=INITIAL, generation=spec["api"],
                      extra_args=["--quiet", "--auto-tick", str(TICK), "--tick-new", str(tick_new),
                                  "--tick-bumps", str(tick_bumps)])
    pipe = None
    try:
        sim.start()
        pipe = harness.Pipeline(work, pg, db, sim, api=spec["api"],
                                env={"VINTED_CATALOGS": ",".join(map(str, catalogs)), "VINTED_WINDOW": "%ds" % window_s,
                                     "VINTED_RATE": str(rate), "VINTED_LOG_LEVEL": "warn", "VINTED_TASK_TIMEOUT": "60s"})
        pipe.start_all(fetchers=1, transformers=1, sinks=1, uploaders=1)
        load = benchlib.loadavg()
        want = n_windows + 1  # the first window of each catalog only finds the initial listings
        deadline = time.monotonic() + (want + 2) * window_s + 120

        def enough():
            pipe.check_alive()
            rows = pipe.query("SELECT catalog_id, count(*) FILTER (WHERE state IN ('done', 'failed')) "
                              "FROM windows WHERE kind = 'scheduled' GROUP BY catalog_id")
            return len(rows) == len(catalogs) and all(int(r[1]) >= want for r in rows)
        while not enough():
            if time.monotonic() > deadline:
                raise RuntimeError("%s: fewer than %d windows per catalog finished in time: %s"
                                   % (name, want, pipe.windows()))
            time.sleep(0.5)
        stats = sim.stats()
        truth = sim.truth()
        cols = ("window_id", "catalog_id", "state", "hwm_before", "max_item_id", "requests", "items", "pages_done",
                "truncated", "close_to_commit", "end_s")
        rows = pipe.query("SELECT window_id, catalog_id, state, coalesce(hwm_before, 0), coalesce(max_item_id, 0),"
                          " requests, items, pages_done, truncated,"
                          " extract(epoch FROM finished_at - end_at), extract(epoch FROM end_at)"
                          " FROM windows WHERE kind = 'scheduled' AND state IN ('done', 'failed')"
                          " ORDER BY catalog_id, window_id")
        windows = [dict(zip(cols, r)) for r in rows]
        have = {int(r[0]) for r in pipe.query("SELECT item_id FROM items")}
    finally:
        if pipe:
            pipe.stop()
            problems = pipe.unexpected_exits() + pipe.sanitizer_errors()
            if problems:
                raise RuntimeError("%s: programs misbehaved: %s" % (name, problems))
        sim.stop()
        shutil.rmtree(work, ignore_errors=True)

    by_cat = {}
    for t in truth:
        by_cat.setdefault(int(t["catalog_id"]), []).append(int(t["item_id"]))
    per = []
    seen_first = set()
    for w in windows:
        cat = int(w["catalog_id"])
        if cat not in seen_first:
            seen_first.add(cat)
            continue
        if len([p for p in per if p["catalog"] == cat]) >= n_windows:
            continue
        lo, hi = int(w["hwm_before"]), int(w["max_item_id"])
        new = [i for i in by_cat.get(cat, []) if lo < i <= hi] if hi > lo else []
        captured = sum(1 for i in new if i in have)
        per.append({"catalog": cat, "window": int(w["window_id"]), "state": w["state"], "new": len(new),
                    "captured": captured, "requests": int(w["requests"]), "pages": int(w["pages_done"]),
                    "floor": math.ceil(len(new) / PER_PAGE), "truncated": w["truncated"] == "t",
                    "latency": float(w["close_to_commit"])})
    new = sum(p["new"] for p in per)
    captured = sum(p["captured"] for p in per)
    requests = sum(p["requests"] for p in per)
    floor = sum(p["floor"] for p in per)
    fractions = [p["captured"] / p["new"] for p in per if p["new"]]
    lat = [p["latency"] for p in per]
    return {"name": name, "spec": spec, "rate": rate, "floor_rate": floor_rate, "catalogs": len(catalogs),
            "window_s": window_s, "per_window": per_window, "windows": per, "new": new, "captured": captured,
            "requests": requests, "floor": floor, "min_fraction": min(fractions) if fractions else float("nan"),
            "home": int(stats.get("home", 0)), "api_requests": int(stats.get("api", 0)),
            "truncated": sum(1 for p in per if p["truncated"]), "failed": sum(1 for p in per if p["state"] != "done"),
            "lat_p50": pct(lat, 0.5), "lat_p99": pct(lat, 0.99), "load": load}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default=",".join(SCENARIOS), help="comma-separated: %s" % ", ".join(SCENARIOS))
    p.add_argument("--windows", type=int, default=6, help="windows measured per catalog (default 6)")
    p.add_argument("--window", type=int, default=6, help="window length in seconds (default 6)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--verbose", action="store_true", help="print every window")
    p.add_argument("--market-catalogs", default="50,200,1000", help="market: catalog counts (default 50,200,1000)")
    p.add_argument("--market-seeds", default="1,2,3,4,5", help="market: seeds (default 1-5)")
    p.add_argument("--market-identities", default="1,4,16", help="market: identities at 1 request/min (default 1,4,16)")
    a = p.parse_args()
    names = [n.strip() for n in a.scenario.split(",") if n.strip()]
    for n in names:
        if n not in SCENARIOS and n != "market":
            p.error("unknown scenario %r (known: %s, market)" % (n, ", ".join(SCENARIOS)))
    if "market" in names:
        names.remove("market")
        ints = lambda text: [int(x) for x in text.split(",") if x.strip()]  # noqa: E731
        rows = marketbench.run(harness.bin_dir(), ints(a.market_seeds), ints(a.market_catalogs),
                               ints(a.market_identities), out=lambda line: print(line, flush=True))
        benchlib.summary("capture benchmark, market", [("machine", benchlib.machine())] + marketbench.summarize(rows))
        if not names:
            return 0
    pg = harness.PgCluster()
    pg.start()
    results = []
    try:
        for n in names:
            r = run_scenario(pg, n, SCENARIOS[n], a.window, a.windows, a.seed)
            results.append(r)
            print("%s: %d/%d new listings captured, %d requests for a floor of %d, %d home page requests, "
                  "%d truncated windows, close->commit p50 %.2fs p99 %.2fs; load %s"
                  % (n, r["captured"], r["new"], r["requests"], r["floor"], r["home"], r["truncated"],
                     r["lat_p50"], r["lat_p99"], r["load"]), flush=True)
            if a.verbose:
                for w in r["windows"]:
                    print("   catalog %d window %d: %d new, %d captured, %d requests (floor %d), %d pages%s, "
                          "%.2fs close->commit" % (w["catalog"], w["window"], w["new"], w["captured"], w["requests"],
                                                  w["floor"], w["pages"], ", truncated" if w["truncated"] else "",
                                                  w["latency"]))
    finally:
        pg.stop()
    lines = [("machine", benchlib.machine())]
    for r in results:
        s = r["spec"]
        tag = r["name"]
        lines.append((tag, "%d catalogs, %d new + %d pushed-up listings/s each, %ds windows (%d new per window), "
                           "%s API, budget %d req/min (floor needs %.0f)"
                      % (r["catalogs"], s["new_per_s"], s["bumps_per_s"], r["window_s"], r["per_window"], s["api"],
                         r["rate"], r["floor_rate"])))
        frac = r["captured"] / r["new"] if r["new"] else float("nan")
        allows = r["rate"] * PER_PAGE / 60.0 >= r["catalogs"] * s["new_per_s"]
        lines.append((tag + " captured", "%.2f%% of %d new listings (lowest window %.2f%%); %d truncated, %d failed "
                                         "windows; the budget %s the arrival rate%s"
                      % (100 * frac, r["new"], 100 * r["min_fraction"], r["truncated"], r["failed"],
                         "covers" if allows else "does NOT cover",
                         ("  target 100%%: %s" % ("met" if r["captured"] == r["new"] else "MISSED")) if allows else "")))
        over = r["requests"] / r["floor"] - 1 if r["floor"] else float("nan")
        lines.append((tag + " requests", "%d for a floor of %d (%+.1f%%)%s; %.4f per captured listing (floor %.4f = 1/96); "
                                         "session home pages: %d (apart)"
                      % (r["requests"], r["floor"], 100 * over,
                         ("  target within 10%%: %s" % ("met" if over <= 0.10 else "MISSED")) if allows else "",
                         r["requests"] / r["captured"] if r["captured"] else float("nan"),
                         r["floor"] / r["new"] if r["new"] else float("nan"), r["home"])))
        lines.append((tag + " close->commit", "p50 %.2f s, p99 %.2f s over %d windows (load %s)"
                      % (r["lat_p50"], r["lat_p99"], len(r["windows"]), r["load"])))
    benchlib.summary("capture benchmark", lines)
    for r in results:
        harness.figure("capture_%s_captured_pct" % r["name"], "%.2f" % (100.0 * r["captured"] / max(1, r["new"])))
        harness.figure("capture_%s_requests_over_floor_pct" % r["name"],
                       "%.1f" % (100.0 * (r["requests"] / max(1, r["floor"]) - 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
