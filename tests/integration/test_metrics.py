"""GET /health and GET /metrics against the real runboxd and dockerd: the
health answer (200 with the slots; 503 while a private dockerd is stopped,
200 again once it is back), the exposition checked by promtool, a real
Prometheus server scraping runboxd on loopback and queried back over its
HTTP API, counters that move by exactly the requests made (an outcome for
every code of README's error tables a run can end with, /execute counted
as a run), leftover containers counted as swept by their agents or the
janitor, a SIGKILLed front counted as a respawn, and counters that survive
it."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import rbtest
from rbtest import ROOT, Results, Runboxd, is_error, wait_until
from test_run import busybox_rootfs, import_image

R = Results("metrics")

SH = "runbox/sh"
BB = "/bin/busybox"
REPLY = '{"stdout":"late","stderr":"","error":""}'
# A runner that says 4 more bytes (and a newline) on stdout after its reply.
LATE = "runbox-test/reply-then-more"
DOCKERD_SH = os.path.join(ROOT, "tests", "harness", "dockerd.sh")
# Our own second private dockerd, to stop and start: never the suite's.
PRIVATE_DIR = os.environ.get("RUNBOXD_TEST_DOCKER_DIR", "/var/tmp/runboxd-test-docker").rstrip("/") + "-metrics"
PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def sh(script):
    return {"language": "sh", "files": [{"name": "main.sh", "content": script}]}


SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


def parse(text):
    """{(name, ((label, value), ...)): float} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SERIES.match(line)
        if m is None:
            raise ValueError("not a series line: %r" % line)
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def key(name, **labels):
    return (name, tuple(sorted(labels.items())))


def scrape(s, token=True):
    st, h, body = s.request("GET", "/metrics", headers=s.auth() if token else {})
    if st != 200:
        raise RuntimeError("GET /metrics: %d %r" % (st, body[:200]))
    return parse(body.decode())


def delta(a, b, name, **labels):
    k = key(name, **labels)
    return b.get(k, 0) - a.get(k, 0)


def health(s):
    try:
        st, _, body = s.request("GET", "/health", timeout=30)
        return st, json.loads(body)
    except (OSError, ValueError):
        return 0, None


