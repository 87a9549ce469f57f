"""Docker API version negotiation: the real test dockerd (20.10, API 1.41),
the fake Docker answering as Engine 29 does (API 1.44 to 1.52, a 400 for
older versioned paths), a fake that speaks only up to API 1.30 (refused
with both versions named), and a daemon upgraded under a running runboxd."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time

from rbtest import DOCKER_SOCK, ROOT, Results, Runboxd, is_error

R = Results("engines")

SH = "runbox/sh"
FAKE = os.path.join(ROOT, "tests", "harness", "fakedocker.py")
FAKE_REPLY = {"stdout": "fake\n", "stderr": "", "error": ""}
VERSIONED = re.compile(r"^[A-Z]+ /v(1\.\d+)/")


def sh(script):
    return {"language": "sh", "files": [{"name": "main.sh", "content": script}]}


def wait_for(pred, timeout):
    """Poll pred until it is true or timeout seconds pass; its last value."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > end:
            return v
        time.sleep(0.05)


class Fake:
    def __init__(self, mode):
        self.dir = tempfile.mkdtemp(prefix="rbx-engine-")
        os.chmod(self.dir, 0o755)  # the agents' user must reach the socket inside
        self.sock = os.path.join(self.dir, "docker.sock")
        self.log_path = os.path.join(self.dir, "calls.log")
        self.proc = subprocess.Popen(["python3", FAKE, "--socket", self.sock, "--mode", mode,
                                      "--log", self.log_path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.sock), 20)

    def calls(self):
        try:
            with open(self.log_path) as f:
                return [l.rstrip("\n") for l in f]
        except OSError:
            return []

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def versions(calls):
    return [m.group(1) for m in (VERSIONED.match(c) for c in calls) if m]


def version_info(s):
    st, _, body = s.request("GET", "/version", headers=s.auth())
    js = json.loads(body) if st == 200 else {}
    return st, js, body


def with_fake(mode, fn):
    fake = Fake(mode)
    s = None
    try:
        if R.check(os.path.exists(fake.sock), "fakedocker up in mode %s" % mode):
            s = Runboxd(DOCKER_UNIX_SOCKET_PATH=fake.sock, SERVER_WORKER_THREADS="2").start()
            fn(s, fake)
    finally:
        if s is not None:
            s.stop(signal.SIGKILL)
        fake.stop()


def test_real_dockerd():
    if not DOCKER_SOCK:
        print("engines: RUNBOXD_TEST_DOCKER_SOCK not set, real dockerd section skipped")
        return
    s = Runboxd().start()
    try:
        st, js, body = version_info(s)
        R.check(st == 200 and js.get("docker", {}).get("apiVersion") == "1.41"
                and js.get("runboxd") == {"apiVersion": "1.41"},
                "dockerd 20.10: /version says API 1.41 is in use", body)
        st, js, body = s.run(SH, sh("echo hi"))
        R.check(st == 200 and js and js.get("stdout") == "hi\n", "dockerd 20.10: a run succeeds", body)
    finally:
        s.stop()


def t_engine29(s, fake):
    st, js, body = version_info(s)
    R.check(st == 200 and js.get("docker", {}).get("apiVersion") == "1.52"
            and js.get("runboxd") == {"apiVersion": "1.44"},
            "Engine 29: /version shows Docker's 1.52 and the 1.44 in use", body)
    answers = [s.run(SH, sh("x")) for _ in range(4)]
    R.check(all(st == 200 and js == FAKE_REPLY for st, js, _ in answers),
            "Engine 29: every run succeeds", [a[2] for a in answers])
    used = versions(fake.calls())
    R.check(used and all(v == "1.44" for v in used),
            "Engine 29: every versioned call on /v1.44 (%d calls)" % len(used), fake.calls())


def t_api130(s, fake):
    line = "Docker speaks API versions 1.12 to 1.30, runboxd 1.41 to 1.44: none in common"
    R.check(wait_for(lambda: line in s.log(), 20), "API 1.30 only: a clear log line at start",
            s.log()[-2000:])
    st, js, body = version_info(s)
    R.check(st == 500 and is_error(body, "docker.unixsocket") and line.encode() in body,
            "API 1.30 only: /version 500 docker.unixsocket naming both versions", body)
    st, js, body = s.run(SH, sh("x"))
    R.check(st == 500 and is_error(body, "docker.unixsocket") and line.encode() in body,
            "API 1.30 only: /run 500 docker.unixsocket naming both versions", body)
    R.check(versions(fake.calls()) == [] and not any("/containers/create" in c for c in fake.calls()),
            "API 1.30 only: nothing but /version is asked of it", fake.calls())


def t_upgrade(s, fake):
    st, js, body = s.run(SH, sh("x"))
    R.check(st == 200 and js == FAKE_REPLY, "upgrade: a run on 20.10", body)
    R.check(set(versions(fake.calls())) == {"1.41"}, "upgrade: 20.10 is spoken to on /v1.41",
            fake.calls())
    before = len(fake.calls())
    fake.proc.send_signal(signal.SIGUSR1)
    # The signal is handled asynchronously: wait until the fake answers as 29.
    wait_for(lambda: version_refused(fake), 10)
    answers = [s.run(SH, sh("x")) for _ in range(3)]
    R.check(all(st == 200 and js == FAKE_REPLY for st, js, _ in answers),
            "upgrade: runs after the daemon became Engine 29 succeed, no restart",
            [a[2] for a in answers])
    after = fake.calls()[before:]
    creates = [c for c in after if "/containers/create" in c]
    # Each slot learns on its own: a refused /v1.41 call, GET /version, the call again on /v1.44.
    R.check(len([c for c in creates if c.startswith("POST /v1.44/")]) == 3
            and "GET /version" in after,
            "upgrade: the three creates that succeed are sent on /v1.44 after renegotiating", after)
    st, js, body = version_info(s)
    R.check(st == 200 and js.get("runboxd") == {"apiVersion": "1.44"}, "upgrade: /version shows 1.44",
            body)


def version_refused(fake):
    """Ask the fake directly whether /v1.41 is now refused (Engine 29)."""
    import socket
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.settimeout(5)
        c.connect(fake.sock)
        c.sendall(b"GET /v1.41/_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            more = c.recv(4096)
            if not more:
                break
            data += more
        return data.startswith(b"HTTP/1.1 400")
    except OSError:
        return False
    finally:
        c.close()


def main():
    test_real_dockerd()
    with_fake("engine29", t_engine29)
    with_fake("api130", t_api130)
    with_fake("normal", t_upgrade)
    R.done()


if __name__ == "__main__":
    main()
