"""POST /run against the real runboxd, dockerd and runbox images: docker-run
parity, the container configuration, hostile programs, and concurrency.
Every group ends by checking that no container of the instance is left."""

import io
import json
import os
import signal
import socket
import subprocess
import tarfile
import threading
import time

import rbtest
from rbtest import Results, Runboxd, is_error

R = Results("run")

SH = "runbox/sh"
PY = "runbox/python"
C = "runbox/c"
# Images whose default command is not a runner: they talk to the stream directly.
NOTJSON = "runbox-test/notjson"
ECHOJSON = "runbox-test/echojson"
TRICKLE = "runbox-test/trickle"
FLOOD = "runbox-test/flood"
# Printed by ECHOJSON as it is: odd spacing, key order and an extra member
# that a re-encoding server would change.
ECHOED = '{ "stdout" : "pass through",  "stderr":"", "error":"" , "duration":7, "extra":[1, 2.50, true, null, {"k":"\u00e9"}] }'


def v1(lang, name, content, **extra):
    p = {"language": lang, "files": [{"name": name, "content": content}]}
    p.update(extra)
    return p


def sh(script, **extra):
    return v1("sh", "main.sh", script, **extra)


def no_leak(s, what, timeout=rbtest.WAIT):
    left = rbtest.wait_no_containers(s.instance, timeout=timeout)
    R.check(left == [], "no container left after %s" % what, left)


def answered_at_limit(secs, limit):
    """Not before the limit; within 3x of it plus the few seconds a loaded
    machine takes to create, start and remove a container.  The other
    outcome, never stopped, would take the client's whole timeout."""
    return limit - 0.5 < secs < 3 * (limit + 3)


def timed_run(s, image, payload, timeout=120):
    t0 = time.time()
    st, js, body = s.run(image, payload, timeout=timeout)
    return st, js, body, time.time() - t0


def front_rss_kb(s):
    """{title: VmRSS in kB} of the fronts."""
    out = {}
    for title, pid in s.children().items():
        if not title.startswith("runboxd: front"):
            continue
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out[title] = int(line.split()[1])
        except OSError:
            pass
    return out


# ---- test images that are not runners ----

