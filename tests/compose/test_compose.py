#!/usr/bin/env python3
"""test_compose.py - the docker compose deployment, run for real (make test-compose).

The shipped deploy/docker-compose.yml, with tests/compose/docker-compose.test.yml on
top (local images in place of the ones this machine cannot pull), and the simulated
Vinted as a service of its own project (docker-compose.sim.yml). One test, in steps:

  1. build every image (the pipeline from the real deploy/Dockerfile), report sizes;
  2. `up -d --build --scale transformer=2 --scale pg-sink=2 --scale fetcher=2`,
     a window per catalog pushed with `vinted-ctl` in the ctl container: the time
     from `up` to the first committed window; the database equals the simulator's
     truth; raw pages and photos are in the S3 server;
  3. every pipeline container turns healthy, every metrics port answers with its
     program's figures;
  4. mid-window: `docker kill` a transformer, a pg-sink and the broker, then
     `docker-compose restart postgres`, then `up -d` (Docker takes `docker kill` for
     a manual stop, which its restart policy leaves alone); a fetcher crashes (its
     process SIGKILLed under Docker) and the restart policy brings it back; the
     window commits, the database is still exactly the truth (nothing lost, nothing
     twice);
  5. `docker-compose down` and `up` again: the volumes keep the data, the next
     window starts from the stored high-water mark and reads only the new pages.

Needs root, a running Docker engine and the base image (tests/compose/run.sh sees to
both). VINTED_COMPOSE_KEEP=1 leaves the stack up after the test for a look around.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402

REPO = harness.REPO
COMPOSE_FILES = [os.path.join(REPO, "deploy", "docker-compose.yml"),
                 os.path.join(HERE, "docker-compose.test.yml")]
SIM_FILE = os.path.join(HERE, "docker-compose.sim.yml")
PROJECT = os.environ.get("VINTED_COMPOSE_PROJECT", "vintedcompose")
CATALOGS = (221, 1242)
SCALE = ["--scale", "transformer=2", "--scale", "pg-sink=2", "--scale", "fetcher=2"]
PG_PASSWORD = "compose-test-password"
# the metric family each program serves on its metrics port
METRIC_OF = {"broker": "vinted_broker_workers", "fetcher": "vinted_fetch_requests_total",
             "transformer": "vinted_transform_pages_total", "pg-sink": "vinted_sink_transactions_total",
             "s3-uploader": "vinted_store_raw_pages_total"}
PIPELINE = ("broker", "fetcher", "transformer", "pg-sink", "s3-uploader")


def log(msg):
    print("[compose %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def docker(*args, timeout=120, check=True):
    p = subprocess.run(["docker"] + list(args), capture_output=True, timeout=timeout)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise AssertionError("docker %s exited %d: %s%s" % (" ".join(args), p.returncode, out, err))
    return out


def bridge_gateway():
    """The Docker bridge's gateway address: the host, as containers reach it."""
    out = docker("network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}} {{end}}")
    addrs = [a for a in out.split() if a.count(".") == 3]
    if not addrs:
        raise AssertionError("the Docker bridge network has no IPv4 gateway: %r" % out)
    return addrs[0]


class Compose:
    """docker-compose on one project, with the test's env file."""

    def __init__(self, project, files, env_file, log_path):
        self.project, self.files, self.env_file, self.log_path = project, files, env_file, log_path

    def argv(self, *args):
        argv = ["docker-compose", "-p", self.project, "--env-file", self.env_file]
        for f in self.files:
            argv += ["-f", f]
        return argv + list(args)

    def run(self, *args, timeout=900, check=True):
        """(exit code, stdout, stderr); docker-compose's output also goes to the log."""
        argv = self.argv(*args)
        try:
            p = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                               env=harness.clean_env())
            rc, out, err = p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            rc, out, err = 124, (e.stdout or b"").decode("utf-8", "replace"), (e.stderr or b"").decode("utf-8", "replace")
        with open(self.log_path, "a") as f:
            f.write("==== %s %s (exit %d)\n%s%s" % (time.strftime("%H:%M:%S"), " ".join(argv[1:]), rc, out, err))
        if check and rc != 0:
            raise AssertionError("%s exited %d:\n%s%s" % (" ".join(argv), rc, out[-3000:], err[-3000:]))
        return rc, out, err

    def containers(self, service):
        """Running container ids of a service."""
        return self.run("ps", "-q", service)[1].split()

    def ctl(self, *args, timeout=300):
        """vinted-ctl in the ctl container (compose run): (exit code, stdout, stderr)."""
        return self.run("run", "--rm", "-T", "ctl", *args, timeout=timeout, check=False)


