"""Per-request limits ("limits" in POST /run) against the real runboxd and
dockerd: each lowers the configuration's value and is enforced (a lower
deadline, a lower output limit, less memory, fewer processes, fewer CPUs,
seen in docker inspect); anything higher or malformed is 400
request.limits naming the field, before any container is made; a request
without limits is answered exactly as before.  Time bounds are lower
bounds ("not before the lowered deadline") or at least 3x the expected
value, always far below the configured limit they must not wait for."""

import json
import os
import subprocess
import threading
import time

import rbtest
from rbtest import Results, Runboxd, is_error
from test_run import busybox_rootfs, import_image

R = Results("limits")

SH = "runbox/sh"
PY = "runbox/python"
BB = "/bin/busybox"
# Prints a fixed reply, spacing and all: a re-encoding server would change it.
ECHOED = '{ "stdout" : "as printed",  "stderr":"", "error":"" , "extra":[1, 2.50, true, null] }'
ECHO = "runbox-test/limits-echo"
# PID 1 holds 12 MiB in a shell variable, then replies: fine under the
# configured 256 MiB, killed by its memory limit under a lowered 8 MiB.
HOG = "runbox-test/limits-hog"
HOG_REPLY = '{"stdout":"held","stderr":"","error":""}'

MAX_TIME = 30  # RUN_MAX_EXECUTION_TIME: a lowered deadline is answered long before it
MAX_OUTPUT = 1000000
MEMORY = 256 * 1024 * 1024
PIDS = 25
# What the server is configured with: under runsc, rbtest adds gVisor's own share.
PIDS_CONF = rbtest.pids_limit(PIDS)
GVISOR_CGROUP = "gVisor shows the sandbox no cgroup files (docker inspect shows the limits, test_inspect)"


def sh(script):
    return {"language": "sh", "files": [{"name": "main.sh", "content": script}]}


def make_images():
    tar = busybox_rootfs()
    images = [
        (ECHO, [BB, "echo", ECHOED]),
        (HOG, [BB, "sh", "-c", "x=$(%s head -c 12582912 /dev/zero | %s tr '\\0' a); echo '%s'"
               % (BB, BB, HOG_REPLY)]),
    ]
    for tag, cmd in images:
        R.check(import_image(tag, cmd, tar), "test image %s imported" % tag)


def run(s, image, payload, limits=None, timeout=120):
    body = {"image": image, "payload": payload}
    if limits is not None:
        body["limits"] = limits
    t0 = time.time()
    st, _, data = s.request("POST", "/run", body, headers=s.auth(), timeout=timeout)
    try:
        js = json.loads(data)
    except ValueError:
        js = None
    return st, js, data, time.time() - t0


def raw_run(s, text):
    st, _, data = s.request("POST", "/run", text.encode(),
                            headers=s.auth({"Content-Type": "application/json"}), timeout=60)
    try:
        js = json.loads(data)
    except ValueError:
        js = None
    return st, js, data


def no_leak(s, what):
    left = rbtest.wait_no_containers(s.instance, timeout=rbtest.WAIT)
    R.check(left == [], "no container left after %s" % what, left)


def test_unchanged(s):
    # The answer is the container's bytes, with or without an empty limits object.
    for limits, what in ((None, "no limits"), ({}, "an empty limits object")):
        st, js, data, _ = run(s, ECHO, {}, limits)
        R.check(st == 200 and data == ECHOED.encode(), "%s: the reply exactly as printed" % what, data[:300])
    st, js, data, _ = run(s, SH, sh("yes 0123456789abcdef | head -c 5000000"))
    R.check(st == 400 and is_error(data, "limits.read.size")
            and js["message"] == "Max output size exceeded (%d bytes)" % MAX_OUTPUT,
            "no limits: the configured output limit, in the same words", data[:300])
    no_leak(s, "the unchanged runs")


def test_execution_time(s):
    for secs_asked in (2, 1.5):
        st, js, data, secs = run(s, SH, sh("sleep 600"), {"executionTime": secs_asked})
        R.check(st == 400 and is_error(data, "limits.execution_time") and js["message"] == "Max execution time exceeded",
                "executionTime %s: a sleeping program is stopped: 400 limits.execution_time" % secs_asked, data[:300])
        # Not before the lowered deadline; and stopped by it, not by the configured one.
        R.check(secs >= secs_asked and secs < 3 * (secs_asked + 3) < MAX_TIME,
                "executionTime %s: answered at the lowered deadline (%.1fs, configured %ds)"
                % (secs_asked, secs, MAX_TIME))
    no_leak(s, "the lowered deadlines")