def busybox_rootfs():
    """A tar of a tiny rootfs: static busybox, the runbox user, /tmp and its home."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        def add_dir(name, uid=0, mode=0o755):
            ti = tarfile.TarInfo(name)
            ti.type = tarfile.DIRTYPE
            ti.mode = mode
            ti.uid = ti.gid = uid
            t.addfile(ti)

        def add_file(name, data, mode=0o644):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = mode
            t.addfile(ti, io.BytesIO(data))

        for d in ("bin", "etc", "home"):
            add_dir(d)
        add_dir("tmp", mode=0o1777)
        add_dir("home/runbox", uid=1000)
        with open("/bin/busybox", "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nrunbox:x:1000:1000::/home/runbox:/bin/sh\n")
        add_file("etc/group", b"root:x:0:\nrunbox:x:1000:\n")
    return buf.getvalue()


def import_image(tag, cmd, tar):
    env = dict(os.environ, DOCKER_HOST="unix://" + rbtest.DOCKER_SOCK)
    p = subprocess.run(["docker", "import", "--change", "CMD " + json.dumps(cmd), "-", tag],
                       input=tar, env=env, capture_output=True, timeout=120)
    return p.returncode == 0 and rbtest.image_exists(tag)


def make_test_images():
    tar = busybox_rootfs()
    bb = "/bin/busybox"
    images = [
        (NOTJSON, [bb, "echo", "not json"]),
        (ECHOJSON, [bb, "echo", ECHOED]),
        (TRICKLE, [bb, "sh", "-c", "while :; do %s printf x; %s sleep 0.5; done" % (bb, bb)]),
        (FLOOD, [bb, "yes", "0123456789abcdef0123456789abcdef"]),
    ]
    for tag, cmd in images:
        R.check(import_image(tag, cmd, tar), "test image %s imported" % tag)


# ---- parity with docker-run ----

def test_hello(s):
    cases = [
        ("sh v1", SH, sh("echo hello world")),
        ("sh v2", SH, {"runInstructions": {"buildCommands": [], "runCommand": "sh main.sh"},
                       "files": [{"name": "main.sh", "content": "echo hello world"}]}),
        ("python v1", PY, v1("python", "main.py", "print('hello world')")),
        ("python v2", PY, {"runInstructions": {"buildCommands": [], "runCommand": "python main.py"},
                           "files": [{"name": "main.py", "content": "print('hello world')"}]}),
        ("c v1", C, v1("c", "main.c", '#include <stdio.h>\nint main(void){puts("hello world");return 0;}\n')),
        ("c v2", C, {"runInstructions": {"buildCommands": ["cc -o hello main.c"], "runCommand": "./hello"},
                     "files": [{"name": "main.c",
                                "content": '#include <stdio.h>\nint main(void){puts("hello world");return 0;}\n'}]}),
    ]
    for name, image, payload in cases:
        st, js, body = s.run(image, payload)
        R.check(st == 200 and isinstance(js, dict) and js.get("stdout") == "hello world\n" and js.get("error") == ""
                and js.get("stderr") == "", "hello world, %s" % name, body[:300])


def test_parity(s):
    st, js, body = s.run(SH, sh("read a; read b; echo \"got $b $a\"", stdin="one\ntwo\n"))
    R.check(st == 200 and js and js.get("stdout") == "got two one\n", "stdin passed through", body[:300])

    st, js, body = s.run(SH, sh("echo from-file", command="echo custom; sh main.sh"))
    R.check(st == 200 and js and js.get("stdout") == "custom\nfrom-file\n", "v1 custom command", body[:300])

    st, js, body = s.run(SH, sh("echo before; echo oops >&2; exit 3"))
    R.check(st == 200 and js and js.get("error") == "Exit code: 3" and js.get("stdout") == "before\n"
            and js.get("stderr") == "oops\n", "non-zero exit: 200, Exit code: 3 and the output", body[:300])

    st, js, body = s.run("runbox-test/no-such-image", sh("true"))
    R.check(st == 400 and is_error(body, "docker.container.create") and "No such image" in js.get("message", ""),
            "unknown image: 400 docker.container.create with Docker's message", body[:300])

    st, js, body = s.run(SH, {"files": 5})
    msg = js.get("message", "") if js else ""
    R.check(st == 500 and is_error(body, "coderunner.stderr")
            and msg.startswith("Code runner failed with the following message: ")
            and len(msg) > len("Code runner failed with the following message: "),
            "runner writes to stderr: 500 coderunner.stderr with its message", body[:300])

    st, js, body = s.run(NOTJSON, {})
    R.check(st == 500 and is_error(body, "coderunner.stdout.decode"),
            "runner prints plain text: 500 coderunner.stdout.decode", body[:300])

    st, js, body = s.run(ECHOJSON, {"anything": [1, 2]})
    R.check(st == 200 and body.rstrip(b"\n") == ECHOED.encode(), "runner's bytes passed through unchanged", body[:300])
    R.check(st == 200 and js == json.loads(ECHOED), "passed-through JSON decodes to the runner's object", body[:300])

    st, js, body = s.run(SH, sh("echo hi"))
    R.check(st == 200 and js and {"stdout", "stderr", "error", "duration"} <= set(js)
            and isinstance(js["duration"], int) and js["duration"] > 0,
            "result has stdout/stderr/error/duration", body[:300])
    no_leak(s, "the parity runs")


def test_tokens(s):
    body = {"image": SH, "payload": sh("echo hi")}
    cases = [
        ("missing token", {}, 401),
        ("wrong token", {"X-Access-Token": "nope"}, 401),
        ("token with a suffix", {"X-Access-Token": s.token + "x"}, 401),
        ("empty token", {"X-Access-Token": ""}, 401),
        ("wrong Bearer", {"Authorization": "Bearer nope"}, 401),
        ("Basic scheme", {"Authorization": "Basic " + s.token}, 401),
        ("good Bearer", {"Authorization": "Bearer " + s.token}, 200),
    ]
    for name, headers, want in cases:
        st, _, resp = s.request("POST", "/run", body, headers=headers)
        ok = st == want and (want != 401 or (is_error(resp, "access_token")
                                             and json.loads(resp)["message"] == "Missing or wrong access token"))
        if want == 200:
            ok = ok and json.loads(resp).get("stdout") == "hi\n"
        R.check(ok, "%s: %d" % (name, want), (st, resp[:200]))


def test_malformed_bodies(s):
    R.check(rbtest.wait_no_containers(s.instance) == [], "no container before the malformed bodies")
    cases = [
        ("image missing", {"payload": {}}, "request.image"),
        ("image not a string", {"image": 5, "payload": {}}, "request.image"),
        ("image upper case", {"image": "UPPER/case", "payload": {}}, "request.image"),
        ("image with a space", {"image": "a b", "payload": {}}, "request.image"),
        ("image empty", {"image": "", "payload": {}}, "request.image"),
        ("payload missing", {"image": SH}, "request.payload"),
        ("payload an array", {"image": SH, "payload": [1]}, "request.payload"),
        ("payload a string", {"image": SH, "payload": "x"}, "request.payload"),
        ("body an array", [SH, {}], "request.json"),
        ("body a string", b'"runbox/sh"', "request.json"),
        ("body null", b"null", "request.json"),
        ("body truncated", b'{"image": "runbox/sh", "payload": {', "request.json"),
    ]
    for name, body, code in cases:
        st, _, resp = s.request("POST", "/run", body, headers=s.auth({"Content-Type": "application/json"}))
        R.check(st == 400 and is_error(resp, code), "malformed body, %s: 400 %s" % (name, code), (st, resp[:200]))
    R.check(rbtest.containers(s.instance) == [], "malformed bodies create no container")


# ---- the container configuration ----

def test_create_config():
    s = Runboxd(DEBUG_KEEP_CONTAINER="true", DOCKER_CONTAINER_CAP_ADD="CHOWN",
                DOCKER_CONTAINER_PIDS_LIMIT="77", SERVER_WORKER_THREADS="1").start()
    ids = []
    try:
        st, js, body = s.run(SH, sh("echo kept"))
        R.check(st == 200 and js and js.get("stdout") == "kept\n", "run with DEBUG_KEEP_CONTAINER", body[:300])
        ids = rbtest.containers(s.instance) or []
        if not R.check(len(ids) == 1, "DEBUG_KEEP_CONTAINER keeps exactly the run's container", ids):
            return
        st, info = rbtest.docker("GET", "/containers/%s/json" % ids[0])
        if not R.check(st == 200 and isinstance(info, dict), "inspect the kept container", st):
            return
        cfg, hc = info.get("Config", {}), info.get("HostConfig", {})
        mem = 256 * 1024 * 1024
        R.check(cfg.get("Hostname") == "runbox", "Hostname", cfg.get("Hostname"))
        R.check(cfg.get("User") == "runbox", "User", cfg.get("User"))
        R.check(cfg.get("Image") == SH, "Image", cfg.get("Image"))
        R.check(cfg.get("OpenStdin") is True and cfg.get("StdinOnce") is True and cfg.get("Tty") is False,
                "OpenStdin, StdinOnce, no Tty", cfg)
        R.check(hc.get("Memory") == mem, "Memory", hc.get("Memory"))
        R.check(hc.get("MemorySwap") == mem, "MemorySwap == Memory (no swap)", hc.get("MemorySwap"))
        R.check(hc.get("NetworkMode") == "none" and cfg.get("NetworkDisabled") is True,
                "NetworkMode none and NetworkDisabled", (hc.get("NetworkMode"), cfg.get("NetworkDisabled")))
        ul = {u.get("Name"): (u.get("Soft"), u.get("Hard")) for u in hc.get("Ulimits") or []}
        R.check(ul == {"nofile": (90, 100), "nproc": (1000, 1024)}, "Ulimits nofile and nproc", ul)
        norm = lambda caps: sorted(c.upper().replace("CAP_", "", 1) for c in caps or [])
        R.check(norm(hc.get("CapAdd")) == ["CHOWN"], "CapAdd", hc.get("CapAdd"))
        R.check(norm(hc.get("CapDrop")) == ["MKNOD", "NET_RAW"], "CapDrop", hc.get("CapDrop"))
        R.check(hc.get("Privileged") is False, "not Privileged", hc.get("Privileged"))
        R.check(hc.get("ReadonlyRootfs") is True, "ReadonlyRootfs", hc.get("ReadonlyRootfs"))
        R.check(hc.get("Tmpfs") == {"/tmp": "rw,noexec,nosuid,size=65536k",
                                    "/home/runbox": "rw,exec,nosuid,uid=1000,gid=1000,size=131072k"},
                "Tmpfs with options", hc.get("Tmpfs"))
        R.check(hc.get("PidsLimit") == rbtest.pids_limit(77), "PidsLimit", hc.get("PidsLimit"))
        R.check(any(o.startswith("no-new-privileges") for o in hc.get("SecurityOpt") or []),
                "SecurityOpt no-new-privileges", hc.get("SecurityOpt"))
        R.check((hc.get("LogConfig") or {}).get("Type") == "none", "LogConfig type none", hc.get("LogConfig"))
        labels = cfg.get("Labels") or {}
        R.check(labels.get("io.runboxd.instance") == s.instance and labels.get("io.runboxd.slot") == "0",
                "Labels instance and slot", labels)
    finally:
        for cid in ids:
            rbtest.docker("DELETE", "/containers/%s?v=1&force=1" % cid)
        s.stop()
    no_leak(s, "removing the kept container")


# ---- hostile programs ----

def test_time_limits(s, limit):
    at_limit = lambda secs: answered_at_limit(secs, limit)
    st, js, body, secs = timed_run(s, SH, sh("while :; do :; done"))
    R.check(st == 400 and is_error(body, "limits.execution_time") and js["message"] == "Max execution time exceeded",
            "infinite loop: 400 limits.execution_time", body[:300])
    R.check(at_limit(secs), "infinite loop answered at the limit (%.1fs)" % secs)
    no_leak(s, "the infinite loop")

    st, js, body, secs = timed_run(s, TRICKLE, {})
    R.check(st == 400 and is_error(body, "limits.execution_time"),
            "a byte every 0.5 s on the stream: 400 limits.execution_time", body[:300])
    R.check(at_limit(secs), "trickle stopped at the limit, not renewed per byte (%.1fs)" % secs)
    no_leak(s, "the stream trickle")

    st, js, body, secs = timed_run(s, SH, sh("while :; do printf x; sleep 0.5; done"))
    R.check(st == 400 and is_error(body, "limits.execution_time") and at_limit(secs),
            "a program that prints a byte every 0.5 s: stopped at the limit (%.1fs)" % secs, body[:300])
    no_leak(s, "the program trickle")


def test_output_limits(s):
    before = front_rss_kb(s)
    st, js, body, secs = timed_run(s, SH, sh("yes 0123456789abcdef0123456789abcdef | head -c 52428800"))
    R.check(st == 400 and is_error(body, "limits.read.size")
            and js["message"] == "Max output size exceeded (1000000 bytes)",
            "50 MB of program output: 400 limits.read.size", body[:300])
    no_leak(s, "50 MB of program output")
    st, js, body, secs = timed_run(s, FLOOD, {})
    R.check(st == 400 and is_error(body, "limits.read.size"),
            "endless output on the stream: 400 limits.read.size (%.1fs)" % secs, body[:300])
    no_leak(s, "endless output")
    after = front_rss_kb(s)
    bound = (1000000 + 40 * 1024 * 1024) // 1024
    R.check(before and after and all(v < bound for v in after.values()),
            "fronts' RSS stays bounded", (before, after))
    R.check(after and max(after.values()) - max(before.values() or [0]) < 1000000 // 1024 + 8 * 1024,
            "fronts' RSS grows by at most the output buffer", (before, after))


def bomb_pids(s, seen):
    """The pid counts of the instance's containers, from the kernel's pids
    cgroup as Docker's one-shot stats report it (not /top, which execs ps on
    the host and lists fewer tasks than the cgroup holds while the tree
    churns); each is appended to seen.  None while no container answers."""
    counts = []
    try:
        for cid in rbtest.containers(s.instance) or []:
            st, js = rbtest.docker("GET", "/containers/%s/stats?stream=false&one-shot=true" % cid)
            cur = (js.get("pids_stats") or {}).get("current") if st == 200 and isinstance(js, dict) else None
            if isinstance(cur, int):
                counts.append(cur)
    except OSError:
        # A loaded dockerd may be slow to answer: poll again.
        return None
    seen.extend(counts)
    return counts or None


def test_fork_bomb(s, limit, pids):
    """The other slots serve while a fork bomb runs; which is shown by their
    answers coming before the bomb's (at its long limit), not by how fast
    they are."""
    if rbtest.RUNTIME == "runsc":
        R.skip("the fork bomb holds its pids limit until the deadline",
               "with ptrace gVisor's own threads and stub processes count against the limit and the bomb "
               "kills its kernel in seconds (400 limits.pids: test_pids.py)")
        return
    result = {}

    def bomb():
        # Every process forks a child each second for as long as it lives.
        # A shell whose fork the limit refuses exits, so a bomb that forked
        # only once per process froze at whatever count its losers left
        # (11 to 13 of 15 seen, at random); this one refills every slot
        # freed, keeping the tree at the limit until the deadline.  The
        # main shell waits on builtins only, so no failed fork of its own
        # ends the run before the deadline does, and the bomb burns little
        # of the CPU the other runs need.
        result["r"] = timed_run(s, SH, sh("b() { while :; do b & sleep 1; done; }; b & while :; do wait; done"),
                                timeout=3 * (limit + 3) + 60)

    seen = []
    t = threading.Thread(target=bomb)
    t.start()
    full = rbtest.wait_until(lambda: "r" in result or any(c >= pids * 2 // 3 for c in bomb_pids(s, seen) or []),
                             interval=0.2)
    R.check(full and "r" not in result and max(seen or [0]) <= pids,
            "the fork bomb fills its pids limit", seen)
    st, _, body = s.request("GET", "/version", headers=s.auth(), timeout=60)
    R.check(st == 200 and "r" not in result, "GET /version served during a fork bomb", body[:200])
    st, js, body, secs = timed_run(s, PY, v1("python", "main.py", "print(6*7)"))
    R.check(st == 200 and js and js.get("stdout") == "42\n" and "r" not in result,
            "a small run is served during a fork bomb (%.1fs)" % secs, (st, body[:300]))
    # Still at the limit, never past it, while the other slots were served.
    R.check(rbtest.wait_until(lambda: "r" in result or any(c >= pids * 2 // 3 for c in bomb_pids(s, seen) or []),
                              interval=0.2) and "r" not in result and max(seen or [0]) <= pids,
            "the fork bomb still fills, never exceeds, its pids limit", seen)
    t.join(3 * (limit + 3) + 90)
    st, js, body, secs = result.get("r", (0, None, b"", 999))
    R.check(st == 400 and is_error(body, "limits.execution_time") and answered_at_limit(secs, limit),
            "fork bomb answered at the limit (%.1fs)" % secs, (st, body[:300]))
    no_leak(s, "the fork bomb")
    st, js, body = s.run(SH, sh("echo after"))
    R.check(st == 200 and js and js.get("stdout") == "after\n", "runs work after the fork bomb", body[:300])


def test_memory_and_disk(s):
    st, js, body, secs = timed_run(s, PY, v1("python", "main.py", "x = bytearray(2 * 1024 ** 3)\nprint('allocated')"),
                                   timeout=180)
    if rbtest.RUNTIME == "runsc":
        # The memory limit covers the whole sandbox: the runner dies with the program.
        R.check(st == 400 and is_error(body, "limits.memory"),
                "runsc: 2 GB allocation kills the sandbox: 400 limits.memory (%.1fs)" % secs, body[:300])
    else:
        R.check(st == 200 and js and js.get("error") != "" and "allocated" not in js.get("stdout", ""),
                "2 GB allocation fails inside the container (%.1fs)" % secs, body[:300])
    no_leak(s, "the 2 GB allocation")
    st, _, _ = s.request("GET", "/version", headers=s.auth())
    st2, js, body = s.run(PY, v1("python", "main.py", "print('still')"))
    R.check(st == 200 and st2 == 200 and js and js.get("stdout") == "still\n",
            "server healthy after the allocation", body[:300])

    st, js, body, secs = timed_run(s, SH, sh("dd if=/dev/zero of=/tmp/fill bs=1M; echo dd=$?; df /tmp | tail -n 1"))
    R.check(st == 200 and js and "dd=1" in js.get("stdout", ""),
            "filling /tmp: a normal answer, dd fails (%.1fs)" % secs, body[:300])
    no_leak(s, "filling /tmp")


def test_network(s):
    prog = ("import socket\n"
            "s = socket.socket()\n"
            "s.settimeout(2)\n"
            "try:\n"
            "    s.connect(('1.1.1.1', 53))\n"
            "    print('connected')\n"
            "except OSError as e:\n"
            "    print('blocked', e.errno)\n"
            "import os\n"
            "print(sorted(os.listdir('/sys/class/net')))\n")
    st, js, body, secs = timed_run(s, PY, v1("python", "main.py", prog))
    out = js.get("stdout", "") if js else ""
    R.check(st == 200 and out.startswith("blocked") and "connected" not in out,
            "network connect fails inside the container", body[:300])
    R.check("['lo']" in out, "the container has only lo", out)
    # ENETUNREACH: refused locally at once, not a timeout waiting for a route.
    if rbtest.RUNTIME == "runsc":
        R.skip("the connect fails with ENETUNREACH",
               "gVisor's own network stack (--network=none) answers EHOSTUNREACH (113), also at once")
    else:
        R.check(out.startswith("blocked 101"), "the connect fails locally (ENETUNREACH), not by a timeout", out)
    no_leak(s, "the network attempt")


def test_token_hidden(s):
    prog = ("env; echo ---; cat /proc/1/cmdline; echo; cat /proc/1/environ; echo; "
            "for f in /proc/*/environ /proc/*/cmdline; do cat $f 2>/dev/null; echo; done; "
            "grep -r -l -s runboxd /proc/*/environ; echo end")
    st, js, body = s.run(SH, sh(prog))
    out = js.get("stdout", "") if js else ""
    R.check(st == 200 and "PATH=" in out and "runbox-runner" in out and out.endswith("end\n"),
            "the program can read env and /proc", body[:300])
    R.check(s.token not in out and s.token not in (js or {}).get("stderr", ""),
            "the token is not visible to the program", out[:300])
    R.check("API_ACCESS_TOKEN" not in out, "no API_ACCESS_TOKEN variable in the container")
    no_leak(s, "the token search")


def test_runner_integrity(s):
    # The program runs as the runner's user, but cannot write the reply itself.
    forge = "echo FORGED > /proc/1/fd/1; printf '{\\\"stdout\\\":\\\"pwned\\\"}' > /proc/1/fd/1; echo normal"
    st, js, body = s.run(SH, {"runInstructions": {"runCommand": forge}, "files": []})
    if rbtest.RUNTIME == "runsc":
        R.skip("the program cannot write to the runner's result stream",
               "gVisor does not honour PR_SET_DUMPABLE for /proc/1/fd: the program can write there (SECURITY.md)")
    else:
        R.check(st == 200 and js and js.get("stdout") == "normal\n" and b"FORGED" not in body and b"pwned" not in body,
                "the program cannot write to the runner's result stream", body[:300])
    # 100 orphans under a pids limit of 25: only if PID 1 reaps them.  The
    # program makes the next one only while the container has at most 15
    # processes, so a runner that is slow to be scheduled cannot make a fork
    # fail; one that does not reap hangs the program until the deadline.
    orphans = ("i=0; while [ $i -lt 100 ]; do while set -- /proc/[0-9]*; [ $# -gt 15 ]; do :; done; "
               "(true &); i=$((i+1)); done; echo done")
    st, js, body = s.run(SH, sh(orphans), timeout=180)
    R.check(st == 200 and js and js.get("stdout") == "done\n" and js.get("stderr") == "",
            "orphans are reaped: 100 of them under a pids limit of 25", body[:300])
    no_leak(s, "the runner integrity checks")


def running_containers(s):
    """Ids of the instance's containers whose program is running."""
    out = []
    for cid in rbtest.containers(s.instance) or []:
        st, js = rbtest.docker("GET", "/containers/%s/json" % cid)
        if st == 200 and isinstance(js, dict) and js["State"]["Running"]:
            out.append(cid)
    return out


