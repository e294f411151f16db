"""test_cli.py - every program's command line and environment (issue 5, bad input):
invalid flags, missing values, bad numbers, durations, sizes, dates, inverted
ranges, malformed ZeroMQ endpoints, PostgreSQL connection strings and store URLs,
unknown commands and bad VINTED_* values each get a non-zero exit and a message on
stderr naming the offending flag, variable or value, quickly and without any
sanitizer report; --help exits 0 and lists every flag. Table-driven: no database,
broker or simulator is needed, because every case must be refused before any of
them would be contacted.

    VINTED_BIN=bin python3 -m unittest discover -s tests/e2e -t tests/e2e -p test_cli.py -v
"""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import figure, program_path, sanitizer_lines  # noqa: E402

TIMEOUT = 10  # seconds: a refused setting must not wait for anything

WORKERS = ("fetcher", "transformer", "pg-sink", "s3-uploader")
SERVERS = ("broker",) + WORKERS

# (program, arguments, environment, text stderr must hold)
CASES = []
for prog in SERVERS:
    CASES += [
        (prog, ["--nope"], {}, "unknown option '--nope'"),
        (prog, ["--broker"], {}, "option '--broker' needs a value"),
        (prog, ["stray"], {}, "unexpected argument 'stray'"),
        (prog, ["--metrics", "abc"], {}, "invalid --metrics / VINTED_METRICS 'abc'"),
        (prog, ["--metrics", "70000"], {}, "invalid --metrics / VINTED_METRICS '70000'"),
        (prog, ["--metrics=9100", "--metrics-bind", "not-an-address"], {}, "invalid --metrics-bind"),
        (prog, [], {"VINTED_METRICS": "-1"}, "VINTED_METRICS '-1'"),
        (prog, [], {"VINTED_LOG_LEVEL": "loud"}, "invalid VINTED_LOG_LEVEL 'loud'"),
        (prog, ["--broker", "nonsense"], {}, "invalid --broker / VINTED_BROKER 'nonsense'"),
        (prog, ["--broker", "tcp://127.0.0.1:99999"], {}, "'tcp://127.0.0.1:99999': the port must be 1..65535"),
        (prog, ["--broker", "tcp://127.0.0.1"], {}, "'tcp://127.0.0.1': tcp:// needs HOST:PORT"),
        (prog, [], {"VINTED_BROKER": "http://127.0.0.1:5555"}, "VINTED_BROKER 'http://127.0.0.1:5555'"),
    ]
for prog in WORKERS:
    CASES.append((prog, ["--broker", "tcp://*:5555"], {}, "* is only for the side that binds"))

