"""The OpenAPI document (src/openapi.json) against an OpenAPI validator from
the npm registry and against the live server: the document is valid
OpenAPI 3.1; GET /openapi.json serves it; its routes are exactly the
server's (front.c's route table); and every answer it documents, each
status with each error code, is produced by a real request here and
matches the documented schema.  A code documented with no way to produce
it here, or a way to produce one the document does not list, fails."""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:  # an interpreter of its own (pyenv): Debian's package, from install-deps
    sys.path.append("/usr/lib/python3/dist-packages")
    import jsonschema

import rbtest
from rbtest import ROOT, Results, Runboxd

import test_pids
import test_run
import test_warm
from test_faults import Fake

R = Results("openapi")

DOC_PATH = os.path.join(ROOT, "src", "openapi.json")
LINT_DIR = os.path.join(ROOT, "tests", "openapi")
SH = "runbox/sh"
PY = "runbox/python"
MISSING = "runbox-test/no-such-image"


def sh(script):
    return {"language": "sh", "files": [{"name": "main.sh", "content": script}]}


def load_doc():
    with open(DOC_PATH, "rb") as f:
        raw = f.read()
    return raw, json.loads(raw)


# ---- the validator from npm ----

def lint_tool():
    """npm ci of tests/openapi's lock into build/, once per lock."""
    with open(os.path.join(LINT_DIR, "package-lock.json"), "rb") as f:
        key = hashlib.sha256(f.read()).hexdigest()[:16]
    where = os.path.join(ROOT, "build", "openapi-lint-" + key)
    tool = os.path.join(where, "node_modules", ".bin", "validate-api")
    if not os.path.exists(tool):
        tmp = where + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(LINT_DIR, name), tmp)
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=tmp,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            R.check(False, "npm ci of the OpenAPI validator", p.stderr[-2000:])
            return None
        shutil.rmtree(where, ignore_errors=True)
        os.rename(tmp, where)
    return tool


def validate(tool, path):
    p = subprocess.run(["node", tool, path], capture_output=True, text=True, timeout=120)
    try:
        return json.loads(p.stdout).get("valid") is True, p.stdout + p.stderr
    except ValueError:
        return False, p.stdout + p.stderr


def test_lint(doc):
    tool = lint_tool()
    if tool is None:
        return
    ok, out = validate(tool, DOC_PATH)
    R.check(ok, "src/openapi.json is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)", out[-2000:])
    # The validator can say no: the same document without its info object.
    broken = dict(doc)
    del broken["info"]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(broken, f)
    try:
        ok, out = validate(tool, f.name)
        R.check(not ok, "the validator refuses a document without info", out[-500:])
    finally:
        os.unlink(f.name)


# ---- the routes ----