def test_client_leaves(s, limit):
    body = json.dumps({"image": SH, "payload": sh("sleep 60")}).encode()
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (s.token.encode(), len(body), body))
    R.check(len(rbtest.wait_until(lambda: running_containers(s)) or []) == 1, "a run in progress has its container")
    t0 = time.time()
    c.close()
    left = rbtest.wait_no_containers(s.instance)
    secs = time.time() - t0
    # The run's own deadline would remove it at the limit: it must go before.
    R.check(left == [] and secs < limit, "client leaves mid-run: container removed before the deadline (%.1fs)" % secs,
            left)
    st, js, body = s.run(SH, sh("echo next"))
    R.check(st == 200 and js and js.get("stdout") == "next\n", "the slot serves after the client left", body[:300])


def unix_sockets_of(pid):
    """How many unix sockets pid has open (not the clients' TCP ones, which
    come and go)."""
    try:
        with open("/proc/net/unix") as f:
            unix = {"socket:[%s]" % line.split()[6] for line in list(f)[1:] if len(line.split()) > 6}
    except OSError:
        return 0
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                n += os.readlink("/proc/%d/fd/%s" % (pid, fd)) in unix
            except OSError:
                pass
    except OSError:
        pass
    return n


def test_agent_killed_mid_run():
    """The front holds the stream: the client still gets one answer, and the
    agent's successor removes the container."""
    s = Runboxd(SERVER_WORKER_THREADS="1").start()
    try:
        result = {}
        front = s.wait_children(3).get("runboxd: front 0", 0)  # front, agent, reader
        idle = unix_sockets_of(front)  # the channel to its agent
        # Then the container's stream, passed by the agent, as well.
        front_has_stream = lambda s: unix_sockets_of(front) >= idle + 1

        def client():
            result["r"] = s.run(SH, sh("sleep 5; echo survived"), timeout=120)

        t = threading.Thread(target=client)
        t.start()
        # The agent passes the stream to the front right after the start,
        # and the front holds it from then on: wait until the front has it.
        R.check(rbtest.wait_until(lambda: running_containers(s) and front_has_stream(s)),
                "the run's stream is the front's")
        agent = s.children().get("runboxd: agent 0")
        R.check(agent is not None and rbtest.containers(s.instance), "a run is in progress on agent 0")
        if agent:
            os.kill(agent, signal.SIGKILL)
        t.join(30)
        st, js, body = result.get("r", (0, None, b""))
        R.check(st == 200 and js and js.get("stdout") == "survived\n",
                "agent killed mid-run: the client gets its one answer", body[:300])
        no_leak(s, "the agent was killed mid-run")
        st, js, body = s.run(SH, sh("echo again"))
        R.check(st == 200 and js and js.get("stdout") == "again\n", "the respawned slot serves", body[:300])
    finally:
        s.stop()


