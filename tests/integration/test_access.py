"""Access control against the real daemon: RUN_IMAGE_ALLOWLIST patterns with
real runs, SERVER_ALLOWED_IPS (clients bound to other loopback addresses,
and IPv6 clients of an IPv6 or dual-stack SERVER_LISTEN_ADDR), and the
per-address rate limit shared by every slot.

Loopback is 127.0.0.0/8 on Linux, so a client socket bound to 127.0.0.N
reaches the server on 127.0.0.1 and is seen as 127.0.0.N: each address is
a different client."""

import http.client
import json
import os
import socket
import subprocess
import time
import urllib.parse

from rbtest import BIN, Results, Runboxd, docker, is_error, parse_raw, wait_until

R = Results("access")
HELLO = {"language": "sh", "files": [{"name": "main.sh", "content": "echo hello"}]}


def request(s, method, path, body=None, headers=None, src="127.0.0.1", timeout=60, host="127.0.0.1"):
    """(status, lower-cased headers, body) of one request to host (an IPv4 or
    IPv6 literal) from source address src (None: the kernel's choice)."""
    conn = http.client.HTTPConnection(host, s.port, timeout=timeout,
                                      source_address=(src, 0) if src else None)
    try:
        headers = dict(headers or {})
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def run(s, image, src="127.0.0.1", payload=None):
    st, _, body = request(s, "POST", "/run", {"image": image, "payload": payload or HELLO},
                          headers={"X-Access-Token": s.token}, src=src)
    return st, body


def raw(s, data, src):
    """Send raw bytes from src; the whole answer, until the server closes."""
    c = socket.create_connection(("127.0.0.1", s.port), timeout=30, source_address=(src, 0))
    try:
        c.sendall(data)
        chunks = []
        while True:
            try:
                b = c.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        c.close()


def wait_answering(s, src, path="/"):
    """Wait until the server answers path from src (any status but a refused connection)."""
    def up():
        if s.proc.poll() is not None:
            raise RuntimeError("runboxd exited:\n" + s.log())
        try:
            return request(s, "GET", path, src=src, timeout=5)[0]
        except OSError:
            return None
    return wait_until(up)


def check_config_refused(var, value, want):
    s = Runboxd(**{var: value})
    p = subprocess.run([BIN, "-t", "-c", s.conf_path], capture_output=True, timeout=30,
                       env={"PATH": os.environ.get("PATH", "")})
    err = p.stderr.decode("utf-8", "replace")
    R.check(p.returncode == 78 and (var + ": ") in err and want in err,
            "%s=%r is refused at start (78, names the variable)" % (var, value), "%d %s" % (p.returncode, err))


def tag_image(src, repo, tag):
    st, _ = docker("POST", "/images/%s/tag?repo=%s&tag=%s" % (urllib.parse.quote(src, safe=""),
                                                              urllib.parse.quote(repo, safe=""), tag))
    return st == 201


def untag_image(name):
    docker("DELETE", "/images/%s?noprune=1" % urllib.parse.quote(name, safe=""))


def test_allowlist():
    tags = [("glot/a/b", "1"), ("other/sh", "latest")]
    for repo, tag in tags:
        R.check(tag_image("runbox/sh", repo, tag), "test image %s:%s tagged" % (repo, tag))
    s = Runboxd(RUN_IMAGE_ALLOWLIST="glot/* docker.io/runbox/sh runbox/python:latest")
    s.start()
    try:
        for image in ("glot/a/b:1", "docker.io/glot/a/b:1", "runbox/sh", "index.docker.io/runbox/sh:latest"):
            st, body = run(s, image)
            R.check(st == 200 and json.loads(body).get("stdout") == "hello\n", "allowed: %s runs" % image, body)
        st, body = run(s, "runbox/python", payload={"language": "python", "files": [
            {"name": "main.py", "content": "print(6 * 7)"}]})
        R.check(st == 200 and json.loads(body).get("stdout") == "42\n",
                "allowed: runbox/python (no tag is :latest) runs", body)
        # other/sh exists in Docker: refused all the same.  evil/x does not:
        # a 403 and not Docker's "No such image" shows Docker was not asked.
        for image in ("other/sh", "evil/x", "runbox/python:3", "glot", "glotx/a", "ghcr.io/glot/a",
                      "localhost/runbox/sh", "runbox/c"):
            st, body = run(s, image)
            R.check(st == 403 and is_error(body, "image.not_allowed"), "refused: %s (403)" % image, body)
        st, body = run(s, "Runbox/sh")
        R.check(st == 400 and is_error(body, "request.image"), "an invalid reference is still 400", body)
        R.check(" 403 " in s.log(), "refusals are logged with their status")
    finally:
        R.check(s.stop() == 0, "allowlist server stops cleanly")
        for repo, tag in tags:
            untag_image("%s:%s" % (repo, tag))
    check_config_refused("RUN_IMAGE_ALLOWLIST", "runbox/sh runbox*", "neither an image reference")


