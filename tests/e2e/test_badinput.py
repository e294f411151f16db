"""test_badinput.py - bad input end to end (issue 5): a rogue peer flooding the
broker's worker and control endpoints while a real window runs, and hostile
listings (quotes, backslashes, SQL and format text, control characters, a 1 MiB
title, NUL, invalid UTF-8, unpaired surrogate escapes, huge numbers) served by
the simulator, on both API generations. What must hold:

  rogue peer: the window commits and the database equals the simulator's truth;
      the broker stays alive and answers status; it logs and counts every kind
      of invalid frame (the status counter and the Prometheus metric agree with
      the log); the 100 MiB frames never land (the broker's peak memory, VmHWM,
      grows by less than VINTED_MAX_MESSAGE) and ZeroMQ drops the connection
      that sent them;
  hostile listings: each is stored exactly (text byte for byte, a 1 MiB title
      whole, an out-of-range counter as NULL) or quarantined under its named
      rule with its raw JSON (text_invalid for NUL, invalid UTF-8 and unpaired
      surrogates: PostgreSQL text cannot hold them; price_invalid; id_missing);
      the SQL text is data, the tables are intact.

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_badinput.py -v
"""

import os
import re
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import E2ETestCase, figure, free_port, program_path  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

MAX_MESSAGE_MB = 64
OVERSIZED_MB = 100
ROGUE_SECONDS = 8
TABLES = ("items", "users", "sightings", "quarantine", "windows", "catalog_state", "dq_reports",
          "item_snapshots", "user_snapshots", "photos", "catalogs", "schema_migrations")


