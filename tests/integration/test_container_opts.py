"""Container options from the configuration, seen from inside a run: a
read-only bind mount (its file readable, a write refused), the working
directory (the cwd of the container's command and of the prepare command;
runbox-runner itself then moves to its home for the program), DNS servers
and search domains in /etc/resolv.conf (Docker writes them with NetworkMode
none, but writes no resolv.conf at all with NetworkDisabled, which
config_finish therefore refuses with DNS set), a named network instead of
none, a memory reservation and a
platform Docker accepts (and one it refuses, so the option provably
reaches it), and RUN_PREPARE_<NAME> (run before the payload, also for a
warm container; a failing one, or one that outlives the read timeout, is
500 docker.container.prepare).  None of
it can come from a request."""

import json
import os
import shutil
import tempfile
import urllib.parse

import rbtest
from rbtest import Results, Runboxd, is_error

R = Results("container_opts")

SH = "runbox/sh"
FAIL_IMG = "runbox-test/prepare-fails"
HANG_IMG = "runbox-test/prepare-hangs"


def sh(script):
    return {"language": "sh", "files": [{"name": "main.sh", "content": script}]}


def tag(src, ref):
    name, t = ref.rsplit(":", 1) if ":" in ref else (ref, "latest")
    st, _ = rbtest.docker("POST", "/images/%s/tag?repo=%s&tag=%s" % (
        urllib.parse.quote(src, safe=""), urllib.parse.quote(name, safe=""), t))
    return st == 201