def test_health_and_counters():
    s = Runboxd(RUN_WARM_IMAGES=SH, RUN_MAX_EXECUTION_TIME="3").start()
    try:
        st, js = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(health(s))) or health(s)
        R.check(st == 200 and js and js.get("status") == "ok" and js.get("docker") == "ok" and
                js["slots"]["down"] == 0 and js["slots"]["busy"] + js["slots"]["idle"] == 2,
                "GET /health: 200, every slot up, Docker ok", js)
        st, h, body = s.request("HEAD", "/health")
        R.check(st == 200 and body == b"", "HEAD /health: 200, no content", (st, body[:100]))

        st, h, body = s.request("GET", "/metrics")
        R.check(st == 401 and is_error(body, "access_token"), "GET /metrics without the token: 401", body[:200])
        st, h, body = s.request("GET", "/metrics", headers={"Authorization": "Bearer " + s.token})
        R.check(st == 200 and h.get("content-type") == PROM_TYPE, "GET /metrics with the token: 200, text 0.0.4",
                (st, h.get("content-type")))
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60)
        R.check(p.returncode == 0, "promtool check metrics accepts the exposition",
                (p.stdout + p.stderr).decode()[-500:])

        m0 = scrape(s)
        # Every code README's error tables list that a run can end with has an
        # outcome of its own; these are answered before a route is known, or
        # by routes that run nothing.
        not_runs = {"docker.version", "route", "method", "metrics", "ip.not_allowed", "rate.limited",
                    "request.target", "request.expect", "request.unsupported", "request.version"}
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        errors = readme[readme.index("### Errors"):]
        errors = errors[:errors.index("\n### ", 1)]
        codes = set(re.findall(r"^\| `([a-z_.]+)` \| [0-9]{3} \|", errors, re.M))
        outcomes = {dict(labels)["outcome"] for name, labels in m0 if name == "runboxd_runs_total"}
        R.check(len(codes) > 30 and outcomes - {"ok", "client_gone", "other"} == codes - not_runs,
                "runboxd_runs_total has an outcome for each code of README's error tables a run can end with",
                (sorted(codes - not_runs - outcomes), sorted(outcomes - codes)))
        k = 3
        oks = [s.run(SH, sh("echo run %d" % i)) for i in range(k)]
        R.check(all(st == 200 and js and js.get("stdout") == "run %d\n" % i for i, (st, js, _) in enumerate(oks)),
                "%d runs answered 200" % k, [o[2][:100] for o in oks])
        st, js, body = s.run(SH, sh("sleep 20"))
        R.check(st == 400 and is_error(body, "limits.execution_time"), "a run over its time: 400", body[:200])
        # Streamed, the head says 200 and the final event the outcome: the
        # run counts by its final event, the HTTP request by its 200.
        mark = len(s.log())
        st, _, body = s.request("POST", "/run?stream=1", {"image": SH, "payload": sh("sleep 20")},
                                headers=s.auth(), timeout=120)
        final = json.loads(body.splitlines()[-1]) if st == 200 and body.strip() else {}
        R.check(st == 200 and final.get("error") == "limits.execution_time" and final.get("status") == 400,
                "a streamed run over its time: 200, final event 400 limits.execution_time", body[-200:])
        R.check(s.wait_log(" final 400", start=mark) and "POST /run 200 " in s.log()[mark:],
                "... logged with its final event's status", s.log()[mark:][-300:])
        st, js, body = s.run("no image!", sh("true"))
        R.check(st == 400 and is_error(body, "request.image"), "a bad image: 400 request.image", body[:200])
        st, _, body = s.request("POST", "/run", {"image": SH, "payload": sh("true")},
                                headers={"X-Access-Token": "wrong-token-wrong-token"})
        R.check(st == 401, "a run with a wrong token: 401", body[:200])
        st, _, _ = s.request("GET", "/no/such/route")
        R.check(st == 404, "an unknown route: 404")
        st, _, body = s.request("POST", "/run", {"image": SH, "payload": sh("true"), "limits": {"executionTime": -1}},
                                headers=s.auth())
        R.check(st == 400 and is_error(body, "request.limits"), "a run with a bad limit: 400 request.limits",
                body[:200])
        st, _, body = s.request("POST", "/execute", {"stdin": "x"}, headers=s.auth())
        R.check(st == 400 and is_error(body, "request.script"), "an /execute with no script: 400 request.script",
                body[:200])

        # The agents remove each container after its answer: wait for that.
        def settled():
            m = scrape(s)
            return m if delta(m0, m, "runboxd_containers_removed_total", reason="after_run") >= k + 2 else None
        m1 = wait_until(settled) or scrape(s)
        expect = [
            (("runboxd_runs_total", {"outcome": "ok"}), k),
            (("runboxd_runs_total", {"outcome": "limits.execution_time"}), 2),
            (("runboxd_runs_total", {"outcome": "request.image"}), 1),
            (("runboxd_runs_total", {"outcome": "access_token"}), 1),
            (("runboxd_runs_total", {"outcome": "request.limits"}), 1),
            (("runboxd_runs_total", {"outcome": "request.script"}), 1),
            (("runboxd_runs_total", {"outcome": "other"}), 0),
            (("runboxd_http_requests_total", {"route": "/run", "status": "200"}), k + 1),
            (("runboxd_http_requests_total", {"route": "/run", "status": "400"}), 3),
            (("runboxd_http_requests_total", {"route": "/execute", "status": "400"}), 1),
            (("runboxd_http_requests_total", {"route": "/run", "status": "401"}), 1),
            (("runboxd_http_requests_total", {"route": "other", "status": "404"}), 1),
            (("runboxd_containers_removed_total", {"reason": "after_run"}), k + 2),
            (("runboxd_containers_removed_total", {"reason": "expired"}), 0),
        ]
        for (name, labels), want in expect:
            got = delta(m0, m1, name, **labels)
            R.check(got == want, "%s%s moved by %d" % (name, json.dumps(labels), want), got)
        # Each scrape is counted once it is answered, so m1 sees m0 and the settling ones.
        scrapes = delta(m0, m1, "runboxd_http_requests_total", route="/metrics", status="200")
        R.check(scrapes >= 1, "runboxd_http_requests_total{route=/metrics} counts the scrapes", scrapes)
        hits = delta(m0, m1, "runboxd_warm_total", result="hit")
        misses = delta(m0, m1, "runboxd_warm_total", result="miss")
        R.check(hits + misses == k + 2 and hits >= 1, "warm hits + misses == runs that reached Docker (%d + %d)" %
                (hits, misses))
        warm = delta(m0, m1, "runboxd_run_duration_seconds_count", path="warm")
        cold = delta(m0, m1, "runboxd_run_duration_seconds_count", path="cold")
        R.check(warm == hits and cold == misses, "duration histogram: warm %d, cold %d" % (warm, cold))
        slow = delta(m0, m1, "runboxd_run_duration_seconds_bucket", path="warm", le="2.5") + \
            delta(m0, m1, "runboxd_run_duration_seconds_bucket", path="cold", le="2.5")
        R.check(slow <= k, "the 3 s run is above the 2.5 s bucket", slow)
        R.check(m1.get(key("runboxd_slots", state="down")) == 0, "runboxd_slots{down} is 0")
    finally:
        s.stop()


