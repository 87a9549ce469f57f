"""The core daemon: routes, tokens, malformed requests, slow clients,
killed workers, SIGTERM and SIGHUP, against the real runboxd and dockerd."""

import json
import os
import signal
import socket
import subprocess
import threading
import time

import rbtest
from rbtest import BIN, Results, Runboxd, base_config, free_port, parse_raw, is_error

R = Results("core")


def test_config_errors():
    env = {"PATH": os.environ.get("PATH", "")}
    cfg = base_config()
    cfg["API_ACCESS_TOKEN"] = "secret-token-value"
    cfg["SERVER_LISTEN_PORT"] = "8099"
    full = dict(env, **cfg)
    p = subprocess.run([BIN, "-t"], env=full, capture_output=True, timeout=10)
    out = p.stdout.decode()
    R.check(p.returncode == 0, "-t accepts a good configuration", p.stderr)
    R.check("secret-token-value" not in out and "API_ACCESS_TOKEN=" in out, "-t masks the token", out)
    R.check("SERVER_LISTEN_PORT=8099" in out, "-t prints the effective configuration")

    missing = dict(full)
    del missing["DOCKER_CONTAINER_MEMORY"]
    p = subprocess.run([BIN, "-t"], env=missing, capture_output=True, timeout=10)
    R.check(p.returncode == 78 and b"DOCKER_CONTAINER_MEMORY" in p.stderr,
            "a missing required variable: exit 78 naming it", (p.returncode, p.stderr))
    for key, bad in [("SERVER_LISTEN_PORT", "70000"), ("SERVER_WORKER_THREADS", "4x"),
                     ("DOCKER_CONTAINER_NETWORK_DISABLED", "yes"), ("SERVER_LISTEN_ADDR", "1.2.3"),
                     ("RUN_MAX_OUTPUT_SIZE", "99999999999999999999999")]:
        e = dict(full)
        e[key] = bad
        p = subprocess.run([BIN], env=e, capture_output=True, timeout=10)
        R.check(p.returncode == 78 and key.encode() in p.stderr,
                "bad %s=%s stops the server with 78" % (key, bad), (p.returncode, p.stderr))


def test_routes(s):
    st, h, body = s.request("GET", "/")
    js = json.loads(body)
    R.check(st == 200 and set(js) >= {"name", "version", "description"}, "GET / without token", body)
    R.check(h.get("content-type") == "application/json", "GET / is application/json")

    st, _, body = s.request("GET", "/version")
    R.check(st == 401 and is_error(body, "access_token"), "GET /version without token: 401", body)
    st, _, body = s.request("GET", "/version", headers={"X-Access-Token": "wrong"})
    R.check(st == 401 and is_error(body, "access_token"), "GET /version wrong token: 401", body)
    st, _, body = s.request("GET", "/version", headers={"X-Access-Token": s.token + "x"})
    R.check(st == 401, "GET /version token with a suffix: 401", body)
    st, _, body = s.request("GET", "/version", headers=s.auth())
    ok = st == 200
    js = json.loads(body) if ok else {}
    d = js.get("docker", {})
    R.check(ok and all(k in d for k in ("version", "apiVersion", "gitCommit", "goVersion", "os", "arch",
                                         "kernelVersion", "buildTime", "platform", "components")),
            "GET /version with token: docker-run's camelCase shape", body)
    R.check(ok and d.get("os") == "linux", "GET /version reports Docker's os", body)
    st, _, body = s.request("GET", "/version", headers={"Authorization": "Bearer " + s.token})
    R.check(st == 200, "GET /version with Authorization: Bearer", body)

    st, h, body = s.request("DELETE", "/run", headers=s.auth())
    R.check(st == 405 and h.get("allow") == "POST" and is_error(body, "method"), "DELETE /run: 405 Allow: POST", (st, h))
    st, _, body = s.request("GET", "/nope")
    R.check(st == 404 and is_error(body, "route"), "unknown route: 404", body)
    st, _, body = s.request("POST", "/run", b"hello", headers=s.auth({"Content-Type": "text/plain"}))
    R.check(st == 415 and is_error(body), "POST /run text/plain: 415", body)
    st, _, body = s.request("POST", "/run", b"{not json", headers=s.auth({"Content-Type": "application/json"}))
    R.check(st == 400 and is_error(body, "request.json"), "POST /run bad JSON: 400 request.json", body)
    st, _, body = s.request("POST", "/run", {"image": "runbox/sh", "payload": {}})
    R.check(st == 401 and is_error(body, "access_token"), "POST /run without token: 401", body)
    for bad in (b"notjson", b'{"image":"UPPER","payload":{}}', b'{"image":"a","payload":5}'):
        st, _, body = s.request("POST", "/run", bad, headers={"X-Access-Token": "wrong",
                                                               "Content-Type": "application/json"})
        R.check(st == 401 and is_error(body, "access_token"),
                "wrong token with a bad body: 401, not 400 (%s)" % bad.decode(), body)


