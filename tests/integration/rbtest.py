"""Shared helpers for runboxd's integration tests.

Each test file starts the real runboxd binary (RUNBOXD_BIN) on 127.0.0.1 on
a free port, against the private dockerd whose socket is in
RUNBOXD_TEST_DOCKER_SOCK, and talks to it over TCP as a client would.
Every file ends with one line "name: N passed, N failed".

Tests never sleep a fixed time and then assert: they wait for a condition
with wait_until (generous caps, so a loaded machine only makes them slower),
and a time bound is only a lower bound the behaviour guarantees or an upper
bound at least 3x the expected value.
"""

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, os.environ.get("RUNBOXD_BIN", "build/rel/runboxd"))
DOCKER_SOCK = os.environ.get("RUNBOXD_TEST_DOCKER_SOCK", "")
# The runtime the suite runs under: "" (runc, the daemon's default) or
# "runsc" (`make check-runsc`: gVisor registered on the private dockerd).
RUNTIME = os.environ.get("RUNBOXD_TEST_RUNTIME", "")
# With ptrace, gVisor's own threads and one stub process (plus its threads)
# per process in the sandbox count against the container's pids limit:
# measured here, about 45 with one process and 8 more per process.  Under
# runsc a test's pids limit of n processes becomes this much.
RUNSC_PIDS_BASE = 64
RUNSC_PIDS_PER_PROCESS = 8


def pids_limit(n):
    """The container pids limit that holds about n processes of a program
    under the suite's runtime."""
    n = int(n)
    if RUNTIME == "runsc" and n > 0:
        return RUNSC_PIDS_BASE + RUNSC_PIDS_PER_PROCESS * n
    return n


class Results:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok   " + what, flush=True)
        else:
            self.failed += 1
            print("FAIL " + what + (": " + str(detail) if detail != "" else ""), flush=True)
        return cond

    def skip(self, what, why):
        """A check that cannot hold under this runtime: said, never counted."""
        print("skip %s: %s" % (what, why), flush=True)

    def done(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed), flush=True)
        sys.exit(1 if self.failed else 0)


# Cap for waiting on something that normally takes well under a second.
WAIT = 60


def wait_until(pred, timeout=WAIT, interval=0.05):
    """Poll pred() until it returns something true or timeout seconds pass;
    return its last value."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > end:
            return v
        time.sleep(interval)


def alive(pid):
    """Is pid running (not gone, not a zombie)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def signal_pending(pid, sig):
    """Has pid got sig pending (blocked, not yet handled)?"""
    bit = 1 << (int(sig) - 1)
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("SigPnd:", "ShdPnd:")) and int(line.split()[1], 16) & bit:
                    return True
    except (OSError, ValueError, IndexError):
        pass
    return False


def server_side(port, client_port):
    """(rx_queue, inode) of the server's end of the TCP connection from
    127.0.0.1:client_port to 127.0.0.1:port, from /proc/net/tcp; None if
    there is none.  rx_queue 0 means a server process read what was sent."""
    local = "0100007F:%04X" % port
    remote = "0100007F:%04X" % client_port
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1] == local and fields[2] == remote and fields[3] == "01":
                    return int(fields[4].split(":")[1], 16), int(fields[9])
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    return None


def holds_socket(pid, inode):
    """Does pid have the socket with this inode open?"""
    want = "socket:[%d]" % inode
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == want:
                    return True
            except OSError:
                continue
    except OSError:
        pass
    return False


def is_error(body, code=None):
    """Is body runboxd's JSON error (with that code, if given)?"""
    try:
        js = json.loads(body)
    except ValueError:
        return False
    return isinstance(js, dict) and "error" in js and "message" in js and (code is None or js["error"] == code)


def titled_children(master_pid):
    """{pid: title} of a master's children, from /proc."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                stat = f.read()
            if int(stat.rsplit(")", 1)[1].split()[1]) != master_pid:
                continue
            with open("/proc/%s/cmdline" % p, "rb") as f:
                out[int(p)] = f.read().split(b"\0")[0].decode("utf-8", "replace").strip()
        except (OSError, ValueError, IndexError):
            continue
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def base_config():
    """docker-run's required variables plus safe optional ones, for tests."""
    conf = {
        "SERVER_LISTEN_ADDR": "127.0.0.1",
        "SERVER_LISTEN_PORT": "0",
        "SERVER_WORKER_THREADS": "2",
        "API_ACCESS_TOKEN": "",
        "DOCKER_UNIX_SOCKET_PATH": DOCKER_SOCK,
        # Generous: at a load average of 35 a create or start took over 10 s
        # and a run through nginx failed with docker.unixsocket.  Tests of
        # the timeout itself set their own.
        "DOCKER_UNIX_SOCKET_READ_TIMEOUT": "30",
        "DOCKER_UNIX_SOCKET_WRITE_TIMEOUT": "30",
        "DOCKER_CONTAINER_HOSTNAME": "runbox",
        "DOCKER_CONTAINER_USER": "runbox",
        "DOCKER_CONTAINER_MEMORY": str(256 * 1024 * 1024),
        "DOCKER_CONTAINER_NETWORK_DISABLED": "true",
        "DOCKER_CONTAINER_ULIMIT_NOFILE_SOFT": "90",
        "DOCKER_CONTAINER_ULIMIT_NOFILE_HARD": "100",
        # nproc counts per host user across all containers, also those of
        # other test suites on the same machine: high enough that theirs
        # cannot stop our programs from forking; each container's pids
        # limit (25) is what holds a fork bomb.
        "DOCKER_CONTAINER_ULIMIT_NPROC_SOFT": "1000",
        "DOCKER_CONTAINER_ULIMIT_NPROC_HARD": "1024",
        "DOCKER_CONTAINER_PIDS_LIMIT": "25",
        "DOCKER_CONTAINER_CAP_DROP": "MKNOD NET_RAW",
        "DOCKER_CONTAINER_READONLY_ROOTFS": "true",
        "DOCKER_CONTAINER_TMP_DIR_PATH": "/tmp",
        "DOCKER_CONTAINER_WORK_DIR_PATH": "/home/runbox",
        "DOCKER_CONTAINER_WORK_DIR_OPTIONS": "rw,exec,nosuid,uid=1000,gid=1000,size=131072k",
        "RUN_MAX_EXECUTION_TIME": "10",
        "RUN_MAX_OUTPUT_SIZE": "1000000",
        "SERVER_REQUEST_TIMEOUT": "3",
        "SERVER_SHUTDOWN_TIMEOUT": "15",
        "LOG_LEVEL": "info",
    }
    if RUNTIME:
        conf["DOCKER_CONTAINER_RUNTIME"] = RUNTIME
        # A sandbox's start and teardown take seconds more under load, and
        # a compiler runs several times slower under ptrace.
        conf["DOCKER_UNIX_SOCKET_READ_TIMEOUT"] = conf["DOCKER_UNIX_SOCKET_WRITE_TIMEOUT"] = "30"
        conf["RUN_MAX_EXECUTION_TIME"] = "30"
        conf["DOCKER_CONTAINER_PIDS_LIMIT"] = str(pids_limit(conf["DOCKER_CONTAINER_PIDS_LIMIT"]))
    return conf