def test_reload_keeps_runs():
    """A reload that drops a slot lets the runs in progress finish, on every slot."""
    s = Runboxd(SERVER_WORKER_THREADS="2", SERVER_SHUTDOWN_TIMEOUT="20").start()
    try:
        results = []

        def client(secs):
            results.append(s.run(SH, sh("sleep %d; echo slept %d" % (secs, secs)), timeout=120))

        threads = [threading.Thread(target=client, args=(n,)) for n in (6, 7)]
        for t in threads:
            t.start()
        R.check(rbtest.wait_until(lambda: len(running_containers(s)) == 2), "two runs in progress before the reload")
        mark = len(s.log())
        s.config["SERVER_WORKER_THREADS"] = "1"
        s.write_config()
        os.kill(s.proc.pid, signal.SIGHUP)
        R.check(s.wait_log("reload: configuration accepted", mark), "the reload is under way")
        for t in threads:
            t.join(120)
        ok = [r for r in results if r[0] == 200 and r[1] and r[1].get("stdout", "").startswith("slept")]
        R.check(len(ok) == 2, "reload to fewer slots: both runs in progress finish", [r[2][:200] for r in results])
        R.check("removing leftover container" not in s.log(), "no live container is taken for a leftover")
        no_leak(s, "the reload")
    finally:
        s.stop()


