"""harness.py - the end-to-end test harness: real programs, a real PostgreSQL
cluster and the simulated Vinted, wired together for unittest. (Over 1,100 lines:
one module on purpose, so that every e2e test imports the same small set of
classes below, each a few screens long; split it along those classes if it grows.)

    PgCluster  a private PostgreSQL cluster under a temp dir (one per test module);
               it can be restarted or stopped for a while and started again
    Sim        tests/sim/vinted_sim.py as a process, and its admin API (/_sim/...)
    Pipeline   the vinted-* programs as real processes sharing one environment
    FaultyProxy  an HTTP proxy in front of an S3 server that fails every Nth request,
               or every request while it is "down" (503, reset, or refused connections)
    MemorySampler  a process's resident memory sampled in a thread (peak VmRSS)
    BackgroundThread  the daemon thread and stop event of an object that works in
               the background (MemorySampler, test_chaos's Feeder)
    stop_popen, relay_response  a process stopped by signal, then killed; an
               upstream HTTP answer relayed by a proxy's request handler
    E2ETestCase  a TestCase that builds a fresh database + sim + pipeline per test,
               prints every log's tail when the test fails and fails the test if a
               program hit a sanitizer error or died on its own
    assert_db_matches_truth  the database holds exactly what the sim says exists

Python 3 standard library only. PostgreSQL is reached through its CLI tools.
Environment: VINTED_BIN (programs, default bin/), VINTED_KEEP_TMP=1 keeps the
temp dirs (logs, cluster) even when every test passes.
"""

import decimal
import glob
import http.client
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM_SCRIPT = os.path.join(REPO, "tests", "sim", "vinted_sim.py")
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
TAIL_LINES = 40
KEEP_TMP = os.environ.get("VINTED_KEEP_TMP") == "1"

PROGRAMS = {
    "broker": "vinted-broker",
    "fetcher": "vinted-fetcher",
    "transformer": "vinted-transformer",
    "pg-sink": "vinted-pg-sink",
    "s3-uploader": "vinted-s3-uploader",
    "ctl": "vinted-ctl",
    "selftest": "vinted-selftest",
}


# ---------------------------------------------------------------------------
# small helpers

def bin_dir():
    """Where the programs under test live: $VINTED_BIN, default <repo>/bin."""
    d = os.environ.get("VINTED_BIN") or os.path.join(REPO, "bin")
    return os.path.abspath(d)


def program_path(kind):
    return os.path.join(bin_dir(), PROGRAMS.get(kind, kind))


_PORTS_GIVEN = set()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago, and never one this
    process handed out before (the kernel may offer a just-closed port again: a
    broker once got the same port for its worker and control endpoints)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port
    raise AssertionError("no fresh TCP port after 100 tries")


def clean_env(extra=None):
    """The caller's environment without any VINTED_* setting, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VINTED_")}
    env["PGCLIENTENCODING"] = "UTF8"
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def run_program(kind, args=(), env=None, timeout=10, wrapper=()):
    """Run a program to completion: (exit code, stdout, stderr).
    A run that outlives timeout is killed and reported as exit code 124.
    wrapper: a command prefix (e.g. valgrind and its options)."""
    argv = list(wrapper) + [program_path(kind)] + [str(a) for a in args]
    try:
        p = subprocess.run(argv, env=clean_env(env), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        err = (e.stderr or b"").decode("utf-8", "replace")
        return 124, out, err + "\n[harness] %s %s: killed after %ss\n" % (argv[0], " ".join(argv[1:]), timeout)


def sanitizer_lines(text):
    return [line for line in text.splitlines() if any(p in line for p in SANITIZER_PATTERNS)]


def tail(path, n=TAIL_LINES):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return ["(cannot read %s: %s)" % (path, e)]
    return lines[-n:]


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Poll predicate() until it returns a true value, which is returned.
    AssertionError naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def stop_popen(popen, sig, timeout):
    """Send sig to a running subprocess.Popen, wait up to timeout seconds for it to
    end, and kill it if it has not: its exit status."""
    popen.send_signal(sig)
    try:
        return popen.wait(timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        return popen.wait()


class BackgroundThread:
    """The thread of an object that works in the background until asked to stop: a
    daemon thread named `name` runs self._run, which ends once self._stop is set.
    start() starts it and returns the object; the subclass's stop() sets the event."""

    def __init__(self, name):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self):
        self._thread.start()
        return self


def is_asan_build():
    """Are the programs under test the ASan+UBSan build? (VINTED_BIN is bin-asan/)"""
    return os.path.basename(bin_dir().rstrip("/")) == "bin-asan"