MALFORMED = [
    ("bare LF", b"GET / HTTP/1.1\nHost: x\n\n", 400),
    ("CL and TE", b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("differing duplicate CL", b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    ("CL with a sign", b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400),
    ("CL with junk", b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
    ("NUL in a value", b"GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n", 400),
    ("CR in a value", b"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("garbage request line", b"HELLO\r\n\r\n", 400),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("POST without length", b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: TOKEN\r\n\r\n", 411),
    ("gzip transfer coding", b"POST /run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ("body over the limit", b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: TOKEN\r\nContent-Length: 999999\r\n\r\n", 413),
    ("too many headers", b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n", 431),
    ("huge header", b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
    ("bad chunk size", b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: TOKEN\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n", 400),
]


def test_malformed(s):
    for name, req, want in MALFORMED:
        # The token is checked before the body: body errors need the right one.
        st, h, body = parse_raw(s.raw(req.replace(b"TOKEN", s.token.encode())))
        R.check(st == want and is_error(body) and h.get("content-type") == "application/json",
                "malformed: %s -> %d" % (name, want), (st, body[:200]))


def test_http_forms(s):
    # A body that is read whole and then refused for its image (the token is right).
    body = json.dumps({"image": "NOT/valid", "payload": {"language": "sh"}}).encode()
    tok = s.token.encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7)) + b"0\r\n\r\n"
    st, _, resp = parse_raw(s.raw(b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + tok + b"\r\nContent-Type: application/json\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\n" + chunked))
    R.check(st == 400 and is_error(resp, "request.image"), "chunked body read and judged", resp)

    st, _, resp = parse_raw(s.raw(b"GET / HTTP/1.0\r\n\r\n"))
    R.check(st == 200, "HTTP/1.0 request", resp)

    # Expect: 100-continue must be answered before the body comes: a server
    # that waited for it would answer 408 at the request deadline instead.
    c = socket.create_connection(("127.0.0.1", s.port), timeout=60)
    c.sendall(b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + tok + b"\r\nContent-Type: application/json\r\n"
              b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
    first = c.recv(100)
    R.check(first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), "Expect: 100-continue answered before the body",
            first)
    c.sendall(body)
    rest = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        rest += b
    c.close()
    st, _, resp = parse_raw(first + rest)
    R.check(st == 400 and is_error(resp, "request.image"), "body after 100 Continue is read", rest)


def test_slowloris(s):
    deadline = int(s.config["SERVER_REQUEST_TIMEOUT"])
    # One client trickles its head a byte every 0.5 s: the single deadline ends it.
    result = {}
    sent = threading.Event()

    def trickle():
        c = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        t0 = time.time()
        data = b"GET /version HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100
        got = b""
        try:
            for ch in data:
                c.sendall(bytes([ch]))
                sent.set()
                time.sleep(0.5)
                c.setblocking(False)
                try:
                    got += c.recv(4096)
                except BlockingIOError:
                    pass
                c.setblocking(True)
                if got:
                    break
            c.settimeout(60)
            while True:
                b = c.recv(4096)
                if not b:
                    break
                got += b
        except OSError:
            pass
        result["resp"] = got
        result["secs"] = time.time() - t0
        c.close()

    t = threading.Thread(target=trickle)
    t.start()
    sent.wait(60)
    st, _, _ = s.request("GET", "/", timeout=60)
    R.check(st == 200 and "resp" not in result, "another client is served while one trickles")
    t.join(120)
    st, _, body = parse_raw(result.get("resp", b""))
    secs = result.get("secs", 99)
    R.check(st == 408 and is_error(body, "request.timeout"), "slow client gets 408", result.get("resp"))
    # Not before the deadline; and long before the 50 s the whole head would take.
    R.check(deadline - 0.1 < secs < 3 * deadline, "408 comes at the request deadline (%.1fs)" % secs)
    # Clients that connect and say nothing hold both slots: each is closed
    # at the deadline, not before, and the slots serve again.
    t0 = time.time()
    idle = [socket.create_connection(("127.0.0.1", s.port), timeout=60) for _ in range(2)]
    ends = []
    for c in idle:
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass
        ends.append(time.time() - t0)
        c.close()
    R.check(min(ends) > deadline - 0.1, "silent clients are closed at the deadline (%s s)"
            % ", ".join("%.1f" % e for e in ends))
    st, _, _ = s.request("GET", "/", timeout=60)
    R.check(st == 200, "slots are free again after silent clients")


def test_titles_and_token(s):
    want = ["runboxd: agent 0", "runboxd: agent 1", "runboxd: front 0", "runboxd: front 1", "runboxd: reader"]
    kids = rbtest.wait_until(lambda: (lambda k: k if sorted(k) == want else None)(s.children())) or s.children()
    titles = sorted(kids)
    R.check(titles == want,
            "process titles show the roles", titles)
    with open("/proc/%d/cmdline" % s.proc.pid, "rb") as f:
        R.check(f.read().startswith(b"runboxd: master"), "master title")
    tok = s.token.encode()
    for title, pid in kids.items():
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = f.read()
        R.check(tok not in env, "no token in the environment of %s" % title)
    front = kids.get("runboxd: front 0")
    if front:
        with open("/proc/%d/environ" % s.proc.pid, "rb") as f:
            R.check(tok not in f.read(), "no token in the master's /proc environ")


def serve_ok(s, n=5):
    good = 0
    for _ in range(n):
        try:
            st, _, _ = s.request("GET", "/version", headers=s.auth(), timeout=60)
            good += st == 200
        except OSError:
            pass
    return good


def test_kills(s):
    for role in ("front 0", "agent 0", "reader"):
        kids = s.wait_children(5)
        victim = kids.get("runboxd: %s" % role)
        if not R.check(victim is not None, "found %s" % role, kids):
            continue
        os.kill(victim, signal.SIGKILL)
        # Once it is dead its partner sees the hang-up before any new request.
        R.check(rbtest.wait_until(lambda: not rbtest.alive(victim)), "%s is dead" % role)
        R.check(serve_ok(s) == 5, "service keeps answering after SIGKILL of %s" % role)
        kids = rbtest.wait_until(lambda: (lambda k: k if k.get("runboxd: %s" % role) not in (None, victim)
                                           and len(k) == 5 else None)(s.children())) or s.children()
        R.check(kids.get("runboxd: %s" % role) not in (None, victim) and len(kids) == 5,
                "%s respawned" % role, kids)
    R.check("reader had served; respawning it now" in s.log(), "a reader that had served is respawned at once",
            s.log()[-2000:])
    R.check("crashed" in s.log() and "respawning slot 0" in s.log(), "crash and respawn are logged")
    R.check("slot 0 had served; respawning it now" in s.log(),
            "a slot that had served is respawned at once", s.log()[-2000:])
    # With no request in between, a respawned slot never serves: killing it
    # again and again is a crash loop, and the backoff doubles.
    victim = s.wait_children(5).get("runboxd: front 0")
    os.kill(victim, signal.SIGKILL)
    for _ in range(2):
        old = victim
        victim = rbtest.wait_until(lambda: (lambda p: p if p and p != old else None)(
            s.children().get("runboxd: front 0")), interval=0.02)
        if victim:
            os.kill(victim, signal.SIGKILL)
    s.wait_log("respawning it in 200ms")
    R.check("slot 0 died before serving; respawning it in 100ms" in s.log() and
            "slot 0 died before serving; respawning it in 200ms" in s.log(),
            "respawn backoff doubles while a slot dies before serving", s.log()[-2000:])
    s.wait_children(5)
    R.check(serve_ok(s) == 5, "respawned slot serves")


def test_reload(s):
    before = s.wait_children(5)
    stop = threading.Event()
    failures = []
    served = [0]

    def hammer():
        while not stop.is_set():
            try:
                st, _, _ = s.request("GET", "/", timeout=60)
                if st != 200:
                    failures.append(st)
                served[0] += 1
            except OSError as e:
                failures.append(str(e))

    t = threading.Thread(target=hammer)
    t.start()
    s.config["SERVER_WORKER_THREADS"] = "3"
    s.write_config()
    os.kill(s.proc.pid, signal.SIGHUP)
    kids = rbtest.wait_until(lambda: (lambda k: k if len(k) == 7 and not set(k.values()) & set(before.values())
                                      else None)(s.children()), interval=0.1) or s.children()
    stop.set()
    t.join()
    R.check(len(kids) == 7 and not set(kids.values()) & set(before.values()),
            "SIGHUP with a good configuration replaces every slot (3 now) and the reader", kids)
    R.check(not failures and served[0] > 0, "no connection refused during the roll (%d served)" % served[0], failures[:5])

    before = s.wait_children(7)
    mark = len(s.log())
    s.config["SERVER_WORKER_THREADS"] = "lots"
    s.write_config()
    os.kill(s.proc.pid, signal.SIGHUP)
    # The reload is over once it is logged: only then is "nothing changed" news.
    handled = s.wait_log("keeping the running configuration", mark)
    R.check(handled and "SERVER_WORKER_THREADS" in s.log()[mark:], "the bad configuration is logged",
            s.log()[mark:])
    R.check(handled and s.children() == before, "SIGHUP with a bad configuration keeps the old slots")
    st, _, _ = s.request("GET", "/version", headers=s.auth())
    R.check(st == 200, "still serving after a bad reload")


def test_term(s):
    kids = s.wait_children(len(s.children()))
    rc = s.stop(signal.SIGTERM)
    R.check(rc == 0, "SIGTERM: exit status 0", rc)
    # The master reaps every child before it exits.
    alive = [p for p in kids.values() if os.path.exists("/proc/%d" % p)]
    R.check(not alive, "SIGTERM: no child left", alive)
    R.check("runboxd stopped" in s.log(), "stop is logged")


def signal_mid_request(s, head, send_signal, sig):
    """Send half of a request, signal, send the rest: the raw answer.

    The signal goes only once the reader has read the half (the server's end
    of the connection has nothing left to read), and the rest only once the
    reader has taken the signal (it logs that it stops accepting): the
    request is then in flight when the server is told to stop, and must
    still be read, handed to a front and answered."""
    c = socket.create_connection(("127.0.0.1", s.port), timeout=60)
    c.sendall(head)
    conn = rbtest.wait_until(lambda: (lambda ss: ss if ss and ss[0] == 0 else None)(
        rbtest.server_side(s.port, c.getsockname()[1])))
    reader = None
    if R.check(conn, "the reader has read the first half of the request"):
        reader = rbtest.wait_until(lambda: next((p for t, p in s.children().items() if t == "runboxd: reader"
                                                 and rbtest.holds_socket(p, conn[1])), None))
    R.check(reader, "the reader holding the request is known")
    mark = len(s.log())
    send_signal()
    R.check(reader and s.wait_log("reader: signal; finishing 1 waiting connections", mark),
            "the reader holding the request has taken %s" % signal.Signals(sig).name, s.log()[mark:])
    c.sendall(b"\r\n")
    resp = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        resp += b
    c.close()
    return resp


def test_term_drains(s):
    # A request in flight when SIGTERM arrives still gets its answer.
    resp = signal_mid_request(s, b"GET / HTTP/1.1\r\nHost: x\r\n", lambda: s.proc.send_signal(signal.SIGTERM),
                              signal.SIGTERM)
    st, _, _ = parse_raw(resp)
    R.check(st == 200, "SIGTERM lets the in-flight request finish", resp[:100])
    rc = s.proc.wait(30)
    R.check(rc == 0, "drained server exits 0", rc)


def test_group_signal():
    """Ctrl-C reaches the whole process group: in-flight requests still finish."""
    s = Runboxd()
    try:
        s.start(start_new_session=True)
        head = b"GET /version HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + s.token.encode() + b"\r\n"
        resp = signal_mid_request(s, head, lambda: os.killpg(s.proc.pid, signal.SIGINT), signal.SIGINT)
        st, _, body = parse_raw(resp)
        R.check(st == 200, "SIGINT to the process group: the in-flight /version still gets 200", resp[:200])
        R.check(s.proc.wait(30) == 0, "and the server exits 0")
    finally:
        s.stop(signal.SIGKILL)


def test_reload_revert():
    """A reload that validates but cannot run goes back to the old configuration."""
    if "san" in BIN:
        print("note: skipped under ASan (needs an address-space limit)")
        return
    import resource

    def limit_as():
        resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))

    s = Runboxd()
    try:
        s.start(preexec_fn=limit_as)
        s.config["RUN_MAX_OUTPUT_SIZE"] = str(1 << 30)  # valid, but a front cannot allocate it here
        s.write_config()
        os.kill(s.proc.pid, signal.SIGHUP)
        R.check(s.wait_log("going back to the previous one"), "a reload that cannot run is reverted",
                s.log()[-1500:])
        # The revert is a roll back to the old configuration; it ends like any roll.
        R.check(s.wait_log("reload: all slots replaced"), "the revert is over", s.log()[-1500:])
        good = 0
        for _ in range(6):
            st, _, _ = s.request("GET", "/version", headers=s.auth(), timeout=60)
            good += st == 200
        R.check(good == 6 and len(s.wait_children(5)) == 5, "the previous configuration serves on every slot")
    finally:
        s.stop(signal.SIGKILL)


def test_reload_port():
    """A reload that moves the port: the new one serves, the old one closes."""
    s = Runboxd().start()
    try:
        old = s.port
        new = free_port()
        s.config["SERVER_LISTEN_PORT"] = str(new)
        s.write_config()
        os.kill(s.proc.pid, signal.SIGHUP)
        R.check(s.wait_log("reload: all slots replaced"), "the reload to a new port is over", s.log()[-1500:])
        s.port = new
        st, _, _ = s.request("GET", "/", timeout=60)
        R.check(st == 200, "after a reload to a new port, the new port serves")
        refused = False
        try:
            c = socket.create_connection(("127.0.0.1", old), timeout=2)
            c.close()
        except OSError:
            refused = True
        R.check(refused, "and the old port is closed")
    finally:
        s.stop(signal.SIGKILL)


def test_docker_unreachable():
    timeout = 60  # an answer well before it is not a wait for a timeout
    s = Runboxd(DOCKER_UNIX_SOCKET_PATH="/nonexistent/docker.sock", DOCKER_CONTAINER_PIDS_LIMIT="1000",
                DOCKER_UNIX_SOCKET_READ_TIMEOUT=timeout, DOCKER_UNIX_SOCKET_WRITE_TIMEOUT=timeout).start()
    try:
        R.check("one fork bomb can stop the other runs" in s.log(),
                "warns when PIDS_LIMIT x slots exceeds the per-user nproc limit", s.log()[-1000:])
        t0 = time.time()
        st, _, body = s.request("GET", "/version", headers=s.auth(), timeout=120)
        secs = time.time() - t0
        R.check(st == 500 and is_error(body, "docker.unixsocket") and secs < timeout / 3,
                "Docker unreachable: 500 docker.unixsocket at once (%.2fs)" % secs, body)
    finally:
        s.stop()


def main():
    test_config_errors()
    s = Runboxd(SERVER_MAX_REQUEST_BYTES=4096).start()
    try:
        R.check("fork bomb" not in s.log(), "no nproc warning when PIDS_LIMIT x slots fits")
        test_titles_and_token(s)
        test_routes(s)
        test_malformed(s)
        test_http_forms(s)
        test_slowloris(s)
        test_kills(s)
        test_reload(s)
        test_term(s)
    finally:
        s.stop(signal.SIGKILL)
    s = Runboxd().start()
    try:
        test_term_drains(s)
    finally:
        s.stop(signal.SIGKILL)
    test_group_signal()
    test_reload_revert()
    test_reload_port()
    test_docker_unreachable()
    R.done()


if __name__ == "__main__":
    main()