def vm_hwm_kb(pid):
    """Peak resident memory of a process (VmHWM, kB)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for pid %d" % pid)


class RoguePeerTest(E2ETestCase):

    def test_rogue_peer_while_a_window_runs(self):
        self.start_sim(catalogs=(221,), initial=400)
        metrics_port = free_port()
        pipe = self.start_pipeline(env={"VINTED_MAX_MESSAGE": "%dM" % MAX_MESSAGE_MB})
        broker = pipe.broker()
        # the broker alone serves metrics (every process reads VINTED_METRICS); in the ASan
        # build its quarantine of freed memory (256 MB by default) would count in VmHWM
        broker.env["VINTED_METRICS"] = str(metrics_port)
        broker.env["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                            "quarantine_size_mb=16"]))
        pipe.restart(broker)
        pipe.wait_ready()
        hwm_before = vm_hwm_kb(broker.pid)

        rogue = subprocess.Popen(
            [program_path("vinted-rogue-peer"), "--broker", pipe.env["VINTED_BROKER"],
             "--control", pipe.env["VINTED_CONTROL"], "--seconds", str(ROGUE_SECONDS),
             "--oversized-mb", str(OVERSIZED_MB), "--oversized-every", "100"],
            env=harness.clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            time.sleep(1.5)  # past the rogue's first, logged, round of every kind
            t0 = time.monotonic()
            self.assert_windows_ok({221: pipe.run_window(221)})
            self.sim.tick(new=150, bumps=5)
            self.assert_windows_ok({221: pipe.run_window(221)})
            figure("badinput_windows_under_flood_s", time.monotonic() - t0)
            out, err = rogue.communicate(timeout=ROGUE_SECONDS + 60)
        finally:
            if rogue.poll() is None:
                rogue.kill()
                rogue.wait()
        out, err = out.decode(), err.decode()
        self.assertEqual(harness.sanitizer_lines(err), [], "the rogue peer itself hit a sanitizer error")
        self.assertEqual(rogue.returncode, 0, "the rogue peer says the broker stopped answering:\n%s%s" % (out, err))
        sent = {m.group(1): int(m.group(2)) for m in re.finditer(r"^rogue sent kind=(\w+) frames=(\d+)$", out, re.M)}
        summary = dict(re.findall(r"(\w+)=(\d+)", re.search(r"^rogue summary (.*)$", out, re.M).group(1)))
        summary = {k: int(v) for k, v in summary.items()}
        for kind in ("garbage", "empty", "many_frames", "wrong_version", "unknown_command", "truncated",
                     "trailing_bytes", "bogus_stage", "foreign_result", "not_allowed", "oversized",
                     "control_garbage", "control_bad_request"):
            self.assertGreater(sent.get(kind, 0), 0, "the rogue sent no %s frame: %s" % (kind, out))

        # the pipeline did its work, under the flood
        pipe.check_alive()
        self.assert_matches_truth()
        self.assertEqual(pipe.windows()[-1]["state"], "done")

        # the control socket answered the frames it could read, all as bad requests
        self.assertEqual(summary["broker_alive"], 1)
        self.assertGreater(summary["status_ok"], 1, "status was not answered during the flood")
        self.assertGreater(summary["control_replies"], 0.5 * summary["control_sent"], summary)
        self.assertEqual(summary["bad_request_replies"], summary["control_replies"],
                         "a hostile control frame got another answer than status 2: %s" % summary)
        # ZeroMQ dropped the connection that sent frames over VINTED_MAX_MESSAGE
        self.assertGreater(summary["worker_disconnects"], 0, "no oversized frame was refused: %s" % summary)

        # logged: each kind of invalid frame, with the peer, its size and the reason
        with open(broker.log, encoding="utf-8", errors="replace") as f:
            log = f.read()
        rejected = [line for line in log.splitlines() if 'msg="invalid frame rejected"' in line]
        reasons = {
            "wrong version": "version 2 not supported",
            "many frames": "frames, expected one message frame",
            "empty frame": "bytes=0 ",
            "bogus stage": "READY: field 2 (stage) is not a stage",
            "REPORT not from a fetcher": "REPORT from a worker that is not a fetcher",
            "TOKEN_REQ not from a fetcher": "TOKEN_REQ from a worker that is not a fetcher",
            "worker sending a broker command": "is not a command a worker sends",
            "control garbage": "socket=control",
        }
        for what, needle in reasons.items():
            self.assertTrue(any(needle in line for line in rejected), "no log line for %s (%r)" % (what, needle))
        self.assertTrue(all(re.search(r" peer=[0-9A-F]+ bytes=\d+ reason=", line) for line in rejected),
                        "a rejection line without peer and size")
        logged = len(rejected) + sum(int(n) for n in re.findall(
            r'msg="more invalid frames rejected without a log line" count=(\d+)', log))
        status = pipe.status_json()
        self.assertIsNotNone(status)
        self.assertGreaterEqual(status["invalid_frames"], logged)
        self.assertGreaterEqual(logged, len(rejected))
        # a flood is summed up, not logged line by line
        self.assertLess(len(rejected), 60 * (ROGUE_SECONDS + 10))
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5) as r:
            metrics = r.read().decode()
        m = re.search(r"^vinted_broker_invalid_frames_total (\d+)", metrics, re.M)
        self.assertIsNotNone(m, "no vinted_broker_invalid_frames_total metric")
        self.assertGreaterEqual(int(m.group(1)), logged - 1000)  # refreshed every 200 ms
        self.assertGreater(int(m.group(1)), 0)

        # the oversized frames never landed in the broker's memory
        hwm_after = vm_hwm_kb(broker.pid)
        figure("badinput_invalid_frames", status["invalid_frames"])
        figure("badinput_broker_vmhwm_before_mb", hwm_before / 1024.0)
        figure("badinput_broker_vmhwm_after_mb", hwm_after / 1024.0)
        self.assertLess(hwm_after - hwm_before, MAX_MESSAGE_MB * 1024,
                        "the broker's peak memory grew by %d kB: an oversized frame was buffered" % (
                            hwm_after - hwm_before))


class HostileContentTest(E2ETestCase):

    def hostile(self, generation):
        sim = self.start_sim(catalogs=(221,), initial=30, generation=generation)
        pipe = self.start_pipeline(api=generation)
        self.assert_windows_ok({221: pipe.run_window(221)})
        created = sim._call("POST", "/_sim/hostile?catalog=221")["created"]
        self.assertEqual(len(created), 15)
        t0 = time.monotonic()
        self.assert_windows_ok({221: pipe.run_window(221)})
        figure("badinput_hostile_window_%s_s" % generation, time.monotonic() - t0)
        truth = sim.truth()
        self.assert_matches_truth(truth)  # every stored field, byte for byte; quarantine by rule

        by_case = {t["hostile"]: t for t in truth if t.get("hostile")}
        stored = {int(r[0]): r for r in pipe.query(
            "SELECT item_id, title, octet_length(title), brand, size_title, favourite_count, view_count "
            "FROM items WHERE item_id IN (%s)" % ",".join(str(t["item_id"]) for t in by_case.values()))}
        for case, t in by_case.items():
            if t["invalid"] is None:
                self.assertIn(t["item_id"], stored, "hostile listing %s was not stored" % case)
            else:
                self.assertNotIn(t["item_id"], stored, "hostile listing %s was stored" % case)
        huge = stored[by_case["huge_title"]["item_id"]]
        self.assertEqual(int(huge[2]), 1 << 20, "the 1 MiB title was not stored whole")
        self.assertEqual(huge[1], by_case["huge_title"]["title"])
        sql = stored[by_case["sql"]["item_id"]]
        self.assertEqual((sql[1], sql[3], sql[4]), ("'); DROP TABLE items; --",
                                                    "Robert'); DELETE FROM users WHERE ''=''; --",
                                                    "42'; TRUNCATE windows; --"))
        self.assertEqual(pipe.scalar("SELECT login FROM users WHERE user_id = %d" % by_case["sql"]["user_id"]),
                         "Robert'); DROP TABLE users; --")
        counts = stored[by_case["huge_counts"]["item_id"]]
        self.assertEqual((counts[5], counts[6]), (None, None))

        # quarantined with their rule and their raw JSON, bytes as served
        rules = dict(pipe.query("SELECT rule, count(*) FROM quarantine GROUP BY rule"))
        want = {}
        for t in by_case.values():
            if t["invalid"]:
                want[t["invalid"]] = want.get(t["invalid"], 0) + 1
        for rule, n in want.items():
            self.assertGreaterEqual(int(rules.get(rule, 0)), n, "quarantine by rule: %s" % rules)
        for case, raw_hex in (("invalid_utf8", "636166e9206372c328"),      # caf\xe9 cr\xc3(
                              ("brand_invalid_utf8", "5a617261fffe"),      # Zara\xff\xfe
                              ("huge_price", "3939393939393939393939393939393939393939")):
            n = pipe.scalar("SELECT count(*) FROM quarantine WHERE position('\\x%s'::bytea IN raw) > 0" % raw_hex)
            self.assertGreaterEqual(int(n), 1, "no quarantined raw JSON holds the bytes of %s" % case)

        # the tables are all there, and hold what they held
        for table in TABLES:
            self.assertTrue(pipe.pg.table_exists(self.db, table), "table %s is gone" % table)
        self.assertGreater(int(pipe.scalar("SELECT count(*) FROM windows WHERE state = 'done'")), 1)
        self.assertGreater(int(pipe.scalar("SELECT count(*) FROM users")), 1)

    def test_hostile_listings_v2(self):
        self.hostile("v2")

    def test_hostile_listings_svc(self):
        self.hostile("svc")


if __name__ == "__main__":
    unittest.main()