class ComposePg(harness.PgCluster):
    """The compose stack's PostgreSQL, through its published port, read with the
    harness's exact COPY-based queries."""

    def __init__(self, port):  # no cluster of our own: only the client side
        self.bindir = self._find_bindir()
        self.port = port

    def dsn(self, db):
        return "host=127.0.0.1 port=%d user=vinted password=%s dbname=%s connect_timeout=5" % (
            self.port, PG_PASSWORD, db)


class ComposeSim(harness.Sim):
    """The simulator service, steered through its admin API from the host."""

    def __init__(self, url):
        self.url = url


class ComposeDeploymentTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="vinted-compose-")
        cls.log_path = os.path.join(cls.work, "compose.log")
        gateway = bridge_gateway()
        cls.sim_port = harness.free_port()
        cls.pg_port = harness.free_port()
        keys = os.path.join(cls.work, "keys")
        os.mkdir(keys)
        env = {
            # what a user sets (deploy/.env.example), for this machine
            "POSTGRES_PASSWORD": PG_PASSWORD,
            "POSTGRES_PORT": cls.pg_port,
            "BROKER_PORT": harness.free_port(),
            "CONTROL_PORT": harness.free_port(),
            "VINTED_KEYS_DIR": keys,
            "AWS_ACCESS_KEY_ID": "S3RVER",          # s3rver's only key pair
            "AWS_SECRET_ACCESS_KEY": "S3RVER",
            "VINTED_API": "svc",
            "VINTED_WWW_URL": "http://sim:%d" % cls.sim_port,
            "VINTED_API_URL": "http://sim:%d" % cls.sim_port,
            "VINTED_CDN_URL": "http://sim:%d" % cls.sim_port,
            # slow enough that a window is still running while the test breaks things
            "VINTED_RATE": "40",
            "VINTED_BACKOFF_BASE": "100ms",
            "VINTED_BACKOFF_MAX": "2s",
            "VINTED_TASK_TIMEOUT": "15s",
            "VINTED_SAMPLE_FRAC": "0.05",
            "VINTED_TRACK_EVERY": "0",
            "VINTED_CATALOGS_EVERY": "0",
            "VINTED_PHOTO_RETRY": "10s",
            # the simulator (docker-compose.sim.yml and the override)
            "SIM_HOST_IP": gateway,
            "SIM_PORT": cls.sim_port,
            "SIM_CATALOGS": ",".join(map(str, CATALOGS)),
            "SIM_INITIAL": 300,
            "SIM_GENERATION": "svc",
            "SIM_SEED": 11,
            "SIM_BAD_EVERY": 37,
        }
        cls.env_file = os.path.join(cls.work, "test.env")
        with open(cls.env_file, "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in sorted(env.items())))
        cls.stack = Compose(PROJECT, COMPOSE_FILES, cls.env_file, cls.log_path)
        cls.simstack = Compose(PROJECT + "-sim", [SIM_FILE], cls.env_file, cls.log_path)
        cls.pg = ComposePg(cls.pg_port)
        cls.sim = ComposeSim("http://%s:%d" % (gateway, cls.sim_port))
        log("work dir %s (docker-compose output: %s)" % (cls.work, cls.log_path))
        # what an earlier, interrupted run may have left
        cls.stack.run("down", "-v", "--remove-orphans", check=False, timeout=300)
        cls.simstack.run("down", "-v", check=False, timeout=120)

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("VINTED_COMPOSE_KEEP") == "1":
            log("VINTED_COMPOSE_KEEP=1: the stack stays up (env file %s)" % cls.env_file)
            return
        cls.stack.run("down", "-v", "--remove-orphans", check=False, timeout=300)
        cls.simstack.run("down", "-v", check=False, timeout=120)

    def tearDown(self):
        if not getattr(self, "_passed", False):
            rc, out, err = self.stack.run("logs", "--no-color", "--tail", "40", check=False, timeout=120)
            print("---- the last lines of every service's log\n%s%s" % (out[-20000:], err[-2000:]), flush=True)

    # -- helpers

    def scalar(self, sql):
        return self.pg.scalar("vinted", sql)

    def query(self, sql):
        return self.pg.query("vinted", sql)

    def wait_pg(self, timeout=120):
        def up():
            try:
                return self.scalar("SELECT 1") == "1"
            except RuntimeError:
                return False
        harness.wait_until(up, timeout, 0.5, "PostgreSQL on port %d" % self.pg_port)

    def push_windows(self, timeout="240s"):
        """A window per catalog, in parallel, with vinted-ctl --wait in ctl containers."""
        results = {}

        def push(c):
            results[c] = self.stack.ctl("window", "--catalog", str(c), "--wait", "--timeout", timeout,
                                        timeout=harness.config_seconds(timeout) + 120)
        threads = [threading.Thread(target=push, args=(c,)) for c in CATALOGS]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c, (rc, out, err) in sorted(results.items()):
            self.assertEqual(rc, 0, "vinted-ctl window --catalog %d exited %d:\n%s%s" % (c, rc, out, err))
        return results

    def assert_truth(self):
        harness.assert_db_matches_truth(self, self.pg, "vinted", self.sim.truth())

    def image_mb(self, image):
        return int(docker("image", "inspect", "-f", "{{.Size}}", image).strip()) / 1e6

    def health(self, cid):
        out = docker("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", cid)
        return out.strip()

    def wait_healthy(self, services, timeout=120):
        def all_healthy():
            states = {}
            for s in services:
                cids = self.stack.containers(s)
                states[s] = [self.health(c) for c in cids] or ["no container"]
            self._health = states
            return all(v == "healthy" for vs in states.values() for v in vs)
        try:
            harness.wait_until(all_healthy, timeout, 2, "every container healthy")
        except AssertionError:
            self.fail("not every container turned healthy within %d s: %s" % (timeout, self._health))

    def wait_window_state(self, want, timeout=60):
        def state():
            try:
                rows = self.query("SELECT state FROM windows WHERE kind = 'adhoc' ORDER BY window_id DESC LIMIT 1")
            except RuntimeError:
                return None
            return rows[0][0] if rows and rows[0][0] in want else None
        return harness.wait_until(state, timeout, 0.1, "the newest window to be %s" % "/".join(want))

    # -- the test

    def test_compose_deployment(self):
        t_all = time.monotonic()
        # 1. images
        t0 = time.monotonic()
        self.simstack.run("build", timeout=1800)
        self.stack.run("build", timeout=3600)
        harness.figure("compose_build_s", time.monotonic() - t0)
        for image in ("vinted-pipeline:latest", "vinted-test/postgres:latest", "vinted-test/s3:latest",
                      "vinted-test/awscli:latest", "vinted-test/sim:latest", "vinted-test/bookworm:base"):
            harness.figure("image_mb " + image, self.image_mb(image))
        out = docker("run", "--rm", "vinted-pipeline:latest", "vinted-broker", "--help")
        self.assertIn("VINTED_BROKER", out, "the image's vinted-broker --help")

        # 2. up, scaled; first windows
        self.simstack.run("up", "-d")
        harness.wait_until(lambda: self._sim_ready(), 60, 0.5, "the simulator service")
        t0 = time.monotonic()
        self.stack.run("up", "-d", "--build", *SCALE, timeout=1800)
        harness.figure("compose_up_s", time.monotonic() - t0)
        for service, n in (("fetcher", 2), ("transformer", 2), ("pg-sink", 2), ("s3-uploader", 1), ("broker", 1)):
            self.assertEqual(len(self.stack.containers(service)), n, "running containers of %s" % service)
        rc, out, err = self.stack.ctl("window", "--catalog", str(CATALOGS[0]), "--wait", "--timeout", "240s",
                                      timeout=400)
        self.assertEqual(rc, 0, "the first window: vinted-ctl exited %d:\n%s%s" % (rc, out, err))
        self.assertIn("committed", out)
        harness.figure("startup_to_first_committed_window_s", time.monotonic() - t0)
        self.push_windows()
        self.wait_pg()
        self.assert_truth()
        n_items = int(self.scalar("SELECT count(*) FROM items"))
        self.assertGreater(n_items, 500)
        self.assert_objects_stored()

        # 3. healthchecks and metrics ports
        t0 = time.monotonic()
        self.wait_healthy(PIPELINE + ("postgres",))
        harness.figure("healthy_after_first_windows_s", time.monotonic() - t0)
        for service in PIPELINE:
            for cid in self.stack.containers(service):
                text = docker("exec", cid, "curl", "-fsS", "--max-time", "5", "http://127.0.0.1:9100/metrics")
                self.assertIn("# TYPE %s " % METRIC_OF[service], text,
                              "%s (%s) metrics port: no %s" % (service, cid[:12], METRIC_OF[service]))
        text = docker("exec", self.stack.containers("broker")[0], "curl", "-fsS", "http://127.0.0.1:9100/metrics")
        for stage, n in (("fetch", 2), ("transform", 2), ("sink", 2), ("store", 1), ("photo", 1)):
            self.assertIn('vinted_broker_workers{stage="%s"} %d' % (stage, n), text,
                          "the broker's metrics count the scaled workers")

        # 4. break things mid-window
        self.sim.tick(new=900, bumps=20)
        results = {}
        waiter = threading.Thread(target=lambda: results.update(
            r=self.stack.ctl("window", "--catalog", str(CATALOGS[0]), "--wait", "--timeout", "300s", timeout=500)))
        waiter.start()
        self.wait_window_state(("running",), timeout=90)
        broken = []
        for service in ("transformer", "pg-sink", "broker"):
            time.sleep(1.0)
            self.assertEqual(self.scalar("SELECT state FROM windows ORDER BY window_id DESC LIMIT 1"), "running",
                             "the window ended before the %s was killed: slow the pipeline down" % service)
            cid = self.stack.containers(service)[0]
            docker("kill", cid)
            broken.append(cid)
            log("killed %s %s" % (service, cid[:12]))
        t0 = time.monotonic()
        self.stack.run("restart", "postgres", timeout=300)
        log("restarted postgres in %.1f s" % (time.monotonic() - t0))

        # Docker counts `docker kill` as a manual stop: the restart policy does not
        # bring those back. The user's command does (it starts the stopped containers):
        t0 = time.monotonic()
        self.stack.run("up", "-d", "--no-build", *SCALE, timeout=600)
        for cid in broken:
            self.assertEqual(docker("inspect", "-f", "{{.State.Running}}", cid).strip(), "true",
                             "container %s not running again after up -d" % cid[:12])
        harness.figure("up_after_kills_s", time.monotonic() - t0)
        # a crash (the program killed under Docker, as the OOM killer would) is what the
        # restart policy (unless-stopped) is for: that fetcher comes back on its own
        cid = self.stack.containers("fetcher")[0]
        pid = int(docker("inspect", "-f", "{{.State.Pid}}", cid).strip())
        os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()

        def restarted():
            running, count = docker("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", cid).split()
            return running == "true" and int(count) >= 1
        harness.wait_until(restarted, 60, 0.2, "the restart policy to restart the crashed fetcher")
        harness.figure("crashed_fetcher_restarted_s", time.monotonic() - t0)
        waiter.join(600)
        rc, out, err = results["r"]
        self.wait_pg()
        harness.wait_until(lambda: self.scalar("SELECT count(*) FROM windows WHERE state IN ('pending', 'running')")
                           == "0", 300, 1, "every window to end")
        self.assertEqual(rc, 0, "vinted-ctl window --wait across the kills exited %d:\n%s%s" % (rc, out, err))
        failed = self.query("SELECT window_id, error FROM windows WHERE state = 'failed'")
        self.assertFalse(failed, "failed windows after the kills: %s" % failed)
        self.push_windows()
        self.assert_truth()

        # 5. down, up: the stored marks
        marks = dict(self.query("SELECT catalog_id::text, hwm_item_id::text FROM catalog_state"))
        n_items = self.scalar("SELECT count(*) FROM items")
        last_window = int(self.scalar("SELECT max(window_id) FROM windows"))
        self.stack.run("down", timeout=300)
        self.assertEqual(self.stack.containers("broker"), [], "down left the broker running")
        self.sim.tick(new=150, bumps=5)
        t0 = time.monotonic()
        self.stack.run("up", "-d", *SCALE, timeout=900)
        harness.figure("compose_up_again_s", time.monotonic() - t0)
        self.wait_pg()
        self.assertEqual(self.scalar("SELECT count(*) FROM items"), n_items, "items after down and up")
        self.push_windows()
        harness.figure("up_again_to_committed_windows_s", time.monotonic() - t0)
        rows = self.query("SELECT catalog_id::text, hwm_before::text, requests FROM windows "
                          "WHERE kind = 'adhoc' AND window_id > %d"
                          % last_window)
        self.assertEqual(sorted(r[0] for r in rows), sorted(str(c) for c in CATALOGS), "windows after up: %s" % rows)
        for catalog, hwm_before, requests in rows:
            self.assertEqual(hwm_before, marks[catalog], "catalog %s did not start from its stored mark" % catalog)
            # 150 new listings are 2 pages; the page that reaches the mark may be a third
            self.assertLessEqual(int(requests), 3, "catalog %s read %s pages for 150 new listings" % (catalog, requests))
        self.assert_truth()
        self.assert_objects_stored()
        harness.figure("compose_test_s", time.monotonic() - t_all)
        self._passed = True

    def _sim_ready(self):
        try:
            return self.sim.stats() is not None
        except (OSError, AssertionError):
            return False

    def assert_objects_stored(self):
        """Once the images windows are done, every photo stored (those of the sampled
        items: VINTED_IMAGES=sampled) is an object in the S3 server, and so are raw
        pages (listed with the AWS CLI from the s3-init image)."""
        def windows_done():
            return self.scalar("SELECT count(*) FROM windows WHERE state IN ('pending', 'running')") == "0"
        harness.wait_until(windows_done, 120, 1, "the images windows to end")
        photos = int(self.scalar("SELECT count(*) FROM photos WHERE stored_at IS NOT NULL"))
        self.assertGreater(photos, 0, "no photo stored (VINTED_SAMPLE_FRAC samples some items)")
        rc, out, err = self.stack.run("run", "--rm", "-T", "--entrypoint", "aws", "s3-init",
                                      "--endpoint-url", "http://s3:8333", "s3api", "list-objects-v2",
                                      "--bucket", "vinted", "--output", "json", timeout=300, check=False)
        self.assertEqual(rc, 0, "aws s3api list-objects-v2: %s%s" % (out, err))
        keys = {o["Key"] for o in json.loads(out or "{}").get("Contents", [])}
        want = {r[0] for r in self.query("SELECT object_key FROM photos WHERE stored_at IS NOT NULL")}
        self.assertFalse(want - keys, "photos in the database but not in S3: %s" % sorted(want - keys)[:5])
        raw = [k for k in keys if k.startswith("raw/")]
        self.assertGreater(len(raw), 0, "no raw page in S3: %s" % sorted(keys)[:5])
        harness.figure("s3_objects", len(keys))


if __name__ == "__main__":
    unittest.main()
