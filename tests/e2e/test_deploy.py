"""test_deploy.py - the container deployment in deploy/, checked without a Docker
engine (there is none in CI):

    ComposeConfigTest  Debian's docker-compose (v1.29) validates deploy/docker-compose.yml
                       (`config -q`), with and without deploy/.env.example, and both give
                       the same configuration (the documented defaults are the real ones);
                       deliberately broken copies (bad YAML, bad schema, undefined anchor)
                       fail, so the check can fail at all.
    ComposeContentTest every service built from deploy/Dockerfile runs a real bin/vinted-*
                       program that the Dockerfile builds; workers can scale (no
                       container_name, no published ports); every key of .env.example is
                       documented by a comment and used by the compose file, every
                       variable the compose file uses is in .env.example, and so is every
                       VINTED_* setting of the README's table.

The YAML is turned into JSON by the interpreter docker-compose itself runs on
(it always has PyYAML), so this test needs only the standard library.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

DEPLOY = os.path.join(harness.REPO, "deploy")
COMPOSE = os.path.join(DEPLOY, "docker-compose.yml")
ENV_EXAMPLE = os.path.join(DEPLOY, ".env.example")
DOCKERFILE = os.path.join(DEPLOY, "Dockerfile")
README = os.path.join(harness.REPO, "README.md")
VAR_RE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


def docker_compose():
    return shutil.which("docker-compose")


def compose_env():
    """The environment without any setting the compose file substitutes, so a
    developer's exported VINTED_* or AWS_* cannot change the result."""
    names = set(VAR_RE.findall(read(COMPOSE)))
    return {k: v for k, v in os.environ.items() if k not in names and not k.startswith("VINTED_")}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def env_example_keys():
    """[(key, line number, documented)] of .env.example. A key is documented when the
    block of KEY=value lines it sits in starts right under a comment line."""
    keys = []
    documented = False
    for n, line in enumerate(read(ENV_EXAMPLE).splitlines(), 1):
        s = line.strip()
        if s.startswith("#"):
            documented = len(s.lstrip("# ").strip()) > 0 and not set(s) <= set("#- ")
        elif s == "":
            documented = False
        else:
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", s)
            keys.append((m.group(1) if m else s, n, bool(m) and documented))
    return keys