CASES += [
    ("broker", ["--control", "tcp://x:"], {}, "invalid --control / VINTED_CONTROL 'tcp://x:'"),
    ("broker", ["--broker", "tcp://127.0.0.1:7000", "--control", "tcp://127.0.0.1:7000"], {},
     "the same endpoint as --broker"),
    ("broker", ["--pg", "nonsense"], {}, "invalid --pg / VINTED_PG 'nonsense'"),
    ("broker", ["--pg", "postgresql://h/db?sslmode=sometimes&bogus=1"], {}, "invalid --pg"),
    ("broker", [], {"VINTED_PG": "dbname='unterminated"}, "VINTED_PG"),
    ("broker", ["--store", "ftp://bucket/raw"], {}, "invalid --store / VINTED_STORE 'ftp://bucket/raw'"),
    ("broker", ["--store", "s3://"], {}, "invalid --store / VINTED_STORE 's3://'"),
    ("broker", ["--window", "5x"], {}, "invalid --window / VINTED_WINDOW '5x'"),
    ("broker", ["--window", "0.5s"], {}, "invalid --window / VINTED_WINDOW '0.5s': at least 1s"),
    ("broker", [], {"VINTED_WINDOW": "soon"}, "VINTED_WINDOW 'soon'"),
    ("broker", ["--rate", "0"], {}, "invalid --rate / VINTED_RATE '0'"),
    ("broker", [], {"VINTED_RATE": "fast"}, "VINTED_RATE 'fast': not a whole number"),
    ("broker", ["--rate", "99999999999999999999"], {}, "invalid --rate"),
    ("broker", ["--task-timeout", "never"], {}, "invalid --task-timeout / VINTED_TASK_TIMEOUT 'never'"),
    ("broker", ["--max-attempts", "0"], {}, "invalid --max-attempts / VINTED_MAX_ATTEMPTS '0'"),
    ("broker", ["--sample-frac", "2"], {}, "invalid --sample-frac / VINTED_SAMPLE_FRAC '2'"),
    ("broker", ["--sample-frac", "a lot"], {}, "VINTED_SAMPLE_FRAC 'a lot'"),
    ("broker", ["--catalogs", "221,abc"], {}, "invalid --catalogs / VINTED_CATALOGS '221,abc'"),
    ("broker", ["--catalogs", "-5"], {}, "VINTED_CATALOGS '-5'"),
    ("broker", ["--catalogs", "221,,1242"], {}, "VINTED_CATALOGS '221,,1242'"),
    ("broker", ["--images", "everything"], {}, "invalid --images / VINTED_IMAGES 'everything'"),
    ("broker", ["--track-every", "tomorrow"], {}, "invalid --track-every / VINTED_TRACK_EVERY 'tomorrow'"),
    ("broker", ["--catalogs-every", "-1h"], {}, "invalid --catalogs-every / VINTED_CATALOGS_EVERY '-1h'"),
    ("broker", ["--max-message", "64MB"], {}, "invalid --max-message / VINTED_MAX_MESSAGE '64MB'"),
    ("broker", ["--max-message", "1K"], {}, "VINTED_MAX_MESSAGE '1K': must be between"),
    ("broker", [], {"VINTED_MAX_MESSAGE": "lots"}, "VINTED_MAX_MESSAGE 'lots'"),
    ("fetcher", ["--site", "xx"], {}, "unknown site 'xx'"),
    ("fetcher", [], {"VINTED_SITE": "mars"}, "unknown site 'mars'"),
    ("fetcher", ["--api", "v3"], {}, "invalid --api: 'v3'"),
    ("fetcher", [], {"VINTED_API": "v9"}, "'v9'"),
    ("fetcher", ["--timeout", "0"], {}, "invalid --timeout"),
    ("fetcher", ["--timeout", "soon"], {}, "invalid --timeout / VINTED_FETCH_TIMEOUT 'soon'"),
    ("fetcher", ["--backoff-base", "1s", "--backoff-max", "1ms"], {}, "invalid --backoff-max"),
    ("fetcher", ["--block-backoff", "0"], {}, "invalid --block-backoff"),
    ("fetcher", ["--www-url", "not a url"], {}, "invalid www URL 'not a url'"),
    ("fetcher", ["--api-url", "ftp://api.vinted.pt"], {}, "invalid api URL 'ftp://api.vinted.pt'"),
    ("transformer", ["--capacity", "0"], {}, "invalid --capacity / VINTED_TRANSFORM_CAPACITY '0'"),
    ("transformer", ["--capacity", "many"], {}, "VINTED_TRANSFORM_CAPACITY 'many': not a whole number"),
    ("transformer", [], {"VINTED_TRANSFORM_CAPACITY": "-1"}, "VINTED_TRANSFORM_CAPACITY '-1'"),
    ("pg-sink", ["--batch", "0"], {}, "invalid --batch / VINTED_SINK_BATCH '0'"),
    ("pg-sink", ["--batch", "5000"], {}, "VINTED_SINK_BATCH '5000': must be between"),
    ("pg-sink", [], {"VINTED_SINK_BATCH": "x"}, "VINTED_SINK_BATCH 'x'"),
    ("pg-sink", ["--pg", "nonsense"], {}, "invalid --pg / VINTED_PG 'nonsense'"),
    ("pg-sink", [], {"VINTED_PG": "nosuchkey=1"}, "invalid connection option \"nosuchkey\""),
    ("s3-uploader", ["--capacity", "0"], {}, "invalid --capacity / VINTED_UPLOAD_CAPACITY '0'"),
    ("s3-uploader", ["--cdn-timeout", "0"], {}, "invalid --cdn-timeout"),
    ("s3-uploader", ["--cdn-url", "ftp://cdn"], {}, "invalid --cdn-url / VINTED_CDN_URL 'ftp://cdn'"),
    ("s3-uploader", ["--store", "ftp://bucket"], {}, "invalid --store / VINTED_STORE 'ftp://bucket'"),
    ("s3-uploader", [], {"VINTED_STORE": "s3://"}, "VINTED_STORE 's3://'"),
    ("s3-uploader", [], {"VINTED_UPLOAD_CAPACITY": "x"}, "VINTED_UPLOAD_CAPACITY 'x'"),

    ("ctl", [], {}, "a command is needed"),
    ("ctl", ["frobnicate"], {}, "unknown command 'frobnicate'"),
    ("ctl", ["status", "extra"], {}, "unexpected argument 'extra'"),
    ("ctl", ["--nope", "status"], {}, "unknown option '--nope'"),
    ("ctl", ["status", "--control"], {}, "option '--control' needs a value"),
    ("ctl", ["status", "--wait=1"], {}, "option '--wait' takes no value"),
    ("ctl", ["status", "--control", "nonsense"], {}, "invalid --control / VINTED_CONTROL 'nonsense'"),
    ("ctl", ["status"], {"VINTED_CONTROL": "tcp://*:5556"}, "VINTED_CONTROL 'tcp://*:5556'"),
    ("ctl", ["status", "--timeout", "abc"], {}, "invalid --timeout 'abc'"),
    ("ctl", ["status", "--timeout", "0"], {}, "invalid --timeout '0'"),
    ("ctl", ["status"], {"VINTED_CTL_TIMEOUT": "forever"}, "invalid --timeout 'forever'"),
    ("ctl", ["status"], {"VINTED_LOG_LEVEL": "chatty"}, "invalid VINTED_LOG_LEVEL 'chatty'"),
    ("ctl", ["window"], {}, "--catalog ID is required"),
    ("ctl", ["window", "--catalog", "abc"], {}, "--catalog ID is required and must be a positive number"),
    ("ctl", ["window", "--catalog", "-1"], {}, "must be a positive number"),
    ("ctl", ["window", "--catalog", "99999999999"], {}, "must be a positive number"),
    ("ctl", ["window", "--catalog", "221", "--from", "2026-13-01"], {}, "--from '2026-13-01' is not a UTC time"),
    ("ctl", ["window", "--catalog", "221", "--from", "2026-02-30"], {}, "--from '2026-02-30' is not a UTC time"),
    ("ctl", ["window", "--catalog", "221", "--to", "yesterday"], {}, "--to 'yesterday' is not a UTC time"),
    ("ctl", ["window", "--catalog", "221", "--from", "2026-11-25T10:00:00+02:00"], {}, "is not a UTC time"),
    ("ctl", ["window", "--catalog", "221", "--from", "2026-11-25T12:00:00Z", "--to", "2026-11-25T10:00:00Z"], {},
     "--from '2026-11-25T12:00:00Z' is not before --to '2026-11-25T10:00:00Z'"),
    ("ctl", ["window", "--catalog", "221", "--from", "2026-11-25", "--to", "2026-11-25"], {}, "is not before --to"),
    ("ctl", ["backfill", "--catalog", "221", "--to", "2026-11-26"], {}, "--from is required"),
    ("ctl", ["backfill", "--catalog", "221", "--from", "2026-11-26", "--to", "2026-11-25"], {}, "after --from"),
    ("ctl", ["backfill", "--catalog", "221", "--from", "2026-11-25", "--to", "2026-11-26", "--window", "0s"], {},
     "invalid --window '0s'"),
    ("ctl", ["backfill", "--catalog", "221", "--from", "2026-11-25", "--to", "2026-11-26"], {"VINTED_WINDOW": "1y"},
     "invalid VINTED_WINDOW '1y'"),
    ("ctl", ["backfill", "--catalog", "221", "--from", "2000-01-01", "--to", "2026-11-26", "--window", "1s"], {},
     "use a longer --window"),
    ("ctl", ["backfill", "--from", "2026-11-25", "--to", "2026-11-26"], {}, "--catalog ID is required"),
    ("ctl", ["replay", "--from", "2026-11-25", "--to", "2026-11-26"], {}, "--flow catalog|tracking|catalogs is required"),
    ("ctl", ["replay", "--flow", "images", "--from", "2026-11-25", "--to", "2026-11-26"], {}, "--flow"),
    ("ctl", ["replay", "--flow", "catalog", "--from", "2026-11-26", "--to", "2026-11-25"], {}, "from before to"),
    ("ctl", ["replay", "--flow", "catalog", "--from", "99999999999999999999", "--to", "2026-11-25"], {},
     "--from and --to are required UTC times"),
    ("ctl", ["get"], {}, "--window ID is required"),
    ("ctl", ["get", "--window", "abc"], {}, "not 'abc'"),
    ("ctl", ["get", "--window", "0"], {}, "not '0'"),
    ("ctl", ["prices", "--by", "colour"], {}, "invalid --by 'colour'"),
    ("ctl", ["prices", "--catalog", "x"], {}, "invalid --catalog 'x'"),
    ("ctl", ["prices", "--since", "last week"], {}, "invalid --since 'last week'"),
    ("ctl", ["quality", "--since", "2026-02-30"], {}, "invalid --since '2026-02-30'"),
    ("ctl", ["report"], {}, "--html FILE is required"),
    ("ctl", ["prices", "--pg", "nonsense"], {}, "invalid --pg / VINTED_PG 'nonsense'"),
    ("ctl", ["catalogs"], {"VINTED_PG": "postgresql://[::1"}, "VINTED_PG 'postgresql://[::1'"),
    # a well-formed endpoint where nobody listens: unreachable, exit 3, the endpoint named
    ("ctl", ["status", "--control", "tcp://127.0.0.1:1", "--timeout", "300ms"], {},
     "could not reach the broker at tcp://127.0.0.1:1"),

    ("selftest", ["no-such-module"], {}, "no such test"),
    ("vinted-rogue-peer", ["--seconds", "0"], {}, "invalid --seconds"),
    ("vinted-objstore-probe", ["frobnicate"], {}, "frobnicate"),
]

