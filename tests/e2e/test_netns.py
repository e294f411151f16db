"""test_netns.py - the broker and its workers on two different "hosts": two network
namespaces joined by a veth pair, so every ZeroMQ message and the sink's PostgreSQL
connection cross a (virtual) network link.

    namespace vp-broker-<pid>   10.213.N.1/30   vinted-broker (binds tcp://*:5555 and
                                                tcp://127.0.0.1:5556), PostgreSQL
                                                (127.0.0.1 and 10.213.N.1), vinted-ctl
    namespace vp-workers-<pid>  10.213.N.2/30   fetcher, transformer, pg-sink, s3-uploader
                                                (tcp://10.213.N.1:5555, PostgreSQL at
                                                10.213.N.1), and the simulated Vinted on
                                                the workers' own 127.0.0.1

Only addresses inside the namespaces this test creates are used. The test process
stays in the root namespace: it reaches PostgreSQL through its Unix socket and the
simulator through `ip netns exec`. Needs root and `ip netns`; skipped otherwise.
Namespaces (and with them the veth pair) are removed in tearDownModule, also after
a failure.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import E2ETestCase, Pipeline, PgCluster, PgModule, Sim, clean_env, program_path, wait_until  # noqa: E402

PID = os.getpid()
NS_BROKER = "vp-broker-%d" % PID
NS_WORKERS = "vp-workers-%d" % PID
VETH_BROKER = "vpb%d" % PID       # at most 15 characters: "vpb" + a pid of up to 7 digits
VETH_WORKERS = "vpw%d" % PID
SUBNET = 10 + PID % 240           # 10.213.SUBNET.0/30, private
BROKER_IP = "10.213.%d.1" % SUBNET
WORKERS_IP = "10.213.%d.2" % SUBNET
BROKER_PORT, CONTROL_PORT, PG_PORT = 5555, 5556, 5432   # free: the namespaces are new


def in_ns(ns):
    return ["ip", "netns", "exec", ns]


def ip(*args, check=True):
    p = subprocess.run(["ip"] + list(args), capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise RuntimeError("ip %s failed: %s" % (" ".join(args), p.stderr.decode(errors="replace").strip()))
    return p


class NetnsPg(PgCluster):
    """A PostgreSQL cluster whose server runs in the broker's namespace, listening on
    its loopback and on its veth address (trusted from the workers' address). The
    test itself talks to it through the Unix socket in the cluster's directory."""

    def start(self):
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        self._run([self.tool("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                   "--no-sync", "-E", "UTF8", "--locale=C"], as_owner=True)
        with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
            f.write("host all all %s/32 trust\n" % WORKERS_IP)
        self.port = PG_PORT
        opts = "-p %d -c listen_addresses=127.0.0.1,%s -c fsync=off -c synchronous_commit=off " \
               "-c full_page_writes=off -k %s" % (self.port, BROKER_IP, self.root)
        argv = in_ns(NS_BROKER) + self.as_user + [self.tool("pg_ctl"), "-D", self.data, "-l", self.logfile,
                                                   "-w", "-t", "60", "-o", opts, "start"]
        p = subprocess.run(argv, capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError("PostgreSQL did not start in %s: %s\n%s" % (
                NS_BROKER, p.stderr.decode(errors="replace"), "\n".join(harness.tail(self.logfile))))
        self.running = True
        wait_until(self._ready, 30, 0.1, "pg_isready on the cluster's socket")
        return self

    def _ready(self):
        p = subprocess.run([self.tool("pg_isready"), "-h", self.root, "-p", str(self.port), "-U", "postgres", "-q"],
                           capture_output=True)
        return p.returncode == 0

    def dsn(self, db):
        return "host=%s port=%d user=postgres dbname=%s" % (self.root, self.port, db)

    def create_db(self, hint="test"):
        self._dbs += 1
        name = "netns_%d" % self._dbs
        self._run([self.tool("createdb"), "-h", self.root, "-p", str(self.port), "-U", "postgres", name])
        return name


class NetnsSim(Sim):
    """The simulator on the workers' loopback; its admin API is called from inside
    that namespace."""

    def __init__(self, workdir, **kwargs):
        super().__init__(workdir, **kwargs)
        self.argv = in_ns(NS_WORKERS) + self.argv

    def _call(self, method, path, body=None, timeout=30):
        script = ("import sys, urllib.request\n"
                  "data = sys.stdin.buffer.read() or None\n"
                  "req = urllib.request.Request(sys.argv[1], data=data, method=sys.argv[2],\n"
                  "                             headers={'Content-Type': 'application/json'} if data else {})\n"
                  "sys.stdout.buffer.write(urllib.request.urlopen(req, timeout=%d).read())\n" % timeout)
        p = subprocess.run(in_ns(NS_WORKERS) + [sys.executable, "-c", script, self.url + path, method],
                           input=json.dumps(body).encode() if body is not None else b"",
                           capture_output=True, timeout=timeout + 10)
        if p.returncode != 0:
            raise AssertionError("sim %s %s (in %s) failed: %s" % (method, path, NS_WORKERS,
                                                                   p.stderr.decode(errors="replace")[-500:]))
        text = p.stdout.decode("utf-8")
        return json.loads(text) if text.strip() else None


class NetnsPipeline(Pipeline):
    """The broker (and vinted-ctl) run in the broker's namespace, every worker in the
    workers' namespace."""

    def _spawn(self, proc):
        ns = NS_BROKER if proc.kind == "broker" else NS_WORKERS
        if proc.argv[:3] != ["ip", "netns", "exec"]:
            proc.argv = in_ns(ns) + proc.argv
        return super()._spawn(proc)

    def ctl(self, *args, timeout=90):
        argv = in_ns(NS_BROKER) + [program_path("ctl")] + [str(a) for a in args]
        try:
            p = subprocess.run(argv, env=clean_env(self._env_delta()), stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout)
            rc, out, err = p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            rc, out, err = 124, "", "[netns] vinted-ctl %s: killed after %ss" % (" ".join(args), timeout)
        self.ctl_sanitizer += ["vinted-ctl %s: %s" % (" ".join(args), line) for line in harness.sanitizer_lines(err)]
        return rc, out, err


def _teardown_network():
    for ns in (NS_BROKER, NS_WORKERS):
        ip("netns", "del", ns, check=False)
    ip("link", "del", VETH_BROKER, check=False)  # only if it never left the root namespace


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root to create network namespaces (ip netns add)")
    if not shutil.which("ip"):
        raise unittest.SkipTest("the ip command (iproute2) is not installed")
    probe = ip("netns", "add", NS_BROKER, check=False)
    if probe.returncode != 0:
        raise unittest.SkipTest("ip netns is not available here: %s" % probe.stderr.decode(errors="replace").strip())
    try:
        ip("netns", "add", NS_WORKERS)
        ip("link", "add", VETH_BROKER, "type", "veth", "peer", "name", VETH_WORKERS)
        ip("link", "set", VETH_BROKER, "netns", NS_BROKER)
        ip("link", "set", VETH_WORKERS, "netns", NS_WORKERS)
        for ns, dev, addr in ((NS_BROKER, VETH_BROKER, BROKER_IP), (NS_WORKERS, VETH_WORKERS, WORKERS_IP)):
            ip("-n", ns, "addr", "add", addr + "/30", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        PgModule.cluster = NetnsPg().start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    try:
        PgModule.teardown()
    finally:
        _teardown_network()


class NetnsTest(E2ETestCase):
    def test_window_across_namespaces(self):
        # the workers' namespace has no broker of its own: only the veth leads to it
        probe = subprocess.run(in_ns(NS_WORKERS) + [
            sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', %d), 1)" % BROKER_PORT],
            capture_output=True, timeout=20)
        self.assertNotEqual(probe.returncode, 0, "something answers on the workers' own 127.0.0.1:%d" % BROKER_PORT)

        self.sim = NetnsSim(self.workdir, catalogs=(221, 1242), initial=250, generation="v2").start()
        self.pipe = NetnsPipeline(self.workdir, self.pg, self.db, self.sim, api="v2", env={
            "VINTED_BROKER": "tcp://%s:%d" % (BROKER_IP, BROKER_PORT),
            "VINTED_CONTROL": "tcp://127.0.0.1:%d" % CONTROL_PORT,
            "VINTED_PG": "host=127.0.0.1 port=%d user=postgres dbname=%s" % (PG_PORT, self.db),
        })
        self.pipe.start_broker(env={"VINTED_BROKER": "tcp://*:%d" % BROKER_PORT})
        worker_pg = "host=%s port=%d user=postgres dbname=%s" % (BROKER_IP, PG_PORT, self.db)
        for kind in ("fetcher", "transformer", "s3-uploader"):
            self.pipe.start_worker(kind)
        self.pipe.start_worker("pg-sink", env={"VINTED_PG": worker_pg})
        self.pipe.wait_ready(30)

        def all_connected():
            status = self.pipe.status_json() or {}
            text = json.dumps(status)
            return all(w in text for w in ("fetcher", "transformer", "pg-sink", "s3-uploader"))
        wait_until(all_connected, 20, 0.3, "the four workers to say READY across the veth")

        results = self.pipe.run_windows([221, 1242], timeout="40s")
        self.assert_windows_ok(results)
        self.assertEqual(self.pipe.scalar("SELECT count(*) FROM windows WHERE state = 'done' AND catalog_id IS NOT NULL "
                                          "AND kind = 'adhoc'"), "2")
        truth = self.sim.truth()
        self.assertGreaterEqual(len(truth), 500)
        self.assert_matches_truth(truth)
        self.assertEqual(int(self.pipe.scalar("SELECT count(*) FROM items")), len(truth))
        # the broker saw its workers from the workers' address
        self.assertIn("fetcher", json.dumps(self.pipe.status_json()))
        stored = [f for _, _, files in os.walk(os.path.join(self.workdir, "store")) for f in files]
        self.assertTrue(stored, "the s3-uploader in %s stored no raw page" % NS_WORKERS)


if __name__ == "__main__":
    unittest.main()
