"""Docker faults: no socket, a dockerd that stops mid-run, and, through the
fake Docker server (tests/harness/fakedocker.py), the faults a real
daemon will not produce on demand: hangs, bad frames, 500s, closed
streams, chunked replies, and a front killed mid-run."""

import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import rbtest
from rbtest import ROOT, Results, Runboxd, is_error

R = Results("faults")

SH = "runbox/sh"
FAKE = os.path.join(ROOT, "tests", "harness", "fakedocker.py")
DOCKERD_SH = os.path.join(ROOT, "tests", "harness", "dockerd.sh")
# A second private dockerd, next to the suite's own, so that concurrent
# suites with their own RUNBOXD_TEST_DOCKER_DIR do not share it.
PRIVATE_DIR = os.environ.get("RUNBOXD_TEST_DOCKER_DIR", "/var/tmp/runboxd-test-docker").rstrip("/") + "-faults"


def sh(script):
    return {"language": "sh", "files": [{"name": "main.sh", "content": script}]}


def front_rss_kb(s):
    total = 0
    for title, pid in s.children().items():
        if title.startswith("runboxd: front"):
            try:
                with open("/proc/%d/status" % pid) as f:
                    total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            except (OSError, StopIteration):
                pass
    return total


class Fake:
    """fakedocker.py in one mode, on its own socket, logging every call."""

    def __init__(self, mode):
        self.dir = tempfile.mkdtemp(prefix="rbx-fake-")
        os.chmod(self.dir, 0o755)  # the agents' user must reach the socket inside
        self.sock = os.path.join(self.dir, "docker.sock")
        self.log_path = os.path.join(self.dir, "calls.log")
        self.proc = subprocess.Popen(["python3", FAKE, "--socket", self.sock, "--mode", mode,
                                      "--log", self.log_path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rbtest.wait_until(lambda: os.path.exists(self.sock), interval=0.02)

    def calls(self):
        try:
            with open(self.log_path) as f:
                return [l.rstrip("\n") for l in f]
        except OSError:
            return []

    def wait_call(self, pred, timeout):
        return rbtest.wait_until(lambda: [c for c in self.calls() if pred(c)], timeout, 0.02)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def created_ids(fake):
    """Ids the fake handed out, from the paths of the calls that followed create."""
    ids = []
    for c in fake.calls():
        parts = c.split(" ", 1)[1].split("?")[0].split("/")
        if "containers" in parts:
            i = parts.index("containers")
            if i + 1 < len(parts) and len(parts[i + 1]) == 64 and parts[i + 1] not in ids:
                ids.append(parts[i + 1])
    return ids


def deleted(fake, cid, timeout=rbtest.WAIT):
    return fake.wait_call(lambda c: c.startswith("DELETE ") and "/containers/%s" % cid in c, timeout)


def with_fake(mode, fn, **overrides):
    fake = Fake(mode)
    s = None
    try:
        if not R.check(os.path.exists(fake.sock), "fakedocker up in mode %s" % mode):
            return
        cfg = {"DOCKER_UNIX_SOCKET_PATH": fake.sock, "SERVER_WORKER_THREADS": "1"}
        cfg.update(overrides)
        s = Runboxd(**cfg).start()
        fn(s, fake)
    finally:
        if s is not None:
            s.stop(signal.SIGKILL)
        fake.stop()


# ---- no socket ----

def test_no_socket():
    # A long read timeout: an answer well before it shows that a missing
    # socket is an error at once, not a wait for a timeout.
    timeout = 60
    s = Runboxd(DOCKER_UNIX_SOCKET_PATH="/nonexistent/docker.sock", DOCKER_UNIX_SOCKET_READ_TIMEOUT=timeout,
                DOCKER_UNIX_SOCKET_WRITE_TIMEOUT=timeout).start()
    try:
        t0 = time.time()
        st, _, body = s.request("GET", "/version", headers=s.auth(), timeout=120)
        secs = time.time() - t0
        R.check(st == 500 and is_error(body, "docker.unixsocket") and secs < timeout / 3,
                "no Docker socket: /version 500 docker.unixsocket, no timeout (%.2fs)" % secs, body)
        t0 = time.time()
        st, _, body = s.run(SH, sh("echo hi"), timeout=120)
        secs = time.time() - t0
        R.check(st == 500 and is_error(body, "docker.unixsocket") and secs < timeout / 3,
                "no Docker socket: /run 500 docker.unixsocket, no timeout (%.2fs)" % secs, body)
    finally:
        s.stop()


# ---- a real dockerd stopped mid-run ----

def dockerd(cmd):
    p = subprocess.run([DOCKERD_SH, cmd, PRIVATE_DIR], capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode().strip(), p.stderr.decode()


def private_has_image(sock):
    st, mine = rbtest.docker("GET", "/images/%s/json" % SH, sock=sock)
    _, shared = rbtest.docker("GET", "/images/%s/json" % SH)
    return st == 200 and isinstance(mine, dict) and isinstance(shared, dict) and mine.get("Id") == shared.get("Id")


def load_image(sock):
    if private_has_image(sock):
        return True
    save = subprocess.Popen(["docker", "-H", "unix://" + rbtest.DOCKER_SOCK, "save", SH], stdout=subprocess.PIPE)
    load = subprocess.run(["docker", "-H", "unix://" + sock, "load"], stdin=save.stdout, capture_output=True,
                          timeout=120)
    save.stdout.close()
    save.wait(60)
    return load.returncode == 0 and private_has_image(sock)


def daemon_pid():
    try:
        with open(os.path.join(PRIVATE_DIR, "dockerd.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def wait_gone(pid, timeout=rbtest.WAIT):
    return rbtest.wait_until(lambda: not rbtest.alive(pid), timeout, 0.1)


def running(s, sock):
    """Is a container of the instance running on the private dockerd?"""
    for cid in rbtest.containers(s.instance, sock=sock) or []:
        st, js = rbtest.docker("GET", "/containers/%s/json" % cid, sock=sock)
        if st == 200 and isinstance(js, dict) and js["State"]["Running"]:
            return True
    return False


def run_and_stop_dockerd(s, sock, secs):
    """A run that sleeps secs; SIGTERM the private dockerd once it runs."""
    result = {}
    # The previous run was answered before its container was removed (the
    # answer comes at the runner's reply): wait until that one is gone, so
    # that "running" below can only be this run's container.
    R.check(rbtest.wait_no_containers(s.instance, sock=sock) == [],
            "no container of an earlier run before the %d s run" % secs)

    def slow():
        t0 = time.time()
        try:
            result["r"] = s.run(SH, sh("sleep %d; echo done" % secs), timeout=120)
        except OSError as e:
            result["r"] = (0, None, str(e).encode())
        result["secs"] = time.time() - t0

    t = threading.Thread(target=slow)
    t.start()
    R.check(rbtest.wait_until(lambda: running(s, sock) or "r" in result) and "r" not in result,
            "the %d s run is in progress" % secs)
    pid = daemon_pid()
    if pid:
        os.kill(pid, signal.SIGTERM)
    t.join(120)
    R.check(pid is not None and wait_gone(pid), "the private dockerd is down")
    st, js, body = result.get("r", (0, None, b""))
    return st, js, body, result.get("secs", 0)


def recovers(s):
    """Runs until one succeeds: (ok, errors before it, seconds)."""
    t0 = time.time()
    errors = []
    while time.time() - t0 < rbtest.WAIT:
        st, js, body = s.run(SH, sh("echo back"))
        if st == 200 and js and js.get("stdout") == "back\n":
            return True, errors, time.time() - t0
        errors.append((st, body[:200]))
        time.sleep(0.5)
    return False, errors, time.time() - t0


def test_dockerd_stops():
    s = None
    try:
        rc, sock, err = dockerd("start")
        if not R.check(rc == 0 and sock, "private dockerd starts", err[-500:]):
            return
        if not R.check(load_image(sock), "runbox/sh loaded into the private dockerd"):
            return
        s = Runboxd(DOCKER_UNIX_SOCKET_PATH=sock, SERVER_WORKER_THREADS="1", RUN_MAX_EXECUTION_TIME="25").start()
        st, js, body = s.run(SH, sh("echo up"))
        R.check(st == 200 and js and js.get("stdout") == "up\n", "a run on the private dockerd", body[:300])

        # dockerd's own shutdown lets a container run for its stop timeout
        # (10 s): a 3 s run finishes, and its answer still reaches the client.
        st, js, body, secs = run_and_stop_dockerd(s, sock, 3)
        if rbtest.RUNTIME == "runsc":
            R.skip("dockerd stopped during a 3 s run: its answer reaches the client",
                   "dockerd's shutdown ends a gVisor sandbox before its stop timeout (seen: %d %r)" % (st, body[:120]))
        else:
            R.check(st == 200 and js and js.get("stdout") == "done\n",
                    "dockerd stopped during a 3 s run: its answer reaches the client (%d, %.1fs)" % (st, secs),
                    body[:300])
        st, js, body = s.run(SH, sh("echo hi"))
        R.check(st == 500 and is_error(body, "docker.unixsocket"), "dockerd down: 500 docker.unixsocket", body[:300])
        rc, sock, err = dockerd("start")
        R.check(rc == 0, "private dockerd starts again", err[-500:])
        ok, errors, secs = recovers(s)
        R.check(ok and len(errors) <= 1, "the slot recovers (%.1fs, errors before: %d)" % (secs, len(errors)), errors)
        left = rbtest.wait_no_containers(s.instance, sock=sock)
        R.check(left == [], "the run's container, not removable while dockerd was down, is removed now", left)

        # A run that outlives the stop timeout is killed with the daemon
        # before the runner prints anything (not at our own 25 s limit,
        # which would be a 400): the stream ends empty.
        st, js, body, secs = run_and_stop_dockerd(s, sock, 30)
        R.check(st == 500 and is_error(body, "coderunner.stdout.decode"),
                "dockerd stopped mid-run: 500 coderunner.stdout.decode (%.1fs)" % secs, (st, body[:300]))
        rc, sock, err = dockerd("start")
        R.check(rc == 0, "private dockerd starts a third time", err[-500:])
        ok, errors, secs = recovers(s)
        R.check(ok and len(errors) <= 1, "the slot recovers again (%.1fs, errors before: %d)" % (secs, len(errors)),
                errors)
        left = rbtest.wait_no_containers(s.instance, sock=sock)
        R.check(left == [], "no container left on the private dockerd", left)
    finally:
        if s is not None:
            s.stop(signal.SIGKILL)
        dockerd("stop")


# ---- through the fake ----

def t_hang(s, fake, timeout=1):
    # Each answer waits for its own call to time out, and possibly for one
    # sweep's call before it (the agent retries a failed sweep when idle):
    # never before one read timeout, and within 3x two of them.
    times, bodies = [], []
    for _ in range(3):
        t0 = time.time()
        st, _, body = s.request("GET", "/version", headers=s.auth(), timeout=60)
        times.append(time.time() - t0)
        bodies.append((st, body))
    R.check(all(st == 500 and is_error(body, "docker.unixsocket") for st, body in bodies),
            "hang: /version 500 docker.unixsocket", bodies)
    R.check(min(times) > timeout - 0.05 and max(times) < 3 * 2 * timeout,
            "hang: answered at the read timeout (%s s)" % ", ".join("%.1f" % t for t in times))


def t_garbage(s, fake):
    st, _, body = s.run(SH, sh("x"))
    R.check(st == 500 and is_error(body, "docker.container.stream.read"),
            "garbage frame: 500 docker.container.stream.read", body)
    ids = created_ids(fake)
    R.check(len(ids) == 1 and deleted(fake, ids[0]), "garbage frame: container deleted", fake.calls())


def t_huge(s, fake, limit=30):
    before = front_rss_kb(s)
    t0 = time.time()
    st, js, body = s.run(SH, sh("x"), timeout=120)
    secs = time.time() - t0
    # The fake sends no more: an answer well before the run's deadline
    # comes from the header alone.
    R.check(st == 400 and is_error(body, "limits.read.size") and secs < limit / 3,
            "huge frame length: 400 limits.read.size at once (%.2fs)" % secs, body)
    after = front_rss_kb(s)
    R.check(before > 0 and after - before < 4096, "huge frame: the front's memory does not grow (%d -> %d kB)"
            % (before, after))
    ids = created_ids(fake)
    R.check(len(ids) == 1 and deleted(fake, ids[0]), "huge frame: container deleted", fake.calls())


def t_trickle(s, fake, limit=2):
    t0 = time.time()
    st, _, body = s.run(SH, sh("x"), timeout=120)
    secs = time.time() - t0
    # Not before the limit; well before "renewed by every byte" (never).
    R.check(st == 400 and is_error(body, "limits.execution_time") and limit - 0.2 < secs < 3 * limit,
            "trickle: 400 limits.execution_time at the limit (%.1fs)" % secs, body)
    ids = created_ids(fake)
    R.check(len(ids) == 1 and deleted(fake, ids[0]), "trickle: container deleted", fake.calls())


def t_create_500(s, fake):
    st, js, body = s.run(SH, sh("x"))
    R.check(st == 400 and is_error(body, "docker.container.create") and "fake failure" in js["message"],
            "create-500: 400 docker.container.create with Docker's message", body)


def t_create_hang(s, fake):
    # Docker made the container but its answer never came: the id is unknown
    # to the agent, which must find it by its labels and remove it.
    st, _, body = s.run(SH, sh("x"))
    R.check(st == 500 and is_error(body, "docker.unixsocket"), "create-hang: 500 docker.unixsocket", body)
    made = [c.split(" ", 1)[1] for c in fake.calls() if c.startswith("CREATED ")]
    R.check(len(made) == 1 and deleted(fake, made[0]),
            "create-hang: the container made without an answer is swept", fake.calls())


def t_start_500(s, fake):
    st, js, body = s.run(SH, sh("x"))
    R.check(st == 500 and is_error(body, "docker.container.start") and "fake failure" in js["message"],
            "start-500: 500 docker.container.start", body)
    ids = created_ids(fake)
    R.check(len(ids) == 1 and deleted(fake, ids[0]), "start-500: container deleted", fake.calls())


def t_attach_500(s, fake):
    st, js, body = s.run(SH, sh("x"))
    R.check(st == 500 and is_error(body, "docker.container.attach") and "fake failure" in js["message"],
            "attach-500: 500 docker.container.attach", body)
    ids = created_ids(fake)
    R.check(len(ids) == 1 and deleted(fake, ids[0]), "attach-500: container deleted", fake.calls())


def t_close_mid(s, fake):
    st, _, body = s.run(SH, sh("x"))
    R.check(st == 500 and is_error(body, "docker.container.stream.read"),
            "close mid-stream: 500 docker.container.stream.read", body)
    ids = created_ids(fake)
    R.check(len(ids) == 1 and deleted(fake, ids[0]), "close mid-stream: container deleted", fake.calls())


def t_stderr(s, fake):
    st, js, body = s.run(SH, sh("x"))
    R.check(st == 500 and is_error(body, "coderunner.stderr")
            and js["message"] == "Code runner failed with the following message: runner broke\n",
            "stderr frame: 500 coderunner.stderr with the runner's message", body)


def t_chunked(s, fake):
    st, _, body = s.request("GET", "/version", headers=s.auth())
    d = json.loads(body).get("docker", {}) if st == 200 else {}
    R.check(st == 200 and d.get("version") == "20.10.24-fake" and d.get("apiVersion") == "1.41",
            "chunked: /version from a chunked reply", body)
    for i in range(3):
        st, js, body = s.run(SH, sh("x"))
        R.check(st == 200 and js == {"stdout": "fake\n", "stderr": "", "error": ""},
                "chunked: run %d answered normally" % i, body)


def t_normal(s, fake):
    st, js, body = s.run(SH, sh("x"))
    R.check(st == 200 and js == {"stdout": "fake\n", "stderr": "", "error": ""}, "normal: run answered", body)
    calls = [c.split("?")[0] for c in fake.calls()]
    ids = created_ids(fake)
    R.check(len(ids) == 1 and deleted(fake, ids[0]), "normal: DELETE called after the run", fake.calls())
    if ids:
        seq = [c for c in (c.split("?")[0] for c in fake.calls()) if ids[0] in c or "/containers/create" in c]
        names = [c.split(" ")[0] + " " + c.rsplit("/", 1)[-1] for c in seq]
        R.check(len(names) == 4 and names[0].endswith("create") and names[-1].startswith("DELETE"),
                "normal: create, attach/start, then delete", calls)


def t_front_killed(s, fake):
    result = {}

    def client():
        try:
            result["r"] = s.run(SH, sh("x"), timeout=120)
        except OSError as e:
            result["r"] = (0, None, str(e).encode())

    t = threading.Thread(target=client)
    t.start()
    # The agent hands the stream to the front right after the start call.
    attached = fake.wait_call(lambda c: "/attach" in c, rbtest.WAIT)
    started = fake.wait_call(lambda c: c.startswith("POST ") and "/start" in c, rbtest.WAIT)
    front = s.children().get("runboxd: front 0")
    ids = created_ids(fake)
    if not R.check(attached and started and front and len(ids) == 1, "front killed: a run is in progress",
                   fake.calls()):
        t.join(60)
        return
    R.check(not deleted(fake, ids[0], timeout=0), "front killed: container still there mid-run")
    t0 = time.time()
    os.kill(front, signal.SIGKILL)
    hit = deleted(fake, ids[0])
    secs = time.time() - t0
    # At once: well before the run's 30 s deadline would have it removed.
    R.check(hit and secs < 10, "front killed: the agent removes the container at once (%.2fs)" % secs,
            fake.calls())
    t.join(120)
    st = result.get("r", (None,))[0]
    R.check(st == 0, "front killed: the client's connection is closed", result.get("r"))
    s.wait_ready()
    kids = s.wait_children(3)  # front, agent, reader
    R.check(len(kids) == 3 and kids.get("runboxd: front 0") not in (None, front), "front killed: slot respawned",
            kids)


FAKE_TESTS = [
    ("hang", t_hang, {"DOCKER_UNIX_SOCKET_READ_TIMEOUT": "1"}),
    ("garbage-frame", t_garbage, {}),
    ("huge-frame", t_huge, {"RUN_MAX_EXECUTION_TIME": "30"}),
    ("trickle", t_trickle, {"RUN_MAX_EXECUTION_TIME": "2"}),
    ("create-500", t_create_500, {}),
    ("create-hang", t_create_hang, {"DOCKER_UNIX_SOCKET_READ_TIMEOUT": "1"}),
    ("start-500", t_start_500, {}),
    ("attach-500", t_attach_500, {}),
    ("close-mid-stream", t_close_mid, {}),
    ("stderr", t_stderr, {}),
    ("chunked", t_chunked, {}),
    ("normal", t_normal, {}),
    ("trickle", t_front_killed, {"RUN_MAX_EXECUTION_TIME": "30"}),
]


def main():
    test_no_socket()
    for mode, fn, overrides in FAKE_TESTS:
        with_fake(mode, fn, **overrides)
    test_dockerd_stops()
    R.done()


if __name__ == "__main__":
    main()
