"""test_objstore.py - the object store's S3 back end (common/objstore_s3.c) end to end,
through bin/vinted-objstore-probe (VINTED_BIN):

    S3rverTest   against a real S3 API server, s3rver (tests/package.json, installed
                 by tests/install-deps.sh): byte-exact round trips (NULs, 0 bytes,
                 5 MB), awkward keys, listing past 1000 keys (continuation tokens),
                 not found, wrong access key, missing settings, network errors.
    SigV4Test    against a capturing HTTP server: every request's Authorization is
                 recomputed with botocore's signer (Debian's python3-botocore, run by
                 /usr/bin/python3 tests/sigv4_check.py) and must be identical;
                 x-amz-content-sha256 must be the body's SHA-256; retries on
                 503 SlowDown / 500 / 429.

Python 3 standard library only. Figures are printed as `FIGURE name=value`.
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import figure, free_port, program_path, sanitizer_lines, wait_until  # noqa: E402

PROBE = "vinted-objstore-probe"
S3RVER = os.path.join(harness.REPO, "tests", "node_modules", ".bin", "s3rver")
SIGV4_CHECK = os.path.join(harness.REPO, "tests", "sigv4_check.py")
DEBIAN_PYTHON = "/usr/bin/python3"
BUCKET = "vinted"

# Keys that need percent-encoding, in UTF-8, with S3's awkward characters.
AWKWARD_KEYS = [
    "with space/and more spaces.bin",
    "plus+sign/a+b=c&d.json",
    "unicode/ünïcødé/日本語 ファイル.txt",
    "emoji/\U0001F600.gz",
    "punct/~tilde!$'()*,;:@[].x",
    "percent/100%25 %zz.txt",
    "amp/&amp;<lt>\"q\".xml",
]


def quote_key(key):
    """A key as it must appear in a path: RFC 3986 unreserved kept, and "/"."""
    return urllib.parse.quote(key, safe="/-_.~")


def quote_value(value):
    """A query value as SigV4 wants it: RFC 3986 unreserved kept, everything else %XX."""
    return urllib.parse.quote(value, safe="-_.~")


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def run_probe(testcase, args, env, stdin=None, timeout=120):
    """Run the probe: (exit code, stdout bytes, stderr text). Fails the test on a
    sanitizer report."""
    argv = [program_path(PROBE)] + [str(a) for a in args]
    p = subprocess.run(argv, env=harness.clean_env(env), input=stdin,
                       stdin=None if stdin is not None else subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    bad = sanitizer_lines(err)
    if bad:
        testcase.fail("sanitizer report from %s:\n%s" % (" ".join(argv), err[-4000:]))
    return p.returncode, p.stdout, err


def parse_list(out):
    """The probe's list output -> [(key, size)]."""
    rows = []
    for line in out.decode("utf-8").splitlines():
        key, _, size = line.rpartition("\t")
        rows.append((key, int(size)))
    return rows


# ---------------------------------------------------------------------------
# against s3rver

