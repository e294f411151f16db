#!/usr/bin/env python3
"""vinted_sim.py - a simulated Vinted for the pipeline's tests.

Serves the two catalog-search generations described in
shared/vinted-api-notes.md (v2: /api/v2/catalog/items on the www host;
svc: /svc-catalogue/items on the api host) from one deterministic world
built from a seed, plus the home page that hands out session cookies, the
tracking flow's sources (seller lists /api/v2/users/{id}/items, profiles
/api/v2/users/{id}, public item pages /items/{id} with JSON-LD) and the
image CDN's /t/<hash>/<size>/<ts>.webp. One server answers for every host.
Tests steer it through /_sim/ (new listings, bumps, item life cycle,
injected faults) and read back what a correct pipeline must have stored
(/_sim/truth...). See README.md beside this file.

This file is the command line; the simulator is in the modules beside it:
    sim_facts.py   what it knows of Vinted: sites, conditions, titles, faults, paths
    sim_world.py   the deterministic world: listings, sellers, clock, search, truth
    sim_render.py  how listings look in v2, svc, seller lists, profiles, item pages
    sim_state.py   sessions, faults, statistics and the Sim behind one lock
    sim_http.py    the request handler: cookies, 401/403/429, pagination caps
    sim_admin.py   the /_sim/ admin API
    market.py      the market mode's model (--market)
Tools that build pages without a server (tests/bench/rawgen.py, tests/fuzz/seed.py)
import this module; the names they use are re-exported here.

Python 3 standard library only.
"""


import argparse
import os
import signal
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from sim_facts import (
    AWKWARD_TITLES, CATALOGS_PATH, CONDITIONS, DEFAULT_EPOCH, HOSTILE_CASES, MAX_PER_PAGE,
    MAX_RESULTS, SHOE_SIZES, SIZES, SITES, SVC_PATH, V2_PATH, money_str)
from sim_http import Handler
from sim_state import Sim
from sim_world import World

# what tests/bench/rawgen.py and tests/fuzz/seed.py read from here
__all__ = ["AWKWARD_TITLES", "CATALOGS_PATH", "CONDITIONS", "DEFAULT_EPOCH", "HOSTILE_CASES",
           "MAX_PER_PAGE", "MAX_RESULTS", "SHOE_SIZES", "SIZES", "SVC_PATH", "V2_PATH", "World",
           "money_str", "main"]


