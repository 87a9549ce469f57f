"""Podman's Docker-compatible API (Debian 12's podman 4.3, rootful, on a
private socket and storage root, tests/harness/podman.sh): the core run
cases.  The image comes from the private dockerd (docker save | podman
load).  Where Podman differs, the configuration below says how (see the
engines table in README.md)."""

import os
import shutil
import subprocess
import threading
import time

from rbtest import DOCKER_SOCK, ROOT, Results, Runboxd, containers, docker, is_error

R = Results("podman")

SH = "runbox/sh"
PODMAN_SH = os.path.join(ROOT, "tests", "harness", "podman.sh")
PODMAN_DIR = os.environ.get("RUNBOXD_TEST_PODMAN_DIR", "/var/tmp/runboxd-test-podman")
# Podman 4.3's tmpfs takes no uid=/gid=; "U" gives the mount to the container's user.
WORK_DIR_OPTIONS = "rw,exec,nosuid,size=131072k,U"


def sh(script, stdin=None):
    p = {"language": "sh", "files": [{"name": "main.sh", "content": script}]}
    if stdin is not None:
        p["stdin"] = stdin
    return p


def wait_for(pred, timeout):
    end = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > end:
            return v
        time.sleep(0.1)


def load_image(sock):
    st, _ = docker("GET", "/images/%s/json" % SH, sock=sock)
    if st == 200:
        return True
    save = subprocess.Popen(["docker", "-H", "unix://" + DOCKER_SOCK, "save", SH], stdout=subprocess.PIPE)
    load = subprocess.run([PODMAN_SH, "load", PODMAN_DIR], stdin=save.stdout, capture_output=True,
                          timeout=600)
    save.stdout.close()
    save.wait()
    st, _ = docker("GET", "/images/%s/json" % SH, sock=sock)
    return R.check(st == 200, "%s loaded into podman" % SH, load.stderr[-1000:])


def t_runs(s, sock):
    st, js, body = s.run(SH, sh("echo hi"))
    R.check(st == 200 and js.get("stdout") == "hi\n" and js.get("exitCode") == 0, "podman: hello", body)
    st, js, body = s.run(SH, sh("cat", stdin="abc"))
    R.check(st == 200 and js.get("stdout") == "abc", "podman: stdin", body)
    st, js, body = s.run(SH, sh("exit 3"))
    R.check(st == 200 and js.get("exitCode") == 3, "podman: exit code", body)
    st, js, body = s.run(SH, sh("touch /x 2>&1; touch /home/runbox/y && echo home ok"))
    R.check(st == 200 and "Read-only file system" in js.get("stdout", "") and "home ok" in js["stdout"],
            "podman: read-only root, writable work dir", body)
    st, js, body = s.run(SH, sh("cat /proc/net/dev"))
    ifaces = [l.split(":")[0].strip() for l in js.get("stdout", "").splitlines()[2:]] if st == 200 else []
    R.check(st == 200 and ifaces == ["lo"], "podman: no network but loopback", body)
    st, js, body = s.run(SH, sh("cat /sys/fs/cgroup/memory.max 2>/dev/null || "
                                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes"))
    R.check(st == 200 and js.get("stdout", "").strip() == str(256 * 1024 * 1024),
            "podman: memory limit set", body)
    st, js, body = s.run(SH, sh("yes | head -c 5000000"))
    R.check(st == 400 and is_error(body, "limits.read.size"), "podman: output limit", body)
    t0 = time.time()
    st, js, body = s.run(SH, sh("sleep 100"))
    secs = time.time() - t0
    R.check(st == 400 and is_error(body, "limits.execution_time") and secs >= 3,
            "podman: time limit, not before it (%.1fs)" % secs, body)
    left = wait_for(lambda: containers(s.instance, sock=sock) == [], 30)
    R.check(left, "podman: every container removed", containers(s.instance, sock=sock))


def t_labels_and_sweep(sock):
    # A container left behind by slot 0 of this instance: the janitor removes it at start.
    s = Runboxd(**config(sock))
    labels = {"io.runboxd.instance": s.instance, "io.runboxd.slot": "0"}
    st, js = docker("POST", "/containers/create", {"Image": SH, "Cmd": ["true"], "Labels": labels}, sock=sock)
    left_id = js.get("Id") if st == 201 and isinstance(js, dict) else None
    R.check(left_id is not None, "podman: a leftover container made", js)
    # Slots own what is created from their spawn's second on: start in a later second.
    made = time.time()
    wait_for(lambda: int(time.time()) > int(made), 5)
    s.start(wait=False)
    try:
        s.wait_ready(timeout=120)
        gone = wait_for(lambda: swept(sock, s.instance, left_id), 60)
        R.check(gone, "podman: the leftover is swept at start", containers(s.instance, sock=sock))
        # A run in progress carries its labels.
        t = threading.Thread(target=lambda: s.run(SH, sh("sleep 4")))
        t.start()
        seen = wait_for(lambda: labelled(sock, s.instance), 30)
        R.check(seen and seen.get("io.runboxd.slot") in ("0", "1"),
                "podman: the run's container carries instance and slot labels", seen)
        t.join(60)
    finally:
        s.stop()


def swept(sock, instance, cid):
    ids = containers(instance, sock=sock)
    return ids is not None and cid not in ids


def labelled(sock, instance):
    st, js = docker("GET", "/containers/json?all=1", sock=sock)
    for c in js if st == 200 and isinstance(js, list) else []:
        if (c.get("Labels") or {}).get("io.runboxd.instance") == instance:
            return c["Labels"]
    return None


def config(sock):
    # Podman's compat /version can take many seconds on a loaded machine.
    return {"DOCKER_UNIX_SOCKET_PATH": sock, "DOCKER_CONTAINER_WORK_DIR_OPTIONS": WORK_DIR_OPTIONS,
            "DOCKER_UNIX_SOCKET_READ_TIMEOUT": "60", "RUN_MAX_EXECUTION_TIME": "3"}


def main():
    if shutil.which("podman") is None:
        R.check(False, "podman is installed (packaging/install-deps.sh)")
        R.done()
    p = subprocess.run([PODMAN_SH, "start", PODMAN_DIR], capture_output=True, timeout=120)
    sock = p.stdout.decode().strip()
    try:
        if R.check(p.returncode == 0 and sock, "private podman up", p.stderr[-1000:]) and load_image(sock):
            s = Runboxd(**config(sock)).start(wait=False)
            try:
                s.wait_ready(timeout=120)
                st, _, body = s.request("GET", "/version", headers=s.auth(), timeout=120)
                R.check(st == 200 and b'"runboxd":{"apiVersion":"1.41"}' in body,
                        "podman: /version, API 1.41 negotiated", body)
                t_runs(s, sock)
            finally:
                s.stop()
            t_labels_and_sweep(sock)
    finally:
        subprocess.run([PODMAN_SH, "stop", PODMAN_DIR], capture_output=True, timeout=120)
    R.done()


if __name__ == "__main__":
    main()