# every flag --help must list
HELP = {
    "broker": ["--broker", "--control", "--pg", "--store", "--catalogs", "--window", "--rate", "--sample-frac",
               "--track-every", "--catalogs-every", "--images", "--task-timeout", "--max-attempts",
               "--max-message", "--metrics", "--metrics-bind", "VINTED_MAX_MESSAGE", "VINTED_BROKER"],
    "fetcher": ["--broker", "--site", "--api", "--www-url", "--api-url", "--user-agent", "--timeout",
                "--backoff-base", "--backoff-max", "--block-backoff", "--metrics", "VINTED_SITE"],
    "transformer": ["--broker", "--capacity", "--metrics", "VINTED_TRANSFORM_CAPACITY"],
    "pg-sink": ["--broker", "--pg", "--batch", "--metrics", "VINTED_SINK_BATCH"],
    "s3-uploader": ["--broker", "--store", "--capacity", "--cdn-url", "--cdn-timeout", "--metrics",
                    "VINTED_UPLOAD_CAPACITY"],
    "ctl": ["window", "backfill", "replay", "track", "refresh-catalogs", "get", "status", "prices", "quality",
            "catalogs", "report", "--control", "--pg", "--catalog", "--from", "--to", "--wait", "--window",
            "--flow", "--brand", "--condition", "--since", "--by", "--search", "--html", "--timeout", "--json"],
    "vinted-rogue-peer": ["--broker", "--control", "--seconds", "--oversized-mb"],
}


class CliTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="vinted-cli-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def run_case(self, prog, args, env):
        """(exit code, stdout, stderr, seconds); the program runs in a scratch dir with
        no VINTED_* setting but the case's, and a file:// store there."""
        full_env = harness.clean_env(dict({"VINTED_STORE": "file://" + os.path.join(self.workdir, "store"),
                                           "PGCONNECT_TIMEOUT": "2"}, **env))
        argv = [program_path(prog)] + list(args)
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, env=full_env, cwd=self.workdir, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=TIMEOUT)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = None, e.stdout or b"", e.stderr or b""
        return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), time.monotonic() - t0

    def test_bad_settings_are_refused_by_name(self):
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda c: self.run_case(c[0], c[1], c[2]), CASES))
        problems = []
        slowest = 0.0
        for (prog, args, env, needle), (rc, out, err, secs) in zip(CASES, results):
            what = "%s %s%s" % (prog, " ".join(args), "".join(" [%s=%s]" % kv for kv in env.items()))
            slowest = max(slowest, secs)
            if rc is None:
                problems.append("%s: still running after %ds" % (what, TIMEOUT))
            elif rc == 0 or rc < 0:
                problems.append("%s: exit %d, want a non-zero exit status" % (what, rc))
            elif needle not in err:
                problems.append("%s: stderr does not say %r:\n      %s" % (what, needle, err.strip()[-400:]))
            if sanitizer_lines(err):
                problems.append("%s: sanitizer: %s" % (what, sanitizer_lines(err)[:3]))
        figure("cli_cases", len(CASES))
        figure("cli_seconds", time.monotonic() - t0)
        figure("cli_slowest_case_s", slowest)
        self.assertFalse(problems, "%d of %d cases:\n  %s" % (len(problems), len(CASES), "\n  ".join(problems)))

    def test_exit_status_of_ctl_bad_arguments_is_2(self):
        for args in (["frobnicate"], ["window"], ["get", "--window", "abc"], ["status", "--control", "nonsense"],
                     ["prices", "--pg", "nonsense"]):
            rc, out, err, _ = self.run_case("ctl", args, {})
            self.assertEqual(rc, 2, "vinted-ctl %s: %s" % (" ".join(args), err))

    def test_help_lists_every_flag(self):
        for prog, flags in HELP.items():
            rc, out, err, _ = self.run_case(prog, ["--help"], {})
            self.assertEqual(rc, 0, "%s --help: exit %s %s" % (prog, rc, err))
            self.assertEqual(sanitizer_lines(err), [])
            missing = [f for f in flags if f not in out]
            self.assertFalse(missing, "%s --help does not mention %s" % (prog, missing))


if __name__ == "__main__":
    unittest.main()
