"""test_security.py - CURVE on the ZeroMQ links and secrets hygiene, end to end:
the real programs (VINTED_BIN), a private PostgreSQL, the simulated Vinted.

    CurveTest    keys from `vinted-ctl keygen`; the broker admits the listed keys
                 only. A window runs to commit over CURVE and the database equals
                 the simulator's truth; a worker with a valid but unlisted key and a
                 worker without keys never register and get no task (the broker's
                 status), and say why in their logs; vinted-ctl with an unlisted key
                 or none fails at once, clearly, and creates no window; half
                 configurations exit 2 naming the missing setting; the bytes between
                 a worker and the broker (read through a TCP relay) carry the CURVE
                 greeting and none of the listings' titles.
    SecretsTest  a run where every secret is set: a PostgreSQL password (a role
                 checked with scram-sha-256, given through VINTED_PG_FILE and
                 VINTED_PG), S3 keys (s3rver, through AWS_*_FILE), CURVE secret keys,
                 and the session cookies the simulated Vinted hands out (read off the
                 wire by an HTTP relay); plus failing runs that hold those secrets
                 (database on a wrong port, a wrong password, S3 with wrong keys).
                 Then every log, every /metrics scrape, every raw-area object and
                 every error output is searched for each secret: no hit.

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_security.py -v
"""

import gzip
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import E2ETestCase, Pipeline, figure, free_port, relay_response, run_program, wait_until  # noqa: E402
import test_objstore  # noqa: E402  (s3rver as a process)

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

CATALOG = 221
STAGE = {"fetcher": "fetch", "transformer": "transform", "pg-sink": "sink", "s3-uploader": "store"}
NO_CURVE = {"VINTED_CURVE_SERVER": "", "VINTED_CURVE_CERT": ""}


def keygen(testcase, outdir, name):
    """`vinted-ctl keygen --out outdir name --json`: {public, secret, public_key}."""
    rc, out, err = run_program("ctl", ["keygen", "--out", outdir, name, "--json"])
    testcase.assertEqual(rc, 0, "keygen %s: %s" % (name, err))
    return json.loads(out)


def secret_key_of(path):
    """The Z85 secret key written in a zcert secret file."""
    with open(path) as f:
        m = re.search(r'secret-key\s*=\s*"([^"]{40})"', f.read())
    return m.group(1)


