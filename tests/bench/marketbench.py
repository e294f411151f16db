"""marketbench.py - capture.py --scenario market: the broker's scheduling against the
market world (tests/sim/market.py) in simulated time, fixed against adaptive, for
several budgets and numbers of catalogs, over seeded runs.

Each run feeds one market's events (2 simulated days after a day's warm-up of the
estimates is not needed: the adaptive schedule learns from its first polls) to
bin/vinted-bench-schedule, which runs broker/schedule.c (or the fixed window)
with a model of the catalog API: 96 listings a page, 960 a query, pages of one
poll pinned to its page 1 (v2's time=), a band that meets the cap split in two
(as the broker does), one request every 60/rate s.

Figures per (catalogs, identities, schedule), over the seeds: captured / listed
(lowest and median), requests / floor (floor = sum over catalogs of
ceil(new / 96): one poll at the end that gets every listing), listings per
request, truncated polls, and the catalogs that missed most.
"""

import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sim"))
import market  # noqa: E402

DAY = 86400


def write_events(path, seed, n_catalogs, start_day, days):
    """The market's events as vinted-bench-schedule reads them; a parent catalog's
    search shows its children's listings, so their events are the parent's."""
    m = market.Market(seed, n_catalogs=n_catalogs)
    t0, t1 = start_day * DAY, (start_day + days) * DAY
    n = 0
    with open(path, "w") as f:
        f.write("catalogs %s\n" % ",".join(str(c) for c in m.catalogs))
        for t, kind, leaf in m.events(t0, t1):
            f.write("%d %s %d\n" % (int(t * 1000), "n" if kind == "new" else "b", m.parent_of.get(leaf, leaf)))
            n += 1
    return m, t0, t1, n


def run_one(binary, events, schedule, rate, t0, t1, window_s, extra=()):
    argv = [binary, "--schedule", schedule, "--rate", str(rate), "--window", str(window_s),
            "--start", str(int(t0)), "--end", str(int(t1))] + list(extra)
    with open(events) as f:
        out = subprocess.run(argv, stdin=f, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), out.returncode, out.stderr[-500:]))
    return dict(kv.split("=", 1) for kv in out.stdout.split())


def run(bindir, seeds, catalog_counts, identities, window_s=3600, days=2, start_day=10, out=print):
    binary = os.path.join(bindir, "vinted-bench-schedule")
    rows = []
    work = tempfile.mkdtemp(prefix="vinted-bench-market.")
    try:
        for n in catalog_counts:
            for seed in seeds:
                path = os.path.join(work, "events-%d-%d.txt" % (n, seed))
                m, t0, t1, n_events = write_events(path, seed, n, start_day, days)
                for ids in identities:
                    for schedule in ("fixed", "adaptive"):
                        # fixed: a window per catalog every window_s; adaptive: its first interval is 10 min
                        r = run_one(binary, path, schedule, ids * 1.0, t0, t1,
                                    window_s if schedule == "fixed" else 600)
                        r.update(catalogs_n=n, seed=seed, identities=ids)
                        rows.append(r)
                        out("market n=%d seed=%d identities=%d %s: listed=%s captured=%s%% requests=%s floor=%s "
                            "(x%s; x%s of the floor at --max-interval) per_request=%s truncated=%s splits=%s"
                            % (n, seed, ids, schedule, r["listed"], r["captured_pct"], r["requests"], r["floor"],
                               r["requests_over_floor"], r["requests_over_floor_fresh"], r["listings_per_request"],
                               r["truncated"], r["splits"]))
                os.unlink(path)
    finally:
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)
    return rows


def summarize(rows):
    """One line per (catalogs, identities, schedule): over the seeds, the lowest and
    median capture, the highest and median requests/floor, the median listings per
    request; and adaptive against fixed."""
    keys = sorted({(r["catalogs_n"], r["identities"], r["schedule"]) for r in rows})
    lines = []
    for n, ids, sched in keys:
        rs = [r for r in rows if (r["catalogs_n"], r["identities"], r["schedule"]) == (n, ids, sched)]
        cap = [float(r["captured_pct"]) for r in rs]
        over = [float(r["requests_over_floor"]) for r in rs]
        fresh = [float(r["requests_over_floor_fresh"]) for r in rs]
        per = [float(r["listings_per_request"]) for r in rs]
        budget = [float(r["budget_requests"]) for r in rs]
        floor = [float(r["floor"]) for r in rs]
        covers = all(b >= f for b, f in zip(budget, floor))
        lines.append(("market n=%d ids=%d %s" % (n, ids, sched),
                      "captured min %.2f%% median %.2f%%; requests/floor max %.2f median %.2f (at --max-interval:"
                      " %.2f); %.1f listings/request; budget %s the floor (%d runs)"
                      % (min(cap), statistics.median(cap), max(over), statistics.median(over),
                         statistics.median(fresh), statistics.median(per), "covers" if covers else "is SHORT of",
                         len(rs))))
    for n, ids in sorted({(k[0], k[1]) for k in keys}):
        f = [r for r in rows if (r["catalogs_n"], r["identities"], r["schedule"]) == (n, ids, "fixed")]
        a = [r for r in rows if (r["catalogs_n"], r["identities"], r["schedule"]) == (n, ids, "adaptive")]
        if f and a:
            ratio = statistics.median(float(x["captured"]) / max(1.0, float(y["captured"])) for x, y in zip(a, f))
            lines.append(("market n=%d ids=%d adaptive/fixed" % (n, ids), "%.2fx the listings captured (median)"
                          % ratio))
    return lines
