"""RUN_IMAGE_PULL against a real registry: Debian's docker-registry serving
on loopback with its own storage, an image the test pushes to it and then
removes from the daemon.  Off, a missing image stays docker-run's create
error and nothing is pulled; on, it is pulled and run; requests at once for
one missing image cause exactly one pull (counted in the registry's access
log); an image the registry lacks is 502 docker.pull after one attempt (a
refusal is not retried), an unreachable registry is retried
RUN_IMAGE_PULL_RETRIES times, one that accepts and never answers ends at
RUN_IMAGE_PULL_TIMEOUT, an image outside the allowlist is never pulled.
Everything pushed and pulled is removed at the end."""

import base64
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
import urllib.request

import rbtest
from rbtest import Results, Runboxd, is_error, wait_until

R = Results("pulls")

SRC = "runbox/sh"
PAYLOAD = {"language": "sh", "files": [{"name": "main.sh", "content": "echo pulled-and-run"}]}
REGISTRY_BIN = "/usr/bin/docker-registry"


class Registry:
    """docker-registry serve with a generated config: loopback, temp storage, access log."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="runboxd-registry-")
        self.port = rbtest.free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.log_path = os.path.join(self.dir, "registry.log")
        conf = os.path.join(self.dir, "config.yml")
        with open(conf, "w") as f:
            f.write("version: 0.1\n"
                    "log:\n  level: info\n  accesslog:\n    disabled: false\n"
                    "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                    "http:\n  addr: %s\n" % (os.path.join(self.dir, "data"), self.host))
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", conf], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        up = wait_until(self.answers, timeout=60)
        if not up:
            raise RuntimeError("docker-registry did not come up:\n" + self.log())

    def answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError("docker-registry exited:\n" + self.log())
        try:
            with urllib.request.urlopen("http://%s/v2/" % self.host, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def pulls(self, repo, tag, since=0):
        """Pulls of repo:tag after log offset since: dockerd starts each with one HEAD of the
        tag's manifest (then a GET by digest, or by tag when the HEAD found nothing)."""
        return self.log()[since:].count('"HEAD /v2/%s/manifests/%s HTTP' % (repo, tag))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def push(ref):
    """Tag runbox/sh as ref (registry/repo:tag), push it, remove the local tag."""
    name, tag = ref.rsplit(":", 1)
    st, _ = rbtest.docker("POST", "/images/%s/tag?repo=%s&tag=%s" % (
        urllib.parse.quote(SRC, safe=""), urllib.parse.quote(name, safe=""), tag))
    if st != 201:
        return False
    conn = rbtest.UnixHTTPConnection(rbtest.DOCKER_SOCK, timeout=120)
    try:
        conn.request("POST", "/v1.41/images/%s/push?tag=%s" % (urllib.parse.quote(name, safe=""), tag),
                     headers={"X-Registry-Auth": base64.b64encode(b"{}").decode()})
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
    finally:
        conn.close()
    ok = r.status == 200 and '"error"' not in body
    return untag(ref) and ok


def untag(ref):
    st, _ = rbtest.docker("DELETE", "/images/%s" % urllib.parse.quote(ref, safe=""))
    return st in (200, 404)