def test_output_size(s):
    st, js, data, _ = run(s, SH, sh("yes 0123456789abcdef | head -c 5000"), {"outputSize": 1000})
    R.check(st == 400 and is_error(data, "limits.read.size")
            and js["message"] == "Max output size exceeded (1000 bytes)",
            "outputSize 1000: 5000 bytes of output is 400 limits.read.size naming 1000", data[:300])
    st, js, data, _ = run(s, SH, sh("yes 0123456789abcdef | head -c 200"), {"outputSize": 1000})
    R.check(st == 200 and js and len(js.get("stdout", "")) == 200, "outputSize 1000: 200 bytes pass", data[:300])
    no_leak(s, "the lowered output limit")


def test_memory(s):
    st, js, data, _ = run(s, HOG, {})
    R.check(st == 200 and data.decode().strip() == HOG_REPLY,
            "12 MiB under the configured 256 MiB: answered", data[:300])
    prog = "x=$(head -c 12582912 /dev/zero | tr '\\0' a); echo held ${#x}"
    if rbtest.RUNTIME == "runsc":
        # The limit covers gVisor's own kernel too: it does not even start
        # under 8 MiB (nor 32 MiB here), and a program that meets the limit
        # takes the whole sandbox, runner included, with it.
        why = "gVisor's kernel counts against the limit: it cannot start under 8 MiB"
        R.skip("12 MiB under a lowered 8 MiB: 400 limits.memory", why)
        R.skip("runner: 12 MiB under a lowered 8 MiB fails", why)
        big = "x=$(head -c 100663296 /dev/zero | tr '\\0' a); echo held ${#x}"
        # Seen here: `docker run` of this under 64 MiB is killed at once
        # (137); through the runner the sandbox has also stalled under the
        # limit's pressure until the deadline.  Either way the program never
        # holds what the lowered limit refuses.
        st, js, data, _ = run(s, SH, sh(big), {"memory": 64 * 1024 * 1024, "executionTime": 10})
        R.check(st == 400 and (is_error(data, "limits.memory") or is_error(data, "limits.execution_time"))
                and b"held" not in data,
                "runsc: 96 MiB under a lowered 64 MiB: 400 limits.memory (or the stalled sandbox's "
                "limits.execution_time)", data[:300])
    else:
        st, js, data, _ = run(s, HOG, {}, {"memory": 8 * 1024 * 1024})
        R.check(st == 400 and is_error(data, "limits.memory"),
                "12 MiB under a lowered 8 MiB: 400 limits.memory", data[:300])
    # The same through the runner: the program is killed, the runner reports it.
    st, js, data, _ = run(s, SH, sh(prog))
    R.check(st == 200 and js and js.get("stdout") == "held 12582912\n", "runner: 12 MiB under 256 MiB", data[:300])
    if rbtest.RUNTIME != "runsc":
        st, js, data, _ = run(s, SH, sh(prog), {"memory": 8 * 1024 * 1024})
        R.check(st == 200 and js and "held" not in js.get("stdout", "") and js.get("error"),
                "runner: 12 MiB under a lowered 8 MiB fails", data[:300])
    no_leak(s, "the lowered memory")


def test_pids(s):
    # Twenty forks, counted by the parent; each child closes its output and sleeps.
    prog = ("import os, time\n"
            "n = 0\n"
            "for i in range(20):\n"
            "    try:\n"
            "        pid = os.fork()\n"
            "    except OSError:\n"
            "        break\n"
            "    if pid == 0:\n"
            "        os.close(1); os.close(2); time.sleep(600); os._exit(0)\n"
            "    n += 1\n"
            "print('forked', n)\n")
    payload = {"language": "python", "files": [{"name": "main.py", "content": prog}]}

    def forked(js):
        out = (js or {}).get("stdout", "")
        return int(out.split()[1]) if out.startswith("forked ") else -1

    st, js, data, _ = run(s, PY, payload)
    R.check(st == 200 and forked(js) == 20, "configured pids limit %d: twenty forks succeed" % PIDS, data[:300])
    if rbtest.RUNTIME == "runsc":
        R.skip("pids 6: the fork loop is stopped", "gVisor's own threads count against a pids limit "
               "(a few processes' worth leaves the sandbox unable to start; test_pids covers limits.pids)")
    else:
        st, js, data, _ = run(s, PY, payload, {"pids": 6})
        R.check(st == 200 and 0 <= forked(js) <= 4, "pids 6: the fork loop is stopped (runner, python and 4 more)",
                data[:300])
    no_leak(s, "the lowered pids limit")


