"""replay.py - replay throughput against the bare load of the same rows, scaling,
footprint, and where the time goes.

For each setting of T transformers and T sinks (default 1, 2, 4):
  1. an empty database in a private PostgreSQL cluster, the broker, one
     s3-uploader (the store stage, reading a file:// raw archive made by
     rawgen.py), T transformers and T sinks;
  2. `vinted-ctl replay` of the whole archive; the time runs from the request to
     the replay window's state turning `done` (polled every 20 ms on an open
     connection); items/s = item records in the archive / that time;
  3. the peer, in the same database: the final rows of items, users, sightings,
     photos and quarantine are dumped (psql \\copy), the tables truncated, and the
     same rows loaded back with bare COPY into temporary tables + INSERT ... ON
     CONFLICT, in one transaction on one connection; bare items/s = the same item
     records / that time. ratio = pipeline items/s / bare items/s.
Resident memory (VmRSS sampled every 100 ms, and VmHWM) of every process is
recorded idle and under load. With perf usable (`perf record -e cpu-clock`), a
last 1+1 run is profiled: CPU share per process and the hottest functions.

    python3 tests/bench/replay.py [--items 100000] [--scale 1,2,4] [--no-profile]
        [--dir $TMPDIR/vinted-bench] [--keep]
"""

import argparse
import json
import os
import resource
import statistics
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import benchlib  # noqa: E402
import rawgen  # noqa: E402

TABLES = ("items", "users", "sightings", "photos", "quarantine")
KEYS = {"items": "item_id", "users": "user_id", "sightings": "window_id, page, pos",
        "photos": "item_id, photo_id", "quarantine": "window_id, target_id, page, pos, rule"}


def wait_workers(pipe, want, timeout=60):
    benchlib.wait_workers(pipe, want, timeout, "workers %r to announce themselves" % want)


def counts(pg, db):
    return {t: int(pg.scalar(db, "SELECT count(*) FROM %s" % t)) for t in TABLES}