class ComposeCase(unittest.TestCase):
    def setUp(self):
        self.dc = docker_compose()
        if not self.dc:
            self.skipTest("docker-compose is not installed (Debian package docker-compose; "
                          "tests/install-deps.sh installs it)")
        self.tmp = tempfile.mkdtemp(prefix="vinted-deploy-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # an empty env file: a developer's deploy/.env must not decide the outcome
        self.empty_env = os.path.join(self.tmp, "empty.env")
        open(self.empty_env, "w").close()

    def compose(self, *args, path=COMPOSE, env_file=None):
        argv = [self.dc, "--env-file", env_file or self.empty_env, "-f", path] + list(args)
        p = subprocess.run(argv, capture_output=True, timeout=60, env=compose_env(),
                           stdin=subprocess.DEVNULL, cwd=self.tmp)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def config_json(self, env_file=None):
        """The resolved configuration as a dict, parsed by docker-compose's own Python."""
        rc, out, err = self.compose("config", env_file=env_file)
        self.assertEqual(rc, 0, "docker-compose config failed:\n" + err)
        with open(self.dc, "rb") as f:
            first = f.readline().decode("utf-8", "replace")
        python = first[2:].strip().split()[0] if first.startswith("#!") else sys.executable
        if os.path.basename(python) == "env":
            python = first[2:].strip().split()[1]
        p = subprocess.run([python, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
                           input=out.encode(), capture_output=True, timeout=30)
        if p.returncode != 0:
            self.skipTest("cannot parse YAML with docker-compose's interpreter %s: %s" % (
                python, p.stderr.decode(errors="replace")[-300:]))
        return json.loads(p.stdout)

    def broken_copy(self, name, edit):
        """deploy/ copied into the temp dir with the compose file passed through edit."""
        d = os.path.join(self.tmp, name, "deploy")
        os.makedirs(d)
        text = edit(read(COMPOSE))
        self.assertNotEqual(text, read(COMPOSE), "the edit %s changed nothing" % name)
        path = os.path.join(d, "docker-compose.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        shutil.copy(DOCKERFILE, d)
        return path


class ComposeConfigTest(ComposeCase):
    def test_config_quiet_passes_without_env_file(self):
        rc, out, err = self.compose("config", "-q")
        self.assertEqual(rc, 0, "docker-compose config -q failed:\n" + err)
        self.assertEqual(out.strip(), "")

    def test_env_example_gives_the_defaults(self):
        rc, _, err = self.compose("config", "-q", env_file=ENV_EXAMPLE)
        self.assertEqual(rc, 0, "docker-compose config -q with .env.example failed:\n" + err)
        self.assertEqual(self.config_json(), self.config_json(env_file=ENV_EXAMPLE),
                         "deploy/.env.example documents values that differ from the compose file's defaults")

    def test_a_changed_env_value_reaches_the_services(self):
        env = os.path.join(self.tmp, "changed.env")
        with open(env, "w") as f:
            f.write("VINTED_RATE=7\nVINTED_CATALOGS=221,1242\nPOSTGRES_USER=someone\n")
        cfg = self.config_json(env_file=env)["services"]
        self.assertEqual(str(cfg["broker"]["environment"]["VINTED_RATE"]), "7")
        self.assertEqual(cfg["broker"]["environment"]["VINTED_CATALOGS"], "221,1242")
        self.assertEqual(cfg["pg-sink"]["environment"]["PGUSER"], "someone")
        self.assertEqual(cfg["postgres"]["environment"]["POSTGRES_USER"], "someone")

    def test_broken_files_fail(self):
        cases = {
            # YAML that does not parse: a tab-indented line inside a mapping
            "bad-yaml": lambda t: t.replace("\n  broker:\n", "\n  broker:\n\t  oops: [\n", 1),
            # a key the compose schema does not know
            "bad-key": lambda t: t.replace("\n  broker:\n", "\n  broker:\n    no_such_option: 1\n", 1),
            # a depends_on condition that does not exist
            "bad-condition": lambda t: t.replace("condition: service_healthy", "condition: service_happy", 1),
            # a reference to an anchor nobody defined
            "bad-anchor": lambda t: t.replace("<<: *vinted", "<<: *vinted_nowhere", 1),
            # a service depending on a service that does not exist
            "bad-dependency": lambda t: t.replace("      broker:\n        condition: service_started",
                                                  "      brokker:\n        condition: service_started", 1),
        }
        for name, edit in cases.items():
            with self.subTest(name):
                path = self.broken_copy(name, edit)
                rc, out, err = self.compose("config", "-q", path=path)
                self.assertNotEqual(rc, 0, "docker-compose config -q accepted the broken copy %s:\n%s" % (name, out))
                self.assertTrue(err.strip(), "no error message for %s" % name)


class ComposeContentTest(ComposeCase):
    def test_services(self):
        services = self.config_json()["services"]
        for name in ("postgres", "s3", "broker", "fetcher", "transformer", "pg-sink", "s3-uploader"):
            self.assertIn(name, services)
        self.assertIn("pg_isready", json.dumps(services["postgres"].get("healthcheck", {}).get("test")))
        self.assertEqual(services["broker"]["depends_on"]["postgres"]["condition"], "service_healthy")

        dockerfile = read(DOCKERFILE)
        ours = {n: s for n, s in services.items()
                if (s.get("build") or {}).get("dockerfile", "").endswith("deploy/Dockerfile")}
        self.assertGreaterEqual(set(ours), {"broker", "fetcher", "transformer", "pg-sink", "s3-uploader"})
        for name, svc in ours.items():
            with self.subTest(service=name):
                argv = list(svc.get("entrypoint") or []) or list(svc.get("command") or [])
                self.assertTrue(argv, "service %s runs no command" % name)
                program = argv[0]
                self.assertRegex(program, r"^vinted-[a-z0-9-]+$", "service %s runs %r" % (name, program))
                self.assertTrue(os.access(os.path.join(harness.bin_dir(), program), os.X_OK),
                                "service %s runs %s, which is not a program in %s" % (name, program, harness.bin_dir()))
                self.assertIn("bin/" + program, dockerfile, "deploy/Dockerfile does not build %s" % program)
                if name != "broker":
                    self.assertNotIn("container_name", svc, "service %s cannot scale with a container_name" % name)
                    self.assertFalse(svc.get("ports"), "service %s cannot scale with published ports" % name)
        workers = ("fetcher", "transformer", "pg-sink", "s3-uploader")
        for name in workers:
            self.assertEqual(services[name]["environment"]["VINTED_BROKER"], "tcp://broker:5555")
        self.assertEqual(services["broker"]["environment"]["VINTED_BROKER"], "tcp://*:5555")
        self.assertEqual(services["broker"]["environment"]["VINTED_CONTROL"], "tcp://*:5556")

    def test_dockerfile(self):
        text = read(DOCKERFILE)
        froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
        self.assertGreaterEqual(len(froms), 2, "not a multi-stage build")
        # a base may be a build argument: then its default is the image a user pulls
        args = dict(re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)", text, re.M))
        froms = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), f) for f in froms]
        self.assertTrue(all(f.startswith("debian:bookworm") for f in froms), froms)
        users = re.findall(r"^USER\s+(\S+)", text, re.M)
        self.assertTrue(users and users[-1] not in ("root", "0"), "the runtime stage must not run as root")
        runtime = text[text.rindex("\nFROM "):]
        self.assertNotRegex(runtime, r"-dev\b", "the runtime stage installs -dev packages")

    def test_env_keys_documented_and_used(self):
        keys = env_example_keys()
        self.assertTrue(keys)
        bad = ["line %d: %r" % (n, k) for k, n, _ in keys if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)]
        self.assertFalse(bad, "lines of .env.example that are not KEY=value: %s" % bad)
        undocumented = [k for k, _, doc in keys if not doc]
        self.assertFalse(undocumented, "keys of .env.example with no comment above them: %s" % undocumented)
        names = [k for k, _, _ in keys]
        dupes = sorted({k for k in names if names.count(k) > 1})
        self.assertFalse(dupes, "keys listed twice in .env.example: %s" % dupes)

        used = set(VAR_RE.findall(read(COMPOSE)))
        self.assertFalse(sorted(set(names) - used), "keys in .env.example the compose file never uses")
        self.assertFalse(sorted(used - set(names)), "variables of the compose file missing from .env.example")

    def test_readme_settings_are_in_env_example(self):
        if not os.path.exists(README):
            self.skipTest("no README.md")
        settings = set(re.findall(r"^\|\s*`(VINTED_[A-Z0-9_]+)`", read(README), re.M))
        self.assertTrue(settings, "no settings table found in README.md")
        names = {k for k, _, _ in env_example_keys()}
        self.assertFalse(sorted(settings - names),
                         "VINTED_* settings of README.md missing from deploy/.env.example")


if __name__ == "__main__":
    unittest.main()
