"""rawgen.py - a raw archive of catalog pages for the replay benchmark, written
exactly as the store stage (vinted-s3-uploader) would have landed them.

Pages come from the simulator's own world and renderers (tests/sim/vinted_sim.py,
imported): both API generations (each catalog switches from v2 to svc halfway
through its windows, as Vinted did), the sim's awkward titles, a few invalid items,
96 items a page. Each catalog is paged window after window like the fetcher
pages it: newest first, down to the page that reaches the previous window's
high-water mark, at most 10 pages. That gives realistic duplicates: new listings
that arrive while a window pages push items from one page onto the next, bumped
items come back, and the last page of a window repeats what the previous window
already saw.

Objects go under <dir>/store/raw/catalog/<yyyy>/<mm>/<dd>/<hh>/<window>/
<page:02>-<attempt:02>-<fetched_ms>-0.json.gz: gzip of the context line
(common/raw.c's keys, in its order, as cJSON prints them), a newline, the body.
A manifest.json beside the store says what was made; an archive is reused when
its manifest matches the request (same items, seed and generator version).

    python3 tests/bench/rawgen.py --items 100000 [--dir DIR] [--seed 1] [--jobs 2]
"""

import argparse
import gzip
import json
import multiprocessing
import os
import random
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sim"))
import vinted_sim  # noqa: E402

VERSION = 2             # bump when the pages change: cached archives are then rebuilt
PER_PAGE = vinted_sim.MAX_PER_PAGE
MAX_PAGES = vinted_sim.MAX_RESULTS // PER_PAGE
OLD_RUN = 5             # the pager's trailing run of old ids that marks the mark
SITE = "pt"
CATALOGS_PER_10K = 4    # catalogs in the archive: 4 per 10,000 items, at least 8
ITEMS_PER_CATALOG_WINDOW = (200, 800)   # new listings a window finds (uniform)
BAD_EVERY = 700         # one invalid item in this many (quarantined by the transformer)


def default_dir():
    base = os.environ.get("VINTED_BENCH_DIR") or os.path.join(os.environ.get("TMPDIR", "/tmp"), "vinted-bench")
    return base


def archive_dir(base, items, seed):
    return os.path.join(base, "archive-n%d-s%d-v%d" % (items, seed, VERSION))


def context_line(p):
    """The context line as raw.c's s_context prints it with cJSON_PrintUnformatted:
    the same keys in the same order; integers as integers, strings as they are
    (cJSON escapes only '"', '\\' and control characters, as json.dumps does with
    ensure_ascii=False)."""
    keys = ("flow", "window_id", "catalog_id", "page", "attempt", "fetched_at_ms", "http_status", "site",
            "api", "url", "error", "n_items", "max_item_id", "more", "total_pages", "kind", "target_id")
    return json.dumps({k: p[k] for k in keys}, ensure_ascii=False, separators=(",", ":"))


def raw_key(window_id, page, attempt, fetched_ms, target=0, flow="catalog"):
    t = time.gmtime(fetched_ms // 1000)
    return "raw/%s/%04d/%02d/%02d/%02d/%d/%02d-%02d-%d-%d.json.gz" % (
        flow, t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, window_id, page, attempt, fetched_ms, target)


def page_url(api, catalog, page):
    if api == "svc":
        return ("https://api.vinted.%s/svc-catalogue/items?attribute_ids%%5Bcatalog%%5D=%d"
                "&order=newest_first&per_page=%d&page=%d" % (SITE, catalog, PER_PAGE, page))
    return ("https://www.vinted.%s/api/v2/catalog/items?catalog_ids=%d&order=newest_first&per_page=%d&page=%d"
            % (SITE, catalog, PER_PAGE, page))


def more_after(page, ids, total_pages, hwm):
    """The fetcher's stop rule (workers/fetcher/pager.h)."""
    if not ids or page * PER_PAGE >= vinted_sim.MAX_RESULTS or (total_pages and page >= total_pages):
        return False
    if hwm > 0:
        run = 0
        for i in reversed(ids):
            if i > hwm:
                break
            run += 1
        if run >= OLD_RUN or (run == len(ids) and len(ids) < PER_PAGE):
            return False
    return True


def prune(world, cat, keep=1500):
    """Forget listings too old to show again, so that search stays cheap over
    millions of listings (the renderers need nothing else)."""
    recs = world.by_catalog[cat]
    if len(recs) <= keep * 2:
        return
    recs.sort(key=lambda r: (r["activity"], r["id"]))
    world.by_catalog[cat] = recs[-keep:]
    world.items = list(world.by_catalog[cat])
    world.by_id = {r["id"]: r for r in world.items}
    world.by_user = {}
    world.photo_index = {}
    world.photo_ids = set()


def body_of(world, api, cat, page, rng):
    items, total, pages = world.search([cat], page, PER_PAGE)
    render = world.render_svc if api == "svc" else world.render_v2
    obj = {"items": [render(r) for r in items],
           "pagination": {"current_page": page, "total_pages": pages, "total_entries": total,
                          "per_page": PER_PAGE, "time": world.clock},
           "search_tracking_params": {"search_correlation_id": "%032x" % rng.getrandbits(128),
                                      "search_session_id": "%032x" % rng.getrandbits(128)},
           "code": 0}
    # as the simulator serves it (Handler._json): svc has alphabetical keys
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=api == "svc")
    ids = [it["id"] for it in obj["items"] if "id" in it]
    return text.encode("utf-8"), len(obj["items"]), ids, pages