def bare_load(pg, db, workdir):
    """Dump the final rows, truncate, load them back bare; seconds of the load."""
    files = {}
    cols = {}
    for t in TABLES:
        cols[t] = ", ".join(r[0] for r in pg.query(db, "SELECT column_name FROM information_schema.columns "
                                                       "WHERE table_schema = 'public' AND table_name = '%s' "
                                                       "AND is_generated = 'NEVER' ORDER BY ordinal_position" % t))
        files[t] = os.path.join(workdir, "bare-%s.copy" % t)
    dump = "\n".join("\\copy (SELECT %s FROM %s) TO '%s'" % (cols[t], t, files[t]) for t in TABLES)
    pg.execute(db, dump)
    before = counts(pg, db)
    pg.execute(db, "TRUNCATE %s" % ", ".join(TABLES))
    script = ["SELECT pg_backend_pid();", "BEGIN;"]
    for t in TABLES:
        script.append("CREATE TEMP TABLE bare_%s ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA;" % (t, cols[t], t))
        script.append("\\copy bare_%s FROM '%s'" % (t, files[t]))
        script.append("INSERT INTO %s (%s) SELECT %s FROM bare_%s ON CONFLICT (%s) DO NOTHING;"
                      % (t, cols[t], cols[t], t, KEYS[t]))
    script.append("COMMIT;")
    argv = [pg.tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", pg.dsn(db), "-f", "-"]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0 = benchlib.cluster_cpu(pg)
    t0 = time.monotonic()
    p = subprocess.run(argv, input="\n".join(script).encode(), capture_output=True, env=harness.clean_env())
    elapsed = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the backend's CPU counts once the postmaster has reaped it
    backend = int(p.stdout.split()[0]) if p.returncode == 0 and p.stdout.split() else 0
    deadline = time.monotonic() + 5
    while backend and os.path.exists("/proc/%d" % backend) and time.monotonic() < deadline:
        time.sleep(0.01)
    cpu = benchlib.cluster_cpu(pg) - c0 + (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    if p.returncode != 0:
        raise RuntimeError("bare load failed: %s" % p.stderr.decode(errors="replace"))
    after = counts(pg, db)
    if after != before:
        raise RuntimeError("bare load did not reproduce the rows: %r vs %r" % (after, before))
    size = sum(os.path.getsize(f) for f in files.values())
    for f in files.values():
        os.unlink(f)
    return elapsed, sum(before.values()), size, cpu


def run_one(pg, archive, transformers, sinks, workdir, profile_path=None, env=None):
    """One replay of the archive into an empty database, then the bare peer."""
    db = pg.create_db("replay_t%d_s%d" % (transformers, sinks))
    penv = {"VINTED_STORE": "file://" + os.path.join(archive["dir"], "store"), "VINTED_LOG_LEVEL": "warn",
            "VINTED_TASK_TIMEOUT": "10m", "VINTED_IMAGES": "off"}
    penv.update(env or {})
    pipe = harness.Pipeline(workdir, pg, db, None, env=penv)
    res = {"transformers": transformers, "sinks": sinks, "db": db}
    poll = None
    prof = None
    try:
        pipe.start_broker()
        pipe.start_worker("s3-uploader")
        for _ in range(transformers):
            pipe.start_worker("transformer")
        for _ in range(sinks):
            pipe.start_worker("pg-sink")
        pipe.wait_ready(60)
        wait_workers(pipe, {"store": 1, "transform": transformers, "sink": sinks})
        procs = {p.name: p.pid for p in pipe.procs}
        time.sleep(1.0)
        res["rss_idle_kb"] = benchlib.rss_now(procs)
        res["anon_idle_kb"] = benchlib.anon_now(procs)
        poll = benchlib.Psql(pg, db)
        sampler = benchlib.RssSampler(procs).start()
        names = {pid: name for name, pid in procs.items()}
        if profile_path:
            for row in poll.query("SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database()"
                                  " AND application_name LIKE 'vinted%%' AND pid <> pg_backend_pid()"):
                names[int(row[0])] = "postgres (%s)" % row[1]
            prof = benchlib.Profile(list(names), profile_path)
            time.sleep(0.5)
        res["load_before"] = benchlib.loadavg()
        xact0 = int(poll.scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))
        cpu0 = benchlib.cluster_cpu(pg), {n: benchlib.cpu_seconds(pid) for n, pid in procs.items()}
        t0 = time.monotonic()
        rc, out, err = pipe.ctl("replay", "--flow", "catalog", "--from", str(archive["from_s"]),
                                "--to", str(archive["to_s"]), "--json", timeout=120)
        if rc != 0:
            raise RuntimeError("replay refused: %s %s" % (out, err))
        wid = json.loads(out)["window_id"]
        state, polls = benchlib.wait_window(poll, pipe, wid, 0.02, time.monotonic() + 3600)
        elapsed = time.monotonic() - t0
        cpu1 = benchlib.cluster_cpu(pg), {n: benchlib.cpu_seconds(pid) for n, pid in procs.items()}
        res["cpu"] = {n: cpu1[1][n] - cpu0[1][n] for n in procs}
        res["cpu"]["postgres"] = cpu1[0] - cpu0[0]
        res["load_during"] = benchlib.loadavg()
        if prof:
            prof.stop()
        res["rss_load"] = sampler.stop()
        if state != "done":
            raise RuntimeError("replay window %d ended %s: %s" % (wid, state, poll.query(
                "SELECT error FROM windows WHERE window_id = %d" % wid)))
        row = poll.query("SELECT extract(epoch FROM finished_at - started_at), pages_done, items "
                         "FROM windows WHERE window_id = %d" % wid)[0]
        res["db_seconds"] = float(row[0])
        res["pages"] = int(row[1])
        res["seconds"] = elapsed
        res["rows"] = counts(pg, db)
        res["transactions"] = int(poll.scalar("SELECT xact_commit FROM pg_stat_database "
                                              "WHERE datname = current_database()")) - xact0 - polls - 2
        time.sleep(1.0)
        res["rss_idle_after_kb"] = benchlib.rss_now(procs)
        if prof:
            res["profile"] = prof.report(names)
    finally:
        if prof:
            prof.stop()
        if poll:
            poll.close()
        pipe.stop()
    problems = pipe.unexpected_exits() + pipe.sanitizer_errors()
    if problems:
        raise RuntimeError("programs misbehaved: %s" % problems)
    if res["pages"] != archive["pages"]:
        raise RuntimeError("replayed %d pages, the archive has %d" % (res["pages"], archive["pages"]))
    res["items_per_s"] = archive["records"] / res["seconds"]
    bare_s, bare_rows, bare_bytes, bare_cpu = bare_load(pg, db, workdir)
    res["bare_seconds"] = bare_s
    res["bare_cpu"] = bare_cpu
    res["bare_rows"] = bare_rows
    res["bare_bytes"] = bare_bytes
    res["bare_items_per_s"] = archive["records"] / bare_s
    res["bare_rows_per_s"] = bare_rows / bare_s
    res["ratio"] = res["items_per_s"] / res["bare_items_per_s"]
    res["load_after"] = benchlib.loadavg()
    return res


def line(r):
    cpu = r["cpu"]
    return ("T=%d S=%d: %.2fs (last page committed after %.2fs), %.0f items/s, cpu %.1fs [%s]; "
            "bare %.2fs, %.0f items/s (%.0f rows/s), cpu %.1fs; ratio %.1f%%; %d transactions; load %s"
            % (r["transformers"], r["sinks"], r["seconds"], r["db_seconds"], r["items_per_s"], sum(cpu.values()),
               " ".join("%s %.1f" % (n, v) for n, v in sorted(cpu.items())), r["bare_seconds"],
               r["bare_items_per_s"], r["bare_rows_per_s"], r["bare_cpu"], 100 * r["ratio"], r["transactions"],
               r["load_during"]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--items", type=int, default=100000, help="item records in the archive (default 100000)")
    p.add_argument("--scale", default="1,2,4", help="transformers (= sinks) per run, comma-separated")
    p.add_argument("--repeat", type=int, default=2, help="runs (pipeline, then bare) per setting; medians reported")
    p.add_argument("--dir", default=None, help="archive cache (default $VINTED_BENCH_DIR or $TMPDIR/vinted-bench)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-profile", action="store_true", help="skip the profiled run")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for every program (repeatable)")
    a = p.parse_args()
    scale = [int(x) for x in a.scale.split(",") if x.strip()]
    env = dict(kv.split("=", 1) for kv in a.env)

    archive = rawgen.generate(a.items, a.dir, a.seed)
    print("archive %s: %d item records (%d distinct), %d pages (%d v2, %d svc), %.1f MB gzip%s"
          % (archive["dir"], archive["records"], archive["distinct_items"], archive["pages"], archive["pages_v2"],
             archive["pages_svc"], archive["bytes"] / 1e6, ", reused" if archive["reused"] else
             ", made in %.1fs" % archive["seconds"]), flush=True)
    workdir = tempfile.mkdtemp(prefix="vinted-bench-replay.")
    pg = harness.PgCluster()
    pg.start()
    results = {}
    prof = None
    try:
        print("machine: %s" % benchlib.machine(pg), flush=True)
        for rep in range(a.repeat):
            for n in scale:
                r = run_one(pg, archive, n, n, workdir, env=env)
                results.setdefault(n, []).append(r)
                print(line(r), flush=True)
        if not a.no_profile and benchlib.perf_usable():
            prof = run_one(pg, archive, 1, 1, workdir, profile_path=os.path.join(workdir, "perf.data"), env=env)
        elif not a.no_profile:
            print("profile: perf record -e cpu-clock is not usable here: skipped", flush=True)
    finally:
        pg.stop()
        if a.keep:
            print("work directory kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    med = statistics.median
    lines = [("machine", benchlib.machine()),
             ("archive", "%d item records (%d distinct), %d pages (%d v2, %d svc), %.1f MB"
              % (archive["records"], archive["distinct_items"], archive["pages"], archive["pages_v2"],
                 archive["pages_svc"], archive["bytes"] / 1e6)),
             ("method", "median of %d runs per setting; bare = COPY into temp tables + INSERT .. ON CONFLICT of "
                        "the same final rows, one transaction" % a.repeat)]
    summary = {}
    for n in scale:
        rs = results[n]
        s = summary[n] = {
            "items_per_s": med(r["items_per_s"] for r in rs),
            "bare_items_per_s": med(r["bare_items_per_s"] for r in rs),
            "bare_rows_per_s": med(r["bare_rows_per_s"] for r in rs),
            "ratio": med(r["ratio"] for r in rs),
            "cpu": med(sum(r["cpu"].values()) for r in rs),
            "bare_cpu": med(r["bare_cpu"] for r in rs),
            "seconds": med(r["seconds"] for r in rs),
            "bare_seconds": med(r["bare_seconds"] for r in rs),
        }
        tag = "T=%d S=%d" % (n, n)
        lines.append((tag + " pipeline", "%.0f items/s (%.2f s; runs: %s)" % (
            s["items_per_s"], s["seconds"], ", ".join("%.0f" % r["items_per_s"] for r in rs))))
        lines.append((tag + " bare COPY+upsert", "%.0f items/s (%.2f s; %.0f rows/s of %d rows; runs: %s)" % (
            s["bare_items_per_s"], s["bare_seconds"], s["bare_rows_per_s"], rs[0]["bare_rows"],
            ", ".join("%.0f" % r["bare_items_per_s"] for r in rs))))
        lines.append((tag + " ratio", "%.1f%% of bare (runs: %s)%s" % (
            100 * s["ratio"], ", ".join("%.1f%%" % (100 * r["ratio"]) for r in rs),
            "  target >= 40%%: %s" % ("met" if s["ratio"] >= 0.4 else "MISSED") if n == 1 else "")))
        lines.append((tag + " cpu", "pipeline %.1f s (%.0f us/item), bare %.1f s (%.0f us/item): cpu ratio %.1f%%"
                      % (s["cpu"], 1e6 * s["cpu"] / archive["records"], s["bare_cpu"],
                         1e6 * s["bare_cpu"] / archive["records"], 100 * s["bare_cpu"] / s["cpu"])))
        cpu = {}
        for r in rs:
            for k, v in r["cpu"].items():
                key = k.rsplit("-", 1)[0] if k[-1].isdigit() else k
                cpu.setdefault(key, []).append(v)
        lines.append((tag + " cpu by process", ", ".join("%s %.1f s" % (k, sum(v) / len(rs)) for k, v in
                                                         sorted(cpu.items(), key=lambda kv: -sum(kv[1])))))
        lines.append((tag + " load average", ", ".join(r["load_during"] for r in rs)))
    base = summary.get(scale[0]) if scale else None
    for n in scale[1:]:
        lines.append(("scaling T=%d vs T=%d" % (n, scale[0]), "x%.2f" % (summary[n]["items_per_s"] / base["items_per_s"])))
    first = results[scale[0]][0] if scale else None
    if first:
        for name in sorted(first["rss_load"]):
            hwm = max(r["rss_load"][name]["hwm_kb"] or 0 for r in results[scale[0]])
            lines.append(("rss %s" % name, "idle %s, under load max %s (VmHWM %s), idle after %s; "
                                           "private (RssAnon) idle %s, under load max %s"
                          % (benchlib.mb(first["rss_idle_kb"].get(name)),
                             benchlib.mb(max(r["rss_load"][name]["rss_max_kb"] for r in results[scale[0]])),
                             benchlib.mb(hwm), benchlib.mb(first["rss_idle_after_kb"].get(name)),
                             benchlib.mb(first["anon_idle_kb"].get(name)),
                             benchlib.mb(max(r["rss_load"][name]["anon_max_kb"] for r in results[scale[0]])))))
        worst = 0
        for n in scale:
            for r in results[n]:
                for name, v in r["rss_load"].items():
                    if name != "broker":
                        worst = max(worst, v["hwm_kb"] or 0)
        lines.append(("rss worst worker (all runs)", "%s (target < 16 MB): %s"
                      % (benchlib.mb(worst), "met" if worst < 16 * 1024 else "MISSED")))
    if prof and "profile" in prof:
        lines.append(("profiled run", "T=1 S=1 %.0f items/s under perf record -e cpu-clock" % prof["items_per_s"]))
        for share, name in prof["profile"]["by_process"][:8]:
            lines.append(("cpu share %s" % name, "%.1f%%" % share))
        for share, name, sym in prof["profile"]["top"]:
            lines.append(("hot %s" % name, "%5.1f%%  %s" % (share, sym)))
    benchlib.summary("replay benchmark (%d item records)" % archive["records"], lines)
    for n in scale:
        harness.figure("replay_t%d_items_per_s" % n, "%.0f" % summary[n]["items_per_s"])
        harness.figure("replay_t%d_bare_items_per_s" % n, "%.0f" % summary[n]["bare_items_per_s"])
        harness.figure("replay_t%d_ratio_pct" % n, "%.1f" % (100 * summary[n]["ratio"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