def test_inspect(s):
    """memory, pids and cpus as the container got them, read while it runs."""
    asked = {"memory": 64 * 1024 * 1024, "pids": rbtest.pids_limit(10), "cpus": 0.5, "executionTime": 25}
    result = {}
    gate = "i=0; while [ ! -e /tmp/go ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; echo gated"

    t = threading.Thread(target=lambda: result.update(r=run(s, SH, sh(gate), asked)))
    t.start()
    cid = rbtest.wait_until(lambda: (rbtest.containers(s.instance) or [None])[0] if "r" not in result else "gone",
                            interval=0.1)
    hc = {}
    if cid and cid != "gone":
        st, js = rbtest.docker("GET", "/containers/%s/json" % cid)
        hc = (js or {}).get("HostConfig", {}) if st == 200 else {}
        env = dict(os.environ, DOCKER_HOST="unix://" + rbtest.DOCKER_SOCK)
        subprocess.run(["docker", "exec", cid, "touch", "/tmp/go"], env=env, capture_output=True, timeout=60)
    t.join(120)
    st, js, data, _ = result.get("r", (0, None, b"", 0))
    R.check(st == 200 and js and js.get("stdout") == "gated\n", "the gated run answers", data[:300])
    R.check(hc.get("NanoCpus") == 500000000, "cpus 0.5: NanoCpus 500000000 in docker inspect", hc.get("NanoCpus"))
    R.check(hc.get("Memory") == 64 * 1024 * 1024 and hc.get("MemorySwap") == 64 * 1024 * 1024,
            "memory 64 MiB: Memory and MemorySwap (no swap) in docker inspect",
            (hc.get("Memory"), hc.get("MemorySwap")))
    R.check(hc.get("PidsLimit") == asked["pids"], "pids %d: PidsLimit in docker inspect" % asked["pids"],
            hc.get("PidsLimit"))
    no_leak(s, "the inspected run")


def warm_id(s, used=None, timeout=60):
    """The instance's one running container (the warm one), not used."""
    def one():
        ids = rbtest.containers(s.instance) or []
        if len(ids) != 1 or ids[0] == used:
            return None
        st, js = rbtest.docker("GET", "/containers/%s/json" % ids[0])
        return ids[0] if st == 200 and js["State"]["Running"] else None
    return rbtest.wait_until(one, timeout, 0.1)


def test_warm():
    """A warm container has the configuration's memory, pids and cpus: a run
    that lowers them goes cold and leaves it; one that lowers only the
    execution time or output takes it, under its own deadline."""
    s = Runboxd(SERVER_WORKER_THREADS="1", RUN_WARM_IMAGES=SH, RUN_MAX_EXECUTION_TIME=str(MAX_TIME)).start()
    try:
        warm = warm_id(s)
        R.check(warm, "a warm container is ready")
        mem = "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
        st, js, data, _ = run(s, SH, sh(mem), {"memory": 64 * 1024 * 1024})
        if rbtest.RUNTIME == "runsc":
            R.skip("warm image, lowered memory: the run's cgroup has the lowered limit", GVISOR_CGROUP)
        else:
            R.check(st == 200 and js and js.get("stdout", "").strip() == str(64 * 1024 * 1024),
                    "warm image, lowered memory: the run's cgroup has the lowered limit", data[:300])
        R.check(s.wait_log("run of %s is cold" % SH, timeout=10), "... it went cold (logged)")
        R.check(warm in (rbtest.containers(s.instance) or []), "... and the warm container is still there")
        st, js, data, secs = run(s, SH, sh("sleep 600"), {"executionTime": 2})
        R.check(st == 400 and is_error(data, "limits.execution_time") and 2 <= secs < 3 * (2 + 3) < MAX_TIME,
                "warm image, executionTime 2: stopped at the lowered deadline (%.1fs)" % secs, data[:300])
        R.check(warm_id(s, used=warm) not in (None, warm), "... in the warm container, which was replaced")
    finally:
        s.stop()
    R.check(rbtest.wait_no_containers(s.instance, timeout=60) == [], "no container left after the warm tests")


def execute(s, script, limits=None, timeout=120):
    body = {"script": script}
    if limits is not None:
        body["limits"] = limits
    t0 = time.time()
    st, _, data = s.request("POST", "/execute", body, headers=s.auth(), timeout=timeout)
    try:
        js = json.loads(data)
    except ValueError:
        js = None
    return st, js, data, time.time() - t0