def test_options(hostdir):
    s = Runboxd(DOCKER_CONTAINER_MOUNTS="%s:/data:ro" % hostdir,
                DOCKER_CONTAINER_WORKDIR="/tmp",
                DOCKER_CONTAINER_DNS="10.9.8.7 fd00::53",
                # Docker writes no resolv.conf with NetworkDisabled; none keeps the run offline.
                DOCKER_CONTAINER_NETWORK_DISABLED="false", DOCKER_CONTAINER_NETWORK="none",
                DOCKER_CONTAINER_DNS_SEARCH="example.org corp.example",
                DOCKER_CONTAINER_MEMORY_RESERVATION=str(64 * 1024 * 1024),
                DOCKER_CONTAINER_PLATFORM="linux/amd64",
                RUN_PREPARE_SH="%s pwd > /tmp/prepare-cwd; echo prepared-as-$(id -u) > /tmp/prepared" % SH,
                RUN_PREPARE_FAIL="%s echo boom >&2; exit 7" % FAIL_IMG,
                RUN_PREPARE_HANG="%s sleep 600" % HANG_IMG,
                RUN_WARM_IMAGES=SH, LOG_LEVEL="debug").start()
    try:
        st, js, body = s.run(SH, sh(
            "cat /data/hello.txt; touch /data/new 2>/dev/null && echo writable || echo read-only;"
            "grep -c ' /data .*ro[,]' /proc/mounts"))
        out = js.get("stdout", "") if js else ""
        R.check(st == 200 and out.startswith("from the host\n"), "the bind mount is visible", body[:300])
        R.check("read-only\n" in out and "writable" not in out, "... and cannot be written", out)
        R.check(out.endswith("1\n"), "... and is mounted ro", out)
        R.check(not os.path.exists(os.path.join(hostdir, "new")), "nothing reached the host directory")

        mark = len(s.log())
        st, js, body = s.run(SH, sh("cat /tmp/prepared /tmp/prepare-cwd; cat /etc/resolv.conf; ls /sys/class/net | tr '\\n' ' '"))
        out = js.get("stdout", "") if js else ""
        R.check(st == 200 and out.startswith("prepared-as-1000\n"),
                "the prepare command ran before the payload, as DOCKER_CONTAINER_USER", body[:300])
        R.check("\n/tmp\n" in out, "DOCKER_CONTAINER_WORKDIR is the cwd in the container", out)
        R.check("nameserver 10.9.8.7\n" in out and "nameserver fd00::53\n" in out,
                "DOCKER_CONTAINER_DNS is in /etc/resolv.conf (network none)", out)
        R.check("search example.org corp.example\n" in out, "DOCKER_CONTAINER_DNS_SEARCH too", out)
        R.check(out.endswith("\nlo "), "... and the run still has no network but loopback", out)

        # Warm containers are prepared before they wait: this run is a warm hit.
        R.check(s.wait_log("warm container", start=mark) and s.wait_log("of %s ready" % SH, start=mark),
                "a warm container was made after the last run")
        st, js, body = s.run(SH, sh("cat /tmp/prepared"))
        R.check(st == 200 and js["stdout"] == "prepared-as-1000\n", "a warm container is prepared too", body[:200])

        # The waiting warm container (any of the instance's: each has a run's
        # configuration) carries the configured options, as Docker holds them.
        def inspected():
            for cid in rbtest.containers(s.instance) or []:
                st, js = rbtest.docker("GET", "/containers/%s/json" % cid)
                if st == 200:
                    return js
            return None
        got = rbtest.wait_until(inspected, timeout=60)
        hc = (got or {}).get("HostConfig", {})
        R.check(hc.get("MemoryReservation") == 64 * 1024 * 1024 and hc.get("Dns") == ["10.9.8.7", "fd00::53"] and
                hc.get("DnsSearch") == ["example.org", "corp.example"] and hc.get("NetworkMode") == "none" and
                (got or {}).get("Config", {}).get("WorkingDir") == "/tmp" and
                [(m.get("Destination"), m.get("RW")) for m in (got or {}).get("Mounts", [])
                 if m.get("Type") == "bind"] == [("/data", False)],
                "docker inspect: MemoryReservation, Dns, DnsSearch, NetworkMode, WorkingDir and the ro bind mount "
                "as configured", {k: hc.get(k) for k in ("MemoryReservation", "Dns", "DnsSearch", "NetworkMode")})

        # Options never come from a request: Docker's own field names beside
        # image and payload change nothing in the run.
        probe = sh("grep CapEff /proc/self/status; grep -c ' /data .*ro[,]' /proc/mounts; ls /host 2>&1 | head -1;"
                   "grep nameserver /etc/resolv.conf; ls /sys/class/net | tr '\\n' ' '")
        st0, js0, body0 = s.run(SH, probe)
        inject = {"HostConfig": {"Privileged": True, "Binds": ["/:/host"], "NetworkMode": "host", "Dns": ["1.1.1.1"],
                                 "CapAdd": ["ALL"], "Memory": 0},
                  "Privileged": True, "Binds": ["/:/host"], "NetworkMode": "host", "User": "root",
                  "DOCKER_CONTAINER_MOUNTS": "/:/host", "WorkingDir": "/"}
        body = dict(inject, image=SH, payload=probe)
        st1, _, body1 = s.request("POST", "/run", body, headers=s.auth(), timeout=60)
        try:
            js1 = json.loads(body1)
        except ValueError:
            js1 = {}
        R.check(st0 == 200 and st1 == 200 and js0.get("stdout") == js1.get("stdout") and
                "No such file" in js1.get("stdout", ""),
                "Docker fields in a request (HostConfig, Privileged, Binds, NetworkMode, User) are ignored: "
                "the run is the same", (body0[:300], body1[:300]))

        st, js, body = s.run(FAIL_IMG, sh("echo never"))
        R.check(st == 500 and is_error(body, "docker.container.prepare")
                and "exited with status 7: boom" in js["message"],
                "a failing prepare command is 500 docker.container.prepare with its output", body[:300])
        st, js, body = s.run(HANG_IMG, sh("echo never"), timeout=120)
        within = "did not end within %ss" % s.config["DOCKER_UNIX_SOCKET_READ_TIMEOUT"]
        R.check(st == 500 and is_error(body, "docker.container.prepare") and within in js["message"],
                "a prepare command that does not end is 500 docker.container.prepare at the read timeout", body[:300])
    finally:
        s.stop()
    R.check(rbtest.wait_no_containers(s.instance, timeout=60) == [], "no container left after the stop")