class Runboxd:
    """A runboxd process under test."""

    def __init__(self, **overrides):
        self.dir = tempfile.mkdtemp(prefix="runboxd-test-")
        self.port = free_port()
        self.token = "tok-" + secrets.token_hex(16)
        self.config = base_config()
        self.config["SERVER_LISTEN_PORT"] = str(self.port)
        self.config["API_ACCESS_TOKEN"] = self.token
        self.config["RUNBOXD_INSTANCE"] = "test-%d-%d" % (os.getpid(), self.port)
        for k, v in overrides.items():
            self.config[k] = str(v)
            if k == "DOCKER_CONTAINER_PIDS_LIMIT":
                self.config[k] = str(pids_limit(v))
        self.instance = self.config["RUNBOXD_INSTANCE"]
        self.conf_path = os.path.join(self.dir, "runboxd.env")
        self.log_path = os.path.join(self.dir, "runboxd.log")
        self.write_config()
        self.proc = None

    def write_config(self, extra_lines=""):
        with open(self.conf_path, "w") as f:
            for k, v in self.config.items():
                f.write("%s=%s\n" % (k, v))
            f.write(extra_lines)

    def start(self, wait=True, **popen):
        """popen: extra subprocess.Popen arguments (start_new_session, preexec_fn)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "-c", self.conf_path], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf, env=env, **popen)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=WAIT):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("runboxd exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                # GET / is the reader's own answer; an unknown route's 404 is a
                # front's, so a slot is up too.
                st, _, _ = self.request("GET", "/", timeout=2)
                if st == 200 and self.request("GET", "/.ready", timeout=2)[0] == 404:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("runboxd did not answer in %ds:\n%s" % (timeout, self.log()))

    def stop(self, sig=signal.SIGTERM, timeout=40):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def wait_log(self, text, start=0, timeout=WAIT):
        """Wait until text is in the log after its first start characters."""
        return bool(wait_until(lambda: text in self.log()[start:], timeout, 0.1))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # ---- processes ----
    def children(self):
        """{title: pid} of the master's children, from /proc."""
        return {title: pid for pid, title in titled_children(self.proc.pid).items()}

    def wait_children(self, count, timeout=WAIT):
        kids = wait_until(lambda: (lambda k: k if len(k) == count else None)(self.children()), timeout)
        return kids or self.children()

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = dict(headers or {})
                headers.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def auth(self, extra=None):
        h = {"X-Access-Token": self.token}
        h.update(extra or {})
        return h

    def run(self, image, payload, headers=None, timeout=60):
        st, h, body = self.request("POST", "/run", {"image": image, "payload": payload},
                                   headers=self.auth(headers), timeout=timeout)
        try:
            js = json.loads(body)
        except ValueError:
            js = None
        return st, js, body

    def raw(self, data, timeout=10, read=True):
        """Send raw bytes; return the raw answer (until the server closes)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            if not read:
                return b""
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        finally:
            s.close()


def parse_raw(resp):
    """(status, headers, body) of a raw HTTP/1.1 answer; the last one if several."""
    if not resp:
        return 0, {}, b""
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if status == 100:
        return parse_raw(body)
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.decode().strip().lower()] = v.decode().strip()
    return status, headers, body


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def docker(method, path, body=None, sock=None, timeout=30):
    """A call to the test dockerd: (status, parsed JSON or raw bytes)."""
    conn = UnixHTTPConnection(sock or DOCKER_SOCK, timeout=timeout)
    try:
        headers = {}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, "/v1.41" + path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, data
    finally:
        conn.close()


def containers(instance, sock=None):
    """Ids of every container (running or not) carrying our instance label."""
    f = json.dumps({"label": ["io.runboxd.instance=%s" % instance]})
    st, js = docker("GET", "/containers/json?all=1&filters=" + urllib.parse.quote(f), sock=sock)
    if st != 200 or not isinstance(js, list):
        return None
    return [c["Id"] for c in js]


def wait_no_containers(instance, timeout=WAIT, sock=None):
    end = time.time() + timeout
    while True:
        ids = containers(instance, sock=sock)
        if ids == [] or time.time() > end:
            return ids
        time.sleep(0.1)


def image_exists(name):
    st, _ = docker("GET", "/images/%s/json" % urllib.parse.quote(name, safe=""))
    return st == 200