def test_execute(s):
    """The same limits on POST /execute, answered in its own shape."""
    st, js, data, secs = execute(s, "sleep 600", {"executionTime": 2})
    R.check(st == 200 and js and js["timed_out"] is True and js["error"] == "Max execution time exceeded"
            and 2 <= secs < 3 * (2 + 3) < MAX_TIME,
            "execute, executionTime 2: timed_out at the lowered deadline (%.1fs)" % secs, data[:300])
    st, js, data, _ = execute(s, "yes 0123456789abcdef | head -c 5000", {"outputSize": 1000})
    R.check(st == 200 and js and js["output_truncated"] is True and len(js["stdout"]) == 1000
            and js["error"] == "Max output size exceeded (1000 bytes)",
            "execute, outputSize 1000: output_truncated at 1000 bytes", data[:300])
    cg = ("cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
          "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max")
    if rbtest.RUNTIME == "runsc":
        R.skip("execute, memory and pids: the container's cgroup has them", GVISOR_CGROUP)
    else:
        st, js, data, _ = execute(s, cg, {"memory": 64 * 1024 * 1024, "pids": 7, "cpus": 0.5})
        R.check(st == 200 and js and js["stdout"].split() == [str(64 * 1024 * 1024), "7"],
                "execute, memory 64 MiB and pids 7: the container's cgroup has them", data[:300])
        st, js, data, _ = execute(s, cg)
        R.check(st == 200 and js and js["stdout"].split() == [str(MEMORY), str(PIDS)],
                "execute, no limits: the configured memory and pids", data[:300])
    st, js, data, _ = execute(s, "true", {"pids": PIDS_CONF + 1})
    R.check(st == 400 and is_error(data, "request.limits") and "limits.pids" in js.get("message", ""),
            "execute, pids over the configured: 400 request.limits naming limits.pids", data[:300])
    st, js, data, _ = execute(s, "true", {"nice": 1})
    R.check(st == 400 and is_error(data, "request.limits") and '"nice"' in js.get("message", ""),
            "execute, an unknown member: 400 request.limits naming it", data[:300])
    no_leak(s, "the execute runs")


REFUSED = [
    # (body text, field named in the message)
    ('{"executionTime": %d}' % (MAX_TIME + 1), "limits.executionTime"),
    ('{"executionTime": 0}', "limits.executionTime"),
    ('{"executionTime": -1}', "limits.executionTime"),
    ('{"executionTime": "2"}', "limits.executionTime"),
    ('{"executionTime": 0.0001}', "limits.executionTime"),
    ('{"outputSize": %d}' % (MAX_OUTPUT + 1), "limits.outputSize"),
    ('{"outputSize": 1.5}', "limits.outputSize"),
    ('{"memory": %d}' % (MEMORY + 1), "limits.memory"),
    ('{"memory": 1024}', "limits.memory"),
    ('{"memory": null}', "limits.memory"),
    ('{"pids": %d}' % (PIDS_CONF + 1), "limits.pids"),
    ('{"pids": 0}', "limits.pids"),
    ('{"cpus": 2}', "limits.cpus"),
    ('{"cpus": 0.001}', "limits.cpus"),
    ('{"cpus": true}', "limits.cpus"),
    ('{"pids": 5, "pids": 6}', "limits.pids"),
    ('{"timeout": 5}', '"timeout"'),
    ('[5]', '"limits"'),
    ('5', '"limits"'),
    ('null', '"limits"'),
]


def test_refused(s):
    for limits, field in REFUSED:
        st, js, data = raw_run(s, '{"image": "%s", "payload": {}, "limits": %s}' % (SH, limits))
        R.check(st == 400 and is_error(data, "request.limits") and field in js.get("message", ""),
                "limits %s: 400 request.limits naming %s" % (limits, field), data[:300])
    st, js, data = raw_run(s, '{"image": "%s", "payload": {}, "limits": {}, "limits": {}}' % SH)
    R.check(st == 400 and is_error(data, "request.json") and "limits" in js.get("message", ""),
            "limits twice: 400 request.json", data[:300])
    no_leak(s, "the refusals")


def main():
    for image in (SH, PY):
        R.check(rbtest.image_exists(image), "image %s present" % image)
    make_images()
    s = Runboxd(RUN_MAX_EXECUTION_TIME=str(MAX_TIME), RUN_MAX_OUTPUT_SIZE=str(MAX_OUTPUT),
                DOCKER_CONTAINER_MEMORY=str(MEMORY), DOCKER_CONTAINER_PIDS_LIMIT=str(PIDS),
                DOCKER_CONTAINER_CPUS="1", EXECUTE_DEFAULT_IMAGE=SH).start()
    try:
        test_refused(s)
        test_unchanged(s)
        test_execution_time(s)
        test_output_size(s)
        test_memory(s)
        test_pids(s)
        test_inspect(s)
        test_execute(s)
    finally:
        s.stop()
    test_warm()
    R.done()


if __name__ == "__main__":
    main()
