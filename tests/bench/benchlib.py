"""benchlib.py - what the benchmarks share: machine facts, load average, a
persistent psql session, resident memory of processes, perf profiles, waiting
for workers and for a window, and the summary block every benchmark ends with.

Python 3 standard library only, like tests/harness.py (which it builds on).
"""

import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine(pg=None):
    """One line: cores, CPU model, RAM, kernel, PostgreSQL version."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    pgv = ""
    if pg:
        try:
            pgv = subprocess.run([pg.tool("postgres"), "--version"], capture_output=True, text=True).stdout.strip()
        except OSError:
            pgv = "?"
    return "%d cores (%s), %d MB RAM, Linux %s, %s" % (os.cpu_count(), model, mem, platform.release(), pgv)


class Psql:
    """One psql process kept open: queries without a new connection each time
    (so that polling every few milliseconds costs next to nothing)."""

    MARK = "__vinted_bench_end__"

    def __init__(self, pg, db):
        self.p = subprocess.Popen([pg.tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0",
                                   "-d", pg.dsn(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1, env=harness.clean_env())

    def query(self, sql):
        """Rows as lists of str (fields split on '|')."""
        self.p.stdin.write(sql.strip().rstrip(";") + ";\n\\echo " + self.MARK + "\n")
        self.p.stdin.flush()
        rows = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("psql ended")
            line = line.rstrip("\n")
            if line == self.MARK:
                return rows
            if line.startswith("ERROR:") or line.startswith("psql:"):
                raise RuntimeError(line)
            rows.append(line.split("|"))

    def scalar(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def status_kb(pid, key):
    """VmRSS / VmHWM ... of a process, in kB (None if it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """Samples VmRSS of some processes every interval seconds in a thread; peak()
    is the largest sample, and VmHWM (the kernel's own peak) is read at the end."""

    def __init__(self, procs, interval=0.1):
        self.procs = dict(procs)  # name -> pid
        self.interval = interval
        self.max = {n: 0 for n in self.procs}
        self.anon = {n: 0 for n in self.procs}
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_ev.is_set():
            for n, pid in self.procs.items():
                v = status_kb(pid, "VmRSS")
                if v and v > self.max[n]:
                    self.max[n] = v
                a = status_kb(pid, "RssAnon")
                if a and a > self.anon[n]:
                    self.anon[n] = a
            self.stop_ev.wait(self.interval)

    def start(self):
        self.t.start()
        return self

    def stop(self):
        self.stop_ev.set()
        self.t.join()
        return {n: {"rss_max_kb": self.max[n], "hwm_kb": status_kb(pid, "VmHWM"), "anon_max_kb": self.anon[n]}
                for n, pid in self.procs.items()}


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on


def cpu_seconds(pid, children=False):
    """utime + stime of a process (and of its reaped children), in seconds; 0 if gone."""
    try:
        f = _stat_fields(pid)
    except OSError:
        return 0.0
    ticks = int(f[11]) + int(f[12])       # utime, stime (fields 14, 15)
    if children:
        ticks += int(f[13]) + int(f[14])  # cutime, cstime (16, 17)
    return ticks / CLK_TCK


def cluster_cpu(pg):
    """CPU seconds the PostgreSQL cluster used so far: the postmaster with the
    backends it reaped, plus every live child (backends, writers, autovacuum)."""
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        pm = int(f.readline())
    total = cpu_seconds(pm, children=True)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            f = _stat_fields(int(d))
        except OSError:
            continue
        if int(f[1]) == pm:
            total += (int(f[11]) + int(f[12])) / CLK_TCK
    return total


def procs_cpu(pids):
    return sum(cpu_seconds(p) for p in pids)


def rss_now(procs):
    return {n: status_kb(pid, "VmRSS") for n, pid in procs.items()}


def anon_now(procs):
    return {n: status_kb(pid, "RssAnon") for n, pid in procs.items()}


def perf_usable():
    if not shutil.which("perf"):
        return False
    p = subprocess.run(["perf", "record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"],
                       capture_output=True)
    return p.returncode == 0


class Profile:
    """perf record -e cpu-clock of some pids while it runs; report() sums the
    samples by process and by function."""

    def __init__(self, pids, path, freq=499):
        self.path = path
        self.p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", str(freq), "-q", "-o", path,
                                   "-p", ",".join(str(p) for p in pids)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.p.poll() is None:
            harness.stop_popen(self.p, signal.SIGINT, 30)

    def report(self, names, top=12):
        """{"by_process": [(share %, name)], "top": [(share %, process, symbol)]}.
        names maps pid -> label (a pid's samples are summed under its label)."""
        out = subprocess.run(["perf", "report", "-i", self.path, "--stdio", "--no-children", "-q",
                              "--sort", "pid,sym", "--percent-limit", "0.3"],
                             capture_output=True, text=True).stdout
        rows = []
        for line in out.splitlines():
            m = re.match(r"\s*([\d.]+)%\s+(\d+):\S*\s+\[(.)\]\s+(.*\S)", line)
            if m:
                label = names.get(int(m.group(2)), "pid %s" % m.group(2))
                rows.append((float(m.group(1)), label, m.group(4)))
        by_proc = {}
        out = subprocess.run(["perf", "report", "-i", self.path, "--stdio", "--no-children", "-q",
                              "--sort", "pid"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.match(r"\s*([\d.]+)%\s+(\d+):", line)
            if m:
                label = names.get(int(m.group(2)), "pid %s" % m.group(2))
                by_proc[label] = by_proc.get(label, 0.0) + float(m.group(1))
        return {"by_process": sorted(((v, k) for k, v in by_proc.items()), reverse=True),
                "top": sorted(rows, reverse=True)[:top]}


def wait_workers(pipe, want, timeout, what):
    """Wait until the broker counts at least n workers of each stage s in want
    ({s: n}), checking that the pipeline lives; what names them in the timeout."""
    def ready():
        pipe.check_alive()
        st = pipe.status_json()
        if not st:
            return False
        stages = st.get("stages", {})
        return all(stages.get(s, {}).get("workers", 0) >= n for s, n in want.items())
    harness.wait_until(ready, timeout, 0.1, what)


def wait_window(poll, pipe, wid, interval, deadline=None):
    """Poll (a Psql) window wid's state every interval seconds until it is done or
    failed, or the monotonic deadline (None: none) passes, checking between polls
    that the pipeline lives. (the last state read or None, how many reads)."""
    state = None
    polls = 0
    while deadline is None or time.monotonic() < deadline:
        polls += 1
        state = poll.scalar("SELECT state FROM windows WHERE window_id = %d" % wid)
        if state in ("done", "failed"):
            break
        pipe.check_alive()
        time.sleep(interval)
    return state, polls


def summary(title, lines):
    """The block a benchmark ends with: a title, then aligned 'name: value' lines."""
    width = max((len(k) for k, _ in lines), default=0)
    print("")
    print("==== %s" % title)
    for k, v in lines:
        print("  %-*s  %s" % (width, k, v))
    sys.stdout.flush()


def mb(kb):
    return "%.1f MB" % (kb / 1024.0) if kb else "-"
