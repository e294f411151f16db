"""test_valgrind.py - one end-to-end run under valgrind's memcheck (issue 5): a small
catalog window (one catalog, 200 listings, images off), then a second one with new,
bumped and hostile listings (simulator POST /_sim/hostile), through the broker and
every worker (fetcher, transformer, pg-sink, s3-uploader), driven by vinted-ctl (window,
status, get, prices, quality), all of them under

    valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite
             --error-exitcode=99 --log-file=...

then a clean SIGTERM shutdown. Every valgrind log must report 0 errors and no
definitely lost bytes, every program must have exited 0, and the database must equal
the simulator's truth. Only against the normal build: valgrind and AddressSanitizer
do not mix, so with an ASan build (VINTED_BIN=bin-asan) the test is skipped, saying
so. A missing valgrind fails it (tests/install-deps.sh installs it).

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_valgrind.py -v
"""

import glob
import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import E2ETestCase, figure, program_path  # noqa: E402

setUpModule = harness.PgModule.setup
tearDownModule = harness.PgModule.teardown

PROGRAMS = ("broker", "fetcher", "transformer", "pg-sink", "s3-uploader", "ctl")


def asan_build():
    """Is the build under test instrumented with AddressSanitizer?"""
    with open(program_path("broker"), "rb") as f:
        return b"__asan_init" in f.read()


class ValgrindTest(E2ETestCase):

    def setUp(self):
        if asan_build():
            self.skipTest("valgrind and AddressSanitizer do not mix: %s is an ASan build; this test runs "
                          "against the normal build (VINTED_BIN=bin)" % harness.bin_dir())
        super().setUp()

    def test_catalog_window_under_memcheck(self):
        valgrind = shutil.which("valgrind")
        self.assertIsNotNone(valgrind, "valgrind is not installed (tests/install-deps.sh installs it)")
        logs = os.path.join(self.workdir, "valgrind")
        os.makedirs(logs)

        def memcheck(name):
            return [valgrind, "--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite",
                    "--error-exitcode=99", "--num-callers=30", "--trace-children=no",
                    "--log-file=%s/%s.%%p.log" % (logs, name)]

        t0 = time.monotonic()
        self.start_sim(catalogs=(221,), initial=200)
        self.pipe = harness.Pipeline(self.workdir, self.pg, self.db, self.sim, api="v2", wrapper=memcheck,
                                     env={"VINTED_TASK_TIMEOUT": "120s", "VINTED_IMAGES": "off"})
        self.pipe.start_all(fetchers=1, transformers=1, sinks=1, uploaders=1, ready_timeout=100)
        started = time.monotonic() - t0
        rc, out, err = self.pipe.run_window(221, timeout="90s")
        self.assertEqual(rc, 0, "the window did not commit under valgrind: %s %s" % (out, err[-2000:]))
        self.assertEqual(int(self.pipe.scalar("SELECT count(*) FROM items")), 200)
        # a second window with new, bumped and hostile listings (quarantine, repaired JSON)
        self.sim.tick(new=40, bumps=5)
        self.sim._call("POST", "/_sim/hostile?catalog=221")
        rc, out, err = self.pipe.run_window(221, timeout="90s")
        self.assertEqual(rc, 0, "the second window did not commit under valgrind: %s %s" % (out, err[-2000:]))
        self.assert_matches_truth()
        for args in (("status", "--json"), ("get", "--window", "1"), ("get", "--window", "999"),
                     ("prices", "--json"), ("quality",)):
            rc, out, err = self.pipe.ctl(*args, timeout=60)
            self.assertIn(rc, (0, 2), "vinted-ctl %s: %s" % (" ".join(args), err))

        self.pipe.stop(grace=90)  # valgrind's leak check takes a while
        exits = {p.name: p.exits[-1][0] for p in self.pipe.procs}
        elapsed = time.monotonic() - t0

        files = sorted(glob.glob(os.path.join(logs, "*.log")))
        seen = {os.path.basename(f).split(".")[0] for f in files}
        for name in ("broker", "fetcher-1", "transformer-1", "pg-sink-1", "s3-uploader-1", "ctl"):
            self.assertIn(name, seen, "no valgrind log for %s (logs: %s)" % (name, sorted(seen)))
        problems = []
        lost_total = 0
        for path in files:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            name = os.path.basename(path)
            m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
            if not m:
                problems.append("%s: no ERROR SUMMARY (the program did not finish under valgrind)" % name)
                continue
            if int(m.group(1)) != 0:
                problems.append("%s: %s errors:\n%s" % (name, m.group(1), self.first_error(text)))
            d = re.search(r"definitely lost: ([\d,]+) bytes", text)
            if d:
                lost = int(d.group(1).replace(",", ""))
                lost_total += lost
                if lost:
                    problems.append("%s: definitely lost %d bytes:\n%s" % (name, lost, self.first_error(text)))
        for name, rc in exits.items():
            if rc != 0:
                problems.append("%s exited with %s after SIGTERM (99: valgrind found errors)" % (name, rc))
        figure("valgrind_logs", len(files))
        figure("valgrind_startup_s", started)
        figure("valgrind_total_s", elapsed)
        figure("valgrind_definitely_lost_bytes", lost_total)
        self.assertFalse(problems, "\n".join(problems))

    @staticmethod
    def first_error(text, lines=40):
        """The first error or leak record of a valgrind log, for the failure message."""
        out = []
        for line in text.splitlines():
            body = re.sub(r"^==\d+== ?", "", line)
            if out or re.search(r"(Invalid|uninitialised|Conditional jump|definitely lost in|Mismatched|"
                                r"Syscall param|Source and destination)", body):
                out.append("    " + body)
                if len(out) >= lines:
                    break
        return "\n".join(out)


if __name__ == "__main__":
    unittest.main()
