"""catalog_throughput.py - items per second through the whole catalog flow.

Runs the real programs against the simulated Vinted and a private PostgreSQL:
CATALOGS catalogs of INITIAL items each (at most 960 are reachable per catalog),
every window pushed at once, no request budget, and prints figures:
items committed per second from the first request to the last commit, pages
per second, and requests per window. The simulator (Python) serves the pages,
so at high worker counts it is the bound; `perf`-grade figures of the C stages
alone are the replay benchmark's job (issue 6).

    python3 tests/bench/catalog_throughput.py [--catalogs 8] [--initial 960]
        [--fetchers 2] [--transformers 1] [--sinks 1] [--api v2|svc]
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--catalogs", type=int, default=8)
    p.add_argument("--initial", type=int, default=960)
    p.add_argument("--fetchers", type=int, default=2)
    p.add_argument("--transformers", type=int, default=1)
    p.add_argument("--sinks", type=int, default=1)
    p.add_argument("--api", choices=["v2", "svc"], default="v2")
    a = p.parse_args()
    catalogs = [1000 + i for i in range(a.catalogs)]
    work = tempfile.mkdtemp(prefix="vinted-bench.")
    pg = harness.PgCluster()
    pg.start()
    sim = pipe = None
    try:
        db = pg.create_db("bench")
        sim = harness.Sim(work, seed=7, catalogs=catalogs, initial=a.initial, generation=a.api, extra_args=["--quiet"])
        sim.start()
        pipe = harness.Pipeline(work, pg, db, sim, api=a.api,
                                env={"VINTED_RATE": "1000000", "VINTED_LOG_LEVEL": "warn"})
        pipe.start_all(fetchers=a.fetchers, transformers=a.transformers, sinks=a.sinks)
        start = time.monotonic()
        results = pipe.run_windows(catalogs, timeout="600s")
        elapsed = time.monotonic() - start
        bad = [r for r in results.values() if r[0] != 0]
        if bad:
            print("windows failed: %r" % bad[:3], file=sys.stderr)
            return 1
        items = int(pipe.scalar("SELECT count(*) FROM items"))
        rows = int(pipe.scalar("SELECT count(*) FROM sightings"))
        requests = int(pipe.scalar("SELECT sum(requests) FROM windows"))
        pages = int(pipe.scalar("SELECT sum(pages_done) FROM windows"))
        print("machine: %d cores; catalogs=%d initial=%d api=%s fetchers=%d transformers=%d sinks=%d"
              % (os.cpu_count(), a.catalogs, a.initial, a.api, a.fetchers, a.transformers, a.sinks))
        harness.figure("items", items)
        harness.figure("sightings", rows)
        harness.figure("seconds", "%.2f" % elapsed)
        harness.figure("items_per_s", "%.0f" % (items / elapsed))
        harness.figure("pages_per_s", "%.1f" % (pages / elapsed))
        harness.figure("requests_per_window", "%.2f" % (requests / len(catalogs)))
        return 0
    finally:
        if pipe:
            pipe.stop()
        if sim:
            sim.stop()
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