def test_platform_reaches_docker():
    s = Runboxd(DOCKER_CONTAINER_PLATFORM="linux/s390x")
    s.start()
    try:
        st, js, body = s.run(SH, sh("echo hi"))
        R.check(st == 400 and is_error(body, "docker.container.create") and "platform" in js["message"],
                "a platform the image lacks: Docker refuses the create (the option reaches it)", body[:300])
    finally:
        s.stop()


def test_network():
    name = "runboxd-test-net-%d" % os.getpid()
    st, js = rbtest.docker("POST", "/networks/create", {"Name": name, "Driver": "bridge"})
    if st != 201:
        R.check(False, "test network created", js)
        return
    try:
        s = Runboxd(DOCKER_CONTAINER_NETWORK_DISABLED="false", DOCKER_CONTAINER_NETWORK=name).start()
        try:
            st, js, body = s.run(SH, sh("ls /sys/class/net | tr '\\n' ' '"))
            if rbtest.RUNTIME == "runsc":
                # tests/harness/dockerd.sh registers runsc with --network=none:
                # gVisor's own network stack is off, so only lo is ever seen.
                R.check(st == 200 and js["stdout"] == "lo ", "DOCKER_CONTAINER_NETWORK under runsc --network=none: "
                        "the run is created and sees only lo", body[:200])
                R.skip("DOCKER_CONTAINER_NETWORK: the run has the network's interface",
                       "runsc is registered with --network=none")
            else:
                R.check(st == 200 and "eth0" in js["stdout"],
                        "DOCKER_CONTAINER_NETWORK: the run has the network's interface", body[:200])
        finally:
            s.stop()
        s = Runboxd().start()
        try:
            st, js, body = s.run(SH, sh("ls /sys/class/net | tr '\\n' ' '"))
            R.check(st == 200 and js["stdout"] == "lo ", "by default only loopback (network none)", body[:200])
        finally:
            s.stop()
    finally:
        rbtest.docker("DELETE", "/networks/" + name)


def test_refused():
    """What config_finish refuses stops the server before it binds (exit 78)."""
    for extra, want in ((dict(DOCKER_CONTAINER_MOUNTS="/etc:/hostetc"), "is writable"),
                        (dict(DOCKER_CONTAINER_NETWORK="host", DOCKER_CONTAINER_NETWORK_DISABLED="false"),
                         "host's network namespace"),
                        (dict(DOCKER_CONTAINER_NETWORK="bridge"), "needs DOCKER_CONTAINER_NETWORK_DISABLED=false")):
        s = Runboxd(**extra)
        s.start(wait=False)
        rc = s.proc.wait(60)
        R.check(rc == 78 and want in s.log(), "refused at start: %s" % extra, (rc, s.log()[-300:]))


def main():
    hostdir = tempfile.mkdtemp(prefix="runboxd-mount-")
    os.chmod(hostdir, 0o755)
    with open(os.path.join(hostdir, "hello.txt"), "w") as f:
        f.write("from the host\n")
    os.chmod(os.path.join(hostdir, "hello.txt"), 0o644)
    R.check(tag(SH, FAIL_IMG + ":latest") and tag(SH, HANG_IMG + ":latest"), "test images tagged")
    try:
        test_options(hostdir)
        test_platform_reaches_docker()
        test_network()
        test_refused()
    finally:
        for img in (FAIL_IMG, HANG_IMG):
            rbtest.docker("DELETE", "/images/%s" % urllib.parse.quote(img, safe=""))
        shutil.rmtree(hostdir, ignore_errors=True)
    return R.done()


if __name__ == "__main__":
    raise SystemExit(main())