class S3rver:
    """s3rver as a process on 127.0.0.1, with the bucket "vinted"."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="vinted-s3rver-")
        self.log = os.path.join(self.root, "s3rver.log")
        self.port = None
        self.proc = None

    def start(self, timeout=30):
        node = shutil.which("node") or "/usr/bin/node"
        data = os.path.join(self.root, "data")
        os.mkdir(data)
        self.port = free_port()
        # s3rver makes continuation tokens with DES, which OpenSSL 3 keeps in its
        # legacy provider: without it, every list past 1000 keys answers 500.
        legacy = ["--openssl-legacy-provider"]
        if subprocess.run([node] + legacy + ["-e", "0"], capture_output=True).returncode != 0:
            legacy = []
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [node] + legacy + [S3RVER, "-d", data, "-a", "127.0.0.1", "-p", str(self.port),
                 "--configure-bucket", BUCKET],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("s3rver exited with %s:\n%s" % (self.proc.returncode,
                                                                     "\n".join(harness.tail(self.log))))
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_until(listening, timeout, 0.1, "s3rver on port %d" % self.port)
        return self

    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if harness.KEEP_TMP:
            print("[objstore] s3rver data kept in %s" % self.root, file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


class S3rverTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(S3RVER):
            raise unittest.SkipTest("s3rver is not installed (%s): run sh tests/install-deps.sh" % S3RVER)
        if not (shutil.which("node") or os.path.exists("/usr/bin/node")):
            raise unittest.SkipTest("node is not installed: run sh tests/install-deps.sh")
        cls.server = S3rver().start()

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()
            cls.server = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vinted-objstore-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def env(self, **extra):
        env = {"VINTED_STORE": "s3://%s/e2e/%s" % (BUCKET, self._testMethodName),
               "VINTED_S3_ENDPOINT": self.server.endpoint(),
               "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1"}
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def probe(self, *args, env=None, stdin=None):
        return run_probe(self, args, self.env() if env is None else env, stdin=stdin)

    def put(self, key, data, content_type=None):
        path = os.path.join(self.tmp, "upload")
        with open(path, "wb") as f:
            f.write(data)
        args = ["put", key, path] + (["--content-type", content_type] if content_type else [])
        rc, out, err = self.probe(*args)
        self.assertEqual(rc, 0, "put %r failed: %s" % (key, err))

    def get(self, key):
        rc, out, err = self.probe("get", key)
        self.assertEqual(rc, 0, "get %r failed: %s" % (key, err))
        return out

    def test_round_trip_is_byte_exact(self):
        cases = {
            "bin/nuls.bin": bytes(range(256)) * 16 + b"\0\0\0",
            "bin/empty": b"",
            "bin/one": b"\0",
            "bin/5mb.bin": os.urandom(5 * 1024 * 1024),
        }
        timings = {}
        for key, data in cases.items():
            t0 = time.monotonic()
            self.put(key, data, "application/octet-stream")
            t1 = time.monotonic()
            got = self.get(key)
            t2 = time.monotonic()
            timings[key] = (t1 - t0, t2 - t1)
            self.assertEqual(len(got), len(data), key)
            self.assertTrue(got == data, "%s: %d bytes came back different" % (key, len(data)))
            rc, out, err = self.probe("exists", key)
            self.assertEqual((rc, out.strip()), (0, str(len(data)).encode()), err)
        # overwrite
        self.put("bin/one", b"two")
        self.assertEqual(self.get("bin/one"), b"two")
        # stdin as the source
        rc, _, err = self.probe("put", "bin/stdin", "-", stdin=b"from\0stdin")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.get("bin/stdin"), b"from\0stdin")
        put_s, get_s = timings["bin/5mb.bin"]
        figure("objstore_s3rver_put_5mb_mb_per_s", 5 / put_s)
        figure("objstore_s3rver_get_5mb_mb_per_s", 5 / get_s)

    def test_awkward_keys(self):
        for i, key in enumerate(AWKWARD_KEYS):
            self.put(key, ("object %d: %s" % (i, key)).encode("utf-8"), "text/plain; charset=utf-8")
        for i, key in enumerate(AWKWARD_KEYS):
            self.assertEqual(self.get(key).decode("utf-8"), "object %d: %s" % (i, key))
            rc, out, err = self.probe("exists", key)
            self.assertEqual(rc, 0, err)
        rc, out, err = self.probe("list")
        self.assertEqual(rc, 0, err)
        listed = parse_list(out)
        self.assertEqual([k for k, _ in listed], utf8_sorted(AWKWARD_KEYS))
        for key, size in listed:
            self.assertEqual(size, len(("object %d: %s" % (AWKWARD_KEYS.index(key), key)).encode("utf-8")))
        # a prefix that needs encoding
        rc, out, err = self.probe("list", "unicode/ünï")
        self.assertEqual(rc, 0, err)
        self.assertEqual([k for k, _ in parse_list(out)], ["unicode/ünïcødé/日本語 ファイル.txt"])
        rc, out, err = self.probe("list", "plus+sign/a+b")
        self.assertEqual([k for k, _ in parse_list(out)], ["plus+sign/a+b=c&d.json"])

    def test_list_past_1000_keys(self):
        n = 1234
        src = os.path.join(self.tmp, "src")
        keys = []
        for i in range(n):
            key = "raw/%02d/%05d.json" % (i % 7, i)
            if i % 100 == 0:
                key = "raw/%02d/odd name +%d&ü.json" % (i % 7, i)
            keys.append(key)
            path = os.path.join(src, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(b"x" * (i % 13))
        before = self.server.log_text().count("continuation-token")
        t0 = time.monotonic()
        rc, out, err = self.probe("copy-from", "file://" + src)
        copy_s = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), str(n).encode())
        figure("objstore_s3rver_small_puts_per_s", n / copy_s)

        t0 = time.monotonic()
        rc, out, err = self.probe("list", "raw/")
        list_s = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        listed = parse_list(out)
        self.assertEqual([k for k, _ in listed], utf8_sorted(keys))
        sizes = {k: i % 13 for i, k in enumerate(keys)}
        self.assertEqual(dict(listed), sizes)
        figure("objstore_s3rver_list_keys_per_s", n / list_s)
        # s3rver writes its log asynchronously: give the line a moment on a busy machine
        wait_until(lambda: self.server.log_text().count("continuation-token") > before, 10, 0.1,
                   "s3rver's log to show that listing %d keys followed a continuation token" % n)

        # start-after, across the page boundary
        after = utf8_sorted(keys)[999]
        rc, out, err = self.probe("list", "raw/", "--start-after", after)
        self.assertEqual(rc, 0, err)
        self.assertEqual([k for k, _ in parse_list(out)], utf8_sorted(keys)[1000:])
        # a narrower prefix
        rc, out, err = self.probe("list", "raw/03/")
        self.assertEqual([k for k, _ in parse_list(out)], utf8_sorted(k for k in keys if k.startswith("raw/03/")))
        # and the file back end lists the same source the same way
        rc, out, err = run_probe(self, ["list", "raw/"], {"VINTED_STORE": "file://" + src})
        self.assertEqual(rc, 0, err)
        self.assertEqual([k for k, _ in parse_list(out)], utf8_sorted(keys))

    def test_not_found(self):
        rc, out, err = self.probe("get", "no/such/key")
        self.assertEqual(rc, 1, err)
        self.assertIn("no such key", err)
        rc, out, err = self.probe("exists", "no/such/key")
        self.assertEqual((rc, out), (1, b""), err)
        rc, out, err = self.probe("list", "no/such/")
        self.assertEqual((rc, out), (0, b""), err)
        # a missing bucket is an error, not a missing key
        env = self.env(VINTED_STORE="s3://no-such-bucket/x")
        rc, out, err = self.probe("get", "k", env=env)
        self.assertEqual(rc, 3, err)
        self.assertIn("NoSuchBucket", err)

    def test_wrong_access_key_is_refused_not_retried(self):
        rc, out, err = self.probe("put", "k", "-", stdin=b"x", env=self.env(AWS_ACCESS_KEY_ID="WRONGKEY"))
        self.assertEqual(rc, 3, err)
        self.assertIn("403", err)
        self.assertIn("InvalidAccessKeyId", err)
        self.assertNotIn("retrying", err)
        self.assertNotIn("S3RVER", err.replace("s3rver", ""), "a secret shows in the error")

    def test_bad_settings_name_the_variable(self):
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            rc, out, err = self.probe("get", "k", env=self.env(**{var: None}))
            self.assertEqual(rc, 2, err)
            self.assertIn(var, err)
        rc, out, err = self.probe("get", "k", env=self.env(VINTED_STORE="s3://UPPER/x"))
        self.assertEqual(rc, 2, err)
        self.assertIn("bucket", err)
        rc, out, err = self.probe("get", "k", env=self.env(VINTED_STORE=None))
        self.assertEqual(rc, 2, err)
        self.assertIn("VINTED_STORE", err)
        rc, out, err = self.probe("frobnicate", "k")
        self.assertEqual(rc, 2, err)
        rc, out, err = self.probe("put", "a/../b", "-", stdin=b"x")
        self.assertEqual(rc, 3, err)
        self.assertIn("..", err)
        rc, out, err = self.probe("--help")
        self.assertEqual(rc, 0, err)
        self.assertIn(b"VINTED_STORE", out)

    def test_network_errors_are_retried_then_reported(self):
        dead = "http://127.0.0.1:%d" % free_port()
        t0 = time.monotonic()
        rc, out, err = self.probe("put", "k", "-", stdin=b"x", env=self.env(VINTED_S3_ENDPOINT=dead))
        spent = time.monotonic() - t0
        self.assertEqual(rc, 3, err)
        self.assertIn("4 attempts", err)
        self.assertIn("connect", err.lower())
        self.assertLess(spent, 10)


# ---------------------------------------------------------------------------
# the signature, against botocore

class Capture(http.server.ThreadingHTTPServer):
    """An HTTP server that records every request and answers from a script:
    a list of (status, body) consumed in order, then its defaults."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), CaptureHandler)
        self.requests = []
        self.script = []
        self.lock = threading.Lock()


class CaptureHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path, _, query = self.path.partition("?")
        with self.server.lock:
            self.server.requests.append({"method": self.command, "path": path, "query": query,
                                         "headers": list(self.headers.items()), "body": body})
            scripted = self.server.script.pop(0) if self.server.script else None
        if scripted:
            status, out = scripted
        elif self.command == "GET" and "list-type=2" in query:
            status = 200
            out = (b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>vinted</Name>'
                   b'<KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>'
                   b'<Contents><Key>pre/q &#252;/+&amp;=%~b</Key><Size>3</Size></Contents></ListBucketResult>')
        elif self.command == "GET":
            status, out = 200, b"stored"
        else:
            status, out = 200, b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(out) if self.command != "HEAD" else 42))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_PUT = do_HEAD = _handle


SLOWDOWN = (503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")


class SigV4Test(unittest.TestCase):
    ACCESS = "AKIDEXAMPLE"
    SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    REGION = "eu-central-1"

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(DEBIAN_PYTHON):
            raise unittest.SkipTest("%s is absent: the botocore check needs Debian's python3 "
                                    "with python3-botocore" % DEBIAN_PYTHON)
        p = subprocess.run([DEBIAN_PYTHON, "-c", "import botocore.auth"], capture_output=True)
        if p.returncode != 0:
            raise unittest.SkipTest("botocore is not importable by %s (apt-get install python3-botocore, "
                                    "or sh tests/install-deps.sh as root): %s"
                                    % (DEBIAN_PYTHON, p.stderr.decode(errors="replace").strip()[-200:]))

    def setUp(self):
        self.server = Capture()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.addCleanup(self._stop)
        self.tmp = tempfile.mkdtemp(prefix="vinted-sigv4-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def _stop(self):
        self.server.shutdown()
        self.server.server_close()

    def host(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def env(self, **extra):
        env = {"VINTED_STORE": "s3://%s/pre" % BUCKET, "VINTED_S3_ENDPOINT": "http://" + self.host(),
               "AWS_ACCESS_KEY_ID": self.ACCESS, "AWS_SECRET_ACCESS_KEY": self.SECRET, "AWS_REGION": self.REGION}
        env.update(extra)
        return env

    def probe(self, *args, stdin=None, env=None):
        return run_probe(self, args, env or self.env(), stdin=stdin)

    def botocore(self, requests):
        """botocore's view of each captured request (see tests/sigv4_check.py)."""
        payload = [{"method": r["method"], "host": self.host(), "path": r["path"], "query": r["query"],
                    "headers": r["headers"], "body_b64": base64.b64encode(r["body"]).decode(),
                    "access_key": self.ACCESS, "secret_key": self.SECRET, "region": self.REGION}
                   for r in requests]
        p = subprocess.run([DEBIAN_PYTHON, SIGV4_CHECK], input=json.dumps(payload).encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, "sigv4_check.py failed: %s" % p.stderr.decode(errors="replace"))
        return json.loads(p.stdout)

    def assert_signed_like_botocore(self, requests):
        for req, boto in zip(requests, self.botocore(requests)):
            headers = {k.lower(): v for k, v in req["headers"]}
            what = "%s %s?%s" % (req["method"], req["path"], req["query"])
            self.assertEqual(headers.get("x-amz-content-sha256"), hashlib.sha256(req["body"]).hexdigest(), what)
            self.assertEqual(boto["content_sha256"], headers.get("x-amz-content-sha256"), what)
            self.assertEqual(headers.get("authorization"), boto["authorization"],
                             "%s: libcurl's signature differs from botocore's; botocore's canonical request:\n%s"
                             % (what, boto["canonical_request"]))
            signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
            for must in ("host", "x-amz-content-sha256", "x-amz-date"):
                self.assertIn(must, signed, what)
            if req["method"] == "PUT":
                self.assertIn("content-type", signed, what)
            self.assertIn("Credential=%s/%s/%s/s3/aws4_request," % (
                self.ACCESS, headers["x-amz-date"][:8], self.REGION), headers["authorization"])
            self.assertNotIn(self.SECRET, json.dumps(req["headers"]))

    def test_signatures_match_botocore(self):
        key = "dir with space/ü+x=&y~(1)*!'.bin"
        body = bytes(range(256)) * 12 + b"\0end"
        path = os.path.join(self.tmp, "body")
        with open(path, "wb") as f:
            f.write(body)
        rc, out, err = self.probe("put", key, path, "--content-type", "application/x-test; charset=binary")
        self.assertEqual(rc, 0, err)
        prefix, after = "q ü/+&=%~", "q ü/+&=%~a"
        rc, out, err = self.probe("list", prefix, "--start-after", after)
        self.assertEqual(rc, 0, err)
        # the key comes back XML-decoded, with the store's prefix taken off
        self.assertEqual(parse_list(out), [("q ü/+&=%~b", 3)])
        rc, out, err = self.probe("exists", "k~(1)")
        self.assertEqual((rc, out.strip()), (0, b"42"), err)
        rc, out, err = self.probe("get", "plain/key.txt")
        self.assertEqual((rc, out), (0, b"stored"), err)
        reqs = self.server.requests
        self.assertEqual([r["method"] for r in reqs], ["PUT", "GET", "HEAD", "GET"])

        put, lst, head, get = reqs
        self.assertEqual(put["path"], "/%s/pre/%s" % (BUCKET, quote_key(key)))
        self.assertEqual(put["body"], body)
        self.assertEqual(dict((k.lower(), v) for k, v in put["headers"])["content-type"],
                         "application/x-test; charset=binary")
        self.assertEqual(lst["path"], "/%s" % BUCKET)
        # the query is sent in SigV4's canonical form: sorted, every reserved byte encoded
        self.assertEqual(lst["query"], "list-type=2&prefix=%s&start-after=%s" % (
            quote_value("pre/" + prefix), quote_value("pre/" + after)))
        self.assertEqual(head["path"], "/%s/pre/k~%%281%%29" % BUCKET)
        self.assertEqual(get["path"], "/%s/pre/plain/key.txt" % BUCKET)
        self.assert_signed_like_botocore(reqs)

    def test_continuation_token_is_encoded_and_signed(self):
        page1 = (b'<ListBucketResult><IsTruncated>true</IsTruncated>'
                 b'<Contents><Key>pre/a</Key><Size>1</Size></Contents>'
                 b'<NextContinuationToken>1/tok+en=&amp;x</NextContinuationToken></ListBucketResult>')
        page2 = (b'<ListBucketResult><IsTruncated>false</IsTruncated>'
                 b'<Contents><Key>pre/b</Key><Size>2</Size></Contents></ListBucketResult>')
        self.server.script = [(200, page1), (200, page2)]
        rc, out, err = self.probe("list")
        self.assertEqual(rc, 0, err)
        self.assertEqual(parse_list(out), [("a", 1), ("b", 2)])
        reqs = self.server.requests
        self.assertEqual(len(reqs), 2)
        self.assertEqual(reqs[0]["query"], "list-type=2&prefix=pre%2F")
        self.assertEqual(reqs[1]["query"], "continuation-token=1%2Ftok%2Ben%3D%26x&list-type=2&prefix=pre%2F")
        self.assert_signed_like_botocore(reqs)

    def test_slowdown_and_5xx_are_retried(self):
        self.server.script = [SLOWDOWN, (500, b"<Error><Code>InternalError</Code></Error>"), (429, b"")]
        rc, out, err = self.probe("put", "retry/me", "-", stdin=b"payload\0")
        self.assertEqual(rc, 0, err)
        reqs = self.server.requests
        self.assertEqual(len(reqs), 4)
        self.assertTrue(all(r["body"] == b"payload\0" for r in reqs))
        self.assertIn("SlowDown", err)  # the retries are logged
        self.assert_signed_like_botocore(reqs[-1:])

    def test_retries_give_up_with_the_reason(self):
        self.server.script = [SLOWDOWN] * 4
        t0 = time.monotonic()
        rc, out, err = self.probe("get", "k")
        self.assertEqual(rc, 3, err)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(len(self.server.requests), 4)
        self.assertIn("HTTP 503 SlowDown", err)
        self.assertIn("4 attempts", err)
        # a 4xx is an answer, not retried
        self.server.requests.clear()
        self.server.script = [(400, b"<Error><Code>InvalidRequest</Code><Message>no</Message></Error>")]
        rc, out, err = self.probe("get", "k")
        self.assertEqual(rc, 3, err)
        self.assertEqual(len(self.server.requests), 1)
        self.assertIn("InvalidRequest", err)


if __name__ == "__main__":
    unittest.main()