def proc_memory_kb(pid):
    """{"VmRSS": kB, "VmHWM": kB, ...} of a live process from /proc/PID/status;
    {} when it is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key.startswith("Vm") and rest.strip().endswith("kB"):
                    out[key] = int(rest.split()[0])
    except (OSError, ValueError):
        return {}
    return out


class MemorySampler(BackgroundThread):
    """Samples the resident memory (VmRSS) of a process every `interval` seconds in
    a thread. pid_fn() names the process at each sample (it may be restarted).

        m = MemorySampler(lambda: pipe.broker().pid).start()
        ...
        m.stop(); m.peak_kb, m.samples
    """

    def __init__(self, pid_fn, interval=0.1):
        self.pid_fn, self.interval = pid_fn, interval
        self.peak_kb = 0
        self.last_kb = 0
        self.samples = 0
        self.series = []  # (monotonic seconds, kB)
        super().__init__("memory-sampler")

    def sample(self):
        pid = self.pid_fn()
        kb = proc_memory_kb(pid).get("VmRSS", 0) if pid else 0
        if kb:
            self.last_kb = kb
            self.peak_kb = max(self.peak_kb, kb)
            self.samples += 1
            self.series.append((time.monotonic(), kb))
        return kb

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        return self


def figure(name, value):
    """Record a measured figure as a line the lead can grep: FIGURE name=value."""
    if isinstance(value, float):
        value = "%.2f" % value
    print("FIGURE %s=%s" % (name, value), flush=True)


# ---------------------------------------------------------------------------
# PostgreSQL

def _unescape_copy(field):
    """One field of COPY's text format back to a str (None for \\N)."""
    if field == "\\N":
        return None
    if "\\" not in field:
        return field
    out = []
    i, n = 0, len(field)
    simple = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
    while i < n:
        c = field[i]
        if c != "\\" or i + 1 == n:
            out.append(c)
            i += 1
            continue
        d = field[i + 1]
        if d in simple:
            out.append(simple[d])
            i += 2
        elif d in "01234567":
            j = i + 1
            while j < n and j < i + 4 and field[j] in "01234567":
                j += 1
            out.append(chr(int(field[i + 1:j], 8)))
            i = j
        elif d == "x" and i + 2 < n and field[i + 2] in "0123456789abcdefABCDEF":
            j = i + 2
            while j < n and j < i + 4 and field[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(chr(int(field[i + 2:j], 16)))
            i = j
        else:
            out.append(d)
            i += 2
    return "".join(out)


class PgCluster:
    """A private PostgreSQL cluster under a temp dir, listening on 127.0.0.1.

        pg = PgCluster(); pg.start()
        db = pg.create_db("t1")
        pg.query(db, "SELECT 1")      -> [("1",)]
        pg.stop()
    """

    def __init__(self):
        self.bindir = self._find_bindir()
        self.root = tempfile.mkdtemp(prefix="vinted-pg-")
        self.data = os.path.join(self.root, "data")
        self.logfile = os.path.join(self.root, "postgres.log")
        self.port = None
        self.running = False
        self._dbs = 0
        # initdb refuses to run as root: the cluster then belongs to user postgres.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @staticmethod
    def _find_bindir():
        def version(path):
            m = re.search(r"/postgresql/(\d+)(?:\.(\d+))?/bin", path)
            return (int(m.group(1)), int(m.group(2) or 0)) if m else (0, 0)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
        if found:
            return os.path.dirname(found[-1])
        initdb = shutil.which("initdb")
        if initdb:
            return os.path.dirname(os.path.realpath(initdb))
        raise RuntimeError("PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): "
                           "run tests/install-deps.sh")

    def tool(self, name):
        path = os.path.join(self.bindir, name)
        return path if os.path.exists(path) else (shutil.which(name) or name)

    def _run(self, argv, as_owner=False, timeout=120):
        argv = (self.as_user if as_owner else []) + argv
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("%s failed (exit %d): %s%s" % (
                " ".join(argv), p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace")))
        return p.stdout.decode("utf-8", "replace")

    def start(self):
        if self.as_user:
            try:
                shutil.chown(self.root, "postgres", "postgres")
            except LookupError:
                raise RuntimeError("running as root needs the user 'postgres' to own the cluster "
                                   "(it comes with the postgresql package: run tests/install-deps.sh)")
        self._run([self.tool("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                   "--no-sync", "-E", "UTF8", "--locale=C"], as_owner=True)
        last_error = None
        for _ in range(5):  # the port may be taken between choosing and binding it
            self.port = free_port()
            opts = "-p %d -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " \
                   "-c full_page_writes=off -k %s" % (self.port, shlex.quote(self.root))
            try:
                self._run([self.tool("pg_ctl"), "-D", self.data, "-l", self.logfile, "-w",
                           "-t", "60", "-o", opts, "start"], as_owner=True)
            except RuntimeError as e:
                last_error = e
                continue
            self.running = True
            self.opts = opts
            break
        if not self.running:
            raise RuntimeError("PostgreSQL did not start: %s\n%s" % (last_error, "\n".join(tail(self.logfile))))
        wait_until(self._ready, 30, 0.1, "pg_isready on port %d" % self.port)
        return self

    def _ready(self):
        p = subprocess.run([self.tool("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", "postgres", "-q"], capture_output=True)
        return p.returncode == 0

    def stop(self):
        if self.running:
            try:
                self._run([self.tool("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"],
                          as_owner=True, timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print("[harness] stopping PostgreSQL: %s" % e, file=sys.stderr)
            self.running = False
        if KEEP_TMP:
            print("[harness] PostgreSQL cluster kept in %s" % self.root, file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def restart(self):
        """pg_ctl restart -m fast: every connection is cut; same port, same data."""
        self._run([self.tool("pg_ctl"), "-D", self.data, "-l", self.logfile, "-m", "fast", "-w",
                   "-t", "60", "-o", self.opts, "restart"], as_owner=True)
        wait_until(self._ready, 30, 0.1, "pg_isready on port %d after a restart" % self.port)

    def pause(self):
        """Stop the server (fast shutdown) and keep its data dir and port for resume()."""
        self._run([self.tool("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"], as_owner=True, timeout=60)

    def resume(self):
        """Start a server stopped by pause() again, on the same port."""
        self._run([self.tool("pg_ctl"), "-D", self.data, "-l", self.logfile, "-w", "-t", "60",
                   "-o", self.opts, "start"], as_owner=True)
        wait_until(self._ready, 30, 0.1, "pg_isready on port %d after a resume" % self.port)

    def dsn(self, db):
        return "host=127.0.0.1 port=%d user=postgres dbname=%s" % (self.port, db)

    def create_db(self, hint="test"):
        """A new empty database named after hint; returns its name."""
        self._dbs += 1
        name = "%s_%d" % (re.sub(r"[^a-z0-9]+", "_", hint.lower()).strip("_")[-40:] or "db", self._dbs)
        self._run([self.tool("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name])
        return name

    def _psql(self, db, sql, timeout=60):
        # the SQL goes through stdin: no limit on its size
        argv = [self.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn(db), "-f", "-"]
        p = subprocess.run(argv, input=sql.encode("utf-8"), capture_output=True, timeout=timeout,
                           env=clean_env())
        if p.returncode != 0:
            raise RuntimeError("psql failed on %r: %s" % (sql[:200], p.stderr.decode("utf-8", "replace").strip()))
        return p.stdout.decode("utf-8")

    def execute(self, db, sql):
        """Run any SQL statement(s); returns psql's output."""
        return self._psql(db, sql)

    def query(self, db, sql):
        """Rows of a SELECT as tuples of str (None for NULL), exact for any text:
        the query runs inside COPY ... TO STDOUT and its text format is decoded."""
        sql = sql.strip().rstrip(";")
        out = self._psql(db, "COPY (%s) TO STDOUT;" % sql)
        return [tuple(_unescape_copy(f) for f in line.split("\t")) for line in out.split("\n") if line != ""]

    def scalar(self, db, sql):
        rows = self.query(db, sql)
        return rows[0][0] if rows else None

    def table_exists(self, db, name):
        return self.scalar(db, "SELECT to_regclass('public.%s') IS NOT NULL" % name) == "t"


# ---------------------------------------------------------------------------
# the simulated Vinted

class Sim:
    """tests/sim/vinted_sim.py as a process, driven through its admin API."""

    def __init__(self, workdir, seed=1, catalogs=(221,), initial=300, generation="v2",
                 bad_every=0, legacy_price_every=0, extra_args=()):
        self.workdir = workdir
        self.log = os.path.join(workdir, "sim.log")
        self.port_file = os.path.join(workdir, "sim.port")
        self.argv = [sys.executable, SIM_SCRIPT, "--port", "0", "--port-file", self.port_file,
                     "--seed", str(seed), "--catalogs", ",".join(str(c) for c in catalogs),
                     "--initial", str(initial), "--generation", generation]
        if bad_every:
            self.argv += ["--bad-every", str(bad_every)]
        if legacy_price_every:
            self.argv += ["--legacy-price-every", str(legacy_price_every)]
        self.argv += list(extra_args)
        self.catalogs = list(catalogs)
        self.generation = generation
        self.proc = None
        self.url = None

    def start(self, timeout=20):
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT, cwd=REPO)

        def port():
            if self.proc.poll() is not None:
                raise AssertionError("the simulator exited with %s:\n%s" % (
                    self.proc.returncode, "\n".join(tail(self.log))))
            try:
                with open(self.port_file) as f:
                    lines = f.read().split()
                return [int(x) for x in lines] if lines and all(x.isdigit() for x in lines) else None
            except OSError:
                return None
        ports = wait_until(port, timeout, 0.05, "the simulator's port file")
        self.url = "http://127.0.0.1:%d" % ports[0]
        # --proxies N: forward proxies, each an egress identity (VINTED_PROXIES)
        self.proxies = ["http://127.0.0.1:%d" % p for p in ports[1:]]
        return self

    def block(self, proxy, on=True):
        """Requests through proxy index `proxy` get 403 (DataDome) until unblocked."""
        return self._call("POST", "/_sim/block?proxy=%d&on=%d" % (proxy, 1 if on else 0))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            stop_popen(self.proc, signal.SIGTERM, 5)
        if self.proc:
            self._logf.close()
        self.proc = None

    def _call(self, method, path, body=None, timeout=30):
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            raise AssertionError("sim %s %s answered %d: %s" % (method, path, e.code, e.read()[:300]))
        return json.loads(text) if text.strip() else None

    def tick(self, new=0, bumps=0, rates=None):
        """rates: {catalog: new items} for the catalogs named (the others get new)."""
        q = {"new": new, "bumps": bumps}
        if rates:
            q["rates"] = ",".join("%d:%d" % kv for kv in sorted(rates.items()))
        return self._call("POST", "/_sim/tick?" + urllib.parse.urlencode(q))

    def truth(self):
        return self._call("GET", "/_sim/truth")["items"]

    def faults(self, faults):
        return self._call("POST", "/_sim/faults", {"faults": list(faults)})

    def clear_faults(self):
        return self._call("DELETE", "/_sim/faults")

    def stats(self):
        return self._call("GET", "/_sim/stats")

    def evolve(self, **counts):
        """POST /_sim/evolve: price_changes, sold, reserved, removed, hidden, favourites (per catalog)."""
        query = urllib.parse.urlencode({k: int(v) for k, v in counts.items()})
        return self._call("POST", "/_sim/evolve?" + query)

    def truth_states(self):
        return {int(s["item_id"]): s for s in self._call("GET", "/_sim/truth/states")["items"]}

    def truth_users(self):
        return {int(u["user_id"]): u for u in self._call("GET", "/_sim/truth/users")["users"]}

    def truth_photos(self):
        return {(int(p["item_id"]), int(p["photo_id"])): p for p in self._call("GET", "/_sim/truth/photos")["photos"]}

    def reset_stats(self):
        return self._call("POST", "/_sim/reset-stats")


# ---------------------------------------------------------------------------
# an object store that fails

def relay_response(handler, status, headers, data, skip):
    """Answer the request a BaseHTTPRequestHandler holds with an upstream answer:
    its status, its headers (name, value) but those whose lower-case name is in
    skip, a Content-Length for data, and data itself (not to a HEAD)."""
    handler.send_response(status)
    for k, v in headers:
        if k.lower() not in skip:
            handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


class FaultyProxy:
    """An S3 endpoint on 127.0.0.1 that forwards to an upstream server (s3rver) but
    fails some requests: every `every`-th one (0: none) with, in turn, 503 SlowDown,
    500 InternalError or a connection closed without an answer; and every request
    while it is down(mode):
        "503"     503 SlowDown
        "reset"   the connection is closed without an answer
        "refuse"  nothing listens on the port: connections are refused
        "hang"    the request is held without an answer until up() (a black hole)
    up() ends the outage. count and failed count requests seen and failed.
    It forwards any HTTP server: the simulator's image CDN as well as s3rver."""

    MODES = ("503", "reset", "refuse", "hang")

    def __init__(self, upstream_port, every=0):
        self.upstream_port, self.every = upstream_port, every
        self.count = self.failed = 0
        self.mode = None
        self.lock = threading.Lock()
        self.port = None
        self._server = None
        self._listen()

    def _listen(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port or 0), _FaultyHandler)
        server.daemon_threads = True
        server.proxy = self
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, name="s3-proxy", daemon=True).start()

    def _close(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def down(self, mode="503"):
        if mode not in self.MODES:
            raise ValueError("FaultyProxy.down: mode must be one of %s" % ", ".join(self.MODES))
        with self.lock:
            self.mode = mode
        if mode == "refuse":
            self._close()

    def up(self):
        with self.lock:
            refused, self.mode = self.mode == "refuse", None
        if refused:
            self._listen()

    def stop(self):
        self._close()


class _FaultyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _fault(self, kind):
        if kind == "hang":
            proxy = self.server.proxy
            deadline = time.monotonic() + 120
            while proxy.mode == "hang" and time.monotonic() < deadline:
                time.sleep(0.05)
            kind = "reset"
        if kind == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        slow = kind == "503"
        text = b"<Error><Code>%s</Code></Error>" % (b"SlowDown" if slow else b"InternalError")
        self.send_response(503 if slow else 500)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def _handle(self):
        proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with proxy.lock:
            proxy.count += 1
            n = proxy.count
            kind = proxy.mode
            if kind is None and proxy.every and n % proxy.every == 0:
                kind = ("503", "500", "reset")[(n // proxy.every) % 3]
            if kind:
                proxy.failed += 1
        try:
            if kind:
                return self._fault(kind)
            try:
                self._forward(body)
            except (ConnectionRefusedError, http.client.HTTPException, TimeoutError):  # upstream gone
                self._fault("reset")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on us
            self.close_connection = True

    def _forward(self, body):
        proxy = self.server.proxy
        conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
        conn.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST") else None,
                     headers=headers)
        r = conn.getresponse()
        data = r.read()
        relay_response(self, r.status, r.getheaders(), data, ("connection", "transfer-encoding", "content-length"))
        conn.close()

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _handle


# ---------------------------------------------------------------------------
# the pipeline's processes

class Proc:
    """One running program: its kind, name, argv, environment and log file."""

    def __init__(self, kind, name, argv, env, log):
        self.kind, self.name, self.argv, self.env, self.log = kind, name, argv, env, log
        self.popen = None
        self.signalled = False  # the harness ended it: its exit is expected
        self.exits = []         # (exit code, expected) of every past instance

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def __repr__(self):
        return "<%s pid=%s>" % (self.name, self.pid)


class Pipeline:
    """The programs under test as real processes with one shared environment.

        pipe = Pipeline(workdir, pg, db, sim, api="v2", env={"VINTED_RATE": "600"})
        pipe.start_all(fetchers=1, transformers=1, sinks=1)
        rc, out, err = pipe.ctl("window", "--catalog", "221", "--wait")
        pipe.stop()
    """

    WORKERS = ("fetcher", "transformer", "pg-sink", "s3-uploader")

    def __init__(self, workdir, pg, db, sim, api="v2", env=None, wrapper=None):
        """wrapper: None, or a function name -> command prefix (a list) that every program
        started here runs under, e.g. valgrind with a log file per name; vinted-ctl
        runs are named "ctl"."""
        self.workdir, self.pg, self.db, self.sim = workdir, pg, db, sim
        self.wrapper = wrapper
        self.env = clean_env({
            "VINTED_BROKER": "tcp://127.0.0.1:%d" % free_port(),
            "VINTED_CONTROL": "tcp://127.0.0.1:%d" % free_port(),
            "VINTED_PG": pg.dsn(db),
            "VINTED_SITE": "pt",
            "VINTED_API": api,
            "VINTED_WWW_URL": sim.url if sim else "",
            "VINTED_API_URL": sim.url if sim else "",
            "VINTED_CATALOGS": "",
            "VINTED_WINDOW": "1h",
            "VINTED_RATE": "6000",
            "VINTED_BACKOFF_BASE": "50ms",
            "VINTED_BACKOFF_MAX": "1s",
            "VINTED_BLOCK_BACKOFF": "2s",
            "VINTED_TASK_TIMEOUT": "10s",
            "VINTED_LOG_LEVEL": "info",
            "VINTED_STORE": "file://" + os.path.join(workdir, "store"),
            # the catalog tests exercise the catalog flow alone; the flows tests turn these on
            "VINTED_IMAGES": "off",
            "VINTED_TRACK_EVERY": "0",
            "VINTED_CATALOGS_EVERY": "0",
            "VINTED_CDN_URL": sim.url if sim else "",
        })
        if env:
            self.env.update({k: str(v) for k, v in env.items()})
        self.procs = []
        self.ctl_sanitizer = []  # sanitizer lines from vinted-ctl runs
        self._counts = {}
        self._lock = threading.Lock()

    # -- processes

    def _spawn(self, proc):
        with open(proc.log, "ab") as f:
            f.write(("==== [harness] %s start: %s\n" % (time.strftime("%H:%M:%S"), " ".join(proc.argv))).encode())
            f.flush()
            proc.popen = subprocess.Popen(proc.argv, env=proc.env, stdin=subprocess.DEVNULL,
                                          stdout=f, stderr=subprocess.STDOUT, cwd=self.workdir)
        proc.signalled = False
        return proc

    def _start(self, kind, env=None, args=()):
        path = program_path(kind)
        if not os.access(path, os.X_OK):
            raise AssertionError("%s is missing: build it first (make)" % path)
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            name = kind if kind == "broker" else "%s-%d" % (kind, self._counts[kind])
        penv = dict(self.env)
        if env:
            penv.update({k: str(v) for k, v in env.items()})
        prefix = list(self.wrapper(name)) if self.wrapper else []
        proc = Proc(kind, name, prefix + [path] + list(args), penv, os.path.join(self.workdir, name + ".log"))
        self.procs.append(proc)
        return self._spawn(proc)

    def start_broker(self, env=None):
        return self._start("broker", env)

    def start_worker(self, kind, env=None):
        if kind == "sink":
            kind = "pg-sink"
        if kind not in self.WORKERS:
            raise ValueError("unknown worker kind %r (fetcher|transformer|pg-sink)" % kind)
        return self._start(kind, env)

    def broker(self):
        return next(p for p in self.procs if p.kind == "broker")

    def workers(self, kind):
        return [p for p in self.procs if p.kind == kind]

    def kill(self, proc, sig=signal.SIGKILL, timeout=10):
        """Send sig to proc and wait for it to end (its exit is expected)."""
        if not proc.alive():
            return proc.popen.returncode if proc.popen else None
        proc.signalled = True
        rc = stop_popen(proc.popen, sig, timeout)
        proc.exits.append((rc, True))
        return rc

    def restart(self, proc, sig=signal.SIGTERM):
        """Stop proc if it still runs, then start it again with the same argv and env."""
        if proc.alive():
            self.kill(proc, sig)
        elif proc.popen is not None and not proc.signalled:
            proc.exits.append((proc.popen.returncode, False))
        return self._spawn(proc)

    def start_all(self, fetchers=1, transformers=1, sinks=1, uploaders=1, ready_timeout=30):
        self.start_broker()
        for kind, n in (("fetcher", fetchers), ("transformer", transformers), ("pg-sink", sinks),
                        ("s3-uploader", uploaders)):
            for _ in range(n):
                self.start_worker(kind)
        self.wait_ready(ready_timeout)
        return self

    def wait_ready(self, timeout=30):
        """The broker answers status and the schema exists."""
        def ready():
            self.check_alive()
            if not all(self.pg.table_exists(self.db, t) for t in ("windows", "items", "quarantine")):
                return False
            return self.ctl("status", "--timeout", "2s", timeout=10)[0] == 0
        wait_until(ready, timeout, 0.2, "the broker to answer status and the schema to exist")

    def check_alive(self):
        """AssertionError if a program ended without the harness asking it to."""
        dead = [p for p in self.procs if p.popen and p.popen.poll() is not None and not p.signalled]
        if dead:
            raise AssertionError("died on their own: " + ", ".join(
                "%s (exit %s)" % (p.name, p.popen.returncode) for p in dead))

    def stop(self, grace=5.0):
        """SIGTERM every program, SIGKILL what is left after grace seconds."""
        running = [p for p in self.procs if p.alive()]
        for p in self.procs:
            if p.popen and not p.alive() and not p.signalled:
                p.exits.append((p.popen.returncode, False))
                p.signalled = True  # recorded once
        for p in running:
            p.signalled = True
            p.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in running:
            try:
                rc = p.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.popen.kill()
                rc = p.popen.wait()
                print("[harness] %s did not stop on SIGTERM within %.0fs: killed" % (p.name, grace),
                      file=sys.stderr)
            p.exits.append((rc, True))
            if rc not in (0, -signal.SIGTERM, -signal.SIGKILL):
                print("[harness] %s exited with %s after SIGTERM" % (p.name, rc), file=sys.stderr)

    def unexpected_exits(self):
        return ["%s exited on its own with %s" % (p.name, rc)
                for p in self.procs for rc, expected in p.exits if not expected]

    def logs(self):
        return [(p.name, p.log) for p in self.procs]

    def sanitizer_errors(self):
        hits = list(self.ctl_sanitizer)
        seen = set()
        for name, log in self.logs():
            if log in seen:
                continue
            seen.add(log)
            try:
                with open(log, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            hits += ["%s: %s" % (name, line) for line in sanitizer_lines(text)]
        return hits

    def print_tails(self, n=TAIL_LINES, out=sys.stderr):
        seen = set()
        for name, log in self.logs():
            if log in seen:
                continue
            seen.add(log)
            print("---- last %d lines of %s (%s)" % (n, name, log), file=out)
            for line in tail(log, n):
                print("  " + line, file=out)

    # -- control and database

    def ctl(self, *args, timeout=90):
        """Run vinted-ctl with the pipeline's environment: (exit code, stdout, stderr)."""
        rc, out, err = run_program("ctl", args, self._env_delta(), timeout,
                                   self.wrapper("ctl") if self.wrapper else ())
        self.ctl_sanitizer += ["vinted-ctl %s: %s" % (" ".join(args), line) for line in sanitizer_lines(err)]
        return rc, out, err

    def _env_delta(self):
        return {k: v for k, v in self.env.items() if k.startswith("VINTED_")}

    def status_json(self):
        rc, out, err = self.ctl("status", "--json", "--timeout", "5s", timeout=15)
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def run_window(self, catalog, wait=True, timeout="60s", extra=()):
        args = ["window", "--catalog", str(catalog)] + list(extra)
        if wait:
            args += ["--wait", "--timeout", timeout]
        seconds = config_seconds(timeout)
        return self.ctl(*args, timeout=seconds + 30)

    def run_windows(self, catalogs, timeout="60s"):
        """One window per catalog, pushed in parallel with --wait: {catalog: (rc, out, err)}."""
        results = {}
        threads = []
        for c in catalogs:
            def push(c=c):
                results[c] = self.run_window(c, wait=True, timeout=timeout)
            t = threading.Thread(target=push, name="window-%s" % c)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        return results

    def query(self, sql):
        return self.pg.query(self.db, sql)

    def scalar(self, sql):
        return self.pg.scalar(self.db, sql)

    def windows(self):
        cols = ("window_id", "catalog_id", "kind", "state", "truncated", "items", "requests",
                "pages_done", "error")
        rows = self.query("SELECT %s FROM windows ORDER BY window_id" % ", ".join(cols))
        return [dict(zip(cols, r)) for r in rows]

    def wait_windows_done(self, n, timeout=60, where="true"):
        """Wait until at least n windows (matching the SQL condition where) are done.
        A failed window ends the wait with an AssertionError naming its error."""
        def done():
            failed = self.query("SELECT window_id, catalog_id, error FROM windows "
                                "WHERE state = 'failed' AND (%s)" % where)
            if failed:
                raise AssertionError("window(s) failed: %s" % failed)
            self.check_alive()
            return int(self.scalar("SELECT count(*) FROM windows WHERE state = 'done' AND (%s)" % where)) >= n
        try:
            wait_until(done, timeout, 0.2, "%d done windows where %s" % (n, where))
        except AssertionError as e:
            raise AssertionError("%s\nwindows: %s" % (e, self.windows()))
        return int(self.scalar("SELECT count(*) FROM windows WHERE state = 'done' AND (%s)" % where))


def config_seconds(text):
    """'60s', '2m', '1500ms', '1h' or a bare number of seconds -> seconds (float)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", str(text))
    if not m:
        raise ValueError("bad duration %r" % text)
    scale = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return float(m.group(1)) * scale


# ---------------------------------------------------------------------------
# the database against the simulator's truth

MONEY_FIELDS = ("price", "service_fee", "total_price")
INT_FIELDS = ("catalog_id", "user_id", "favourite_count", "view_count", "created_at")
TEXT_FIELDS = ("title", "currency", "brand", "size_title", "condition", "url", "photo_url")
OPTIONAL_TEXT = ("brand", "size_title")  # absent and empty mean the same: no brand / no size
ITEM_FIELDS = ("catalog_id", "title", "price", "currency", "service_fee", "total_price", "brand",
               "size_title", "condition", "user_id", "url", "photo_url", "favourite_count",
               "view_count", "created_at")


def _norm(field, value):
    if value is None:
        return None
    if field in MONEY_FIELDS:
        try:
            return str(decimal.Decimal(str(value)).quantize(decimal.Decimal("0.01")))
        except decimal.InvalidOperation:
            return "invalid:%r" % (value,)
    if field in INT_FIELDS:
        try:
            return int(value)
        except (TypeError, ValueError):
            return "invalid:%r" % (value,)
    if field in OPTIONAL_TEXT and value == "":
        return None
    return value


def db_items(pg, db):
    """Every row of items as {item_id: {field: normalized value}}."""
    rows = pg.query(db, "SELECT item_id, catalog_id, title, price::text, currency, service_fee::text, "
                        "total_price::text, brand, size_title, condition, user_id, url, photo_url, "
                        "favourite_count, view_count, extract(epoch FROM created_at)::bigint FROM items")
    return {int(r[0]): {f: _norm(f, v) for f, v in zip(ITEM_FIELDS, r[1:])} for r in rows}


def assert_db_matches_truth(testcase, pg, db, truth, max_report=10):
    """items holds exactly the valid truth items, field by field; users holds their
    sellers' logins; no duplicates; no invalid item is stored and every invalid
    item's rule appears in quarantine at least as often as the truth has it."""
    valid = {int(t["item_id"]): t for t in truth if t.get("invalid") is None}
    invalid = [t for t in truth if t.get("invalid") is not None]
    problems = []

    total, distinct = pg.query(db, "SELECT count(*), count(DISTINCT item_id) FROM items")[0]
    if total != distinct:
        problems.append("items has %s rows but %s distinct item ids" % (total, distinct))

    have = db_items(pg, db)
    missing = sorted(set(valid) - set(have))
    unexpected = sorted(set(have) - set(valid))
    if missing:
        problems.append("%d truth items missing from items, e.g. %s" % (len(missing), missing[:max_report]))
    if unexpected:
        problems.append("%d unexpected items in items, e.g. %s" % (len(unexpected), unexpected[:max_report]))

    diffs = []
    for item_id in sorted(set(valid) & set(have)):
        want, got = valid[item_id], have[item_id]
        for f in ITEM_FIELDS:
            w = _norm(f, want.get(f))
            if got[f] != w:
                diffs.append("item %d %s: db=%r truth=%r" % (item_id, f, got[f], w))
    if diffs:
        problems.append("%d field differences, first ones:\n    %s" % (
            len(diffs), "\n    ".join(diffs[:max_report * 2])))

    logins = dict(pg.query(db, "SELECT user_id::text, login FROM users"))
    user_diffs = []
    for t in valid.values():
        uid = t.get("user_id")
        if uid is None:
            continue
        if str(uid) not in logins:
            user_diffs.append("user %s (seller of %s) missing from users" % (uid, t["item_id"]))
        elif logins[str(uid)] != t.get("user_login"):
            user_diffs.append("user %s login: db=%r truth=%r" % (uid, logins[str(uid)], t.get("user_login")))
    if user_diffs:
        user_diffs = sorted(set(user_diffs))
        problems.append("%d user differences, first ones:\n    %s" % (
            len(user_diffs), "\n    ".join(user_diffs[:max_report])))

    stored_invalid = sorted(int(t["item_id"]) for t in invalid
                            if t.get("item_id") is not None and int(t["item_id"]) in have)
    if stored_invalid:
        problems.append("%d invalid items were stored in items, e.g. %s" % (
            len(stored_invalid), stored_invalid[:max_report]))
    want_rules = {}
    for t in invalid:
        want_rules[t["invalid"]] = want_rules.get(t["invalid"], 0) + 1
    got_rules = {r: int(n) for r, n in pg.query(db, "SELECT rule, count(DISTINCT raw) FROM quarantine GROUP BY rule")}
    for rule, n in sorted(want_rules.items()):
        if got_rules.get(rule, 0) < n:
            problems.append("quarantine rule %s: %d distinct records, the truth has %d invalid items" % (
                rule, got_rules.get(rule, 0), n))

    if problems:
        testcase.fail("database does not match the simulator's truth (%d valid, %d invalid truth items, "
                      "%d rows in items):\n  %s" % (len(valid), len(invalid), len(have), "\n  ".join(problems)))


# ---------------------------------------------------------------------------
# the test case base

class PgModule:
    """One cluster per test module:
        setUpModule = PgModule.setup; tearDownModule = PgModule.teardown"""
    cluster = None

    @classmethod
    def setup(cls):
        cls.cluster = PgCluster().start()

    @classmethod
    def teardown(cls):
        if cls.cluster:
            cls.cluster.stop()
            cls.cluster = None


class E2ETestCase(unittest.TestCase):
    """Each test gets a workdir, a fresh database, and (on request) a simulator and a
    pipeline, all torn down after it. On failure, the tail of every log is printed.
    A sanitizer report or a program that died on its own fails the test."""

    maxDiff = None

    def setUp(self):
        if PgModule.cluster is None:
            raise unittest.SkipTest("no PostgreSQL cluster (setUpModule must call PgModule.setup)")
        self.pg = PgModule.cluster
        self._started = time.monotonic()
        self.workdir = tempfile.mkdtemp(prefix="vinted-e2e-%s-" % self._testMethodName)
        self.db = self.pg.create_db(self._testMethodName)
        self.sim = None
        self.pipe = None
        self.addCleanup(self._finish)

    def _failed(self):
        """Has this test failed so far? (unittest offers no public way to ask: look
        in the result's lists, and in the outcome's error list of Python < 3.11)."""
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        for attr in ("errors", "failures", "unexpectedSuccesses"):
            for entry in getattr(result, attr, None) or []:
                if (entry[0] if isinstance(entry, tuple) else entry) is self:
                    return True
        return any(exc is not None for _, exc in getattr(outcome, "errors", None) or [])

    def _finish(self):
        # one line per test with its wall time, so that the slow ones can be found in a run's log
        print("TIME %s %.1f s" % (self.id(), time.monotonic() - self._started))
        problems = []
        if self.pipe:
            self.pipe.stop()
            problems += ["sanitizer: " + h for h in self.pipe.sanitizer_errors()]
            problems += self.pipe.unexpected_exits()
        if self.sim:
            self.sim.stop()
        if self._failed() or problems:
            print("\n==== %s failed; logs in %s" % (self.id(), self.workdir), file=sys.stderr)
            if self.pipe:
                self.pipe.print_tails()
            if self.sim:
                print("---- last %d lines of sim (%s)" % (TAIL_LINES, self.sim.log), file=sys.stderr)
                for line in tail(self.sim.log):
                    print("  " + line, file=sys.stderr)
        elif not KEEP_TMP:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if problems:
            self.fail("programs misbehaved:\n  " + "\n  ".join(problems[:20]))

    def start_sim(self, **kwargs):
        self.sim = Sim(self.workdir, **kwargs).start()
        return self.sim

    def start_pipeline(self, api="v2", env=None, fetchers=1, transformers=1, sinks=1, uploaders=1, db=None):
        self.pipe = Pipeline(self.workdir, self.pg, db or self.db, self.sim, api=api, env=env)
        self.pipe.start_all(fetchers, transformers, sinks, uploaders)
        return self.pipe

    def assert_windows_ok(self, results):
        """Every (rc, out, err) of run_windows exited 0."""
        bad = {c: r for c, r in results.items() if r[0] != 0}
        self.assertFalse(bad, "windows did not commit: " + "; ".join(
            "catalog %s exit %s: %s %s" % (c, r[0], r[1].strip()[-300:], r[2].strip()[-500:])
            for c, r in bad.items()))

    def assert_matches_truth(self, truth=None):
        assert_db_matches_truth(self, self.pg, self.db, self.sim.truth() if truth is None else truth)