# --------------------------------------------------------------------------
# Command line


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Simulated Vinted (catalog search, seller lists, users, item pages,"
                    " image CDN) for vinted-pipeline tests.")
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    p.add_argument("--bind", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    p.add_argument("--seed", type=int, default=42, help="world seed (default 42)")
    p.add_argument("--catalogs", default="221,1242", help="comma-joined catalog ids (default 221,1242)")
    p.add_argument("--initial", type=int, default=300, help="items per catalog at start (default 300)")
    p.add_argument("--generation", choices=["v2", "svc"], default="v2",
                   help="which catalog API to serve (default v2)")
    p.add_argument("--site", default="pt", help="site tld: pt, pl, co.uk ... (default pt)")
    p.add_argument("--bad-every", type=int, default=0,
                   help="every Nth created item is invalid (0 = never)")
    p.add_argument("--legacy-price-every", type=int, default=0,
                   help='every Nth item uses the legacy price:"3.0" + currency form (0 = never)')
    p.add_argument("--token-ttl", type=int, default=3600,
                   help="seconds an access_token_web stays valid (default 3600)")
    p.add_argument("--epoch", type=int, default=DEFAULT_EPOCH,
                   help="unix time of the simulated clock's start (default %d)" % DEFAULT_EPOCH)
    p.add_argument("--user-rate", type=int, default=30, metavar="N",
                   help="GET /api/v2/users/{id}: more than N calls in 10 s answer 429 with"
                        " Retry-After (default 30; 0 = no limit)")
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    p.add_argument("--market", type=int, default=0, metavar="N",
                   help="market mode: N catalogs of tests/sim/market.py (heavy-tailed rates, daily cycle, bursts,"
                        " pushed-up listings, busy parents whose listings live in children) replace --catalogs;"
                        " their listings arrive in time, --market-speed market seconds per second")
    p.add_argument("--market-seed", type=int, default=None, help="market mode: the market's seed (default --seed)")
    p.add_argument("--market-speed", type=float, default=60.0, help="market mode: market seconds per second (default 60)")
    p.add_argument("--market-scale", type=float, default=1.0, help="market mode: every rate times this (default 1)")
    p.add_argument("--market-start-day", type=int, default=10, help="market mode: the market day it starts at (default 10)")
    p.add_argument("--proxies", type=int, default=0, metavar="N",
                   help="also listen on N proxy ports (forward proxies for plain http, each an egress identity"
                        " of its own: POST /_sim/block?proxy=K bans one); their ports go to --port-file after"
                        " the main one, one a line")
    p.add_argument("--auto-tick", type=float, default=0, metavar="SECONDS",
                   help="every SECONDS, add --tick-new new items and --tick-bumps bumps per catalog by itself"
                        " (0 = only on POST /_sim/tick; for demo runs)")
    p.add_argument("--tick-new", type=int, default=20, help="new items per catalog per auto tick (default 20)")
    p.add_argument("--tick-bumps", type=int, default=2, help="bumps per catalog per auto tick (default 2)")
    p.add_argument("--tick-rates", default="", metavar="CAT:N,...",
                   help="new items per auto tick for the catalogs named (the others: --tick-new)")
    a = p.parse_args(argv)
    if a.auto_tick < 0 or a.tick_new < 0 or a.tick_bumps < 0:
        p.error("--auto-tick, --tick-new and --tick-bumps must be >= 0")
    try:
        a.catalogs = [int(c) for c in a.catalogs.split(",") if c.strip()]
    except ValueError:
        p.error("--catalogs: expected comma-joined integers, got %r" % a.catalogs)
    if not a.catalogs or any(c <= 0 for c in a.catalogs) or len(set(a.catalogs)) != len(a.catalogs):
        p.error("--catalogs: need distinct positive catalog ids")
    rates = {}
    for part in (x for x in a.tick_rates.split(",") if x.strip()):
        cat, _, n = part.partition(":")
        try:
            rates[int(cat)] = int(n)
        except ValueError:
            p.error("--tick-rates: expected CAT:N pairs, got %r" % part)
        if int(cat) not in a.catalogs or rates[int(cat)] < 0:
            p.error("--tick-rates: %r: the catalog must be in --catalogs and N >= 0" % part)
    a.tick_rates = rates
    if a.market < 0 or a.market > 5000 or a.market_speed <= 0 or a.market_scale <= 0:
        p.error("--market: 0..5000 catalogs; --market-speed and --market-scale above 0")
    if a.market_seed is None:
        a.market_seed = a.seed
    if a.market:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import market as market_mod
        m = market_mod.Market(a.market_seed, n_catalogs=a.market, scale=a.market_scale)
        a.catalogs = sorted(m.base)  # the market's catalogs and their children (the children hold listings)
    if a.site not in SITES:
        p.error("--site: unknown site %r (known: %s)" % (a.site, " ".join(SITES)))
    for name in ("initial", "bad_every", "legacy_price_every"):
        if getattr(a, name) < 0:
            p.error("--%s: must be >= 0" % name.replace("_", "-"))
    if a.user_rate < 0:
        p.error("--user-rate: must be >= 0")
    if a.token_ttl <= 0:
        p.error("--token-ttl: must be > 0")
    if not 0 <= a.port <= 65535:
        p.error("--port: must be 0..65535")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sim = Sim(args)
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    server.daemon_threads = True
    server.sim = sim
    port = server.server_address[1]
    proxies = []
    for k in range(args.proxies):
        ps = ThreadingHTTPServer((args.bind, 0), Handler)
        ps.daemon_threads = True
        ps.sim, ps.proxy_index = sim, k
        proxies.append(ps)
        threading.Thread(target=ps.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    sim.proxy_ports = [ps.server_address[1] for ps in proxies]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join("%d\n" % p for p in [port] + sim.proxy_ports))
        os.replace(tmp, args.port_file)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if sim.market is not None:
        def market_driver():
            last = time.monotonic()
            while True:
                time.sleep(0.2)
                now = time.monotonic()
                with sim.lock:
                    if sim.market_running:
                        sim.market_step((now - last) * args.market_speed)
                last = now
        threading.Thread(target=market_driver, daemon=True).start()
    if args.auto_tick > 0:
        def auto_tick():
            while True:
                time.sleep(args.auto_tick)
                with sim.lock:
                    sim.world.tick(args.tick_new, args.tick_bumps, args.tick_rates)
        threading.Thread(target=auto_tick, daemon=True).start()
    sys.stderr.write("vinted-sim: listening port=%d generation=%s site=%s seed=%d catalogs=%s items=%d\n"
                     % (port, args.generation, args.site, args.seed,
                        ",".join(map(str, args.catalogs)), len(sim.world.items)))
    sys.stderr.flush()
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    sys.stderr.write("vinted-sim: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