def source_routes():
    with open(os.path.join(ROOT, "src", "front.c")) as f:
        text = f.read()
    table = re.search(r"front_routes\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    return {(p, m) for p, m in re.findall(r'\{"(/[^"]*)",\s*"([A-Z]+)"', table.group(1))} if table else set()


def doc_routes(doc):
    return {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}


def documented(doc):
    """{(METHOD, path, status, code)}: code None for a success."""
    out = set()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, resp in op["responses"].items():
                codes = error_codes(resp)
                for code in codes or [None]:
                    out.add((method.upper(), path, int(status), code))
    return out


def error_codes(resp):
    """The codes an answer's schema names; with alternatives (anyOf/oneOf),
    each one's, None for one that names none (a success body or any error)."""
    schema = resp.get("content", {}).get("application/json", {}).get("schema", {})
    alts = schema.get("anyOf", schema.get("oneOf"))
    if alts is not None:
        return [c for alt in alts for c in (schema_codes(alt) or [None])]
    return schema_codes(schema)


def schema_codes(schema):
    for part in schema.get("allOf", []):
        enum = part.get("properties", {}).get("error", {}).get("enum")
        if enum:
            return enum
    return []


def inline_refs(doc, node):
    """The schema with every local $ref replaced by its target (the document has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return inline_refs(doc, target)
        return {k: inline_refs(doc, v) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_refs(doc, v) for v in node]
    return node


def response_schema(doc, method, path, status):
    resp = doc["paths"][path][method.lower()]["responses"][str(status)]
    return inline_refs(doc, resp["content"]["application/json"]["schema"])


# ---- producing each answer ----

def raw(s, data, timeout=30):
    return rbtest.parse_raw(s.raw(data, timeout=timeout))


def head_errors(s, method, path):
    """The head-level answers every route shares, for one route."""
    tok = "X-Access-Token: %s\r\n" % s.token
    start = "%s %s HTTP/1.1\r\nHost: x\r\n" % (method, path)
    return {
        400: ("request.malformed", lambda: raw(s, ("%s %s HTTP/1.1\r\nHost: x\r\nHost: y\r\n%s\r\n" % (
            method, path, tok)).encode())),
        408: ("request.timeout", lambda: raw(s, start.encode(), timeout=60)),
        414: ("request.target", lambda: raw(s, ("%s %s?%s HTTP/1.1\r\nHost: x\r\n\r\n" % (
            method, path, "a" * 3000)).encode())),
        417: ("request.expect", lambda: raw(s, (start + tok + "Expect: tea\r\n\r\n").encode())),
        431: ("request.headers", lambda: raw(s, (start + "".join("X-F%d: v\r\n" % i for i in range(80))
                                                  + "\r\n").encode())),
        501: ("request.unsupported", lambda: raw(s, (start + tok + "Transfer-Encoding: gzip\r\n\r\n").encode())),
        505: ("request.version", lambda: raw(s, ("%s %s HTTP/2.0\r\nHost: x\r\n\r\n" % (method, path)).encode())),
    }


def run_body(image, payload):
    return json.dumps({"image": image, "payload": payload}).encode()


def post_run(s, body, headers=None, token=True):
    h = {"Content-Type": "application/json"}
    if token:
        h.update(s.auth())
    h.update(headers or {})
    st, hdrs, data = request(s, "POST", "/run", body, h)
    return st, hdrs, data


def post_to(s, path, body, headers=None, token=True):
    """A POST to /execute or /compile: the token in X-API-Key for /compile (seed 004's header)."""
    h = {"Content-Type": "application/json"}
    if token:
        h["X-API-Key" if path == "/compile" else "X-Access-Token"] = s.token
    h.update(headers or {})
    return request(s, "POST", path, body, h)


def exec_body(script, image=SH):
    return json.dumps({"script": script, "image": image}).encode()


def exec_triggers(s, t):
    """/execute and /compile on the real daemon (COMPILE_IMAGE is PY)."""
    for path, good in (("/execute", exec_body("echo hi")), ("/compile", b'{"code": "print(1)"}')):
        t[("POST", path, 200, None)] = (lambda p, b: lambda: post_to(s, p, b))(path, good)
        t[("POST", path, 401, "access_token")] = (lambda p, b: lambda: post_to(s, p, b, token=False))(path, good)
        key = b"script" if path == "/execute" else b"code"
        t[("POST", path, 400, "request.json")] = (lambda p, k: lambda: post_to(
            s, p, b'{"%s": "1", "%s": "2"}' % (k, k)))(path, key)
        t[("POST", path, 411, "request.length")] = (lambda p: lambda: raw(s, (
            "POST %s HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\n\r\n" % (p, s.token)).encode()))(path)
        t[("POST", path, 413, "request.size")] = (lambda p: lambda: post_to(s, p, b"{}", headers={
            "Content-Length": str(64 * 1024 * 1024)}))(path)
        t[("POST", path, 415, "request.content_type")] = (lambda p, b: lambda: post_to(
            s, p, b, headers={"Content-Type": "text/plain"}))(path, good)
        t[("POST", path, 415, "request.content_encoding")] = (lambda p, b: lambda: post_to(
            s, p, b, headers={"Content-Encoding": "gzip"}))(path, good)
    t[("POST", "/execute", 400, "request.script")] = lambda: post_to(s, "/execute", b'{"stdin": "x"}')
    t[("POST", "/execute", 400, "request.stdin")] = lambda: post_to(s, "/execute", b'{"script": "cat", "stdin": 5}')
    t[("POST", "/execute", 400, "request.image")] = lambda: post_to(s, "/execute", exec_body("true", "UPPER"))
    t[("POST", "/execute", 400, "request.limits")] = lambda: post_to(
        s, "/execute", b'{"script": "true", "limits": {"memory": "1g"}}')
    t[("POST", "/execute", 400, "docker.container.create")] = lambda: post_to(s, "/execute", exec_body("true", MISSING))
    t[("POST", "/execute", 403, "image.not_allowed")] = lambda: post_to(
        s, "/execute", exec_body("true", "runbox-test/not-listed"))
    t[("POST", "/compile", 400, "request.code")] = lambda: post_to(s, "/compile", b'{"code": 5}')


def request(s, method, path, body=None, headers=None, timeout=120):
    st, hdrs, data = s.request(method, path, body=body, headers=headers, timeout=timeout)
    return st, hdrs, data


def starved(_s):
    """A runner the pids limit leaves no process for; the race may starve a
    build command's shell first (the runner's 200), so a few tries.  On a
    server of its own with the suite's memory limit: under gVisor the
    filler's Python processes would meet the main server's 48 MiB first."""
    own = Runboxd(RUN_MAX_EXECUTION_TIME="30").start()
    try:
        for _ in range(test_pids.ATTEMPTS):
            r = post_run(own, run_body(test_pids.PY, test_pids.starved_runner_payload()))
            if r[0] != 200:
                return r
        return r
    finally:
        own.stop()


def real_triggers(s, doc):
    """What the real daemon and dockerd produce: {(METHOD, path, status, code): thunk}."""
    t = {}
    for (path, method) in doc_routes(doc):
        for status, (code, fn) in head_errors(s, method, path).items():
            t[(method, path, status, code)] = fn
    t[("GET", "/", 200, None)] = lambda: request(s, "GET", "/")
    t[("GET", "/openapi.json", 200, None)] = lambda: request(s, "GET", "/openapi.json")
    t[("GET", "/version", 200, None)] = lambda: request(s, "GET", "/version", headers=s.auth())
    t[("GET", "/version", 401, "access_token")] = lambda: request(s, "GET", "/version")
    t[("GET", "/health", 200, None)] = lambda: request(s, "GET", "/health")
    t[("GET", "/metrics", 200, None)] = lambda: request(s, "GET", "/metrics", headers=s.auth())
    t[("GET", "/metrics", 401, "access_token")] = lambda: request(s, "GET", "/metrics")
    run = lambda payload, image=SH: (lambda: post_run(s, run_body(image, payload)))
    t[("POST", "/run", 200, None)] = run(sh("echo hi"))
    t[("POST", "/run", 401, "access_token")] = lambda: post_run(s, run_body(SH, sh("true")), token=False)
    t[("POST", "/run", 400, "request.json")] = lambda: post_run(s, b'{"image": "x", "image": "y"}')
    t[("POST", "/run", 400, "request.image")] = lambda: post_run(s, b'{"image": "UPPER", "payload": {}}')
    t[("POST", "/run", 400, "request.payload")] = lambda: post_run(s, b'{"image": "runbox/sh", "payload": 5}')
    t[("POST", "/run", 400, "request.limits")] = lambda: post_run(
        s, b'{"image": "runbox/sh", "payload": {}, "limits": {"pids": 0}}')
    t[("POST", "/execute", 400, "request.query")] = lambda: request(
        s, "POST", "/execute?stream=2", b'{"script": "true"}', dict(s.auth(), **{"Content-Type": "application/json"}))
    t[("POST", "/run", 400, "request.query")] = lambda: request(
        s, "POST", "/run?stream=2", run_body(SH, sh("true")), dict(s.auth(), **{"Content-Type": "application/json"}))
    t[("POST", "/run", 400, "docker.container.create")] = run(sh("true"), MISSING)
    t[("POST", "/run", 400, "limits.execution_time")] = run(sh("sleep 30"))
    t[("POST", "/run", 400, "limits.read.size")] = run(sh("yes 0123456789abcdef | head -c 3000000"))
    t[("POST", "/run", 400, "limits.pids")] = lambda: starved(s)
    t[("POST", "/run", 403, "image.not_allowed")] = run(sh("true"), "runbox-test/not-listed")
    t[("POST", "/run", 411, "request.length")] = lambda: raw(s, (
        "POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\n\r\n" % s.token).encode())
    t[("POST", "/run", 413, "request.size")] = lambda: post_run(s, b"{}", headers={
        "Content-Length": str(64 * 1024 * 1024)})
    t[("POST", "/run", 415, "request.content_type")] = lambda: post_run(
        s, run_body(SH, sh("true")), headers={"Content-Type": "text/plain"})
    t[("POST", "/run", 415, "request.content_encoding")] = lambda: post_run(
        s, run_body(SH, sh("true")), headers={"Content-Encoding": "gzip"})
    t[("POST", "/run", 500, "coderunner.stderr")] = run({"files": 5})
    t[("POST", "/run", 500, "coderunner.stdout.decode")] = run({}, test_run.NOTJSON)
    exec_triggers(s, t)
    return t


def fake_trigger(mode, fn, **cfg):
    """fn(server, fake) run against runboxd on fakedocker in mode."""
    def thunk():
        fake = Fake(mode)
        s = None
        try:
            conf = {"DOCKER_UNIX_SOCKET_PATH": fake.sock, "SERVER_WORKER_THREADS": "1"}
            conf.update(cfg)
            s = Runboxd(**conf).start()
            return fn(s, fake)
        finally:
            if s is not None:
                s.stop(signal.SIGKILL)
            fake.stop()
    return thunk


def agent_killed(request_bytes):
    """The request's agent SIGKILLed while Docker keeps it waiting (fakedocker
    in hang mode: the agent hangs in its first call), once the front has the
    whole request."""
    def fn(s, fake):
        front = s.children().get("runboxd: front 0")
        c = socket.create_connection(("127.0.0.1", s.port), timeout=120)
        try:
            c.sendall(request_bytes % s.token.encode())
            port = c.getsockname()[1]

            def read_by_front():
                side = rbtest.server_side(s.port, port)
                return side and side[0] == 0 and rbtest.holds_socket(front, side[1])
            ready = rbtest.wait_until(read_by_front) and fake.wait_call(lambda x: True, rbtest.WAIT)
            agent = s.children().get("runboxd: agent 0")
            if ready and agent:
                os.kill(agent, signal.SIGKILL)
            chunks = []
            while True:
                b = c.recv(65536)
                if not b:
                    break
                chunks.append(b)
            return rbtest.parse_raw(b"".join(chunks))
        except OSError as e:
            return 0, {}, str(e).encode()
        finally:
            c.close()
    return fn


def busy(method, path):
    """SERVER_MAX_WAITING 1, held by a client that sent half a head: the next is refused."""
    def thunk():
        s = Runboxd(DOCKER_UNIX_SOCKET_PATH="/nonexistent/docker.sock", SERVER_MAX_WAITING="1",
                    SERVER_REQUEST_TIMEOUT="60").start()
        hold = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        try:
            hold.sendall(b"GET / HTTP/1.1\r\n")
            port = hold.getsockname()[1]
            reader = s.children().get("runboxd: reader")
            rbtest.wait_until(lambda: (lambda side: side and side[0] == 0 and reader and
                                       rbtest.holds_socket(reader, side[1]))(rbtest.server_side(s.port, port)))
            return raw(s, ("%s %s HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\n\r\n" % (
                method, path, s.token)).encode())
        finally:
            hold.close()
            s.stop(signal.SIGKILL)
    return thunk


def other_triggers():
    """What only a fake Docker (or none) produces."""
    t = {}
    run = lambda s, fake: post_run(s, run_body(SH, sh("true")))
    version = lambda s, fake: request(s, "GET", "/version", headers=s.auth())

    def no_socket(fn):
        def thunk():
            s = Runboxd(DOCKER_UNIX_SOCKET_PATH="/nonexistent/docker.sock", COMPILE_IMAGE=SH).start()
            try:
                return fn(s, None)
            finally:
                s.stop(signal.SIGKILL)
        return thunk

    def oom():
        # A server of its own with a long run limit: filling even 48 MiB took
        # over 10 s at a load average of 25.
        s = Runboxd(DOCKER_CONTAINER_MEMORY=str(48 * 1024 * 1024), RUN_MAX_EXECUTION_TIME="60").start()
        try:
            return post_run(s, run_body(test_warm.OOM, sh("true")))
        finally:
            s.stop()

    t[("POST", "/run", 400, "limits.memory")] = oom
    t[("GET", "/version", 500, "docker.unixsocket")] = no_socket(version)
    t[("POST", "/run", 500, "docker.unixsocket")] = no_socket(run)
    t[("GET", "/health", 503, None)] = no_socket(lambda s, fake: request(s, "GET", "/health"))
    t[("GET", "/version", 500, "docker.version")] = fake_trigger("version-500", version)
    t[("GET", "/version", 503, "agent.unavailable")] = fake_trigger("hang", agent_killed(
        b"GET /version HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\n\r\n"), DOCKER_UNIX_SOCKET_READ_TIMEOUT="60")
    body = run_body(SH, sh("true"))
    t[("POST", "/run", 503, "agent.unavailable")] = fake_trigger("hang", agent_killed(
        b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body.replace(b"%", b"%%")),
        DOCKER_UNIX_SOCKET_READ_TIMEOUT="60")
    for path, method in doc_routes(load_doc()[1]):
        t[(method, path, 503, "server.busy")] = busy(method, path)
    t[("POST", "/run", 500, "docker.container.start")] = fake_trigger("start-500", run)
    t[("POST", "/run", 500, "docker.container.attach")] = fake_trigger("attach-500", run)
    t[("POST", "/run", 500, "docker.container.stream.read")] = fake_trigger("garbage-frame", run)
    t[("POST", "/run", 500, "coderunner.stdin")] = fake_trigger("stdin-frame", run)
    exec_other_triggers(t, no_socket)

    def real_with(fn, **cfg):
        def thunk():
            s = Runboxd(**cfg).start()
            try:
                return fn(s)
            finally:
                s.stop(signal.SIGKILL)
        return thunk

    # A registry nobody serves (a free port): the pull fails, once (no retries).
    unserved = "127.0.0.1:%d/runbox/x:t" % rbtest.free_port()
    t[("POST", "/run", 502, "docker.pull")] = real_with(
        lambda s: post_run(s, run_body(unserved, sh("true"))), RUN_IMAGE_PULL="true",
        RUN_IMAGE_PULL_RETRIES="0")
    t[("POST", "/execute", 502, "docker.pull")] = real_with(
        lambda s: post_to(s, "/execute", json.dumps({"script": "true", "image": unserved}).encode()),
        RUN_IMAGE_PULL="true", RUN_IMAGE_PULL_RETRIES="0")
    t[("POST", "/compile", 502, "docker.pull")] = real_with(
        lambda s: post_to(s, "/compile", b'{"code": "print(1)"}'), RUN_IMAGE_PULL="true",
        RUN_IMAGE_PULL_RETRIES="0", COMPILE_IMAGE=unserved)
    t[("POST", "/run", 500, "docker.container.prepare")] = real_with(
        lambda s: post_run(s, run_body(SH, sh("true"))), RUN_PREPARE_FAILS=SH + " exit 3")
    return t


def exec_other_triggers(t, no_socket):
    """/execute and /compile where Docker fails, the agent dies, or COMPILE_IMAGE is unset or missing."""
    for path, body in (("/execute", exec_body("true")), ("/compile", b'{"code": "print(1)"}')):
        call = (lambda p, b: lambda s, fake: post_to(s, p, b))(path, body)
        t[("POST", path, 500, "docker.unixsocket")] = no_socket(call)
        for mode, code in (("start-500", "docker.container.start"), ("attach-500", "docker.container.attach"),
                           ("garbage-frame", "docker.container.stream.read")):
            t[("POST", path, 500, code)] = fake_trigger(mode, call, COMPILE_IMAGE=SH)
        tok = "X-API-Key" if path == "/compile" else "X-Access-Token"
        t[("POST", path, 503, "agent.unavailable")] = fake_trigger("hang", agent_killed(
            ("POST %s HTTP/1.1\r\nHost: x\r\n%s: %%s\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\n\r\n" % (path, tok, len(body))).encode() + body.replace(b"%", b"%%")),
            DOCKER_UNIX_SOCKET_READ_TIMEOUT="60", COMPILE_IMAGE=SH)

    def real(fn, **cfg):
        def thunk():
            s = Runboxd(**cfg).start()
            try:
                return fn(s)
            finally:
                s.stop()
        return thunk

    compile_ = lambda s: post_to(s, "/compile", b'{"code": "print(1)"}')
    t[("POST", "/compile", 400, "request.image")] = real(compile_)
    t[("POST", "/compile", 400, "docker.container.create")] = real(compile_, COMPILE_IMAGE=MISSING)


class AccessServers:
    """Servers whose answer depends on the client's address, started when
    first asked for: one that answers 127.0.0.2 only (these requests come
    from 127.0.0.1), one that allows an address one request a minute."""

    CONF = {"ip": {"SERVER_ALLOWED_IPS": "127.0.0.2/32"},
            "rate": {"RATE_LIMIT_PER_MINUTE": "1", "RATE_LIMIT_BURST": "1"}}

    def __init__(self):
        self.servers = {}

    def get(self, kind):
        if kind not in self.servers:
            s = self.servers[kind] = Runboxd(**self.CONF[kind]).start(wait=False)

            def answers():  # /health is never rate limited
                try:
                    return request(s, "GET", "/health", timeout=5)[0]
                except OSError:
                    return None
            rbtest.wait_until(answers)
        return self.servers[kind]

    def stop(self):
        for s in self.servers.values():
            s.stop()


ACCESS = AccessServers()


def access_triggers(doc):
    """403 ip.not_allowed and 429 rate.limited, on every route."""
    def ask(kind, method, path):
        s = ACCESS.get(kind)
        body = run_body(SH, sh("true")) if method == "POST" else None
        headers = dict(s.auth(), **{"Content-Type": "application/json"}) if body else s.auth()
        answer = request(s, method, path, body=body, headers=headers)
        # The rate-limited server's first request from an address takes its one token.
        if kind == "rate" and answer[0] != 429:
            answer = request(s, method, path, body=body, headers=headers)
        return answer
    t = {}
    for (path, method) in doc_routes(doc):
        t[(method, path, 403, "ip.not_allowed")] = (lambda m, p: lambda: ask("ip", m, p))(method, path)
        if path != "/health":
            t[(method, path, 429, "rate.limited")] = (lambda m, p: lambda: ask("rate", m, p))(method, path)
    return t


def check_answer(doc, key, answer):
    method, path, status, code = key
    st, hdrs, data = answer
    what = "%s %s: %d%s" % (method, path, status, " " + code if code else "")
    content = doc["paths"][path][method.lower()]["responses"][str(status)]["content"]
    if "application/json" not in content:
        # Prometheus text (GET /metrics): promtool checks it in test_metrics.
        ctype = {k.lower(): v for k, v in hdrs.items()}.get("content-type", "")
        R.check(st == status and ctype.split(";")[0] in content and data.startswith(b"# HELP "),
                what + " answered as documented (%s)" % ctype, (st, data[:300]))
        return
    try:
        js = json.loads(data)
    except ValueError:
        js = None
    if not R.check(st == status and js is not None, what + " answered", (st, data[:300])):
        return
    ctype = {k.lower(): v for k, v in hdrs.items()}.get("content-type", "")
    R.check(ctype.startswith("application/json"), what + ": Content-Type application/json", ctype)
    if code is not None:
        R.check(js.get("error") == code, what + ": the documented code", data[:300])
    try:
        jsonschema.Draft202012Validator(response_schema(doc, method, path, status)).validate(js)
        R.check(True, what + ": matches the documented schema")
    except jsonschema.ValidationError as e:
        R.check(False, what + ": matches the documented schema", "%s: %s" % (e.message, data[:300]))


def check_stream(s, doc):
    """POST /run?stream=1: its content type is documented and every line
    is a StreamEvent, the output events first and one final event last."""
    schema = inline_refs(doc, doc["paths"]["/run"]["post"]["responses"]["200"]["content"]
                         ["application/x-ndjson"]["schema"])
    cases = [("a result", sh("echo out; echo err >&2")), ("a runner failure", {"files": 5})]
    for what, payload in cases:
        st, hdrs, data = request(s, "POST", "/run?stream=1", run_body(SH, payload),
                                 dict(s.auth(), **{"Content-Type": "application/json"}))
        lines = data.split(b"\n")
        try:
            events = [json.loads(l) for l in lines[:-1]]
            for e in events:
                jsonschema.Draft202012Validator(schema).validate(e)
            ok = lines[-1] == b"" and len(events) >= 2 and "stream" not in events[-1] and all(
                "stream" in e for e in events[:-1])
        except (ValueError, jsonschema.ValidationError) as e:
            ok, data = False, str(e).encode() + b": " + data
        R.check(st == 200 and hdrs.get("content-type") == "application/x-ndjson" and ok,
                "POST /run?stream=1 with %s: every line a documented StreamEvent" % what, (st, data[:400]))


def main():
    raw_doc, doc = load_doc()
    test_lint(doc)

    R.check(source_routes() and source_routes() == doc_routes(doc),
            "the document's routes are the server's (src/front.c)",
            (sorted(source_routes()), sorted(doc_routes(doc))))

    test_run.make_test_images()
    test_warm.make_images()
    allowed = " ".join([SH, PY, MISSING, test_run.NOTJSON, test_warm.OOM])
    # A small memory limit, so that the memory-eating image meets it well
    # within the execution limit even on a loaded machine.
    s = Runboxd(RUN_IMAGE_ALLOWLIST=allowed, RUN_MAX_EXECUTION_TIME="10", RUN_MAX_OUTPUT_SIZE="1000000",
                DOCKER_CONTAINER_MEMORY=str(48 * 1024 * 1024), SERVER_REQUEST_TIMEOUT="2",
                COMPILE_IMAGE=PY).start()
    try:
        st, hdrs, data = request(s, "GET", "/openapi.json")
        R.check(st == 200 and data == raw_doc, "GET /openapi.json serves src/openapi.json byte for byte",
                (st, len(data), len(raw_doc)))
        st, hdrs, data = request(s, "HEAD", "/openapi.json")
        R.check(st == 200 and data == b"", "HEAD /openapi.json: 200, no content", (st, data[:100]))
        st, _, data = request(s, "GET", "/no/such/route")
        R.check(st == 404 and rbtest.is_error(data, "route"), "any other path: 404 route (info.description)", data)
        st, hdrs, data = request(s, "DELETE", "/openapi.json")
        R.check(st == 405 and rbtest.is_error(data, "method") and "GET" in hdrs.get("allow", ""),
                "another method on a listed path: 405 method with Allow (info.description)", (st, data))

        triggers = real_triggers(s, doc)
        fakes = other_triggers()
        fakes.update(access_triggers(doc))
        want = documented(doc)
        have = set(triggers) | set(fakes)
        R.check(want - have == set(), "every documented answer has a request here that produces it",
                sorted(want - have, key=str))
        R.check(have - want == set(), "every answer produced here is documented", sorted(have - want, key=str))
        for key in sorted(want & set(triggers), key=str):
            check_answer(doc, key, triggers[key]())
        check_stream(s, doc)
    finally:
        s.stop()
    R.check(rbtest.wait_no_containers(s.instance, timeout=60) == [], "no container left")
    try:
        for key in sorted(want & set(fakes), key=str):
            check_answer(doc, key, fakes[key]())
    finally:
        ACCESS.stop()
    R.done()


if __name__ == "__main__":
    main()
