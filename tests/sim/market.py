"""market.py - the simulator's market mode: many catalogs whose listings arrive as
the real marketplace's do, deterministic from a seed.

  - N catalogs (ids 20001...), with heavy-tailed arrival rates: a few busy ones at
    thousands of new listings an hour, most at a few a day (a Pareto draw);
  - a daily cycle (busiest in the evening, UTC) and bursts (an hour at 3-6x);
  - pushed-up (bumped) older listings among the new ones, as newest_first shows them;
  - a catalog tree: the busiest catalogs are parents whose listings live in their
    2-4 children (a parent's search shows its children's listings).

The arrivals are a function of (seed, catalog, time): Market.events(t0, t1) gives
every event in [t0, t1) in time order, each ("new", catalog, t) or ("bump",
catalog, t), so the simulator replays them at any speed and the benchmarks read
the same ground truth without a server. Times are unix seconds (float)."""

import math
import random

FIRST_ID = 20001
DAY = 86400.0
HOUR = 3600.0


class Market:
    def __init__(self, seed, n_catalogs=200, start=0.0, scale=1.0, bump_share=0.05,
                 parents=3, burst_per_day=0.5):
        """scale multiplies every rate (the e2e tests run a day's shape in minutes
        by scaling time instead: see speed in the simulator)."""
        rng = random.Random("market-%d" % seed)
        self.seed = seed
        self.start = start
        self.bump_share = bump_share
        self.catalogs = [FIRST_ID + i for i in range(n_catalogs)]
        # listings an hour: Pareto with a heavy tail, from ~0.1 an hour up to ~5,000
        self.base = {}
        for c in self.catalogs:
            r = 0.08 * rng.paretovariate(0.55)
            self.base[c] = min(r, 5000.0) * scale
        self.phase = {c: rng.uniform(-2, 2) * HOUR for c in self.catalogs}
        self.amplitude = {c: rng.uniform(0.3, 0.7) for c in self.catalogs}
        # bursts: per catalog, hour-long episodes at 3-6x, Poisson in time
        self.burst_per_day = burst_per_day
        self.burst_seed = rng.randrange(1 << 30)
        # the tree: the busiest catalogs hold their listings in children
        busiest = sorted(self.catalogs, key=lambda c: -self.base[c])[:parents]
        self.children = {}
        self.parent_of = {}
        next_child = FIRST_ID + n_catalogs
        for p in busiest:
            kids = list(range(next_child, next_child + rng.randint(2, 4)))
            next_child += len(kids)
            self.children[p] = kids
            shares = [rng.uniform(0.5, 1.5) for _ in kids]
            for k, s in zip(kids, shares):
                self.base[k] = self.base[p] * s / sum(shares)
                self.phase[k], self.amplitude[k] = self.phase[p], self.amplitude[p]
                self.parent_of[k] = p
            self.base[p] = 0.0
        self.leaves = [c for c in self.base if c not in self.children]
        self._burst_cache = {}

    def search_catalogs(self, catalog):
        """The leaf catalogs a search of `catalog` shows."""
        return self.children.get(catalog, [catalog])

    def _bursts(self, c, day):
        """Burst episodes (start, end, factor) of leaf c in day number `day`."""
        key = (c, day)
        got = self._burst_cache.get(key)
        if got is not None:
            return got
        rng = random.Random("%d-%d-%d" % (self.burst_seed, c, day))
        out = []
        t = day * DAY
        while True:
            t += rng.expovariate(self.burst_per_day / DAY)
            if t >= (day + 1) * DAY:
                break
            out.append((t, t + HOUR, rng.uniform(3, 6)))
        self._burst_cache[key] = out
        return out

    def _hour_peak(self, c, h):
        """An upper bound of leaf c's rate (an hour) during hour number h."""
        t0, t1 = h * HOUR, (h + 1) * HOUR
        factor = 1.0
        for d in (int(t0 // DAY) - 1, int(t0 // DAY)):
            for b0, b1, f in self._bursts(c, d):
                if b0 < t1 and b1 > t0:
                    factor = max(factor, f)
        return self.base[c] * (1 + self.amplitude[c]) * factor

    def rate(self, c, t):
        """Listings an hour of leaf c at time t."""
        base = self.base[c]
        if base <= 0:
            return 0.0
        daily = 1 + self.amplitude[c] * math.sin(2 * math.pi * (t - 15 * HOUR - self.phase[c]) / DAY)
        factor = 1.0
        day = int(t // DAY)
        for d in (day - 1, day):
            for b0, b1, f in self._bursts(c, d):
                if b0 <= t < b1:
                    factor = max(factor, f)
        return base * daily * factor

    def events(self, t0, t1):
        """Every event in [t0, t1): (t, kind, leaf catalog), time-ordered. Arrivals
        are a Poisson process thinned from each leaf's peak rate, drawn per leaf and
        per hour from their own seed, so any slicing of time gives the same events."""
        out = []
        h0, h1 = int(math.floor(t0 / HOUR)), int(math.ceil(t1 / HOUR))
        for c in self.leaves:
            if self.base[c] <= 0:
                continue
            for h in range(h0, h1):
                peak = self._hour_peak(c, h) / HOUR  # per second
                rng = random.Random("%d-%d-%d" % (self.seed, c, h))
                t = h * HOUR
                while True:
                    t += rng.expovariate(peak)
                    if t >= (h + 1) * HOUR:
                        break
                    keep = rng.random() * peak * HOUR < self.rate(c, t)
                    bump = rng.random() < self.bump_share
                    if keep and t0 <= t < t1:
                        out.append((t, "bump" if bump else "new", c))
        out.sort()
        return out

    def summary(self):
        rates = sorted((self.base[c] for c in self.leaves), reverse=True)
        return {"catalogs": len(self.catalogs), "leaves": len(self.leaves), "parents": len(self.children),
                "per_hour_total": round(sum(rates), 1), "per_hour_top5": [round(r, 1) for r in rates[:5]],
                "per_hour_median": round(rates[len(rates) // 2], 2) if rates else 0}