class WireTap:
    """A TCP relay on 127.0.0.1 in front of target_port that keeps every byte it
    passes, per direction ("up": client to server, "down": back)."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.data = {"up": bytearray(), "down": bytearray()}
        self.first = {"up": b"", "down": b""}  # the first bytes of the first connection
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for src, dst, way in ((client, server, "up"), (server, client, "down")):
                threading.Thread(target=self._pump, args=(src, dst, way), daemon=True).start()

    def _pump(self, src, dst, way):
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                with self.lock:
                    self.data[way] += chunk
                    if len(self.first[way]) < 64:
                        self.first[way] += chunk[:64 - len(self.first[way])]
                dst.sendall(chunk)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def bytes(self):
        with self.lock:
            return bytes(self.data["up"]) + bytes(self.data["down"])

    def stop(self):
        self.stopped = True
        self.sock.close()


class CookieRelay(http.server.ThreadingHTTPServer):
    """The simulated Vinted behind an HTTP relay that notes every cookie value it
    hands out (Set-Cookie), so the test knows the session secrets a fetcher holds."""

    daemon_threads = True

    def __init__(self, upstream_url):
        self.upstream = upstream_url.split("://", 1)[1]
        self.cookies = set()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _RelayHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()


class _RelayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection"}

    def log_message(self, fmt, *args):
        pass

    def _relay(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.server.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in self.HOP}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        for value in resp.msg.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            if "=" in pair:
                with self.server.lock:
                    self.server.cookies.add(pair.split("=", 1)[1])
        relay_response(self, resp.status, resp.msg.items(), data, self.HOP)
        conn.close()

    do_GET = do_HEAD = do_POST = _relay


class SecureCase(E2ETestCase):
    """Keys and a pipeline whose every program uses them."""

    WORKERS = ("fetcher", "transformer", "pg-sink", "s3-uploader")

    def make_keys(self, listed, unlisted=()):
        """Key pairs for the broker, each listed name (copied into the broker's
        allow-list) and each unlisted one. {name: keygen answer}; self.clients is the
        allow-list directory."""
        self.keydir = os.path.join(self.workdir, "keys")
        self.clients = os.path.join(self.keydir, "clients")
        os.makedirs(self.clients)
        keys = {"broker": keygen(self, self.keydir, "broker")}
        for name in list(listed) + list(unlisted):
            keys[name] = keygen(self, self.keydir, name)
        for name in listed:
            shutil.copy(keys[name]["public"], os.path.join(self.clients, name))
        self.keys = keys
        return keys

    def curve_env(self, client="ctl"):
        return {"VINTED_CURVE_SECRET": self.keys["broker"]["secret"], "VINTED_CURVE_CLIENTS": self.clients,
                "VINTED_CURVE_SERVER": self.keys["broker"]["public"],
                "VINTED_CURVE_CERT": self.keys[client]["secret"]}

    def start_secure_pipeline(self, env, worker_env=None):
        """Broker and one worker per stage, each worker with its own key (worker_env:
        {kind: extra env})."""
        self.pipe = Pipeline(self.workdir, self.pg, self.db, self.sim, api="v2", env=env)
        self.pipe.start_broker()
        for kind in self.WORKERS:
            extra = {"VINTED_CURVE_CERT": self.keys[kind]["secret"]}
            extra.update((worker_env or {}).get(kind, {}))
            self.pipe.start_worker(kind, extra)
        self.pipe.wait_ready(30)
        return self.pipe

    def wait_stages(self):
        """Every stage has its worker registered."""
        def registered():
            status = self.pipe.status_json() or {}
            stages = status.get("stages", {})
            return all(stages.get(s, {}).get("workers", 0) >= 1 for s in STAGE.values()) and status
        return wait_until(registered, 20, 0.2, "a worker of every stage to register over CURVE")

    def windows_count(self):
        return int(self.pipe.scalar("SELECT count(*) FROM windows"))


class CurveTest(SecureCase):

    def test_curve_admits_listed_keys_only_and_encrypts(self):
        names = ["fetcher", "transformer", "pg-sink", "s3-uploader", "ctl"]
        keys = self.make_keys(names, unlisted=["rogue"])
        # keygen: the secret file is private, the public one holds no secret, nothing is overwritten
        self.assertEqual(os.stat(keys["rogue"]["secret"]).st_mode & 0o777, 0o600)
        with open(keys["rogue"]["public"]) as f:
            text = f.read()
        self.assertIn(keys["rogue"]["public_key"], text)
        self.assertNotIn("secret-key", text)
        rc, out, err = run_program("ctl", ["keygen", "--out", self.keydir, "rogue"])
        self.assertEqual(rc, 2, "keygen overwrote a key pair")
        self.assertIn("already exists", err)

        # half configurations: exit 2 naming what is missing, before doing anything
        for kind, env, missing in (
                ("broker", {"VINTED_CURVE_SECRET": keys["broker"]["secret"]}, "--curve-clients"),
                ("broker", {"VINTED_CURVE_CLIENTS": self.clients}, "--curve-secret"),
                ("transformer", {"VINTED_CURVE_SERVER": keys["broker"]["public"]}, "--curve-cert"),
                ("ctl", {"VINTED_CURVE_CERT": keys["ctl"]["secret"]}, "--curve-server")):
            args = ["status", "--timeout", "1s"] if kind == "ctl" else []
            rc, out, err = run_program(kind, args, env)
            self.assertEqual(rc, 2, "%s with %s only: exit %s: %s" % (kind, list(env), rc, err))
            self.assertIn(missing, err, "%s: the error does not name %s: %s" % (kind, missing, err))
        # a public certificate given as one's own: no secret key in it
        rc, out, err = run_program("ctl", ["status", "--timeout", "1s"],
                                   {"VINTED_CURVE_SERVER": keys["broker"]["public"],
                                    "VINTED_CURVE_CERT": os.path.join(self.clients, "ctl")})
        self.assertEqual(rc, 2)
        self.assertIn("no secret key", err)

        self.start_sim(seed=5, catalogs=(CATALOG,), initial=300)
        env = self.curve_env("ctl")
        env["VINTED_LOG_LEVEL"] = "debug"
        broker_port = int(free_port())
        env["VINTED_BROKER"] = "tcp://127.0.0.1:%d" % broker_port
        tap = WireTap(broker_port)
        self.addCleanup(tap.stop)
        # the listed transformer reaches the broker through the tap
        worker_env = {"transformer": {"VINTED_BROKER": "tcp://127.0.0.1:%d" % tap.port}}
        self.start_secure_pipeline(env, worker_env)
        rogue = self.pipe.start_worker("transformer", {"VINTED_CURVE_CERT": keys["rogue"]["secret"]})
        plain = self.pipe.start_worker("transformer", NO_CURVE)
        self.wait_stages()

        # both outsiders tried and were refused, and said why
        def said(proc, text):
            with open(proc.log, "rb") as f:
                return text in f.read().decode("utf-8", "replace")
        wait_until(lambda: said(rogue, "broker refused the connection") and said(rogue, "allow-list"), 15, 0.2,
                   "the unlisted worker to log the refusal")
        wait_until(lambda: said(plain, "broker refused the connection") and said(plain, "mismatch"), 15, 0.2,
                   "the worker without keys to log the security mismatch")

        t0 = time.monotonic()
        rc, out, err = self.pipe.run_window(CATALOG, timeout="60s")
        figure("security_curve_window_s", time.monotonic() - t0)
        self.assertEqual(rc, 0, "window over CURVE: %s %s" % (out, err))
        self.assert_matches_truth()

        # only the listed workers registered, and the listed transformer did the work
        status = self.pipe.status_json()
        self.assertIsNotNone(status, "status over CURVE")
        workers = status["workers"]
        transform = [w for w in workers if w["stage"] == "transform"]
        self.assertEqual(len(transform), 1, "transform workers: %s" % transform)
        legit = next(p for p in self.pipe.workers("transformer") if p is not rogue and p is not plain)
        self.assertTrue(transform[0]["name"].endswith(":%d" % legit.pid), transform)
        self.assertGreater(transform[0]["done"], 0)
        for outsider in (rogue, plain):
            self.assertTrue(outsider.alive())
            self.assertFalse([w for w in workers if w["name"].endswith(":%d" % outsider.pid)],
                             "%s registered: %s" % (outsider.name, workers))
            with open(outsider.log, "rb") as f:
                self.assertNotIn("task=", f.read().decode("utf-8", "replace"), "%s saw a task" % outsider.name)
        self.assertEqual(status["stages"]["transform"]["workers"], 1)
        # and the broker said and counted that it refused the unlisted key (ZAP refusal on
        # its side; a peer without CURVE may only show there as a closed handshake, not counted)
        wait_until(lambda: (self.pipe.status_json() or {}).get("refused_handshakes", 0) >= 1, 10, 0.2,
                   "the broker to count the refused handshake")
        with open(self.pipe.broker().log, "rb") as f:
            blog = f.read().decode("utf-8", "replace")
        self.assertIn("peer refused at the CURVE handshake", blog)
        self.assertIn("allow-list", blog)

        # vinted-ctl with an unlisted key, and without keys: a clear error at once, no window
        before = self.windows_count()
        for label, extra, reason in (("unlisted key", {"VINTED_CURVE_CERT": keys["rogue"]["secret"]}, "allow-list"),
                                     ("no keys", NO_CURVE, "mismatch")):
            t0 = time.monotonic()
            rc, out, err = run_program("ctl", ["window", "--catalog", str(CATALOG), "--timeout", "20s"],
                                       dict(self.pipe._env_delta(), **extra), timeout=40)
            spent = time.monotonic() - t0
            self.assertNotEqual(rc, 0, "ctl with %s pushed a window: %s" % (label, out))
            self.assertIn("refused the connection", err, "ctl with %s: %s" % (label, err))
            self.assertIn(reason, err)
            self.assertLess(spent, 10, "ctl with %s waited %.1fs instead of failing at once" % (label, spent))
            figure("security_ctl_refused_s_" + label.replace(" ", "_"), spent)
        self.assertEqual(self.windows_count(), before, "a refused vinted-ctl created a window")

        # the wire: a CURVE greeting, and no listing title in clear
        raw = tap.bytes()
        figure("security_tapped_bytes", len(raw))
        self.assertGreater(len(raw), 20000, "too little traffic went through the tap to tell")
        self.assertIn(b"CURVE", tap.first["up"], "the worker's greeting does not name CURVE")
        self.assertIn(b"CURVE", tap.first["down"], "the broker's greeting does not name CURVE")
        titles = sorted({t["title"] for t in self.sim.truth() if len(t.get("title") or "") >= 8})
        self.assertGreater(len(titles), 50)
        seen = [t for t in titles if t.encode("utf-8") in raw]
        self.assertFalse(seen, "%d titles crossed the wire in clear, e.g. %r" % (len(seen), seen[:3]))

        # a certificate added to the allow-list admits its key from the next handshake
        shutil.copy(keys["rogue"]["public"], os.path.join(self.clients, "rogue"))
        t0 = time.monotonic()

        def rogue_registered():
            status = self.pipe.status_json() or {}
            return any(w["name"].endswith(":%d" % rogue.pid) for w in status.get("workers", []))
        wait_until(rogue_registered, 20, 0.1, "the newly listed key to register")
        figure("security_allow_list_reload_s", time.monotonic() - t0)
        wait_until(lambda: said(rogue, "handshake with broker succeeded"), 10, 0.1, "the worker to say it got in")

        # a refused worker still stops at once on SIGTERM (its sends never block)
        for outsider in (rogue, plain):
            t0 = time.monotonic()
            rc = self.pipe.kill(outsider, signal.SIGTERM, timeout=5)
            self.assertLess(time.monotonic() - t0, 4, "%s did not stop on SIGTERM" % outsider.name)
            self.assertIn(rc, (0, -signal.SIGTERM), "%s exit on SIGTERM" % outsider.name)


class SecretsTest(SecureCase):

    def setUp(self):
        super().setUp()
        if not os.path.exists(test_objstore.S3RVER):
            self.skipTest("s3rver is not installed: run sh tests/install-deps.sh")

    def pg_role(self):
        """A role that must give its password (scram-sha-256 on 127.0.0.1): (user, password)."""
        user, password = "vsec_role", "pg-" + secrets.token_urlsafe(18)
        self.pg.execute(self.db, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
                                 "CREATE ROLE %s LOGIN SUPERUSER; END IF; END $$; "
                                 "ALTER ROLE %s PASSWORD '%s';" % (user, user, user, password))
        hba = os.path.join(self.pg.data, "pg_hba.conf")
        with open(hba) as f:
            text = f.read()
        line = "host all %s 127.0.0.1/32 scram-sha-256\n" % user
        if line not in text:
            with open(hba, "w") as f:
                f.write(line + text)
            self.pg._run([self.pg.tool("pg_ctl"), "-D", self.pg.data, "reload"], as_owner=True)
            time.sleep(0.3)
        return user, password

    def test_no_secret_in_logs_metrics_raw_objects_or_errors(self):
        outputs = []  # (where, text) of everything else a program printed
        user, password = self.pg_role()
        dsn = "host=127.0.0.1 port=%d user=%s dbname=%s password=%s" % (self.pg.port, user, self.db, password)
        secret_dir = os.path.join(self.workdir, "secrets")
        os.mkdir(secret_dir, 0o700)

        def secret_file(name, value):
            path = os.path.join(secret_dir, name)
            with open(path, "w") as f:
                f.write(value + "\n")
            return path

        # a wrong password is no less secret
        wrong_password = "wrong-" + secrets.token_urlsafe(18)
        bad_access, bad_secret = "AKIA" + secrets.token_hex(8).upper(), "s3-" + secrets.token_urlsafe(24)
        names = ["fetcher", "transformer", "pg-sink", "s3-uploader", "ctl"]
        keys = self.make_keys(names)
        s3 = test_objstore.S3rver().start()
        self.addCleanup(s3.stop)
        self.start_sim(seed=9, catalogs=(CATALOG,), initial=250)
        relay = CookieRelay(self.sim.url)
        self.addCleanup(relay.stop)

        env = self.curve_env("ctl")
        env.update({
            "VINTED_PG": "", "VINTED_PG_FILE": secret_file("pg", dsn),
            "VINTED_STORE": "s3://%s/secrets" % test_objstore.BUCKET, "VINTED_S3_ENDPOINT": s3.endpoint(),
            "AWS_ACCESS_KEY_ID_FILE": secret_file("aws_access", "S3RVER"),
            "AWS_SECRET_ACCESS_KEY_FILE": secret_file("aws_secret", "S3RVER"), "AWS_REGION": "us-east-1",
            "VINTED_WWW_URL": relay.url(), "VINTED_API_URL": relay.url(),
            "VINTED_LOG_LEVEL": "debug",
        })
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env[k] = ""
        ports = {kind: free_port() for kind in ("broker",) + self.WORKERS}
        env["VINTED_METRICS"] = str(ports["broker"])
        self.pipe = Pipeline(self.workdir, self.pg, self.db, self.sim, api="v2", env=env)
        self.pipe.start_broker()
        for kind in self.WORKERS:
            self.pipe.start_worker(kind, {"VINTED_CURVE_CERT": keys[kind]["secret"],
                                          "VINTED_METRICS": str(ports[kind])})
        self.pipe.wait_ready(30)
        self.wait_stages()

        rc, out, err = self.pipe.run_window(CATALOG, timeout="60s")
        outputs.append(("ctl window", out + err))
        self.assertEqual(rc, 0, "window: %s %s" % (out, err))
        self.assert_matches_truth()
        self.assertGreater(int(self.pipe.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = '%s'" % user)), 0,
            "no session of the password role: the programs did not use the password")
        self.assertTrue(relay.cookies, "the relay saw no cookie")

        # the reports read the database with the password from the environment
        rc, out, err = self.pipe.ctl("prices", "--json")
        outputs.append(("ctl prices", out + err))
        self.assertEqual(rc, 0, err)
        rc, out, err = run_program("ctl", ["prices"], {"VINTED_PG": dsn})
        outputs.append(("ctl prices (VINTED_PG)", out + err))
        self.assertEqual(rc, 0, err)

        metrics = []
        for kind, port in ports.items():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
                metrics.append(("metrics of %s" % kind, r.read().decode("utf-8", "replace")))
        self.assertTrue(all("vinted_" in text for _, text in metrics))

        # failing runs holding the secrets: a closed port, a wrong password, wrong S3 keys
        closed = free_port()
        bad_port_dsn = dsn.replace("port=%d" % self.pg.port, "port=%d" % closed)
        rc, out, err = run_program("ctl", ["prices"], {"VINTED_PG": bad_port_dsn})
        outputs.append(("ctl prices, closed port", out + err))
        self.assertEqual(rc, 3, err)
        self.assertIn("cannot connect to PostgreSQL", err)
        rc, out, err = run_program("ctl", ["quality"], {"VINTED_PG": dsn.replace(password, wrong_password)})
        outputs.append(("ctl quality, wrong password", out + err))
        self.assertEqual(rc, 3, err)
        self.assertIn("password authentication failed", err)
        failing = []
        for kind, extra in (("broker", {"VINTED_BROKER": "tcp://127.0.0.1:%d" % free_port(),
                                        "VINTED_CONTROL": "tcp://127.0.0.1:%d" % free_port(),
                                        "VINTED_METRICS": ""}),
                            ("pg-sink", {"VINTED_METRICS": "", "VINTED_CURVE_CERT": keys["pg-sink"]["secret"]})):
            penv = harness.clean_env(dict(env, VINTED_PG_FILE=secret_file("bad_" + kind, bad_port_dsn), **extra))
            failing.append((kind, subprocess.Popen([harness.program_path(kind)], env=penv, stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
        time.sleep(2.5)
        for kind, p in failing:
            p.kill()  # the broker's start (store_new) waits up to a minute for the database
            out = p.communicate(timeout=15)[0].decode("utf-8", "replace")
            outputs.append(("%s, closed database port" % kind, out))
            self.assertRegex(out, "database (not reachable|connection failed)", "%s did not try: %s" % (kind, out))
            self.assertFalse(harness.sanitizer_lines(out), out)
        for label, access, secret in (("unknown key", bad_access, bad_secret), ("wrong secret", "S3RVER", bad_secret)):
            rc, out, err = test_objstore.run_probe(self, ["list", "raw/"], {
                "VINTED_STORE": "s3://%s/secrets" % test_objstore.BUCKET, "VINTED_S3_ENDPOINT": s3.endpoint(),
                "AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"})
            outputs.append(("objstore probe, %s" % label, out.decode("utf-8", "replace") + err))
            if label == "unknown key":  # (s3rver does not check SigV4 signatures)
                self.assertNotEqual(rc, 0, "S3 with %s worked" % label)
                self.assertIn("InvalidAccessKeyId", err)

        # the raw area: every object, context line and body
        store = {"VINTED_STORE": "s3://%s/secrets" % test_objstore.BUCKET, "VINTED_S3_ENDPOINT": s3.endpoint(),
                 "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1"}
        rc, out, err = test_objstore.run_probe(self, ["list", "raw/"], store)
        self.assertEqual(rc, 0, err)
        keys_listed = [line.rpartition("\t")[0] for line in out.decode().splitlines() if line]
        self.assertTrue(keys_listed, "no raw object stored")
        raw = []
        for key in keys_listed:
            rc, data, err = test_objstore.run_probe(self, ["get", key], store)
            self.assertEqual(rc, 0, err)
            raw.append(("raw object %s" % key, gzip.decompress(data).decode("utf-8", "replace")))
        self.assertTrue(any('"url"' in text.split("\n", 1)[0] for _, text in raw), "no context line in raw objects")

        self.pipe.stop()
        logs = []
        for name, path in self.pipe.logs():
            with open(path, "rb") as f:
                logs.append(("log of %s" % name, f.read().decode("utf-8", "replace")))

        wanted = {"PostgreSQL password": password, "wrong PostgreSQL password": wrong_password,
                  "S3 access key": "S3RVER", "S3 secret key": "S3RVER",
                  "unknown S3 access key": bad_access, "wrong S3 secret key": bad_secret}
        for name in ["broker"] + names:
            wanted["CURVE secret key of %s" % name] = secret_key_of(keys[name]["secret"])
        cookies = sorted(c for c in relay.cookies if len(c) >= 8)
        self.assertGreaterEqual(len(cookies), 3, "too few session cookies seen to check")
        for i, c in enumerate(cookies):
            wanted["session cookie %d" % i] = c
        corpus = logs + metrics + raw + outputs
        figure("security_secrets_checked", len(wanted))
        figure("security_texts_searched", len(corpus))
        figure("security_bytes_searched", sum(len(t) for _, t in corpus))
        hits = ["%s in %s" % (what, where) for what, value in wanted.items()
                for where, text in corpus if value in text]
        self.assertFalse(hits, "secrets found:\n  " + "\n  ".join(hits[:30]))


if __name__ == "__main__":
    unittest.main()