def test_late_output():
    R.check(import_image(LATE, [BB, "sh", "-c", "%s echo '%s'; %s echo more" % (BB, REPLY, BB)], busybox_rootfs()),
            "test image %s imported" % LATE)
    s = Runboxd().start()
    try:
        m0 = scrape(s)
        st, js, body = s.run(LATE, sh("true"))
        R.check(st == 200 and js == json.loads(REPLY), "a runner that writes after its reply is answered", body[:200])

        def late():
            m = scrape(s)
            return m if delta(m0, m, "runboxd_output_after_reply_runs_total") >= 1 else None
        m1 = wait_until(late) or scrape(s)
        R.check(delta(m0, m1, "runboxd_output_after_reply_runs_total") == 1, "one run counted with output after "
                "its reply")
        R.check(delta(m0, m1, "runboxd_output_after_reply_bytes_total") == 4, "its 4 bytes counted",
                delta(m0, m1, "runboxd_output_after_reply_bytes_total"))
    finally:
        s.stop()


class Prometheus:
    """A real Prometheus server scraping one runboxd every second on loopback."""

    def __init__(self, s):
        self.dir = tempfile.mkdtemp(prefix="runboxd-prom-")
        self.port = rbtest.free_port()
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: runboxd\n"
                    "    authorization:\n      type: Bearer\n      credentials: %s\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % (s.token, s.port))
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(["prometheus", "--config.file=" + conf,
                                      "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                                      "--web.listen-address=127.0.0.1:%d" % self.port],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

    def query(self, q):
        """The instant vector of q as {labels...: value}, or None if Prometheus cannot say yet."""
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (self.port, urllib.parse.quote(q))
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                js = json.loads(r.read())
        except (OSError, ValueError):
            return None
        if js.get("status") != "success":
            return None
        return {tuple(sorted(x["metric"].items())): float(x["value"][1]) for x in js["data"]["result"]}

    def value(self, q):
        v = self.query(q)
        return list(v.values())[0] if v and len(v) == 1 else None

    def wait_value(self, q, pred, timeout=rbtest.WAIT):
        """Wait until q has one value that pred accepts; return the last one seen."""
        # Wrapped in a list: a value of 0 is an answer too.
        got = wait_until(lambda: (lambda v: [v] if v is not None and pred(v) else None)(self.value(q)),
                         timeout, 0.2)
        return got[0] if got else self.value(q)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def tail(self):
        with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
            return f.read()[-800:].decode("utf-8", "replace")


def test_prometheus_and_respawn():
    s = Runboxd().start()
    prom = None
    try:
        prom = Prometheus(s)
        up = prom.wait_value('up{job="runboxd"}', lambda v: v == 1)
        if not R.check(up == 1, "Prometheus scrapes runboxd (up == 1)", prom.tail()):
            return
        ok = 'runboxd_runs_total{outcome="ok"}'
        v0 = prom.wait_value(ok, lambda v: True)
        R.check(v0 is not None, "Prometheus has runboxd_runs_total", prom.tail())
        v0 = v0 or 0
        k = 2
        for i in range(k):
            st, js, body = s.run(SH, sh("echo %d" % i))
            R.check(st == 200, "run %d for Prometheus" % i, body[:200])
        v1 = prom.wait_value(ok, lambda v: v >= v0 + k)
        R.check(v1 == v0 + k, "Prometheus sees runs_total{ok} move by exactly %d (%s -> %s)" % (k, v0, v1))
        reqs = prom.value('runboxd_http_requests_total{route="/run",status="200"}')
        R.check(reqs == v0 + k, "... and http_requests_total{/run,200} too", reqs)

        # A front SIGKILLed: one respawn of cause signal; the counters stay.
        sig = 'runboxd_respawns_total{role="front",cause="signal"}'
        r0 = prom.wait_value(sig, lambda v: True)
        fronts = {t: p for t, p in s.children().items() if t.startswith("runboxd: front")}
        victim = fronts.get("runboxd: front 0")
        R.check(victim is not None and r0 == 0, "a front to kill, no respawn yet", (fronts, r0))
        if victim is None:
            return
        os.kill(victim, signal.SIGKILL)
        r1 = prom.wait_value(sig, lambda v: v >= 1)
        R.check(r1 == 1, "respawns_total{front,signal} is 1 after the SIGKILL", r1)
        back = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(health(s)))
        R.check(bool(back) and back[1]["slots"]["down"] == 0, "GET /health: 200 again once the slot is back",
                health(s))
        m = scrape(s)
        R.check(m.get(key("runboxd_runs_total", outcome="ok")) == v0 + k, "runs_total survived the respawn",
                m.get(key("runboxd_runs_total", outcome="ok")))
        st, js, body = s.run(SH, sh("echo after"))
        R.check(st == 200, "a run after the respawn", body[:200])
        v2 = prom.wait_value(ok, lambda v: v >= v0 + k + 1)
        R.check(v2 == v0 + k + 1, "Prometheus sees it: %s" % v2)
        R.check(prom.value(sig) == 1 and prom.value('runboxd_respawns_total{role="agent",cause="signal"}') == 0,
                "the killed front's agent is not counted as a respawn of its own")
    finally:
        if prom is not None:
            prom.stop()
        s.stop()


def test_sandbox_cause():
    """A sandbox violation (the test-hook build's fronts and agents make a
    forbidden call on SIGUSR2) is counted with cause sandbox, by role."""
    hooks = os.environ.get("RUNBOXD_TESTHOOKS_BIN", rbtest.BIN + "-testhooks")
    if not R.check(os.path.exists(hooks), "the test-hook build exists (make %s)" % hooks):
        return
    saved = rbtest.BIN
    rbtest.BIN = hooks
    s = Runboxd(SERVER_WORKER_THREADS="1", METRICS_PUBLIC="true")
    try:
        s.start()
        for role in ("front", "agent"):
            name = "runboxd: %s 0" % role
            pid = wait_until(lambda: s.children().get(name))
            if not R.check(pid is not None, "a %s to break" % role, s.children()):
                return
            os.kill(pid, signal.SIGUSR2)
            want = key("runboxd_respawns_total", role=role, cause="sandbox")

            def counted():
                try:
                    m = scrape(s, token=False)
                except (OSError, RuntimeError):
                    return None  # the slot is being respawned
                return m if m.get(want) == 1 else None
            m = wait_until(counted) or {}
            R.check(m.get(want) == 1, "the %s's SIGSYS: respawns_total{%s,sandbox} is 1" % (role, role),
                    {k: v for k, v in m.items() if k[0] == "runboxd_respawns_total" and v})
            R.check(sum(v for k, v in m.items() if k[0] == "runboxd_respawns_total") == (1 if role == "front" else 2),
                    "... and no other respawn counted")
            wait_until(lambda: s.children().get(name) not in (None, pid))
    finally:
        rbtest.BIN = saved
        s.stop()


def leftover(instance, slot):
    """A container as a dead slot (or master) of instance would have left it."""
    st, js = rbtest.docker("POST", "/containers/create", {
        "Image": SH, "Cmd": ["true"], "NetworkDisabled": True,
        "Labels": {"io.runboxd.instance": instance, "io.runboxd.slot": str(slot)}})
    return js["Id"] if st == 201 else None


def test_removals():
    """runboxd_containers_removed_total{reason}: leftovers of the instance
    (its slots', made before they started, and one of a slot it does not
    have) removed by the master's janitor, counted as reason janitor; a
    slot's agent sweeps (reason sweep) only what its own earlier pair left,
    so none here."""
    s = Runboxd()
    ids = [leftover(s.instance, k) for k in (0, 1)]
    R.check(all(ids), "two leftover containers made (slots 0 and 1)", ids)
    # Slots own what is created from their spawn's second on: start in a later second.
    made = time.time()
    wait_until(lambda: int(time.time()) > int(made), 5)
    s.start()
    try:
        gone = lambda want: (lambda left: left is not None and not (set(want) & set(left)))(
            rbtest.containers(s.instance))
        R.check(wait_until(lambda: gone(ids)), "the leftovers are removed at start")
        m0 = wait_until(lambda: (lambda m: m if m.get(key("runboxd_containers_removed_total", reason="janitor"))
                                 == 2 else None)(scrape(s))) or scrape(s)
        R.check(m0.get(key("runboxd_containers_removed_total", reason="janitor")) == 2 and
                m0.get(key("runboxd_containers_removed_total", reason="sweep")) == 0,
                "counted as 2 removals by the janitor, none by an agent's sweep",
                {r: m0.get(key("runboxd_containers_removed_total", reason=r)) for r in ("janitor", "sweep")})
        R.check(m0.get(key("runboxd_slots", state="idle")) == 1 and m0.get(key("runboxd_slots", state="busy")) == 1,
                "runboxd_slots: 1 busy (serving this scrape), 1 idle",
                {r: m0.get(key("runboxd_slots", state=r)) for r in ("busy", "idle", "down")})
        other = leftover(s.instance, 9)
        R.check(other is not None and wait_until(lambda: gone([other])),
                "a leftover of slot 9 (no such slot) is removed while the server runs")
        m1 = wait_until(lambda: (lambda m: m if delta(m0, m, "runboxd_containers_removed_total",
                                                      reason="janitor") >= 1 else None)(scrape(s))) or scrape(s)
        R.check(delta(m0, m1, "runboxd_containers_removed_total", reason="janitor") == 1 and
                delta(m0, m1, "runboxd_containers_removed_total", reason="sweep") == 0,
                "... by the janitor: reason janitor moved by 1, sweep by 0")
    finally:
        s.stop()


def dockerd(cmd):
    p = subprocess.run([DOCKERD_SH, cmd, PRIVATE_DIR], capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode().strip(), p.stderr.decode()


def test_docker_down():
    s = None
    try:
        rc, sock, err = dockerd("start")
        if not R.check(rc == 0 and sock, "our private dockerd starts", err[-500:]):
            return
        s = Runboxd(DOCKER_UNIX_SOCKET_PATH=sock, SERVER_WORKER_THREADS="1", METRICS_PUBLIC="true").start()
        r = wait_until(lambda: (lambda x: x if x[0] == 200 else None)(health(s))) or health(s)
        R.check(r[0] == 200 and r[1]["docker"] == "ok", "GET /health: 200 on the private dockerd", r)
        st, h, body = s.request("GET", "/metrics")
        R.check(st == 200 and b"runboxd_runs_total" in body, "METRICS_PUBLIC=true: GET /metrics with no token",
                (st, body[:200]))
        rc, _, err = dockerd("stop")
        R.check(rc == 0, "our private dockerd stops", err[-500:])
        t0 = time.time()
        st, js = health(s)
        secs = time.time() - t0
        R.check(st == 503 and js and js.get("status") == "unavailable" and js.get("docker") != "ok" and
                js.get("reason") and js["slots"]["down"] == 0,
                "GET /health while dockerd is stopped: 503 with the reason", js)
        R.check(secs < 10, "... answered within its short deadline (%.2fs)" % secs)
        rc, sock, err = dockerd("start")
        R.check(rc == 0, "our private dockerd starts again", err[-500:])
        r = wait_until(lambda: (lambda x: x if x[0] == 200 else None)(health(s))) or health(s)
        R.check(r[0] == 200 and r[1]["docker"] == "ok", "GET /health: 200 again once dockerd is back", r)
    finally:
        if s is not None:
            s.stop()
        dockerd("stop")


def main():
    for t in (test_health_and_counters, test_removals, test_late_output, test_prometheus_and_respawn,
              test_sandbox_cause, test_docker_down):
        t0 = time.time()
        t()
        print("-- %s: %.1fs" % (t.__name__, time.time() - t0), flush=True)
    R.done()


if __name__ == "__main__":
    main()