def test_drain_timeout():
    """SIGTERM with a run longer than the drain: the container goes all the same."""
    s = Runboxd(SERVER_SHUTDOWN_TIMEOUT="2", RUN_MAX_EXECUTION_TIME="30").start()
    result = {}

    def client():
        try:
            result["r"] = s.run(SH, sh("sleep 25; echo late"), timeout=40)
        except OSError as e:
            result["r"] = (0, None, str(e).encode())

    t = threading.Thread(target=client)
    t.start()
    R.check(rbtest.wait_until(lambda: running_containers(s)), "a run in progress before SIGTERM")
    t0 = time.time()
    rc = s.stop(signal.SIGTERM, timeout=120)
    secs = time.time() - t0
    t.join(60)
    # It ends at the 2 s drain plus the removal, well before the 25 s run would.
    R.check(rc == 0 and 2 <= secs < 20, "a drain that times out still ends the server (%.1fs, status %s)" % (secs, rc))
    R.check("drain timed out" in s.log(), "the drain timeout is logged", s.log()[-1500:])
    left = rbtest.wait_no_containers(s.instance)
    R.check(left == [], "no container left after a drain that timed out", left)


# ---- concurrency ----

def test_concurrency():
    """Two slots run two programs at once (seen as two running containers at
    the same time), and a third client waits for a slot rather than being
    refused."""
    s = Runboxd(SERVER_WORKER_THREADS="2").start()
    try:
        results = []
        most = [0]
        done = threading.Event()

        def one(secs):
            st, js, _ = s.run(SH, sh("sleep %d; echo slept" % secs), timeout=120)
            results.append((st, js.get("stdout") if js else None, time.time()))

        def watch():
            while not done.is_set():
                most[0] = max(most[0], len(running_containers(s)))
                time.sleep(0.05)

        def batch(n, secs):
            results.clear()
            most[0] = 0
            done.clear()
            w = threading.Thread(target=watch)
            w.start()
            t0 = time.time()
            threads = [threading.Thread(target=one, args=(secs,)) for _ in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            done.set()
            w.join()
            return t0

        s.run(SH, sh("true"))  # warm the image cache
        # 6 s each: the two overlap for seconds even if one start is slow.
        batch(2, 6)
        R.check(len(results) == 2 and all(r[0] == 200 and r[1] == "slept\n" for r in results),
                "two runs on two slots succeed", results)
        R.check(most[0] == 2, "the two runs were in progress at the same time", most[0])

        t0 = batch(3, 2)
        R.check(len(results) == 3 and all(r[0] == 200 and r[1] == "slept\n" for r in results),
                "a third client on two busy slots is served", results)
        R.check(most[0] == 2, "never more runs at once than slots", most[0])
        if len(results) == 3:
            # With two slots, the last of three 2 s runs cannot end before 4 s.
            last = max(r[2] for r in results) - t0
            R.check(last >= 4, "the third client waited for a slot (last answer at %.1fs)" % last)
        no_leak(s, "the parallel runs")
        test_burst(s)
    finally:
        s.stop()


def test_burst(s):
    kinds = [
        ("GET /", lambda: s.request("GET", "/", timeout=120), lambda st, b: st == 200),
        ("GET /version", lambda: s.request("GET", "/version", headers=s.auth(), timeout=120),
         lambda st, b: st == 200 and "docker" in json.loads(b)),
        ("small run", lambda: s.request("POST", "/run", {"image": SH, "payload": sh("echo burst")},
                                        headers=s.auth(), timeout=120),
         lambda st, b: st == 200 and json.loads(b).get("stdout") == "burst\n"),
        ("run without token", lambda: s.request("POST", "/run", {"image": SH, "payload": sh("echo x")}, timeout=120),
         lambda st, b: st == 401 and is_error(b, "access_token")),
        ("run with a bad image", lambda: s.request("POST", "/run", {"image": "Bad Image", "payload": {}},
                                                   headers=s.auth(), timeout=120),
         lambda st, b: st == 400 and is_error(b, "request.image")),
        ("run of a missing image", lambda: s.request("POST", "/run", {"image": "runbox-test/absent", "payload": {}},
                                                     headers=s.auth(), timeout=120),
         lambda st, b: st == 400 and is_error(b, "docker.container.create")),
        ("run with a bad payload", lambda: s.request("POST", "/run", {"image": SH, "payload": 1},
                                                     headers=s.auth(), timeout=120),
         lambda st, b: st == 400 and is_error(b, "request.payload")),
    ]
    jobs = [kinds[i % len(kinds)] for i in range(100)]
    lock = threading.Lock()
    bad = []
    done = [0]

    def worker(k):
        for name, call, ok in jobs[k::8]:
            try:
                st, _, b = call()
                good = ok(st, b)
            except (OSError, ValueError) as e:
                st, b, good = 0, str(e).encode(), False
            with lock:
                done[0] += 1
                if not good:
                    bad.append((name, st, b[:200]))

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    R.check(done[0] == 100 and not bad,
            "burst of 100 mixed requests from 8 clients: all answered as expected (%.1fs)" % (time.time() - t0),
            bad[:5])
    no_leak(s, "the burst")


def main():
    for image in (SH, PY, C):
        R.check(rbtest.image_exists(image), "image %s present" % image)
    make_test_images()
    s = Runboxd().start()
    try:
        test_hello(s)
        test_parity(s)
        test_tokens(s)
        test_malformed_bodies(s)
        no_leak(s, "the parity group")
    finally:
        s.stop()
    test_create_config()
    # A short limit for the tests of the limit itself; the others keep the
    # default, so that a loaded machine cannot turn a slow run into a timeout.
    s = Runboxd(RUN_MAX_EXECUTION_TIME="3", SERVER_WORKER_THREADS="3").start()
    try:
        test_time_limits(s, 3)
    finally:
        s.stop()
    limit = int(rbtest.base_config()["RUN_MAX_EXECUTION_TIME"])
    s = Runboxd(SERVER_WORKER_THREADS="3").start()
    try:
        test_output_limits(s)
        test_network(s)
        test_token_hidden(s)
        test_client_leaves(s, limit)
    finally:
        s.stop()
    # The bomb holds a slot for its whole limit: a long one, so that the
    # other runs are seen to be served during it however loaded the
    # machine; a smaller pids limit, as nproc counts across all containers.
    s = Runboxd(SERVER_WORKER_THREADS="3", RUN_MAX_EXECUTION_TIME="30", DOCKER_CONTAINER_PIDS_LIMIT="15").start()
    try:
        test_fork_bomb(s, 30, 15)
    finally:
        s.stop()
    # Filling 256 MB of memory can take the kernel seconds of reclaim, and
    # 100 orphans hundreds of forks, on a loaded machine: a long limit.
    s = Runboxd(RUN_MAX_EXECUTION_TIME="60").start()
    try:
        test_memory_and_disk(s)
        test_runner_integrity(s)
    finally:
        s.stop()
    test_agent_killed_mid_run()
    test_reload_keeps_runs()
    test_drain_timeout()
    test_concurrency()
    R.done()


if __name__ == "__main__":
    main()