def test_allowed_ips():
    s = Runboxd(SERVER_ALLOWED_IPS="127.0.0.2/32, ::ffff:127.0.0.4")
    s.start(wait=False)
    try:
        R.check(wait_answering(s, "127.0.0.2") == 200, "127.0.0.2 (in SERVER_ALLOWED_IPS) gets 200")
        for src in ("127.0.0.1", "127.0.0.3"):
            st, h, body = request(s, "GET", "/", src=src)
            R.check(st == 403 and is_error(body, "ip.not_allowed") and h.get("connection") == "close"
                    and h.get("content-type") == "application/json",
                    "%s (not in SERVER_ALLOWED_IPS) gets a JSON 403" % src, (st, h, body))
        st, h, body = request(s, "GET", "/", src="127.0.0.4")
        R.check(st == 200, "an IPv4-mapped rule (::ffff:127.0.0.4) allows 127.0.0.4", (st, body))
        # Nothing of the request is parsed: garbage, an oversized head, a
        # token-less run all get the same 403, never 400/431/401.
        fixed = None
        for data in (b"\x00\x01garbage\r\n\r\n", b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
                     b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"):
            resp = raw(s, data, "127.0.0.1")
            st, _, body = parse_raw(resp)
            R.check(st == 403 and is_error(body, "ip.not_allowed") and (fixed is None or resp == fixed),
                    "a refused client gets one fixed 403 whatever it sends (%r...)" % data[:12], resp[:200])
            fixed = resp
        st, body = run(s, "runbox/sh", src="127.0.0.2")
        R.check(st == 200 and json.loads(body).get("stdout") == "hello\n", "an allowed client runs", body)
        st, body = run(s, "runbox/sh", src="127.0.0.1")
        R.check(st == 403 and is_error(body, "ip.not_allowed"), "a refused client cannot run", body)
        R.check(wait_until(lambda: "127.0.0.1:" in s.log() and " 403 " in s.log(), 10),
                "refused connections are logged with the peer and 403")
    finally:
        R.check(s.stop() == 0, "SERVER_ALLOWED_IPS server stops cleanly")
    check_config_refused("SERVER_ALLOWED_IPS", "127.0.0.1/8", "bits set past its prefix length")
    check_config_refused("SERVER_ALLOWED_IPS", "10.0.0.0/33", "bad prefix length")


def test_ipv6():
    """SERVER_LISTEN_ADDR may be IPv6: ::1 serves IPv6 clients, and :: IPv4
    ones too (as ::ffff:a.b.c.d); SERVER_ALLOWED_IPS judges both."""
    s = Runboxd(SERVER_LISTEN_ADDR="::1", SERVER_ALLOWED_IPS="::1/128")
    s.start(wait=False)
    try:
        def up(host):
            if s.proc.poll() is not None:
                raise RuntimeError("runboxd exited:\n" + s.log())
            try:
                return request(s, "GET", "/.ready", src=None, host=host, timeout=5)[0] == 404
            except OSError:
                return False
        R.check(wait_until(lambda: up("::1")), "SERVER_LISTEN_ADDR=::1: a front answers over IPv6")
        st, _, body = request(s, "POST", "/run", {"image": "runbox/sh", "payload": HELLO},
                              headers={"X-Access-Token": s.token}, src=None, host="::1")
        R.check(st == 200 and json.loads(body).get("stdout") == "hello\n",
                "a run over IPv6, allowed by ::1/128", body[:200])
        R.check(s.wait_log("[::1]:" + str(s.port)) and s.wait_log("::1"),
                "the log names the IPv6 listen address and peer", s.log()[-500:])
    finally:
        R.check(s.stop() == 0, "the IPv6 server stops cleanly")
    s = Runboxd(SERVER_LISTEN_ADDR="::", SERVER_ALLOWED_IPS="2001:db8::/32 127.0.0.1")
    s.start(wait=False)
    try:
        R.check(wait_answering(s, "127.0.0.1") == 200, "SERVER_LISTEN_ADDR=::: an IPv4 client is served too")
        st, _, body = request(s, "GET", "/", src=None, host="::1")
        R.check(st == 403 and is_error(body, "ip.not_allowed"),
                "::1, outside 2001:db8::/32 and 127.0.0.1, gets 403 ip.not_allowed", body[:200])
        st, _, body = request(s, "GET", "/", src="127.0.0.2")
        R.check(st == 403 and is_error(body, "ip.not_allowed"), "127.0.0.2 (IPv4 on ::) gets 403 too", body[:200])
        st, body = run(s, "runbox/sh", src="127.0.0.1")
        R.check(st == 200, "127.0.0.1 runs on the dual-stack socket", body[:200])
    finally:
        R.check(s.stop() == 0, "the dual-stack server stops cleanly")


def accept_queue(port):
    """Connections waiting in the listen socket's accept queue (rx_queue of
    a LISTEN socket in /proc/net/tcp is its accept backlog)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                return int(fields[4].split(":")[1], 16)
    return None


def test_rate_limit():
    per_minute, burst, slots = 6, 3, 4  # a token every 10 s
    period = 60.0 / per_minute
    s = Runboxd(RATE_LIMIT_PER_MINUTE=per_minute, RATE_LIMIT_BURST=burst, SERVER_WORKER_THREADS=slots,
                SERVER_REQUEST_TIMEOUT=60)
    s.start(wait=False)
    try:
        # /health is not counted: poll it as much as we like.
        R.check(wait_answering(s, "127.0.0.9", "/health") not in (None, 429), "the server answers /health")

        # burst + 1 connections, each held by its own front at the same
        # time (a front serves one connection at a time, and the accept
        # queue is empty): exactly burst pass, the table is shared.
        src = "127.0.0.3"
        conns = []
        t_first = time.time()
        for _ in range(burst + 1):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=60, source_address=(src, 0))
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            conns.append(c)
        R.check(wait_until(lambda: accept_queue(s.port) == 0), "every connection is held by its own front")
        answers = []
        for c in conns:
            c.sendall(b"\r\n")
        for c in conns:
            data = b""
            while True:
                b = c.recv(65536)
                if not b:
                    break
                data += b
            c.close()
            answers.append(parse_raw(data))
        statuses = sorted(a[0] for a in answers)
        R.check(statuses == [200] * burst + [429], "burst %d across %d slots: %d pass, the next is 429" %
                (burst, burst + 1, burst), statuses)
        limited = [a for a in answers if a[0] == 429]
        retry = int(limited[0][1].get("retry-after", "0")) if limited else 0
        R.check(limited and is_error(limited[0][2], "rate.limited") and 1 <= retry <= period,
                "429 carries rate.limited and Retry-After (1-%d s)" % period, limited)

        # Still limited: sequential requests on new connections, a run
        # without a token (429 comes before 401), HEAD.
        st, h, body = request(s, "GET", "/", src=src)
        R.check(st == 429 and "retry-after" in h, "a new connection from the same address is 429", st)
        st, _, body = request(s, "POST", "/run", {"image": "runbox/sh", "payload": HELLO}, src=src)
        R.check(st == 429 and is_error(body, "rate.limited"), "429 before the token is looked at", body)
        st, _, body = request(s, "HEAD", "/", src=src)
        R.check(st == 429 and body == b"", "HEAD is limited too, with no content", (st, body))
        for _ in range(5):
            st, _, _ = request(s, "GET", "/health", src=src)
            R.check(st != 429, "/health is never limited (%d)" % st)
        # Other addresses have their own buckets.
        st, _, _ = request(s, "GET", "/", src="127.0.0.4")
        R.check(st == 200, "another address is not limited", st)
        st, body = run(s, "runbox/sh", src="127.0.0.5")
        R.check(st == 200 and json.loads(body).get("stdout") == "hello\n", "another address runs", body)

        # After Retry-After the address passes again, and not before a
        # token is due (a bound the limit guarantees whatever the load).
        passed_at = wait_until(lambda: time.time() if request(s, "GET", "/", src=src)[0] == 200 else None,
                               timeout=6 * period, interval=0.2)
        R.check(passed_at is not None, "after Retry-After the address passes again")
        R.check(passed_at is not None and passed_at - t_first >= period - 0.01,
                "... not before a token was due (%.1f s after the first request, period %.0f s)" %
                ((passed_at or 0) - t_first, period))
        st, _, _ = request(s, "GET", "/", src=src)
        R.check(st == 429, "... and that one token was all", st)
    finally:
        R.check(s.stop() == 0, "rate-limited server stops cleanly")


def main():
    try:
        test_allowlist()
        test_allowed_ips()
        test_ipv6()
        test_rate_limit()
    except Exception as e:  # a crash of the test is a failure, with its reason
        R.check(False, "test ran to the end", repr(e))
    R.done()


if __name__ == "__main__":
    main()