def gen_catalog(args):
    """Every window of one catalog until it holds `quota` item records."""
    store, seed, index, cat, quota, epoch = args
    rng = random.Random("%d/%d" % (seed, cat))
    world = vinted_sim.World(seed * 1000 + index, [cat], 0, SITE, bad_every=BAD_EVERY, epoch=epoch)
    world.next_id = 7000000000 + index * 400000000  # disjoint id ranges across catalogs
    records = pages = 0
    distinct = set()
    api_pages = {"v2": 0, "svc": 0}
    windows = []
    hwm = 0
    w = 0
    # the API generation changes halfway through the catalog's history
    svc_from = quota // 2
    while records < quota:
        w += 1
        window_id = index * 100000 + w
        new = min(rng.randint(*ITEMS_PER_CATALOG_WINDOW), max(20, quota - records))
        world.tick(new, rng.randint(0, new // 25))
        api = "svc" if records >= svc_from else "v2"
        fetched_ms = world.clock * 1000 + rng.randint(50, 900)
        max_seen = hwm
        page = 1
        while True:
            body, n_items, ids, total_pages = body_of(world, api, cat, page, rng)
            more = more_after(page, ids, total_pages, hwm)
            ctx = {"flow": "catalog", "window_id": window_id, "catalog_id": cat, "page": page, "attempt": 0,
                   "fetched_at_ms": fetched_ms, "http_status": 200, "site": SITE, "api": api,
                   "url": page_url(api, cat, page), "error": None, "n_items": n_items,
                   "max_item_id": max(ids) if ids else 0, "more": more, "total_pages": total_pages,
                   "kind": 0, "target_id": 0}
            key = raw_key(window_id, page, 0, fetched_ms)
            path = os.path.join(store, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = context_line(ctx).encode("utf-8") + b"\n" + body
            with open(path + ".tmp", "wb") as f:
                f.write(gzip.compress(data, compresslevel=6, mtime=0))
            os.rename(path + ".tmp", path)
            records += n_items
            pages += 1
            api_pages[api] += 1
            distinct.update(ids)
            if ids:
                max_seen = max(max_seen, max(ids))
            if not more:
                break
            page += 1
            # listings that arrive while the window pages push the last ones of this
            # page onto the next: duplicates across pages
            if rng.random() < 0.35:
                world.tick(rng.randint(1, 4), 0)
            fetched_ms += rng.randint(400, 2500)
        windows.append(window_id)
        hwm = max_seen
        prune(world, cat)
    return {"records": records, "pages": pages, "distinct": len(distinct), "windows": len(windows),
            "api_pages": api_pages, "first_ms": epoch * 1000, "last_ms": world.clock * 1000 + 60000}


def generate(items, base=None, seed=1, jobs=None, quiet=False):
    """Make (or reuse) an archive of about `items` item records; its manifest."""
    base = base or default_dir()
    out = archive_dir(base, items, seed)
    manifest_path = os.path.join(out, "manifest.json")
    try:
        with open(manifest_path) as f:
            m = json.load(f)
        if m.get("version") == VERSION and m.get("requested") == items and m.get("seed") == seed:
            m["dir"] = out
            m["reused"] = True
            return m
    except (OSError, ValueError):
        pass
    shutil.rmtree(out, ignore_errors=True)
    store = os.path.join(out, "store")
    os.makedirs(store)
    n_cat = max(8, items * CATALOGS_PER_10K // 10000)
    catalogs = [2000 + i for i in range(n_cat)]
    quota = [items // n_cat + (1 if i < items % n_cat else 0) for i in range(n_cat)]
    epoch = vinted_sim.DEFAULT_EPOCH
    t0 = time.monotonic()
    work = [(store, seed, i + 1, c, quota[i], epoch) for i, c in enumerate(catalogs)]
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1:
        with multiprocessing.Pool(jobs) as pool:
            parts = pool.map(gen_catalog, work, chunksize=1)
    else:
        parts = [gen_catalog(w) for w in work]
    m = {"version": VERSION, "requested": items, "seed": seed, "site": SITE, "catalogs": n_cat,
         "records": sum(p["records"] for p in parts), "pages": sum(p["pages"] for p in parts),
         "distinct_items": sum(p["distinct"] for p in parts), "windows": sum(p["windows"] for p in parts),
         "pages_v2": sum(p["api_pages"]["v2"] for p in parts),
         "pages_svc": sum(p["api_pages"]["svc"] for p in parts),
         "from_s": min(p["first_ms"] for p in parts) // 1000 // 3600 * 3600,
         "to_s": (max(p["last_ms"] for p in parts) // 1000 // 3600 + 1) * 3600,
         "bytes": 0, "seconds": round(time.monotonic() - t0, 1)}
    for root, _, files in os.walk(store):
        m["bytes"] += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    with open(manifest_path + ".tmp", "w") as f:
        json.dump(m, f, indent=1)
    os.rename(manifest_path + ".tmp", manifest_path)
    m["dir"] = out
    m["reused"] = False
    if not quiet:
        print("archive: %d item records (%d distinct) in %d pages (%d v2, %d svc), %d windows, %.1f MB, made in %.1fs"
              % (m["records"], m["distinct_items"], m["pages"], m["pages_v2"], m["pages_svc"], m["windows"],
                 m["bytes"] / 1e6, m["seconds"]), file=sys.stderr)
    return m


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--items", type=int, default=100000)
    p.add_argument("--dir", default=None, help="where archives live (default $VINTED_BENCH_DIR or $TMPDIR/vinted-bench)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=None)
    a = p.parse_args()
    m = generate(a.items, a.dir, a.seed, a.jobs)
    print(json.dumps(m, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