def run_many(s, image, n):
    """n runs of image at once (a barrier lines them up); their (status, json, body)."""
    out = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        out[i] = s.run(image, PAYLOAD, timeout=180)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def main():
    if not os.path.exists(REGISTRY_BIN):
        R.check(False, "docker-registry is installed (packaging/install-deps.sh)")
        return R.done()
    reg = Registry()
    repo = "runbox/x"
    refs = {t: "%s/%s:%s" % (reg.host, repo, t) for t in ("t1", "t2", "missing")}
    other = "%s/runbox/other:t1" % reg.host
    s = None
    try:
        # 127.0.0.0/8 is an insecure registry by default in dockerd: plain HTTP, no flag needed.
        R.check(push(refs["t1"]) and push(refs["t2"]) and push(other), "test images pushed to the registry")
        R.check(not rbtest.image_exists(refs["t1"]) and not rbtest.image_exists(refs["t2"]),
                "local copies removed after the push")
        # A port nothing listens on (taken and released): connection refused.
        unreachable = "127.0.0.1:%d/runbox/x:t1" % rbtest.free_port()
        allow = " ".join([SRC, refs["t1"], refs["t2"], refs["missing"], unreachable])

        # Off (the default): docker-run's answer, and the registry never hears of it.
        s = Runboxd(RUN_IMAGE_ALLOWLIST=allow).start()
        mark = len(reg.log())
        st, js, body = s.run(refs["t1"], PAYLOAD)
        R.check(st == 400 and is_error(body, "docker.container.create") and "No such image" in js["message"],
                "RUN_IMAGE_PULL=false: a missing image is docker.container.create as before", body[:300])
        R.check(reg.pulls(repo, "t1", mark) == 0, "RUN_IMAGE_PULL=false: nothing pulled")
        s.stop()

        s = Runboxd(RUN_IMAGE_ALLOWLIST=allow, RUN_IMAGE_PULL="true", RUN_IMAGE_PULL_RETRIES="2",
                    RUN_IMAGE_PULL_TIMEOUT="120", SERVER_WORKER_THREADS="4").start()
        mark = len(reg.log())
        st, js, body = s.run(refs["t1"], PAYLOAD, timeout=180)
        R.check(st == 200 and js and js.get("stdout") == "pulled-and-run\n",
                "a missing allowed image is pulled, then run", body[:300])
        R.check(reg.pulls(repo, "t1", mark) == 1, "... with one pull", reg.pulls(repo, "t1", mark))
        R.check(rbtest.image_exists(refs["t1"]), "... and the daemon has it now")
        mark = len(reg.log())
        st, js, body = s.run(refs["t1"], PAYLOAD)
        R.check(st == 200 and reg.pulls(repo, "t1", mark) == 0, "a present image is not pulled again")

        # Four requests at once for one missing image: one pull, four runs.
        mark = len(reg.log())
        logmark = len(s.log())
        res = run_many(s, refs["t2"], 4)
        R.check(all(r[0] == 200 and r[1] and r[1].get("stdout") == "pulled-and-run\n" for r in res),
                "four concurrent runs of a missing image all run", [r[2][:120] for r in res])
        n = reg.pulls(repo, "t2", mark)
        R.check(n == 1, "... and the registry saw exactly one pull", n)
        waited = s.log()[logmark:].count("waiting for another agent's pull of %s" % refs["t2"])
        print("pulls: %d of the other requests found the pull under way and waited for it" % waited)

        # The registry lacks it: one attempt (a 404 is final), 502 docker.pull.
        mark = len(reg.log())
        logmark = len(s.log())
        st, js, body = s.run(refs["missing"], PAYLOAD, timeout=180)
        R.check(st == 502 and is_error(body, "docker.pull") and refs["missing"] in js["message"]
                and "manifest unknown" in js["message"],
                "an image the registry lacks is 502 docker.pull naming it", body[:300])
        attempts = s.log()[logmark:].count("pulling %s (attempt" % refs["missing"])
        R.check(reg.pulls(repo, "missing", mark) == 1 and attempts == 1,
                "... after one attempt, not retried", (reg.pulls(repo, "missing", mark), attempts))

        # A registry that is not there: Docker's 500 is worth retrying, RUN_IMAGE_PULL_RETRIES times.
        logmark = len(s.log())
        st, js, body = s.run(unreachable, PAYLOAD, timeout=180)
        attempts = s.log()[logmark:].count("pulling %s (attempt" % unreachable)
        R.check(st == 502 and is_error(body, "docker.pull") and "connection refused" in js["message"],
                "an unreachable registry is 502 docker.pull", body[:300])
        R.check(attempts == 3, "... after 1 + RUN_IMAGE_PULL_RETRIES attempts", attempts)

        # Outside the allowlist: 403 before Docker, let alone the registry, is asked.
        mark = len(reg.log())
        st, js, body = s.run(other, PAYLOAD)
        R.check(st == 403 and is_error(body, "image.not_allowed"), "an image outside the allowlist is 403", body[:200])
        R.check(reg.pulls("runbox/other", "t1", mark) == 0, "... and never pulled")
        R.check(not rbtest.image_exists(other), "... nor in the daemon")
        instance = s.instance
        s.stop()
        s = None
        left = rbtest.wait_no_containers(instance, timeout=60)
        R.check(left == [], "no container left after the stop", left)
    finally:
        if s is not None:
            s.stop()
        for ref in list(refs.values()) + [other]:
            untag(ref)
        reg.stop()
    R.check(not any(rbtest.image_exists(r) for r in list(refs.values()) + [other]),
            "every pushed or pulled tag removed")


def test_pull_timeout():
    """A registry that accepts and then says nothing: the pull ends at
    RUN_IMAGE_PULL_TIMEOUT (not before), 502 docker.pull, one attempt each."""
    import socket
    import time
    hold, conns = socket.socket(), []
    hold.bind(("127.0.0.1", 0))
    hold.listen(16)
    stop = threading.Event()

    def accept():
        hold.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(hold.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    ref = "127.0.0.1:%d/runbox/silent:t" % hold.getsockname()[1]
    s = Runboxd(RUN_IMAGE_PULL="true", RUN_IMAGE_PULL_RETRIES="0", RUN_IMAGE_PULL_TIMEOUT="3").start()
    try:
        mark = len(s.log())
        t0 = time.time()
        st, js, body = s.run(ref, PAYLOAD, timeout=180)
        secs = time.time() - t0
        R.check(st == 502 and is_error(body, "docker.pull") and ref in js["message"] and "timed out" in js["message"],
                "a registry that never answers: 502 docker.pull, timed out (%.1f s)" % secs, body[:300])
        R.check(secs >= 3 - 0.2, "... not before RUN_IMAGE_PULL_TIMEOUT (3 s)", secs)
        R.check(len(conns) >= 1 and s.log()[mark:].count("pulling %s (attempt" % ref) == 1,
                "... Docker reached the registry, and the pull was tried once", len(conns))
    finally:
        s.stop()
        stop.set()
        t.join(5)
        for c in conns:
            c.close()
        hold.close()


if __name__ == "__main__":
    main()
    test_pull_timeout()
    R.done()
